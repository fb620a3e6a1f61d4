"""The changelog: what changed between two versions, the previous version read back, and the card's history.

``read_previous`` reads the previous output folder (its table, facts and card changelog); ``choose_changelog`` picks
this version's lines: a diff against another version, the entry of the same version being rebuilt, or the initial
release; ``changelog_block`` renders them above the earlier entries for the card.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pokembed.dataset.changes import VersionChanges, compare_versions, snapshot_of_table
from pokembed.dataset.facts import BuildFacts, facts_from_dict, read_marker
from pokembed.errors import BadInputError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

CHANGELOG_START = "<!-- pokembed:changelog:start -->"
CHANGELOG_END = "<!-- pokembed:changelog:end -->"


@dataclass(frozen=True)
class PreviousVersion:
    """What the changelog needs from the previous output folder."""

    table: "object | None" = None  # its table, when it is another version
    facts: "object | None" = None
    changelog: list[str] = field(default_factory=list)  # its card's changelog entries
    same_version_entry: list[str] = field(default_factory=list)  # its own entry, when it is this same version


def read_previous(folder: Path, version: str) -> PreviousVersion:
    """The previous version in `folder` (an output folder of ours), or an empty PreviousVersion.

    A damaged previous output never blocks a rebuild: an unreadable marker or table is warned about and the
    changelog keeps what the old card still says.
    """
    from pokembed.dataset.table import read_table
    from pokembed.errors import PokembedError

    if not folder.is_dir():
        return PreviousVersion()
    readme = folder / "README.md"
    try:
        changelog = parse_changelog(readme.read_text(encoding="utf-8")) if readme.is_file() else []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("cannot read the changelog of the previous card %s (%s); starting it afresh", readme, exc)
        changelog = []
    try:
        marker = read_marker(folder)
        if marker is None:
            return PreviousVersion()
        facts = facts_from_dict(marker)
        if facts.version == version:
            return PreviousVersion(changelog=changelog, same_version_entry=list(facts.extra.get("changelog", [])))
        return PreviousVersion(table=usable_table(read_table(folder), folder), facts=facts, changelog=changelog)
    except (PokembedError, KeyError, TypeError, ValueError) as exc:
        logger.warning("the previous output in %s is damaged (%s); building as if there were no previous version",
                       folder, exc)
        return PreviousVersion(changelog=changelog)


def usable_table(table: "pa.Table", folder: Path) -> "pa.Table":
    """``table`` when it is a pokembed table the changelog can compare with: unique integer ids and string names;
    BadInputError naming its file otherwise (a folder or a foreign table where the parquet was, ids as strings)."""
    import pyarrow as pa

    where = ", ".join(str(p) for p in sorted((Path(folder) / "data").glob("*.parquet"))) or str(folder)
    if "id" not in table.column_names or not pa.types.is_integer(table.schema.field("id").type):
        found = table.schema.field("id").type if "id" in table.column_names else "none"
        raise BadInputError(f"{where} is not a pokembed table (its `id` column is {found}, not integers)")
    if "name" not in table.column_names or not pa.types.is_string(table.schema.field("name").type):
        raise BadInputError(f"{where} is not a pokembed table (no string `name` column)")
    if table.column("id").null_count or len(set(table.column("id").to_pylist())) != table.num_rows:
        raise BadInputError(f"{where} is not a pokembed table (its ids are missing or repeated)")
    return table


def choose_changelog(previous: PreviousVersion, changes: VersionChanges | None) -> list[str]:
    """This version's changelog lines: what changed since the previous version (``changes``, computed once for the
    changelog and ``--version auto``), the entry of this same version when it is rebuilt (a rebuild keeps what that
    version changed), or the initial release."""
    if previous.table is not None and changes is not None:
        return changes.lines()
    if previous.same_version_entry:
        return list(previous.same_version_entry)
    return ["Initial release."]


def parse_changelog(card_text: str) -> list[str]:
    """The changelog entries of a rendered card, newest first, each a markdown block starting with ``### v...``."""
    start, end = card_text.find(CHANGELOG_START), card_text.find(CHANGELOG_END)
    if start < 0 or end < start:
        return []
    body = card_text[start + len(CHANGELOG_START) : end]
    entries = re.split(r"(?m)^(?=### )", body)
    return [entry.strip() for entry in entries if entry.strip().startswith("### ")]


def diff_versions(
    previous: "pa.Table | None",
    current: "pa.Table",
    prev_facts: BuildFacts | None,
    facts: BuildFacts,
) -> list[str]:
    """The changelog lines for `current` since `previous` (``pokembed.dataset.changes`` decides what changed);
    ``["Initial release."]`` without a previous version."""
    if previous is None:
        return ["Initial release."]
    return compare_versions(snapshot_of_table(previous, prev_facts), snapshot_of_table(current, facts)).lines()


def changelog_block(facts: BuildFacts, lines: Sequence[str], previous: Sequence[str]) -> str:
    """This version's entry (heading, lines) above the earlier entries, an older entry of the same version dropped."""
    version = display_version(facts.version)
    heading = f"### {version}" + (f" ({facts.built_at})" if facts.built_at else "")
    body = "\n".join(f"- {line}" for line in lines) or "- No changes recorded."
    entries = [f"{heading}\n\n{body}"]
    for entry in previous:
        match = re.match(r"###\s+(\S+)", entry)
        if match and display_version(match.group(1)) == version:
            continue  # this version is being rebuilt: its new entry replaces the old one
        entries.append(entry.strip())
    return "\n\n".join(entries)


# --- helpers -------------------------------------------------------------------------------------------------------


def display_version(version: str) -> str:
    """A version as the card shows it: ``v1.2.0``."""
    return "v" + str(version).removeprefix("v")
