"""The library's answers pinned against plain numpy over a built dataset's columns (the ~20-Pokémon fixture, tiny models).

Every expected answer here is computed in the test from the dataset's own columns (float64, sorted by score then
id), never through the ranking code it checks: similar Pokémon by text, image, combined and map distance, the
per-generation top-k, artwork search, oddballs, the stored map neighbours, questions against the records, and
embedding arithmetic; on two datasets: the ~20-Pokémon fixture built with the tiny models, and a synthetic one
written by the table code (fast: it is what the mutation runs use). Then the row builder is checked to put each
stage's output in its own column. (That each embedding column holds its own encoder's vector of the row's input is
tests/test_build.py::test_each_row_holds_the_vectors_of_its_own_inputs.)
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pokembed.dataset.table import dataset_rows, load_dataset_split
from pokembed.explore.arithmetic import embedding_arithmetic
from pokembed.explore.records_search import ask_records
from pokembed.explore.index import PokedexIndex

K = 5


def synthetic_dataset():
    """A dataset written by pokembed's own table code from seeded random unit vectors: 40 Pokémon in four
    generations (one unknown), some without artwork, six alternate forms, two exact twins (ties broken by id),
    neighbours from pokembed.projection. No model, no build: fast enough to run for every mutant of the ranking code."""
    import datasets

    from pokembed.dataset.table import dataset_features, rows_to_table
    from pokembed.projection import combined_distances, nearest_neighbors

    rng = np.random.default_rng(7)
    n, dim = 40, 12
    ids = [int(i) for i in rng.permutation(np.arange(1, 200))[:n]]
    text = rng.standard_normal((n, dim)).astype(np.float32)
    image = rng.standard_normal((n, dim)).astype(np.float32)
    text[5], image[5] = text[4], image[4]  # twins: every ranking must break their tie by the smaller id
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    has_image = rng.random(n) > 0.2
    has_image[[4, 5]] = True
    generations = [("generation-i", "generation-ii", "generation-x", None)[i % 4] for i in range(n)]
    kinds = ("fire", "water", "grass", "rock")
    forms = {3, 9, 14, 22, 27, 36}  # alternate forms (is_default False): left out of the default_only rankings
    metas = [SimpleNamespace(id=ids[i], name=f"mon-{ids[i]}", display_name=f"Mon {ids[i]}", species_id=ids[i],
                             is_default=i not in forms, generation=generations[i],
                             types=(kinds[i % 4],) + ((kinds[(i + 1) % 4],) if i % 3 else ()))
             for i in range(n)]
    neighbors = nearest_neighbors(combined_distances(text, image, has_image), ids, k=10)
    neighbors = [{"ids": [ids.index(i) for i in cell["ids"]], "distances": cell["distances"]} for cell in neighbors]
    rows = dataset_rows(metas, [f"doc {i}" for i in ids], text, [{"tokens": 3, "truncated": False}] * n,
                        {ids[i]: image[i] for i in range(n) if has_image[i]}, rng.standard_normal((n, 2)),
                        rng.standard_normal((n, 2)), neighbors, {})
    return datasets.Dataset(rows_to_table(rows, dataset_features(dim, dim)))


@pytest.fixture(scope="module", params=["synthetic", "built"])
def ds(request, tmp_path_factory):
    """The synthetic dataset above, and the ~20-Pokémon fixture built with the tiny models."""
    if request.param == "synthetic":
        return synthetic_dataset()
    built = request.getfixturevalue("built_dataset")
    return load_dataset_split(built, cache_dir=tmp_path_factory.mktemp("pinned-datasets-cache"))


@pytest.fixture(scope="module")
def columns(ds) -> SimpleNamespace:
    """The dataset's columns as float64 numpy arrays (no pokembed code in between)."""
    has_image = np.array([v is not None for v in ds["image_embedding"]])
    dim = len(ds["text_embedding"][0])
    image = np.array([v if v is not None else [0.0] * dim for v in ds["image_embedding"]], dtype=np.float64)
    return SimpleNamespace(
        ids=np.array(ds["id"]), names=list(ds["name"]), generations=list(ds["generation"]), types=list(ds["types"]),
        is_default=np.array(ds["is_default"], dtype=bool), display_names=list(ds["display_name"]),
        text=np.array(ds["text_embedding"], dtype=np.float64), image=image, has_image=has_image,
        umap=np.stack([ds["umap_2d_x"], ds["umap_2d_y"]], axis=1).astype(np.float64),
        neighbors=list(ds["neighbors"]), documents=list(ds["document"]), pictures=list(ds["image"]),
    )


@pytest.fixture(scope="module")
def index(ds) -> PokedexIndex:
    return PokedexIndex.from_dataset(ds)


def ranked(c, scores: np.ndarray, rows, k: int, *, descending: bool = True) -> list[tuple[int, float]]:
    """(id, score) of the k best `rows` by score (descending or ascending), equal scores by smaller id."""
    rows = list(rows)
    order = sorted(rows, key=lambda r: ((-scores[r] if descending else scores[r]), c.ids[r]))
    return [(int(c.ids[r]), float(scores[r])) for r in order[:k]]


def answer(matches) -> list[tuple[int, float]]:
    return [(m.id, m.score) for m in matches]


def assert_same(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)


def numpy_scores(c, row: int, by: str, default_only: bool = False) -> tuple[np.ndarray, list[int]]:
    """Scores of every row against `row` by one mode, and the rows that take part (never `row` itself; with
    `default_only`, only rows whose is_default column is true)."""
    others = [r for r in range(len(c.ids)) if r != row and (c.is_default[r] or not default_only)]
    text = c.text @ c.text[row]
    if by == "text":
        return text, others
    if by == "image":
        return c.image @ c.image[row], [r for r in others if c.has_image[r]]
    if by == "umap":
        return np.sqrt(((c.umap - c.umap[row]) ** 2).sum(axis=1)), others
    image = c.image @ c.image[row]
    both = c.has_image & c.has_image[row]
    return np.where(both, (text + image) / 2, text), others


def test_the_fixture_has_what_the_pins_need(columns):
    assert 15 <= len(columns.ids) <= 60 and 0 < columns.has_image.sum() < len(columns.ids)
    assert 0 < (~columns.is_default).sum() < len(columns.ids) // 2  # alternate forms, so default_only is seen
    assert len(set(columns.generations)) >= 2
    np.testing.assert_allclose(np.linalg.norm(columns.text, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("default_only", [True, False])
@pytest.mark.parametrize("by", ["text", "image", "combined", "umap"])
def test_similar_is_numpy_over_the_columns(columns, index, by, default_only):
    """Every row asked, forms included; `default_only` (the default) keeps only default forms as candidates."""
    for row, name in enumerate(columns.names):
        if by == "image" and not columns.has_image[row]:
            continue
        scores, candidates = numpy_scores(columns, row, by, default_only)
        expected = ranked(columns, scores, candidates, K, descending=by != "umap")
        assert_same(answer(index.similar(name, by=by, k=K, default_only=default_only)), expected)
        if default_only:
            assert_same(answer(index.similar(name, by=by, k=K)), expected)  # the default


def game_order(generation: str) -> tuple[int, int]:
    """generation-i < generation-ii < ... < generation-x < unknown, written out for the generations used here."""
    known = ["generation-i", "generation-ii", "generation-iii", "generation-iv", "generation-v", "generation-vi",
             "generation-vii", "generation-viii", "generation-ix", "generation-x"]
    return (known.index(generation), 0) if generation in known else (len(known), 0)


@pytest.mark.parametrize("default_only", [True, False])
@pytest.mark.parametrize("by", ["text", "combined", "umap"])
def test_best_per_generation_is_numpy_within_each_generation(columns, index, by, default_only):
    """Every row asked (forms included), the top 2 of each generation."""
    for row, name in enumerate(columns.names):
        scores, candidates = numpy_scores(columns, row, by, default_only)
        got = index.best_per_generation(name, by=by, k=2, default_only=default_only)
        if default_only:
            assert got == index.best_per_generation(name, by=by, k=2)  # the default
        for generation in set(columns.generations):
            members = [r for r in candidates if columns.generations[r] == generation]
            expected = ranked(columns, scores, members, 2, descending=by != "umap")
            label = generation or "unknown"
            assert_same([(m.id, m.score) for m in got if m.generation == label], expected)
            assert [m.rank for m in got if m.generation == label] == list(range(1, len(expected) + 1))
        assert len(got) == sum(min(2, sum(columns.generations[r] == g for r in candidates))
                               for g in set(columns.generations))
        assert [m.generation for m in got] == sorted((m.generation for m in got), key=game_order)


def test_a_rows_own_artwork_searched_by_picture_comes_back_first_with_score_one(request, ds, columns, index):
    """Built: the stored picture through the image encoder. Synthetic (no pictures): the stored vector, scaled."""
    rows = [r for r in range(len(columns.ids)) if columns.has_image[r]]
    if request.node.callspec.params["ds"] == "built":
        from pokembed.embedding.encoders import load_image_encoder

        encoder = load_image_encoder(str(request.getfixturevalue("tiny_models") / "image"), device="cpu", progress=False)
        queries = encoder.embed_images([columns.pictures[r] for r in rows])
    else:
        queries = columns.image[rows] * 2.5
    twins = {r for r in rows if (np.abs(columns.image[rows] - columns.image[r]).max(axis=1) == 0).sum() > 1}
    for row, query in zip(rows, queries):
        got = answer(index.search_images(query, k=K))
        first = min((r for r in twins if np.array_equal(columns.image[r], columns.image[row])),
                    key=lambda r: columns.ids[r]) if row in twins else row
        assert got[0][0] == columns.ids[first] and got[0][1] == pytest.approx(1.0, abs=1e-5)
        unit = query / np.linalg.norm(query)
        assert_same(got, ranked(columns, columns.image @ unit, rows, K))
    # a query's length does not matter, its direction does: the negated picture is the farthest one
    last = answer(index.search_images(-queries[0], k=len(rows)))
    assert last[-1][0] == columns.ids[rows[0]] and last[-1][1] == pytest.approx(-1.0, abs=1e-5)


@pytest.mark.parametrize("default_only", [True, False])
@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_oddballs_are_numpy_medians_within_each_generation(columns, index, modality, default_only):
    """With `default_only` (the default) alternate forms are neither candidates nor among the others."""
    expected = []
    for generation in set(columns.generations):
        rows = [r for r in range(len(columns.ids)) if columns.generations[r] == generation
                and (modality != "image" or columns.has_image[r]) and (columns.is_default[r] or not default_only)]
        if len(rows) < 2:
            continue
        medians = {}
        for r in rows:
            scores, _ = numpy_scores(columns, r, modality)
            medians[r] = float(np.median([scores[o] for o in rows if o != r]))
        worst = min(rows, key=lambda r: (medians[r], columns.ids[r]))
        expected.append((generation or "unknown", int(columns.ids[worst]), medians[worst]))
    oddballs = index.oddballs(modality, per_generation=1, default_only=default_only)
    if default_only:
        assert oddballs == index.oddballs(modality, per_generation=1)  # the default
    assert all(o.modality == modality and o.rank == 1 for o in oddballs)
    got = [(o.generation, o.id, o.median_similarity) for o in oddballs]
    assert sorted((g, i) for g, i, _ in got) == sorted((g, i) for g, i, _ in expected)
    assert [g for g, _, _ in got] == sorted((g for g, _, _ in got), key=game_order)
    got_medians = {i: m for _, i, m in got}
    for _, i, m in expected:
        assert got_medians[i] == pytest.approx(m, abs=1e-5)


def test_stored_neighbours_are_numpy_over_the_stored_vectors(columns, index):
    """The `neighbors` column: nearest rows by the cosine distance of the concatenated [text, image] vectors (text
    alone for a pair without both pictures), nearest first, equal distances by smaller id."""
    n = len(columns.ids)
    text = 1 - columns.text @ columns.text.T
    image = 1 - columns.image @ columns.image.T
    both = columns.has_image[:, None] & columns.has_image[None, :]
    distance = np.where(both, (text + image) / 2, text)
    for row in range(n):
        stored = columns.neighbors[row]
        k = len(stored["ids"])
        assert k == min(10, n - 1)
        expected = ranked(columns, distance[row], [r for r in range(n) if r != row], k, descending=False)
        rows_by_id = {int(i): r for r, i in enumerate(columns.ids)}
        assert stored["ids"] == [rows_by_id[i] for i, _ in expected]  # zero-based rows, embedding-atlas format
        np.testing.assert_allclose(stored["distances"], [d for _, d in expected], atol=1e-5)
        assert index.neighbor_rows(row) == stored["ids"]
        assert [d for _, d in index.stored_neighbors(row)] == pytest.approx(stored["distances"])


@pytest.mark.parametrize("default_only", [True, False])
def test_ask_records_is_numpy_over_the_text_column(request, columns, index, default_only):
    """Built: questions through the dataset's query encoder. Synthetic: seeded random query vectors. With
    `default_only` (the default) only default forms are answers."""
    if request.node.callspec.params["ds"] == "built":
        from pokembed.embedding.encoders import load_query_encoder

        encoder = load_query_encoder(str(request.getfixturevalue("tiny_models") / "image"), device="cpu")
        queries = encoder.embed_queries(["a grass type", "which pokemon is heavy"])
    else:
        queries = np.random.default_rng(3).standard_normal((2, columns.text.shape[1])).astype(np.float32)
    pool = [r for r in range(len(columns.ids)) if columns.is_default[r] or not default_only]
    for query in queries:
        got = answer(ask_records(index, query * 3.0, k=K, default_only=default_only))  # any length: its direction
        assert_same(got, ranked(columns, columns.text @ unit(query.astype(np.float64)), pool, K))
        if default_only:
            assert answer(ask_records(index, query * 3.0, k=K)) == got  # the default
    # a record's own vector finds that record first (a form only when forms are asked for)
    for row in (2, int(np.flatnonzero(~columns.is_default)[0])):
        first = ask_records(index, columns.text[row], k=1, default_only=default_only)[0].id
        assert (first == columns.ids[row]) == (columns.is_default[row] or not default_only)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


@pytest.mark.parametrize("space", ["text", "image"])
def test_embedding_arithmetic_is_numpy_over_the_columns(columns, index, space):
    vectors = columns.text if space == "text" else columns.image
    pool = np.ones(len(columns.ids), bool) if space == "text" else columns.has_image
    a, b, c = [r for r in range(len(columns.ids)) if pool[r]][:3]
    type_name = columns.types[a][0]
    members = [r for r in range(len(columns.ids)) if type_name in columns.types[r] and pool[r]]
    centroid = unit(unit_rows_mean(vectors[members]))
    total = unit(vectors[a] - vectors[b] + vectors[c] - centroid)
    expression = f"{columns.names[a]} - {columns.names[b]} + {columns.names[c]} - type:{type_name}"
    got = embedding_arithmetic(index, expression, space=space, k=K)
    candidates = [r for r in range(len(columns.ids)) if pool[r] and r not in (a, b, c)]
    assert_same(answer(got.matches), ranked(columns, vectors @ total, candidates, K))
    assert set(got.excluded) == {columns.names[a], columns.names[b], columns.names[c]}


def unit_rows_mean(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).mean(axis=0)


def test_the_row_builder_puts_each_stages_output_in_its_own_column():
    rng = np.random.default_rng(0)
    metas = [SimpleNamespace(id=i, name=f"p{i}", display_name=f"P {i}", species_id=i % 7, is_default=i != 3,
                             generation=f"generation-{g}",
                             types=("fire", "water")[: 1 + i % 2]) for i, g in zip((1, 3, 10033), ("i", "ii", "i"))]
    text = rng.standard_normal((3, 4)).astype(np.float32)
    images = {1: rng.standard_normal(4).astype(np.float32), 10033: rng.standard_normal(4).astype(np.float32)}
    umap, pca = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    neighbors = [{"ids": [1, 2], "distances": [0.1, 0.2]}, {"ids": [0], "distances": [0.3]}, {"ids": [], "distances": []}]
    infos = [{"tokens": 10 + i, "truncated": i == 1} for i in range(3)]
    rows = dataset_rows(metas, ["d0", "d1", "d2"], text, infos, images, umap, pca, neighbors, {3: b"png3"})
    for n, (meta, row) in enumerate(zip(metas, rows)):
        assert (row["id"], row["name"], row["display_name"], row["species_id"], row["is_default"], row["generation"],
                row["types"]) == (meta.id, meta.name, meta.display_name, meta.species_id, meta.is_default,
                                  meta.generation, list(meta.types))
        assert row["document"] == f"d{n}" and (row["text_tokens"], row["text_truncated"]) == (10 + n, n == 1)
        np.testing.assert_array_equal(row["text_embedding"], text[n])
        if meta.id in images:
            np.testing.assert_array_equal(row["image_embedding"], images[meta.id])
        else:
            assert row["image_embedding"] is None
        assert (row["umap_2d_x"], row["umap_2d_y"], row["pca_2d_x"], row["pca_2d_y"]) == (
            umap[n, 0], umap[n, 1], pca[n, 0], pca[n, 1])
        assert row["neighbors"] == neighbors[n]
        assert row["image"] == ({"bytes": b"png3", "path": None} if meta.id == 3 else None)
