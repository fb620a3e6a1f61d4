"""The changelog: what changed between two versions, the previous version read back, and the card's history.

``read_previous`` reads the previous output folder (its table, facts and card changelog); ``choose_changelog`` picks
this version's lines: a diff against another version, the entry of the same version being rebuilt, or the initial
release; ``changelog_block`` renders them above the earlier entries for the card.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pokembed.errors import BadInputError
from pokembed.dataset.facts import BuildFacts, facts_from_dict, public_model_id, public_source, read_marker

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

CHANGELOG_START = "<!-- pokembed:changelog:start -->"
CHANGELOG_END = "<!-- pokembed:changelog:end -->"
MAX_NAMES = 20  # names listed in one changelog line before "and N more"


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


def choose_changelog(previous: PreviousVersion, table: "pa.Table", facts: BuildFacts) -> list[str]:
    """This version's changelog lines: the diff against the previous version, the entry of this same version when
    it is rebuilt (a rebuild keeps what that version changed), or the initial release."""
    if previous.table is not None:
        return diff_versions(previous.table, table, previous.facts, facts)
    if previous.same_version_entry:
        return list(previous.same_version_entry)
    return diff_versions(None, table, None, facts)


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
    """The changelog lines for `current` since `previous`: Pokémon added or removed, documents and artwork changed,
    models, source, UMAP and long-document settings changed. ``["Initial release."]`` without a previous version."""
    if previous is None:
        return ["Initial release."]
    old, new = _by_id(previous), _by_id(current)
    lines: list[str] = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    if added:
        lines.append(f"Added {pokemon_count(len(added))}: {name_list([new[i].get('name', i) for i in added])}.")
    if removed:
        lines.append(f"Removed {pokemon_count(len(removed))}: {name_list([old[i].get('name', i) for i in removed])}.")
    common = sorted(set(old) & set(new))
    changed_documents = [i for i in common if old[i].get("document") != new[i].get("document")]
    if changed_documents:
        lines.append(
            f"Documents changed for {pokemon_count(len(changed_documents))}: "
            f"{name_list([new[i].get('name', i) for i in changed_documents])}."
        )
    if "image" in previous.column_names and "image" in current.column_names:
        gained = [i for i in common if old[i].get("image") is None and new[i].get("image") is not None]
        lost = [i for i in common if old[i].get("image") is not None and new[i].get("image") is None]
        redrawn = [
            i
            for i in common
            if old[i].get("image") is not None and new[i].get("image") is not None and old[i]["image"] != new[i]["image"]
        ]
        for label, ids in (("Artwork added for", gained), ("Artwork removed for", lost), ("Artwork changed for", redrawn)):
            if ids:
                lines.append(f"{label} {pokemon_count(len(ids))}: {name_list([new[i].get('name', i) for i in ids])}.")
    if prev_facts is not None:
        lines.extend(_facts_changes(prev_facts, facts))
    return lines or ["No changes to the data."]


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


def pokemon_count(count: int) -> str:
    """``1,351 Pokémon``."""
    return f"{count:,} Pokémon"


def name_list(names: Sequence[Any]) -> str:
    """Names joined by commas, the first MAX_NAMES of them, then ``and N more``."""
    shown = ", ".join(str(n) for n in names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return shown + (f" and {more:,} more" if more > 0 else "")


def _by_id(table: "pa.Table") -> dict[int, dict]:
    wanted = [c for c in ("id", "name", "document", "image") if c in table.column_names]
    if "id" not in wanted:
        raise BadInputError("a table without an `id` column cannot be compared; pass a pokembed dataset table")
    columns = {c: table.column(c).to_pylist() for c in wanted}
    return {pid: {c: columns[c][i] for c in wanted} for i, pid in enumerate(columns["id"])}


def _facts_changes(old: BuildFacts, new: BuildFacts) -> list[str]:
    lines = []
    for label, before, after in (
        ("Text model", old.text_model, new.text_model),
        ("Image model", old.image_model, new.image_model),
    ):
        if (before.get("model_id"), before.get("revision")) != (after.get("model_id"), after.get("revision")):
            lines.append(f"{label}: {_model_ref(after)} (was {_model_ref(before)}).")
        else:
            changed = [k for k in sorted(set(before) | set(after)) if k not in ("name",) and before.get(k) != after.get(k)]
            if changed:
                lines.append(
                    f"{label} settings changed: "
                    + ", ".join(f"{k} {before.get(k)!r} → {after.get(k)!r}" for k in changed)
                    + "."
                )
    if (old.source, old.data_version) != (new.source, new.data_version):
        lines.append(f"Source: {_source_ref(new)} (was {_source_ref(old)}).")
    elif old.fetched_at != new.fetched_at and new.fetched_at:
        lines.append(f"Source re-fetched {new.fetched_at} (was {old.fetched_at}).")
    umap_changes = [k for k in sorted(set(old.umap) | set(new.umap)) if old.umap.get(k) != new.umap.get(k)]
    if umap_changes:
        lines.append(
            "UMAP parameters: " + ", ".join(f"{k} {old.umap.get(k)} → {new.umap.get(k)}" for k in umap_changes) + "."
        )
    if old.long_documents != new.long_documents:
        lines.append(f"Long documents: {new.long_documents} (was {old.long_documents}).")
    if old.neighbors_k != new.neighbors_k and new.neighbors_k is not None:
        lines.append(f"Neighbours per row: {new.neighbors_k} (was {old.neighbors_k}).")
    return lines


def _model_ref(model: Mapping[str, Any]) -> str:
    revision = model.get("revision")
    return f"`{public_model_id(model)}`" + (f" @ `{revision}`" if revision else "")


def _source_ref(facts: BuildFacts) -> str:
    return f"`{public_source(facts.source)}`" + (f" @ `{facts.data_version}`" if facts.data_version else "")
