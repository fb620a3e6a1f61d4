"""--version auto: none / patch / minor, in the library and through the CLI against the fake Hub."""

from __future__ import annotations

import csv
import logging
import shutil
from types import SimpleNamespace

import pyarrow as pa
import pytest

from conftest import build_args, load_cli
from fake_hub import isolated_hub
from pokembed.errors import BadInputError
from pokembed.dataset.versioning import decide_version, next_version, settings_of

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TEXT = {"name": "t", "model_id": "org/text", "revision": "a" * 40, "pooling": "mean", "dimension": 768}
IMAGE = {"name": "i", "model_id": "org/image", "revision": "b" * 40, "pooling": "cls", "dimension": 768}
UMAP = {"n_neighbors": 5, "min_dist": 0.0, "n_epochs": 5000, "metric": "cosine", "seed": 42}


def previous(version="1.2.3"):
    table = pa.table({
        "id": [1, 2, 3],
        "name": ["bulbasaur", "ivysaur", "venusaur"],
        "document": ["d1", "d2", "d3"],
        "image": [{"bytes": b"p1", "path": None}, {"bytes": b"p2", "path": None}, None],
    })
    facts = SimpleNamespace(version=version, text_model=dict(TEXT), image_model=dict(IMAGE), umap=dict(UMAP),
                            long_documents="truncate", neighbors_k=10)
    return table, facts


def decide(ids=(1, 2, 3), documents=("d1", "d2", "d3"), artwork=None, **changes):
    table, facts = previous()
    settings = {"text_model": dict(TEXT), "image_model": dict(IMAGE), "umap": dict(UMAP),
                "long_documents": "truncate", "neighbors_k": 10}
    settings.update(changes)
    artwork = {1: b"p1", 2: b"p2"} if artwork is None else artwork
    names = [f"pokemon-{i}" for i in ids]
    return decide_version(table, facts, ids=list(ids), names=names, documents=list(documents), artwork=artwork,
                          settings=settings)


def test_next_version():
    assert next_version("1.2.3", "minor") == "1.3.0"
    assert next_version("v1.2.3", "patch") == "1.2.4"
    with pytest.raises(BadInputError, match="semantic version"):
        next_version("1.2", "patch")


def test_nothing_changed_is_no_version():
    decision = decide()
    assert (decision.bump, decision.version, decision.previous) == ("none", None, "1.2.3")


@pytest.mark.parametrize("kwargs, reason", [
    ({"documents": ("d1", "d2 changed", "d3")}, "documents changed for 1 Pokémon"),
    ({"artwork": {1: b"p1", 2: b"p2 redrawn"}}, "artwork changed for 1 Pokémon"),
    ({"artwork": {1: b"p1", 2: b"p2", 3: b"p3 new"}}, "artwork changed for 1 Pokémon"),
])
def test_documents_or_artwork_only_is_a_patch(kwargs, reason):
    decision = decide(**kwargs)
    assert (decision.bump, decision.version, decision.reasons) == ("patch", "1.2.4", [reason])
    assert "patch release since 1.2.3" in decision.changelog_line() and reason in decision.changelog_line()


@pytest.mark.parametrize("kwargs, reason", [
    ({"ids": (1, 2, 3, 4), "documents": ("d1", "d2", "d3", "d4")}, "1 Pokémon added (pokemon-4)"),
    ({"ids": (1, 2), "documents": ("d1", "d2")}, "1 Pokémon removed (venusaur)"),
    ({"text_model": {**TEXT, "revision": "c" * 40}}, "text model changed"),
    ({"image_model": {**IMAGE, "model_id": "org/other"}}, "image model changed"),
    ({"text_model": {**TEXT, "dimension": 256}}, "text model changed"),
    ({"umap": {**UMAP, "seed": 7}}, "UMAP parameters changed"),
    ({"long_documents": "chunk"}, "long-document handling changed"),
])
def test_pokemon_or_models_changed_is_a_minor(kwargs, reason):
    decision = decide(**kwargs)
    assert (decision.bump, decision.version) == ("minor", "1.3.0") and reason in decision.reasons


def test_a_minor_lists_the_patch_reasons_too():
    decision = decide(ids=(1, 2), documents=("d1", "d2 changed"))
    assert decision.bump == "minor"
    assert decision.reasons == ["1 Pokémon removed (venusaur)", "documents changed for 1 Pokémon"]


def test_a_model_field_added_by_a_newer_pokembed_is_not_a_change():
    assert decide(text_model={**TEXT, "a_newer_field": None}).bump == "none"


def test_no_previous_version_is_the_first():
    decision = decide_version(None, None, ids=[1], names=["a"], documents=["d"], artwork={}, settings={})
    assert (decision.bump, decision.version) == ("initial", "0.1.0")


def test_settings_of_turns_specs_into_plain_values():
    from pokembed.embedding.registry import get_model_spec
    from pokembed.projection import UmapParams

    spec = get_model_spec("nomic-embed-text-v1.5", "text")
    settings = settings_of(text_model=spec, image_model=spec, umap=UmapParams(), long_documents="truncate",
                           neighbors=10)
    assert settings["text_model"]["revision"] == spec.revision and settings["umap"]["n_epochs"] == 5000


# ---- through the CLI, against the fake Hub ---------------------------------------------------------------------
TOKEN = "hf_versionTOKEN1234567890"
REPO = "tester/pokemon-embeddings"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with isolated_hub(tmp_path, monkeypatch, TOKEN) as server:
        yield server


def edit_csv(folder, name, change):
    with open(folder / name, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    change(rows)
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_auto_versions_none_patch_minor(hub, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys, caplog):
    cli = load_cli()

    def publish(folder, name):
        out = tmp_path / name  # a fresh folder each time: the previous version comes from the Hub
        args = build_args(folder, artwork_fixture, tiny_models, out, "--version", "auto", "--push", REPO,
                          "--hub-endpoint", hub.endpoint, "--cache-dir", str(tmp_path / "cache"))
        code = cli.main(args)
        return code, out, capsys.readouterr()

    repo_tags = lambda: sorted(hub.repo(REPO).tags) if hub.repo(REPO) else []  # noqa: E731
    code, out, _ = publish(csv_fixture, "v1")
    assert code == 0 and repo_tags() == ["v0.1.0"]

    commits = len(hub.repo(REPO).commits)
    code, out, printed = publish(csv_fixture, "same")  # 1. nothing changed: nothing built, nothing pushed
    assert code == 0 and "Nothing changed since v0.1.0" in printed.out
    assert not out.exists() and len(hub.repo(REPO).commits) == commits and repo_tags() == ["v0.1.0"]

    texts = tmp_path / "texts"  # 2. one English flavor text edited: a patch
    shutil.copytree(csv_fixture, texts)
    edit_csv(texts, "pokemon_species_flavor_text.csv", lambda rows: rows[2].__setitem__(3, rows[2][3] + " (edited)"))
    code, out, printed = publish(texts, "patch")
    assert code == 0 and repo_tags() == ["v0.1.0", "v0.1.1"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Version 0.1.1 chosen by `--version auto`: a patch release since 0.1.0 (documents changed for" in card
    assert "### v0.1.1" in card and "### v0.1.0" in card

    fewer = tmp_path / "fewer"  # 3. a Pokémon removed: a minor
    shutil.copytree(texts, fewer)
    edit_csv(fewer, "pokemon.csv", lambda rows: rows.pop())
    with caplog.at_level(logging.INFO, logger="pokembed"):
        code, out, printed = publish(fewer, "minor")
    assert code == 0 and repo_tags() == ["v0.1.0", "v0.1.1", "v0.2.0"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "a minor release since 0.1.1 (1 Pokémon removed" in card
    assert TOKEN not in printed.out + printed.err
    plan = [r.getMessage() for r in caplog.records if r.getMessage().startswith("to embed on cpu")]
    assert plan and "of 19 documents" in plan[0] and "cached" in plan[0]


def test_the_changelog_and_the_bump_read_one_comparison():
    """compare_versions is computed once; its lines (the changelog) and its bump (--version auto) never disagree."""
    from pokembed.dataset.changes import compare_versions, snapshot_of_build, snapshot_of_table
    from pokembed.dataset.versioning import decision_from

    table, facts = previous()
    settings = {"text_model": {**TEXT, "a_newer_field": 1}, "image_model": dict(IMAGE), "umap": dict(UMAP),
                "long_documents": "truncate", "neighbors_k": 10}
    same = compare_versions(snapshot_of_table(table, facts),
                            snapshot_of_build([1, 2, 3], ["a", "b", "c"], ["d1", "d2", "d3"], {1: b"p1", 2: b"p2"}, settings))
    assert (same.bump, same.lines()) == ("none", ["No changes to the data."])  # a newer field is no change in either
    assert decision_from(same, "1.2.3").version is None
    edited = compare_versions(snapshot_of_table(table, facts),
                              snapshot_of_build([1, 2], ["a", "b"], ["d1", "d2 edited"], {1: b"p1", 2: b"p2 redrawn"},
                                                settings))
    assert edited.lines() == ["Removed 1 Pokémon: venusaur.", "Documents changed for 1 Pokémon: b.",
                              "Artwork changed for 1 Pokémon: b."]
    assert decision_from(edited, "1.2.3").reasons == ["1 Pokémon removed (venusaur)", "documents changed for 1 Pokémon",
                                                      "artwork changed for 1 Pokémon"]
