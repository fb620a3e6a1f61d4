"""pokembed.dataset.changes pinned where test_versioning.py checks less (added for the mutation report,
tests/README.md): every kind of change with its exact changelog line, reason and bump, the order of the lines, long
name lists, settings given as objects or mappings, sources moved or re-fetched, and tables without some columns."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from pokembed.dataset.changes import (VersionChanges, compare_versions, pokemon_count, snapshot_of_build,
                                      snapshot_of_table)
from pokembed.errors import BadInputError

TEXT = {"name": "t", "model_id": "org/text", "revision": "a" * 8, "dimension": 768}
IMAGE = {"name": "i", "model_id": "org/image", "revision": None, "dimension": 768, "pooling": "cls"}
SETTINGS = {"text_model": TEXT, "image_model": IMAGE, "umap": {"seed": 42, "n_neighbors": 5},
            "long_documents": "truncate", "neighbors_k": 10, "source": "csv:/home/me/pokeapi", "data_version": "abc",
            "fetched_at": "2026-01-01"}


def changes(old_settings=None, new_settings=None, **overrides) -> VersionChanges:
    """Previous rows 1..3 (artwork for 1 and 2) against a build with the same rows unless `overrides` say otherwise."""
    old = {1: ("a", "d1", b"p1"), 2: ("b", "d2", b"p2"), 3: ("c", "d3", None)}
    new = {**old, **{int(k[1:]): v for k, v in overrides.items()}}
    new = {k: v for k, v in new.items() if v is not None}
    previous = snapshot_of_build(list(old), [v[0] for v in old.values()], [v[1] for v in old.values()],
                                 {k: v[2] for k, v in old.items() if v[2]}, old_settings or SETTINGS)
    current = snapshot_of_build(list(new), [v[0] for v in new.values()], [v[1] for v in new.values()],
                                {k: v[2] for k, v in new.items() if v[2]}, new_settings or SETTINGS)
    return compare_versions(previous, current)


def test_nothing_changed():
    same = changes()
    assert (same.bump, same.reasons(), same.lines()) == ("none", [], ["No changes to the data."])
    assert same == VersionChanges()


def test_each_row_change_has_its_line_reason_and_bump():
    added = changes(r4=("d", "d4", None), r5=("e", "d5", b"p5"))
    assert (added.bump, added.reasons(), added.lines()) == (
        "minor", ["2 Pokémon added (d, e)"], ["Added 2 Pokémon: d, e."])
    removed = changes(r2=None)
    assert (removed.bump, removed.reasons(), removed.lines()) == (
        "minor", ["1 Pokémon removed (b)"], ["Removed 1 Pokémon: b."])
    edited = changes(r3=("c", "d3 edited", None))
    assert (edited.bump, edited.reasons(), edited.lines()) == (
        "patch", ["documents changed for 1 Pokémon"], ["Documents changed for 1 Pokémon: c."])
    art = changes(r1=("a", "d1", None), r2=("b", "d2", b"p2 redrawn"), r3=("c", "d3", b"p3"))
    assert (art.artwork_removed, art.artwork_changed, art.artwork_added) == (["a"], ["b"], ["c"])
    assert (art.bump, art.reasons()) == ("patch", ["artwork changed for 3 Pokémon"])
    assert art.lines() == ["Artwork added for 1 Pokémon: c.", "Artwork removed for 1 Pokémon: a.",
                           "Artwork changed for 1 Pokémon: b."]


def test_renamed_rows_are_named_by_their_new_name_and_lines_come_in_order():
    both = changes(r1=("a", "d1", b"p1 new"), r2=("bee", "d2 new", b"p2"), r3=None, r9=("z", "d9", None))
    assert both.lines() == ["Added 1 Pokémon: z.", "Removed 1 Pokémon: c.", "Documents changed for 1 Pokémon: bee.",
                            "Artwork changed for 1 Pokémon: a."]
    assert both.reasons() == ["1 Pokémon added (z)", "1 Pokémon removed (c)", "documents changed for 1 Pokémon",
                              "artwork changed for 1 Pokémon"]


def test_long_name_lists_are_cut():
    many = {f"r{i}": (f"n{i}", f"d{i}", None) for i in range(10, 35)}
    result = changes(**many)
    assert result.reasons() == ["25 Pokémon added (n10, n11, n12, n13, n14 and 20 more)"]
    assert result.lines() == ["Added 25 Pokémon: " + ", ".join(f"n{i}" for i in range(10, 30)) + " and 5 more."]
    assert pokemon_count(1351) == "1,351 Pokémon"


def test_settings_changes_lines_and_reasons():
    new = dict(SETTINGS, text_model=dict(TEXT, revision="b" * 8), image_model=dict(IMAGE, dimension=256, pooling="mean"),
               umap={"seed": 7, "min_dist": 0.1}, long_documents="chunk", neighbors_k=5)
    result = changes(None, new)
    assert result.bump == "minor"
    assert result.reasons() == ["text model changed", "image model changed", "UMAP parameters changed",
                                "long-document handling changed", "neighbours per row changed"]
    assert result.lines() == [
        "Text model: `org/text` @ `bbbbbbbb` (was `org/text` @ `aaaaaaaa`).",
        "Image model settings changed: dimension 768 → 256, pooling 'cls' → 'mean'.",
        "UMAP parameters: min_dist None → 0.1, n_neighbors 5 → None, seed 42 → 7.",
        "Long documents: chunk (was truncate).",
        "Neighbours per row: 5 (was 10).",
    ]


def test_a_model_moved_to_another_id_and_settings_as_objects():
    old = SimpleNamespace(**dict(SETTINGS, image_model=None, neighbors_k=None))
    new = SimpleNamespace(**dict(SETTINGS, image_model=dict(IMAGE, model_id="/home/me/models/clip")))
    result = changes(old, new)
    assert result.lines() == ["Image model: `local:clip` (was `unknown`).", "Neighbours per row: 10 (was None)."]
    assert changes(new, old).lines() == ["Image model: `unknown` (was `local:clip`)."]  # neighbours dropped: no line
    name_only = changes(None, dict(SETTINGS, text_model=dict(TEXT, name="renamed")))
    assert name_only.lines() == ["No changes to the data."]  # the registry name is no change of the model


def test_the_source_moved_or_was_fetched_again():
    moved = changes(None, dict(SETTINGS, source="graphql:https://beta.pokeapi.co/graphql/v1beta", data_version=None))
    assert (moved.bump, moved.reasons()) == ("none", [])
    assert moved.lines() == ["Source: `graphql:https://beta.pokeapi.co/graphql/v1beta` (was `csv:pokeapi` @ `abc`)."]
    version = changes(None, dict(SETTINGS, data_version="def"))
    assert version.lines() == ["Source: `csv:pokeapi` @ `def` (was `csv:pokeapi` @ `abc`)."]
    fetched = changes(None, dict(SETTINGS, fetched_at="2026-02-02"))
    assert fetched.lines() == ["Source re-fetched 2026-02-02 (was 2026-01-01)."]
    assert changes(None, dict(SETTINGS, fetched_at=None)).lines() == ["No changes to the data."]
    both = changes(None, dict(SETTINGS, data_version="def", fetched_at="2026-02-02", long_documents="chunk"),
                   r1=("a", "d1 new", b"p1"))
    assert both.lines() == ["Documents changed for 1 Pokémon: a.", "Source: `csv:pokeapi` @ `def` (was `csv:pokeapi` "
                            "@ `abc`).", "Long documents: chunk (was truncate)."]


def test_without_settings_only_the_rows_are_compared():
    old = snapshot_of_build([1], ["a"], ["d1"], {}, None)
    new = snapshot_of_build([1, 2], ["a", "b"], ["d1", "d2"], {}, SETTINGS)
    assert compare_versions(old, new) == VersionChanges(added=["b"])
    assert compare_versions(new, old) == VersionChanges(removed=["b"])


def test_snapshot_of_table_reads_names_documents_and_picture_bytes():
    table = pa.table({"id": [1, 2, 3], "name": ["a", None, "c"], "document": ["d1", "d2", None],
                      "image": [{"bytes": b"p1", "path": None}, None, {"bytes": b"p3", "path": None}]})
    snap = snapshot_of_table(table, "facts")
    assert snap.rows == {1: ("a", "d1", b"p1"), 2: (2, "d2", None), 3: ("c", None, b"p3")}
    assert (snap.settings, snap.has_artwork) == ("facts", True)
    bare = snapshot_of_table(pa.table({"id": [5], "image": [b"raw"]}), None)
    assert bare.rows == {5: (5, None, b"raw")} and bare.has_artwork
    no_art = snapshot_of_table(pa.table({"id": [1, 2], "name": ["a", "b"]}), None)
    assert no_art.rows == {1: ("a", None, None), 2: ("b", None, None)} and not no_art.has_artwork
    # artwork is compared only when both sides have an image column
    built = snapshot_of_build([1, 2], ["a", "b"], [None, None], {1: b"p1"}, None)
    assert compare_versions(no_art, built) == VersionChanges()
    redrawn = snapshot_of_build([1, 2, 3], ["a", "b", "c"], ["d1", "d2", "d3"], {1: b"p1", 2: b"p2"}, None)
    assert compare_versions(snapshot_of_table(table, None), redrawn) == VersionChanges(
        documents=["c"], artwork_added=["b"], artwork_removed=["c"])
    with pytest.raises(BadInputError, match="^a table without an `id` column cannot be compared; pass a pokembed "
                                            "dataset table$"):
        snapshot_of_table(pa.table({"name": ["a"]}), None)
