"""Reading local files whole: a JSON object with one clear error, and one digest over a set of files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from pokembed.errors import BadInputError


def read_json_object(path: Path, *, what: str, fix: str) -> dict:
    """The JSON object in ``path``; an unreadable, non-JSON or non-object file is one BadInputError naming ``what``
    and ``fix``. A missing file is the caller's case to handle (check ``path.is_file()`` first)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadInputError(f"{what} {path} is not readable JSON ({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{what} {path} is not a JSON object; {fix}")
    return data


def files_digest(folder: Path, files: Iterable[Path]) -> str:
    """sha256 hex digest over ``files`` (inside ``folder``) in sorted order: each one's path relative to ``folder``
    and its bytes, so a renamed, added or edited file changes it."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in files):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the names and bytes of a local folder's files (hidden files skipped), first 16 hex digits: what
    identifies a local model or artwork folder without naming its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"model folder {folder} does not exist; pass an existing folder")
    files = [p for p in folder.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return files_digest(folder, files)[:16]


__all__ = ["read_json_object", "files_digest", "folder_fingerprint"]
