"""``--version auto``: the next version number, decided by what changed since the previous published version.

Decided before anything is embedded, from the documents and artwork about to be embedded and the build's settings,
so a scheduled republish where nothing changed costs a source fetch, not a build:

- nothing the dataset holds changed → no new version (``bump == "none"``): nothing is built or pushed;
- Pokémon added or removed, or a model or an embedding/projection setting changed → next minor (X.Y+1.0);
- only documents or artwork changed → next patch (X.Y.Z+1);
- no previous version → ``0.1.0``.

A new PokéAPI commit whose tables change nothing the records hold is not a change: the published version already
is that commit's data.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pokembed.dataset.changes import VersionChanges, compare_versions, snapshot_of_build, snapshot_of_table
from pokembed.errors import BadInputError

AUTO = "auto"
FIRST_VERSION = "0.1.0"
VERSION_PATTERN = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def validate_version(version: str) -> str:
    """Return `version` as X.Y.Z (a leading "v" is dropped); BadInputError when it is not a semantic version."""
    match = VERSION_PATTERN.fullmatch(str(version).strip())
    if match is None:
        raise BadInputError(f"`version` {version!r} is not a semantic version X.Y.Z; pass e.g. `version` 1.2.0")
    return ".".join(match.groups())


def normalize_version(version: str) -> str:
    """The version a build uses everywhere (marker, card, changelog, tag): ``auto``, or X.Y.Z as validated
    (``v1.2.3`` and ``" 1.2.3 "`` are ``1.2.3``)."""
    text = str(version).strip()
    return AUTO if text == AUTO else validate_version(text)


@dataclass(frozen=True)
class VersionDecision:
    """What ``--version auto`` chose and why."""

    bump: str  # "initial" | "none" | "patch" | "minor"
    version: str | None  # the new version; None when nothing changed
    previous: str | None  # the previous version compared with
    reasons: list[str] = field(default_factory=list)  # what changed, one short phrase each

    def changelog_line(self) -> str:
        """The changelog line saying why this version number was chosen."""
        if self.bump == "initial":
            return f"Version {self.version} chosen by `--version auto`: the first published version."
        why = "; ".join(self.reasons) or "nothing changed"
        return f"Version {self.version} chosen by `--version auto`: a {self.bump} release since {self.previous} ({why})."


def next_version(previous: str, bump: str) -> str:
    """``previous`` bumped: "minor" → X.Y+1.0, "patch" → X.Y.Z+1."""
    major, minor, patch = (int(part) for part in validate_version(previous).split("."))
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    if bump == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise BadInputError(f"unknown version bump {bump!r}; use minor or patch")


def settings_of(*, text_model: Any, image_model: Any, umap: Any, long_documents: str, neighbors: int) -> dict:
    """The settings a version depends on, as plain JSON values (model specs and UMAP parameters as dicts)."""
    return {
        "text_model": _plain(text_model),
        "image_model": _plain(image_model),
        "umap": _plain(umap),
        "long_documents": long_documents,
        "neighbors_k": neighbors,
    }


def decide_version(
    previous_table: Any,
    previous_facts: Any,
    *,
    ids: Sequence[int],
    names: Sequence[str],
    documents: Sequence[str],
    artwork: Mapping[int, bytes],
    settings: Any,
) -> VersionDecision:
    """Compare what is about to be built (documents and artwork by Pokémon id, its settings: BuildFacts or
    ``settings_of(...)``) with the previous version's table (columns id, name, document, image) and build facts."""
    if previous_table is None or previous_facts is None:
        return VersionDecision("initial", FIRST_VERSION, None)
    changes = compare_versions(snapshot_of_table(previous_table, previous_facts),
                               snapshot_of_build(ids, names, documents, artwork, settings))
    return decision_from(changes, str(previous_facts.version))


def decision_from(changes: VersionChanges, previous_version: str) -> VersionDecision:
    """The version ``changes`` call for after ``previous_version``, with the reasons."""
    bump = changes.bump
    if bump == "none":
        return VersionDecision("none", None, previous_version, [])
    return VersionDecision(bump, next_version(previous_version, bump), previous_version, changes.reasons())


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, sort_keys=True)) if value is not None else None
