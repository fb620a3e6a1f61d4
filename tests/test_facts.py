"""Build facts read back as a build writes them: from the marker, the parquet metadata, the card, the Hub."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from pokembed.dataset.facts import (
    MARKER,
    DatasetModels,
    facts_from_card,
    facts_from_json,
    models_from_dataset,
    public_facts,
    read_build_facts,
    read_marker,
)

PACKAGE = Path(__file__).resolve().parents[1] / "pokembed"


def test_facts_of_a_real_build_read_back_from_marker_then_parquet_then_card(built_dataset, tiny_models, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(built_dataset, folder)
    marker = read_marker(folder)
    text, image = "local:text", "local:image"  # what is written and pushed names no local path (issue 20 case 11)
    assert models_from_dataset(folder) == DatasetModels(text, image)
    assert read_build_facts(folder) == marker

    (folder / MARKER).unlink()  # the parquet's schema metadata records the same facts
    assert read_build_facts(folder) == marker and models_from_dataset(folder) == DatasetModels(text, image)

    parquet = next((folder / "data").glob("*.parquet"))
    table = pq.read_table(parquet)
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"pokembed"}
    pq.write_table(table.replace_schema_metadata(metadata), parquet)
    card = (folder / "README.md").read_text(encoding="utf-8")
    facts = facts_from_json(json.dumps(marker))
    assert facts_from_card(card) == facts_from_json(json.dumps(public_facts(facts)))
    assert models_from_dataset(folder) == DatasetModels("local:text", "local:image")  # the card names no paths
    assert read_build_facts(folder)["version"] == marker["version"] == "0.1.0"


def test_facts_of_a_real_build_read_back_from_the_hub(built_dataset, monkeypatch, tmp_path):
    """A Hub dataset: its `.pokembed`, else its card (downloads stubbed with the built folder's files)."""
    import huggingface_hub

    served = {MARKER: built_dataset / MARKER, "README.md": built_dataset / "README.md"}

    def download(repo_id, filename, *, repo_type=None, revision=None, **_):
        assert (repo_id, repo_type, revision) == ("someone/pokemon", "dataset", "v0.1.0")
        if filename not in served:
            raise FileNotFoundError(filename)
        return str(served[filename])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    assert read_build_facts("someone/pokemon", "v0.1.0") == read_marker(built_dataset)
    del served[MARKER]
    assert models_from_dataset("someone/pokemon", "v0.1.0") == DatasetModels("local:text", "local:image")


def test_the_marker_name_is_defined_once():
    spelled = [f"{path.relative_to(PACKAGE).as_posix()}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"""["']\.pokembed["']""", line)]
    assert spelled == ["dataset/facts.py:25"]
