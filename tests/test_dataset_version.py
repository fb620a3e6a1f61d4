"""The footer naming the dataset version a Space serves: version, tag, build date, a link to the changelog."""

from __future__ import annotations

import json

from pokembed.hub.published import dataset_version, version_footer
from pokembed.dataset.facts import MARKER, read_build_facts

FACTS = {"version": "0.2.0", "built_at": "2026-11-20", "text_model": {"model_id": "nomic-ai/nomic-embed-text-v1.5"}}


def test_a_hub_dataset_pinned_to_a_tag(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    info = dataset_version("pokembed/pokemon-embeddings", "v0.2.0", FACTS)
    assert (info.version, info.tag, info.built_at, info.local) == ("0.2.0", "v0.2.0", "2026-11-20", False)
    assert version_footer(info) == (
        "Dataset `pokembed/pokemon-embeddings` · version 0.2.0 · tag `v0.2.0` · built 2026-11-20 · "
        "[changelog](https://huggingface.co/datasets/pokembed/pokemon-embeddings/blob/v0.2.0/README.md#changelog)")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert info.changelog_url() == "http://127.0.0.1:9/datasets/pokembed/pokemon-embeddings/blob/v0.2.0/README.md#changelog"


def test_unpinned_untagged_and_unrecorded_are_said_so():
    latest = version_footer(dataset_version("me/data", None, {}), endpoint="https://hub.example")
    assert latest == ("Dataset `me/data` · version not recorded · latest revision (no tag pinned) · "
                      "build date not recorded · [changelog](https://hub.example/datasets/me/data#changelog)")
    branch = version_footer(dataset_version("me/data", "main", {"version": "v1.0.0"}), endpoint="https://hub.example")
    assert "version 1.0.0 · revision `main` (not a release tag)" in branch and "tag `" not in branch


def test_a_local_build_reads_its_own_facts(built_dataset):
    marker = json.loads((built_dataset / MARKER).read_text(encoding="utf-8"))
    footer = version_footer(dataset_version(built_dataset, None, read_build_facts(built_dataset)))
    assert footer.startswith(f"Dataset `{built_dataset}` (local folder) · version {marker['version']} · ")
    assert (f"built {marker['built_at']}" if marker.get("built_at") else "build date not recorded") in footer
    assert footer.endswith(f"changelog in `{built_dataset / 'README.md'}`") and "tag `" not in footer
