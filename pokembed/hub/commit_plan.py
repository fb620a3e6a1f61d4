"""The shape every Hub write plans before it writes: one commit (uploads, deletions, message) to one repo, a tag,
and notes on what the plan could not know; ``describe`` gives the lines a dry run prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommitPlan:
    """One commit to ``repo_id`` and the tag it is about; subclasses add their own fields and steps."""

    repo_id: str
    tag: str
    files: tuple | list  # (path in repo, size in bytes or the bytes themselves), sorted by path
    deletions: tuple | list  # remote files the commit deletes
    commit_message: str
    notes: tuple | list = ()  # what the plan could not know or will do besides committing

    def headline(self) -> str:
        """The first line of ``describe``: what is written where."""
        return f"commit to {self.repo_id} for {self.tag}: {self.commit_message!r}"

    def steps(self) -> list[str]:
        """Lines for what happens besides the commit (after the uploads and deletions)."""
        return []

    def describe(self) -> str:
        """Human-readable lines for a `--dry-run` (the CLI prints them; the library never prints)."""
        lines = [self.headline()]
        lines += [f"  upload {path} ({_size(content):,} bytes)" for path, content in self.files]
        lines += [f"  delete {path}" for path in self.deletions]
        lines += self.steps()
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _size(content: int | bytes) -> int:
    return content if isinstance(content, int) else len(content)
