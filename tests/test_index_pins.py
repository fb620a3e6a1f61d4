"""pokembed.explore.index pinned where tests/test_search.py checks less (added for the mutation report,
tests/README.md): generation order, lookup messages, the index's refusals with their whole message, reading
embedding columns (nulls, empty lists, chunks), neighbours stored as old-style ids, and k's bounds."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.explore.index import PokedexIndex, generation_sort_key, normalize_name


def index_of(n: int = 4, **changes) -> PokedexIndex:
    rng = np.random.default_rng(0)
    fields = dict(ids=np.arange(1, n + 1) * 10, names=tuple(f"mon{i}" for i in range(n)),
                  generations=tuple(("generation-ii", None, "generation-i", "generation-ii")[i % 4] for i in range(n)),
                  types=tuple(("fire",) for _ in range(n)), text=rng.standard_normal((n, 3)) * 4,
                  image=rng.standard_normal((n, 3)) * 2, has_image=np.ones(n, dtype=bool),
                  umap=rng.standard_normal((n, 2)))
    fields.update(changes)
    return PokedexIndex(**fields)


def refused(call, message: str) -> None:
    with pytest.raises(BadInputError, match=f"^{re.escape(message)}$"):
        call()


@pytest.mark.parametrize("generation, key", [
    ("generation-i", (1, "generation-i")), ("generation-iv", (4, "generation-iv")),
    ("generation-ix", (9, "generation-ix")), ("generation-xiv", (14, "generation-xiv")),
    ("generation-xl", (40, "generation-xl")), ("GENERATION-VI", (6, "GENERATION-VI")),
    ("gen-7", (7, "gen-7")), ("sinnoh-generation-iv", (4, "sinnoh-generation-iv")), ("generation-12", (12, "generation-12")), ("paldea", (10**5, "paldea")),
    ("", (10**6, "")), (None, (10**6, "")), ("generation-", (10**5, "generation-")),
])
def test_generation_sort_key(generation, key):
    assert generation_sort_key(generation) == key


def test_normalize_name():
    assert normalize_name("Mr. Mime-Jr  ") == "mrmimejr"
    assert normalize_name("Flabébé") == "flabebe"
    assert normalize_name("Porygon2") == "porygon2"


def test_vectors_are_scaled_to_unit_length_and_rows_without_artwork_are_zero():
    image = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 2.0, 0.0]])
    index = index_of(image=image, has_image=np.array([True, True, False, True]),
                     text=np.array([[0.0, 3.0, 4.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(index.text, [[0, 0.6, 0.8], [1, 0, 0], [1, 0, 0], [0, 0, 0]])  # a zero row stays zero
    np.testing.assert_allclose(index.image, [[0.6, 0.8, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert index.has_image.tolist() == [True, False, False, True]  # an all-zero image vector is no image
    assert index.text.dtype == np.float32 and index.image.dtype == np.float32 and index.ids.dtype == np.int64


def test_plain_python_sequences_become_arrays_and_tuples():
    index = PokedexIndex(ids=[3, 1], names=["b", "a"], generations=["generation-i", None], types=[["fire"], []],
                         text=[[1.0, 0.0], [0.0, 2.0]], image=[[1.0], [2.0]], has_image=[1, 0], umap=[[0.0, 1.0], [2.0, 3.0]])
    assert index.ids.dtype == np.int64 and index.ids.tolist() == [3, 1]
    assert index.names == ("b", "a") and index.generations == ("generation-i", None) and index.types == (("fire",), ())
    assert index.umap.dtype == np.float32 and index.has_image.tolist() == [True, False]
    assert [m.id for m in index.search_images(np.array([[5.0]]))] == [3]  # a (1, dim) query is a query
    assert index.similar("a", by="umap", k=1)[0].score == pytest.approx(np.hypot(2.0, 2.0))


def test_an_index_of_nobody_still_answers_lookups():
    index = PokedexIndex(ids=np.zeros(0), names=(), generations=(), types=(), text=np.zeros((0, 3)),
                         image=np.zeros((0, 3)), has_image=np.zeros(0, dtype=bool), umap=np.zeros((0, 2)))
    refused(lambda: index.find("eevee"), "no Pokémon named 'eevee'; pick a name from the list, e.g. pikachu")
    refused(lambda: index.find(None), "no Pokémon name given; pick one from the list, e.g. pikachu")


def test_image_search_needs_artwork_of_any_width():
    refused(lambda: index_of(has_image=np.zeros(4, dtype=bool)).search_images(np.ones(3)),
            "this dataset has no image embeddings; rebuild it with artwork to search by image")
    narrow = index_of(image=np.array([[1.0], [-1.0], [2.0], [0.5]]))
    assert [m.id for m in narrow.search_images(np.array([3.0]), k=4)] == [10, 30, 40, 20]


def test_an_index_without_image_columns():
    index = index_of(image=np.zeros((4, 0)), has_image=np.zeros(4, dtype=bool))
    assert index.image.shape == (4, 0) and not index.has_image.any()
    refused(lambda: index.search_images(np.ones(3)),
            "this dataset has no image embeddings; rebuild it with artwork to search by image")
    assert [m.name for m in index.similar("mon0", by="combined", k=3)] == [m.name for m in index.similar("mon0", k=3)]


@pytest.mark.parametrize("field, value", [
    ("ids", np.arange(3)), ("generations", ("generation-i",)), ("types", ()), ("text", np.ones((3, 3))),
    ("image", np.ones((5, 3))), ("has_image", np.ones(3, dtype=bool)), ("umap", np.ones((4, 3))),
    ("neighbors", ((1,),)), ("neighbor_distances", ((0.1,),)), ("is_default", np.ones(3, dtype=bool)),
])
def test_each_array_without_one_row_per_name_is_named(field, value):
    refused(lambda: index_of(**{field: value}),
            f"index arrays {field} do not have one row per name (4); rebuild the dataset with build_dataset.py")


def test_several_wrong_arrays_are_listed_together():
    refused(lambda: index_of(ids=np.arange(3), umap=np.ones((2, 2))),
            "index arrays ids, umap do not have one row per name (4); rebuild the dataset with build_dataset.py")


def test_lookup_messages():
    index = index_of(names=("pikachu", "pichu", "raichu", "eevee"))
    refused(lambda: index.find("eevie"), "no Pokémon named 'eevie'; did you mean eevee?")
    refused(lambda: index.find("pikach"), "no Pokémon named 'pikach'; did you mean pikachu or pichu?")
    refused(lambda: index.find("ichu"), "no Pokémon named 'ichu'; did you mean pichu, raichu or pikachu?")
    refused(lambda: index.find(" zzzzz "), "no Pokémon named 'zzzzz'; pick a name from the list, e.g. pikachu")
    refused(lambda: index.find("  "), "no Pokémon name given; pick one from the list, e.g. pikachu")
    refused(lambda: index_of().find("zzzzz"), "no Pokémon named 'zzzzz'; pick a name from the list, e.g. mon0")
    refused(lambda: index.row_of_id(99), "no Pokémon with id 99 in this dataset; use an id it contains")
    assert index.row_of_id(np.int64(30)) == 2 and index.find("EEVEE") == 3


def test_ranking_refusals():
    index = index_of(has_image=np.array([True, False, True, True]))
    refused(lambda: index.similar("mon1", by="image"),
            "mon1 has no artwork, so it has no image embedding; rank it by text, umap or combined instead")
    refused(lambda: index.similar("mon0", by="colour"), "unknown ranking mode 'colour'; use one of text, image, umap, combined")
    refused(lambda: index.oddballs("colour"), "unknown modality 'colour'; use one of text, image, combined")
    refused(lambda: index.similarity_matrix(np.arange(2), "colour"), "unknown modality 'colour'; use one of text, image, combined")
    refused(lambda: index.search_images(np.ones(4)), "the query vector has 4 dimensions but the dataset's image "
            "embeddings have 3; use the query model of the dataset's image model")
    refused(lambda: index.search_images(np.zeros(3)), "the query vector is empty (zero or not finite); check the encoder output")
    refused(lambda: index.similar("mon0", k=1001), "k must be between 1 and 1000, got 1001; use e.g. 10")
    refused(lambda: index.similar("mon0", k="ten"), "k must be a whole number, got 'ten'; use e.g. 10")
    assert len(index.similar("mon0", k=1000)) == 3 and len(index.similar("mon0", k=1)) == 1
    assert [m.id for m in index.search_images(index.image[0] * 5, k=10)] [0] == 10
    assert 20 not in [m.id for m in index.search_images(np.ones(3), k=10)]  # no artwork: never found


def test_generations_are_ranked_in_game_order_with_unknown_last():
    generations = ("generation-ix", None, "generation-v", "paldea", "generation-ix", None, "generation-v", "paldea")
    index = index_of(n=8, generations=generations)
    order = ["generation-v", "generation-ix", "paldea", "unknown"]  # not alphabetical: v < ix, unrecognised, none
    assert [g.generation for g in index.best_per_generation("mon0", k=1)] == order
    assert [o.generation for o in index.oddballs("text")] == order
    lonely = index_of(n=5, generations=("generation-i", "generation-ii", "generation-ii", "generation-iii", "generation-iii"))
    assert [o.generation for o in lonely.oddballs("text")] == ["generation-ii", "generation-iii"]  # one member: skipped
    index = index_of(n=8)
    assert [g.generation for g in index.best_per_generation("mon0", k=1)] == ["generation-i", "generation-ii", "unknown"]
    assert [o.generation for o in index.oddballs("image")] == ["generation-i", "generation-ii", "unknown"]
    matrix = index.similarity_matrix(np.array([0, 1, 2]), "combined")
    np.testing.assert_allclose(matrix, (index.text[:3] @ index.text[:3].T + index.image[:3] @ index.image[:3].T) / 2,
                               atol=1e-6)


def test_stored_neighbours_skip_self_and_rows_out_of_range():
    index = index_of(neighbors=((0, 2, 4, 9, 1), (), (), ()), neighbor_distances=((0.0, 0.1, 0.2, 0.3), (), (), ()))
    assert index.stored_neighbors(0) == [(2, pytest.approx(0.1)), (1, None)]
    assert index.neighbor_rows(0) == [2, 1]


def dataset(text, image, neighbors=None, ids=None, is_default=None):
    import datasets

    n = len(text)
    data = {"id": ids or [10 * (i + 1) for i in range(n)], "name": [f"mon{i}" for i in range(n)],
            "generation": ["generation-i"] * n, "types": [["fire"]] * n, "text_embedding": text,
            "image_embedding": image, "umap_2d_x": [float(i) for i in range(n)], "umap_2d_y": [None] + [1.0] * (n - 1)}
    if neighbors is not None:
        data["neighbors"] = neighbors
    if is_default is not None:
        data["is_default"] = is_default
    return datasets.Dataset.from_dict(data)


def test_from_dataset_reads_variable_length_null_and_empty_embeddings():
    ds = dataset([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], [[0.0, 1.0, 0.0], None, []])
    index = PokedexIndex.from_dataset(ds)
    np.testing.assert_allclose(index.text, [[1, 0], [0, 1], [0.6, 0.8]])
    assert index.has_image.tolist() == [True, False, False] and index.image.shape == (3, 3)
    np.testing.assert_allclose(index.umap, [[0, 0], [1, 1], [2, 1]])  # a missing coordinate reads as 0
    assert index.neighbors == ((), (), ())
    no_images = PokedexIndex.from_dataset(dataset([[1.0], [2.0]], [None, None]))
    assert no_images.image.shape == (2, 0) and not no_images.has_image.any()
    no_column = PokedexIndex.from_dataset(dataset([[1.0], [2.0]], [None, None]).remove_columns(["image_embedding"]))
    assert no_column.image.shape == (2, 0) and no_column.image.dtype == np.float32 and not no_column.has_image.any()
    refused(lambda: PokedexIndex.from_dataset(dataset([[1.0, 0.0], [1.0]], [None, None])),
            "embedding rows have different lengths [1, 2]; rebuild the dataset")
    refused(lambda: PokedexIndex.from_dataset(dataset([[1.0], None], [None, None])),
            "some rows have no text_embedding; rebuild the dataset with build_dataset.py")
    refused(lambda: PokedexIndex.from_dataset(dataset([[1.0]], [None]).remove_columns(["name", "umap_2d_y"])),
            "the dataset lacks the column(s) name, umap_2d_y; point POKEMBED_DATASET at a dataset written by "
            "build_dataset.py")


def test_from_dataset_maps_neighbours_stored_as_ids_and_keeps_row_indices(caplog):
    cells = [{"ids": [20, 30], "distances": [0.1, 0.2]}, {"ids": [10], "distances": [0.1]}, None]
    index = PokedexIndex.from_dataset(dataset([[1.0]] * 3, [None] * 3, cells))
    assert index.neighbors == ((1, 2), (0,), ())
    assert caplog.messages == ["the neighbors column holds Pokémon ids, not row indices; mapping them to rows"]
    by_id = [{"ids": [3], "distances": [0.1]}, {"ids": [1], "distances": [0.1]}, {"ids": [2], "distances": [0.1]}]
    assert PokedexIndex.from_dataset(dataset([[1.0]] * 3, [None] * 3, by_id, ids=[1, 2, 3])).neighbors == ((2,), (0,), (1,))
    empty = [{"ids": [], "distances": []}] * 3
    assert PokedexIndex.from_dataset(dataset([[1.0]] * 3, [None] * 3, empty)).neighbors == ((), (), ())
    assert index.neighbor_distances[0] == pytest.approx((0.1, 0.2))
    rows = [{"ids": [1, 2], "distances": [0.1, 0.2]}, {"ids": [0], "distances": [0.1]}, {"ids": [], "distances": []}]
    assert PokedexIndex.from_dataset(dataset([[1.0]] * 3, [None] * 3, rows)).neighbors == ((1, 2), (0,), ())
    edge = [{"ids": [2], "distances": [0.1]}, {"ids": [], "distances": []}, {"ids": [], "distances": []}]
    assert PokedexIndex.from_dataset(dataset([[1.0]] * 3, [None] * 3, edge)).neighbors == ((2,), (), ())


def test_the_documented_defaults():
    """similar and search_images give 10, best_per_generation 3 per generation, oddballs and scores rank by text."""
    index = index_of(n=16, generations=("generation-i",) * 16)
    assert len(index.similar("mon0")) == 10 and len(index.search_images(np.ones(3))) == 10
    assert len(index.best_per_generation("mon0")) == 3
    assert [o.modality for o in index.oddballs()] == ["text"]
    np.testing.assert_array_equal(index.scores(0)[0], index.text @ index.text[0])


def test_an_unrecognised_generation_sorts_before_unknown_whatever_its_name():
    index = index_of(n=4, generations=("zeta", None, "zeta", None))
    assert [g.generation for g in index.best_per_generation("mon0", k=1)] == ["zeta", "unknown"]


def test_from_dataset_reads_is_default_and_the_rankings_keep_default_forms_by_default():
    """The is_default column (a null read as a default form; no column: every row is one) decides which rows the
    rankings offer by default; default_only=False offers every row. Expected answers from numpy over the vectors."""
    text = [[1.0, 0.0], [0.9, 0.1], [0.8, 0.3], [0.0, 1.0]]
    index = PokedexIndex.from_dataset(dataset(text, [None] * 4, is_default=[True, False, None, True]))
    assert index.is_default.tolist() == [True, False, True, True]
    assert PokedexIndex.from_dataset(dataset(text, [None] * 4)).is_default.tolist() == [True] * 4
    unit = np.array(text) / np.linalg.norm(text, axis=1, keepdims=True)
    order = [10 * (r + 1) for r in np.argsort(-(unit @ unit[0]))[1:]]  # rows by cosine to mon0, itself left out
    assert order[0] == 20  # the form is mon0's nearest...
    assert [m.id for m in index.similar("mon0", k=3)] == [i for i in order if i != 20]  # ...and left out by default
    assert [m.id for m in index.similar("mon0", k=3, default_only=False)] == order
    assert [m.id for m in index.best_per_generation("mon0", k=3)] == [i for i in order if i != 20]
    assert [m.id for m in index.best_per_generation("mon0", k=3, default_only=False)] == order
    assert [m.id for m in index.similar("mon1", k=1)] == [10]  # a form may still be asked about
