"""What changed between the previous version and this build: one value, ``VersionChanges``, computed once, from which
both the changelog lines (``lines``) and ``--version auto``'s bump and reasons (``bump``, ``reasons``) are read.

It is computed before anything is embedded, from what the build is about to write (ids, names, documents, artwork
PNGs) and its settings (models, UMAP, long documents, neighbours, source), against the previous version's table
(columns id, name, document, image) and build facts. The rules, applied once for both uses:

- Pokémon added or removed, a model (checkpoint, revision, or a setting both versions record), UMAP, the
  long-document mode or the neighbours per row changed: a minor change;
- documents or artwork changed: a patch;
- the source moved or was fetched again: reported in the changelog, but no change to the data by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pokembed.dataset.facts import public_model_id, public_source
from pokembed.errors import BadInputError, name_list

MAX_NAMES = 20  # names listed in one changelog line before "and N more"
MAX_REASON_NAMES = 5  # names in one --version auto reason
MODEL_LABELS = (("text_model", "Text model", "text model"), ("image_model", "Image model", "image model"))


@dataclass(frozen=True)
class VersionChanges:
    """What differs from the previous version, by kind; names are Pokémon names in id order."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    artwork_added: list[str] = field(default_factory=list)
    artwork_removed: list[str] = field(default_factory=list)
    artwork_changed: list[str] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)  # (reason, changelog line): models, UMAP, ...
    source: list[str] = field(default_factory=list)  # changelog lines on the source; no change to the data

    @property
    def bump(self) -> str:
        """"minor", "patch" or "none" (nothing the dataset holds changed)."""
        if self.added or self.removed or self.settings:
            return "minor"
        if self.documents or self.artwork_added or self.artwork_removed or self.artwork_changed:
            return "patch"
        return "none"

    def reasons(self) -> list[str]:
        """One short phrase per change, the minor ones first: why ``--version auto`` chose its bump."""
        reasons = []
        if self.added:
            reasons.append(f"{len(self.added)} Pokémon added ({name_list(self.added, MAX_REASON_NAMES)})")
        if self.removed:
            reasons.append(f"{len(self.removed)} Pokémon removed ({name_list(self.removed, MAX_REASON_NAMES)})")
        reasons += list(dict.fromkeys(reason for reason, _ in self.settings))
        if self.documents:
            reasons.append(f"documents changed for {len(self.documents)} Pokémon")
        artwork = len(self.artwork_added) + len(self.artwork_removed) + len(self.artwork_changed)
        if artwork:
            reasons.append(f"artwork changed for {artwork} Pokémon")
        return reasons

    def lines(self) -> list[str]:
        """The changelog lines: Pokémon, documents and artwork by name, then models, source and settings."""
        lines = []
        for label, names in (("Added", self.added), ("Removed", self.removed),
                             ("Documents changed for", self.documents), ("Artwork added for", self.artwork_added),
                             ("Artwork removed for", self.artwork_removed),
                             ("Artwork changed for", self.artwork_changed)):
            if names:
                lines.append(f"{label} {pokemon_count(len(names))}: {name_list(names, MAX_NAMES)}.")
        model_lines = [line for reason, line in self.settings if reason.endswith("model changed")]
        other_lines = [line for reason, line in self.settings if not reason.endswith("model changed")]
        return lines + model_lines + self.source + other_lines or ["No changes to the data."]


@dataclass(frozen=True)
class Snapshot:
    """One version's side of the comparison: rows by id (name, document, artwork PNG or None) and its settings
    (BuildFacts, or any object or mapping with the same names)."""

    rows: Mapping[int, tuple[Any, str | None, bytes | None]]
    settings: Any
    has_artwork: bool = True  # False for a table without an image column: artwork is then not compared


def snapshot_of_table(table: Any, settings: Any) -> Snapshot:
    """A version's Snapshot from its table (columns id, name, document, image) and its facts."""
    columns = table.column_names
    if "id" not in columns:
        raise BadInputError("a table without an `id` column cannot be compared; pass a pokembed dataset table")
    ids = table.column("id").to_pylist()
    get = {c: table.column(c).to_pylist() if c in columns else [None] * len(ids) for c in ("name", "document", "image")}
    images = [cell.get("bytes") if isinstance(cell, dict) else cell for cell in get["image"]]
    rows = {pid: (get["name"][i] if get["name"][i] is not None else pid, get["document"][i], images[i])
            for i, pid in enumerate(ids)}
    return Snapshot(rows, settings, has_artwork="image" in columns)


def snapshot_of_build(ids: Sequence[int], names: Sequence[str], documents: Sequence[str],
                      artwork: Mapping[int, bytes], settings: Any) -> Snapshot:
    """What a build is about to write, before anything is embedded."""
    return Snapshot({pid: (name, doc, artwork.get(pid)) for pid, name, doc in zip(ids, names, documents)}, settings)


def compare_versions(previous: Snapshot, current: Snapshot) -> VersionChanges:
    """Everything that differs from ``previous`` to ``current``."""
    old, new = previous.rows, current.rows
    common = sorted(set(old) & set(new))
    art = previous.has_artwork and current.has_artwork
    known = previous.settings is not None and current.settings is not None  # else only the rows are compared
    return VersionChanges(
        added=[new[i][0] for i in sorted(set(new) - set(old))],
        removed=[old[i][0] for i in sorted(set(old) - set(new))],
        documents=[new[i][0] for i in common if old[i][1] != new[i][1]],
        artwork_added=[new[i][0] for i in common if art and old[i][2] is None and new[i][2] is not None],
        artwork_removed=[new[i][0] for i in common if art and old[i][2] is not None and new[i][2] is None],
        artwork_changed=[new[i][0] for i in common
                         if art and None not in (old[i][2], new[i][2]) and old[i][2] != new[i][2]],
        settings=_settings_changes(previous.settings, current.settings) if known else [],
        source=_source_changes(previous.settings, current.settings) if known else [],
    )


def pokemon_count(count: int) -> str:
    """``1,351 Pokémon``."""
    return f"{count:,} Pokémon"


def _value(settings: Any, key: str) -> Any:
    return settings.get(key) if isinstance(settings, Mapping) else getattr(settings, key, None)


def _settings_changes(old: Any, new: Any) -> list[tuple[str, str]]:
    changes = []
    for key, label, reason in MODEL_LABELS:
        before, after = dict(_value(old, key) or {}), dict(_value(new, key) or {})
        if (before.get("model_id"), before.get("revision")) != (after.get("model_id"), after.get("revision")):
            changes.append((f"{reason} changed", f"{label}: {_model_ref(after)} (was {_model_ref(before)})."))
            continue
        shared = sorted((set(before) & set(after)) - {"name"})  # a field a newer pokembed added is no change by itself
        changed = [k for k in shared if before[k] != after[k]]
        if changed:
            listing = ", ".join(f"{k} {before[k]!r} → {after[k]!r}" for k in changed)
            changes.append((f"{reason} changed", f"{label} settings changed: {listing}."))
    umap_old, umap_new = dict(_value(old, "umap") or {}), dict(_value(new, "umap") or {})
    umap = [k for k in sorted(set(umap_old) | set(umap_new)) if umap_old.get(k) != umap_new.get(k)]
    if umap:
        listing = ", ".join(f"{k} {umap_old.get(k)} → {umap_new.get(k)}" for k in umap)
        changes.append(("UMAP parameters changed", f"UMAP parameters: {listing}."))
    before, after = _value(old, "long_documents"), _value(new, "long_documents")
    if before != after:
        changes.append(("long-document handling changed", f"Long documents: {after} (was {before})."))
    before, after = _value(old, "neighbors_k"), _value(new, "neighbors_k")
    if before != after and after is not None:
        changes.append(("neighbours per row changed", f"Neighbours per row: {after} (was {before})."))
    return changes


def _source_changes(old: Any, new: Any) -> list[str]:
    if (_value(old, "source"), _value(old, "data_version")) != (_value(new, "source"), _value(new, "data_version")):
        return [f"Source: {_source_ref(new)} (was {_source_ref(old)})."]
    if _value(old, "fetched_at") != _value(new, "fetched_at") and _value(new, "fetched_at"):
        return [f"Source re-fetched {_value(new, 'fetched_at')} (was {_value(old, 'fetched_at')})."]
    return []


def _model_ref(model: Mapping[str, Any]) -> str:
    revision = model.get("revision")
    return f"`{public_model_id(model)}`" + (f" @ `{revision}`" if revision else "")


def _source_ref(settings: Any) -> str:
    data_version = _value(settings, "data_version")
    return f"`{public_source(_value(settings, 'source'))}`" + (f" @ `{data_version}`" if data_version else "")
