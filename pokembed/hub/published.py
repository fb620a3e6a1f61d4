"""Which dataset version a Space serves: its version, tag and build date from the build facts, as a page footer.

The facts come from the dataset itself (the `.pokembed` marker, else the parquet metadata, else the card's YAML;
see `pokembed.dataset.facts.read_build_facts`), the tag from the revision the Space was started with (`POKEMBED_REVISION`,
which a deploy sets to the tag it pushed). The footer links to the changelog on the dataset card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

_TAG = re.compile(r"v\d+\.\d+\.\d+")
CHANGELOG_ANCHOR = "changelog"  # the card's "## Changelog" heading (templates/dataset_card.md), as the Hub anchors it


@dataclass(frozen=True)
class DatasetVersion:
    """The dataset a Space serves and what its build facts say about it."""

    dataset: str  # Hub id or local folder
    revision: str | None  # what the Space was started with: a tag, a branch, a commit, or None (latest)
    version: str | None  # the build's version (X.Y.Z), None when not recorded
    built_at: str | None  # the build date (YYYY-MM-DD), None when not recorded
    local: bool  # a local folder rather than a Hub dataset

    @property
    def tag(self) -> str | None:
        """The `vX.Y.Z` tag served, when the revision is one."""
        return self.revision if self.revision and _TAG.fullmatch(self.revision) else None

    def changelog_url(self, endpoint: str | None = None) -> str | None:
        """The changelog on the dataset card, at the served revision (None for a local folder)."""
        if self.local:
            return None
        from pokembed.hub.publish import resolve_endpoint

        base = f"{resolve_endpoint(endpoint)}/datasets/{self.dataset}"
        if self.revision:
            return f"{base}/blob/{self.revision}/README.md#{CHANGELOG_ANCHOR}"
        return f"{base}#{CHANGELOG_ANCHOR}"


def dataset_version(dataset: str | Path, revision: str | None, facts: Mapping[str, Any] | None) -> DatasetVersion:
    """What the build facts of `dataset` (from `read_build_facts`) say about the version served at `revision`."""
    facts = facts or {}
    version = facts.get("version")
    built_at = facts.get("built_at")
    return DatasetVersion(
        dataset=str(dataset),
        revision=revision or None,
        version=str(version).removeprefix("v") if version else None,
        built_at=str(built_at)[:10] if built_at else None,
        local=Path(dataset).is_dir(),
    )


def version_footer(info: DatasetVersion, endpoint: str | None = None) -> str:
    """One markdown line: dataset, version, tag, build date, and a link to the changelog on the dataset card."""
    name = f"`{info.dataset}`" + (" (local folder)" if info.local else "")
    parts = [f"Dataset {name}", f"version {info.version}" if info.version else "version not recorded"]
    if info.tag:
        parts.append(f"tag `{info.tag}`")
    elif info.revision:
        parts.append(f"revision `{info.revision}` (not a release tag)")
    elif not info.local:
        parts.append("latest revision (no tag pinned)")
    parts.append(f"built {info.built_at}" if info.built_at else "build date not recorded")
    url = info.changelog_url(endpoint)
    parts.append(f"[changelog]({url})" if url else f"changelog in `{Path(info.dataset) / 'README.md'}`")
    return " · ".join(parts)
