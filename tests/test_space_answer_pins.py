"""The Space's answers (pokembed.explore.answers and map_data) pinned against an independent computation.

Each expected answer comes from the test: the query encoder's vector computed here and searched with numpy over the
dataset's image (or text) column; a row's own stored artwork uploaded as a picture; numpy over the columns for
similar, per-generation, oddballs, arithmetic and the map's neighbours; the names a visitor sees from the dataset's
`display_name` column. On two Spaces: `[built]`, the ~20-Pokémon fixture loaded by `load_space` with the tiny models,
and `[synthetic]`, test_pinned_answers' 40-row dataset with stub encoders whose vectors the test knows (fast: it is
what the mutation runs use; `-k "not built"`).
"""

from __future__ import annotations

import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from pokembed.explore.arithmetic import ARITHMETIC_METHOD, ARITHMETIC_PRESETS
from pokembed.explore.answers import (arithmetic_result, ask_result, oddballs_result, picture_result, records_result,
                                      similar_result)
from pokembed.explore.index import PokedexIndex
from pokembed.explore.map_data import map_result, map_view_data, pca_map
from pokembed.explore.space import ArtworkFiles, Space, SpaceConfig
from test_pinned_answers import game_order, numpy_scores, ranked, synthetic_dataset, unit

K = 5
QUESTIONS = ("a grass type", "which pokemon is heavy")


def question_vector(text: str, dim: int, salt: int) -> np.ndarray:
    """The synthetic Space's stub encoders: a seeded vector per question (any length: only its direction counts)."""
    rng = np.random.default_rng([zlib.crc32(text.encode("utf-8")), salt])
    return (3.0 * rng.standard_normal(dim)).astype(np.float32)


def coloured_picture(row: int) -> Image.Image:
    """A picture whose colour names a row of the synthetic dataset (the stub picture encoder reads it back)."""
    return Image.new("RGB", (16, 12), (row, 7, 200))


class StubEncoder:
    """Questions -> question_vector; pictures made by coloured_picture -> that row's stored image vector, scaled."""

    def __init__(self, dim: int, salt: int, image: np.ndarray | None = None) -> None:
        self.dim, self.salt, self.image = dim, salt, image

    def embed_queries(self, texts):
        return np.stack([question_vector(t, self.dim, self.salt) for t in texts])

    def embed_images(self, images):
        return np.stack([2.5 * self.image[img.convert("RGB").getpixel((0, 0))[0]] for img in images]).astype(np.float32)


class StubModels:
    def __init__(self, text_dim: int, image: np.ndarray) -> None:
        self.ask = StubEncoder(image.shape[1], 1)
        self.records = StubEncoder(text_dim, 2)
        self.pictures = StubEncoder(image.shape[1], 3, image)

    def query_encoder(self):
        return self.ask

    def records_encoder(self):
        return self.records

    def image_encoder(self):
        return self.pictures


def read_columns(ds) -> SimpleNamespace:
    """The dataset's columns as plain numpy/python (no pokembed code in between)."""
    has_image = np.array([v is not None for v in ds["image_embedding"]])
    dim = len(ds["image_embedding"][int(np.flatnonzero(has_image)[0])])
    image = np.array([v if v is not None else [0.0] * dim for v in ds["image_embedding"]], dtype=np.float64)
    return SimpleNamespace(
        ids=np.array(ds["id"]), names=list(ds["name"]), display=list(ds["display_name"]),
        generations=list(ds["generation"]), types=list(ds["types"]), is_default=np.array(ds["is_default"], bool),
        text=np.array(ds["text_embedding"], dtype=np.float64), image=image, has_image=has_image,
        umap=np.stack([ds["umap_2d_x"], ds["umap_2d_y"]], axis=1).astype(np.float64),
        pca=np.stack([ds["pca_2d_x"], ds["pca_2d_y"]], axis=1).astype(np.float64),
        neighbors=list(ds["neighbors"]), pictures=list(ds["image"]))


def synthetic_space(ds, folder, *, stored_neighbours: bool = True) -> Space:
    c = read_columns(ds)
    index = PokedexIndex.from_dataset(ds if stored_neighbours else ds.remove_columns(["neighbors"]))
    art = ArtworkFiles(folder, {}, {}, folder / "none.webp")
    return Space(index, tuple(c.display), art, StubModels(c.text.shape[1], c.image.astype(np.float32)),
                 SpaceConfig(dataset="synthetic", device="cpu"), pca=pca_map(index))


@pytest.fixture(scope="module", params=["synthetic", "built"])
def case(request, tmp_path_factory) -> SimpleNamespace:
    """The Space, its dataset's columns, and the encoders' vectors as the test computes them."""
    if request.param == "synthetic":
        ds = synthetic_dataset()
        c = read_columns(ds)
        return SimpleNamespace(
            kind="synthetic", space=synthetic_space(ds, tmp_path_factory.mktemp("synthetic-space")), c=c,
            ask=lambda q: question_vector(q, c.image.shape[1], 1), records=lambda q: question_vector(q, c.text.shape[1], 2),
            picture=lambda row: coloured_picture(row))
    from pokembed.dataset.table import load_dataset_split
    from pokembed.embedding.encoders import load_query_encoder, load_text_encoder
    from pokembed.explore.space_loading import load_space

    built, tiny = request.getfixturevalue("built_dataset"), request.getfixturevalue("tiny_models")
    config = SpaceConfig(dataset=str(built), text_model=str(tiny / "text"), image_model=str(tiny / "image"),
                         device="cpu")
    space = load_space(config, workdir=tmp_path_factory.mktemp("pinned-space"))
    c = read_columns(load_dataset_split(built, cache_dir=tmp_path_factory.mktemp("pinned-space-cache")))
    query = load_query_encoder(str(tiny / "image"), device="cpu")
    text = load_text_encoder(str(tiny / "text"), device="cpu", progress=False)
    return SimpleNamespace(kind="built", space=space, c=c, ask=lambda q: query.embed_queries([q])[0],
                           records=lambda q: text.embed_queries([q])[0],
                           picture=lambda row: c.pictures[row])  # the stored PNG, decoded


def assert_entries(c, got: list[dict], expected: list[tuple[int, float]], *, ranks: bool = True) -> None:
    """Ids and scores as numpy has them, the slug and the display name of each id's row, ranks 1, 2, ..."""
    rows = {int(i): r for r, i in enumerate(c.ids)}
    assert [m["id"] for m in got] == [i for i, _ in expected]
    np.testing.assert_allclose([m["score"] for m in got], [s for _, s in expected], atol=2e-5)
    assert all(m["score"] == round(m["score"], 6) for m in got)  # rounded to 6 decimals for JSON
    assert [m["name"] for m in got] == [c.names[rows[i]] for i, _ in expected]
    assert [m["display_name"] for m in got] == [c.display[rows[i]] for i, _ in expected]
    if ranks:
        assert [m["rank"] for m in got] == list(range(1, len(expected) + 1))


def test_ask_is_the_index_search_of_the_query_encoders_vector(case):
    c = case.c
    artwork = np.flatnonzero(c.has_image)
    for question in QUESTIONS:
        result = ask_result(case.space, f"  {question} ", K)
        assert (result["question"], result["score"], result["searched"]) == (question, "cosine", len(artwork))
        expected = ranked(c, c.image @ unit(case.ask(question).astype(np.float64)), artwork, K)
        assert_entries(c, result["matches"], expected)


def test_a_rows_own_artwork_by_picture_comes_back_first_with_score_one(case, tmp_path):
    c = case.c
    artwork = np.flatnonzero(c.has_image)
    for row in artwork:
        path = tmp_path / f"{row}.png"
        case.picture(row).save(path)
        result = picture_result(case.space, path, K)
        twins = [r for r in artwork if np.array_equal(c.image[r], c.image[row])]
        first = min(twins, key=lambda r: c.ids[r])
        assert result["matches"][0]["id"] == c.ids[first]
        assert result["matches"][0]["score"] == pytest.approx(1.0, abs=1e-5)
        assert assert_entries(c, result["matches"], ranked(c, c.image @ unit(c.image[row]), artwork, K)) is None
        with Image.open(path) as picture:
            assert (result["width"], result["height"], result["searched"], result["score"]) == (
                *picture.size, len(artwork), "cosine")


@pytest.mark.parametrize("mode", ["text", "image", "combined", "umap"])
def test_similar_result_is_numpy_over_the_columns(case, mode):
    """Nearest default forms by `mode` and the best 3 of each generation; the chosen one's facts."""
    c = case.c
    for row, name in enumerate(c.names):
        if mode == "image" and not c.has_image[row]:
            continue
        result = similar_result(case.space, name.upper(), mode, K)
        scores, candidates = numpy_scores(c, row, mode, default_only=True)
        descending = mode != "umap"
        assert_entries(c, result["matches"], ranked(c, scores, candidates, K, descending=descending))
        assert (result["mode"], result["score"], result["higher_is_closer"]) == (
            mode, "map distance" if mode == "umap" else "cosine", descending)
        assert result["pokemon"] == {
            "id": int(c.ids[row]), "name": name, "display_name": c.display[row], "generation": c.generations[row],
            "generation_label": label_of(c.generations[row]), "types": list(c.types[row]),
            "has_artwork": bool(c.has_image[row])}
        expected, labels = [], []
        for generation in sorted(set(c.generations), key=game_order):
            members = [r for r in candidates if c.generations[r] == generation]
            best = ranked(c, scores, members, 3, descending=descending)
            expected += best
            labels += [(generation or "unknown", label_of(generation), rank) for rank in range(1, len(best) + 1)]
        got = result["per_generation"]
        assert_entries(c, got, expected, ranks=False)
        assert [(g["generation"], g["generation_label"], g["rank"]) for g in got] == labels


def label_of(generation: str | None) -> str:
    """"generation-ii" -> "Generation II"; the synthetic dataset's generations only."""
    if not generation:
        return "Unknown generation"
    return "Generation " + generation.removeprefix("generation-").upper()


def test_records_result_is_numpy_over_the_text_column(case):
    c = case.c
    defaults = np.flatnonzero(c.is_default)
    for question in QUESTIONS:
        result = records_result(case.space, question, K)
        assert (result["question"], result["score"], result["searched"]) == (question, "cosine", len(c.ids))
        expected = ranked(c, c.text @ unit(case.records(question).astype(np.float64)), defaults, K)
        assert_entries(c, result["matches"], expected)


@pytest.mark.parametrize("space", ["text", "image"])
def test_arithmetic_result_is_numpy_over_the_columns(case, space):
    c = case.c
    vectors = c.text if space == "text" else c.image
    pool = np.ones(len(c.ids), bool) if space == "text" else c.has_image
    a, b, d = [r for r in range(len(c.ids)) if pool[r]][1:4]
    kind = c.types[b][0]
    members = [r for r in range(len(c.ids)) if kind in c.types[r] and pool[r]]
    centroid = unit((vectors[members] / np.linalg.norm(vectors[members], axis=1, keepdims=True)).mean(axis=0))
    total = unit(unit(vectors[a]) - unit(vectors[b]) + unit(vectors[d]) + centroid)
    result = arithmetic_result(case.space, f"{c.names[a]} - {c.names[b]} + {c.names[d]} + type:{kind}", space, K)
    candidates = [r for r in range(len(c.ids)) if pool[r] and r not in (a, b, d)]
    assert_entries(c, result["matches"], ranked(c, vectors @ total, candidates, K))
    assert result["terms"] == [{"sign": "+", "kind": "pokemon", "name": c.names[a]},
                               {"sign": "-", "kind": "pokemon", "name": c.names[b]},
                               {"sign": "+", "kind": "pokemon", "name": c.names[d]},
                               {"sign": "+", "kind": "type", "name": kind}]
    assert sorted(result["excluded"]) == sorted(c.names[r] for r in (a, b, d))
    assert (result["space"], result["score"], result["story"]) == (space, "cosine", None)
    assert result["expression"] == f"{c.names[a]} − {c.names[b]} + {c.names[d]} + type:{kind}"
    assert result["method"] == ARITHMETIC_METHOD


@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_oddballs_result_is_numpy_medians_among_default_forms(case, modality):
    c = case.c
    expected = []
    for generation in sorted(set(c.generations), key=game_order):
        rows = [r for r in range(len(c.ids)) if c.generations[r] == generation and c.is_default[r]
                and (modality != "image" or c.has_image[r])]
        if len(rows) < 2:
            continue
        medians = {r: float(np.median([numpy_scores(c, r, modality)[0][o] for o in rows if o != r])) for r in rows}
        worst = min(rows, key=lambda r: (medians[r], c.ids[r]))
        expected.append((generation, worst, medians[worst]))
    result = oddballs_result(case.space, modality)
    assert (result["modality"], result["score"]) == (modality, "median cosine")
    got = result["oddballs"]
    assert_entries(c, got, [(int(c.ids[r]), m) for _, r, m in expected], ranks=False)
    assert [(o["generation"], o["generation_label"], o["types"]) for o in got] == [
        (g or "unknown", label_of(g), list(c.types[r])) for g, r, _ in expected]
    np.testing.assert_allclose([o["median_similarity"] for o in got], [m for _, _, m in expected], atol=2e-5)
    assert all(o["median_similarity"] == round(o["median_similarity"], 6) for o in got)


@pytest.mark.parametrize("projection", ["umap", "pca"])
def test_map_neighbours_are_the_stored_column_and_scores_are_map_distances(case, projection):
    c = case.c
    space = case.space
    if projection == "pca" and case.kind == "built":  # the Space's PCA map is the dataset's own PCA columns
        np.testing.assert_allclose(space.pca.coordinates, c.pca, atol=1e-4)
    coordinates = c.umap if projection == "umap" else np.asarray(space.pca.coordinates, dtype=np.float64)
    for row, name in enumerate(c.names):
        result = map_result(space, name, 4, projection)
        stored = c.neighbors[row]
        expected = [(int(c.ids[r]), float(np.linalg.norm(coordinates[r] - coordinates[row]))) for r in stored["ids"][:4]]
        assert_entries(c, result["neighbors"], expected)
        np.testing.assert_allclose([n["distance"] for n in result["neighbors"]], stored["distances"][:4], atol=2e-6)
        assert result["pokemon"]["display_name"] == c.display[row] and result["projection"] == projection
    points = map_result(space, None, 4, projection)["points"]
    assert [(p["id"], p["name"], p["generation"]) for p in points] == list(zip(c.ids.tolist(), c.names, c.generations))
    np.testing.assert_allclose([(p["x"], p["y"]) for p in points], coordinates, atol=1e-4)


def test_the_maps_columns_are_the_datasets(case):
    c = case.c
    data = map_view_data(case.space)
    assert data["id"] == c.ids.tolist() and data["name"] == c.names and data["label"] == c.display
    np.testing.assert_allclose(np.stack([data["x"], data["y"]], axis=1), c.umap, atol=1e-3)
    assert data["nb"] == [cell["ids"][:10] for cell in c.neighbors]
    for got, cell in zip(data["nd"], c.neighbors):
        np.testing.assert_allclose(got, cell["distances"][:10], rtol=5e-3)
    assert data["art"] == [int(h) for h in c.has_image]


def test_without_stored_neighbours_the_map_offers_the_nearest_default_forms_on_it(tmp_path):
    ds = synthetic_dataset()
    c = read_columns(ds)
    space = synthetic_space(ds, tmp_path, stored_neighbours=False)
    for row, name in enumerate(c.names):
        scores, candidates = numpy_scores(c, row, "umap", default_only=True)
        expected = ranked(c, scores, candidates, 4, descending=False)
        neighbours = map_result(space, name, 4)["neighbors"]
        assert_entries(c, neighbours, expected)
        assert [n["distance"] for n in neighbours] == [None] * len(expected)


def small_space(names, types, generations, tmp_path) -> Space:
    n = len(names)
    rng = np.random.default_rng(11)
    index = PokedexIndex(ids=np.arange(1, n + 1), names=tuple(names), generations=tuple(generations),
                         types=tuple(types), text=rng.standard_normal((n, 6)), image=rng.standard_normal((n, 5)),
                         has_image=np.ones(n, bool), umap=rng.standard_normal((n, 2)))
    return Space(index, tuple(n.title() for n in names), ArtworkFiles(tmp_path, {}, {}, tmp_path / "none.webp"),
                 StubModels(6, index.image), SpaceConfig(dataset="small", device="cpu"), pca=None)


def test_presets_and_their_stories(tmp_path):
    from pokembed.explore.answers import available_presets, default_expression
    from pokembed.explore.arithmetic import ARITHMETIC_PRESETS

    names = ["pikachu", "squirtle", "wartortle", "charmander", "eevee", "flareon", "bulbasaur"]
    types = [("electric",), ("water",), ("water",), ("fire",), ("normal",), ("fire",), ("grass",)]
    space = small_space(names, types, ["generation-i"] * 6 + ["generation-ix"], tmp_path)
    computable = [ARITHMETIC_PRESETS[i] for i in (0, 1, 3, 5)]  # no magikarp or gengar here
    assert available_presets(space) == computable
    assert default_expression(space) == (computable[0].expression, "text")
    for preset in computable:
        assert arithmetic_result(space, preset.expression, preset.space, 3)["story"] == preset.story
    other = "image" if computable[0].space == "text" else "text"
    assert arithmetic_result(space, computable[0].expression, other, 3)["story"] is None  # the preset's space only
    assert arithmetic_result(space, "pikachu + type:water", "text", 3)["story"] is None


def test_the_first_expression_without_presets(tmp_path):
    from pokembed.explore.answers import default_expression

    generations = ["generation-i"] * 3
    only_the_first = small_space(["pikachu", "squirtle", "aa"], [("electric",), ("water",), ("rock",)], generations,
                                 tmp_path)
    assert default_expression(only_the_first) == (ARITHMETIC_PRESETS[0].expression, ARITHMETIC_PRESETS[0].space)
    assert default_expression(small_space(["aa", "bb", "cc"], [("rock",), ("ice",), ("bug",)], generations, tmp_path)
                              ) == ("aa - type:rock + type:bug", "text")
    assert default_expression(small_space(["aa", "bb", "cc"], [("rock",)] * 3, generations, tmp_path)) == ("aa", "text")
    assert default_expression(small_space(["aa", "bb", "cc"], [(), ("ice",), ("bug",)], generations, tmp_path)
                              ) == ("aa", "text")


def test_the_spaces_own_input_limits(tmp_path):
    from dataclasses import replace

    from pokembed.errors import BadInputError

    space = small_space(["aa", "bb", "cc"], [("rock",)] * 3, ["generation-i"] * 3, tmp_path)
    object.__setattr__(space, "config", replace(space.config, max_question_chars=20, max_upload_bytes=1000,
                                                max_upload_pixels=5000))
    for ask in (ask_result, records_result):
        with pytest.raises(BadInputError, match="^the question is 21 characters long; keep it under 20$"):
            ask(space, "x" * 21, 3)
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(big)
    with pytest.raises(BadInputError, match="^the picture is 0.0 MB; upload one under 0 MB$"):
        picture_result(space, big, 3)
    wide = tmp_path / "wide.png"
    Image.new("RGB", (100, 60)).save(wide)
    with pytest.raises(BadInputError, match="^the picture is 100×60 pixels; upload one under 0 megapixels"):
        picture_result(space, wide, 3)


def test_refusals_come_before_any_model_runs(tmp_path):
    from pokembed.errors import BadInputError

    space = small_space(["aa", "bb", "cc"], [("rock",)] * 3, ["generation-i"] * 3, tmp_path)
    space.models.query_encoder = space.models.records_encoder = space.models.image_encoder = None  # not callable
    with pytest.raises(BadInputError, match="^unknown ranking mode 'smell'; use one of text, image, umap, combined$"):
        similar_result(space, "aa", "smell")
    for ask in (ask_result, records_result):
        with pytest.raises(BadInputError, match="^k must be between 1 and 1000, got 0; use e.g. 10$"):
            ask(space, "a question", 0)
        with pytest.raises(BadInputError, match="^the question is empty"):
            ask(space, "   ", 3)
        with pytest.raises(BadInputError, match="^the question is 501 characters long; keep it under 500$"):
            ask(space, "x" * 501, 3)
    picture = tmp_path / "p.png"
    Image.new("RGB", (4, 4)).save(picture)
    with pytest.raises(BadInputError, match="^k must be between 1 and 1000, got 0; use e.g. 10$"):
        picture_result(space, picture, 0)
    with pytest.raises(BadInputError, match="^no picture given; upload a PNG, JPEG or WebP image$"):
        picture_result(space, None, 3)


def test_the_documented_defaults(case):
    """Twelve matches by default (k=12), text similarity and the text space."""
    space, c = case.space, case.c
    assert len(similar_result(space, c.names[0])["matches"]) == 12 and similar_result(space, c.names[0])["mode"] == "text"
    assert len(ask_result(space, QUESTIONS[0])["matches"]) == 12
    assert len(records_result(space, QUESTIONS[0])["matches"]) == 12
    assert arithmetic_result(space, c.names[0])["space"] == "text" and len(arithmetic_result(space, c.names[0])["matches"]) == 12
    assert oddballs_result(space)["modality"] == "text"
    path = case.space.art.folder / "default.png"
    case.picture(int(np.flatnonzero(c.has_image)[0])).save(path)
    assert len(picture_result(space, path)["matches"]) == min(12, int(c.has_image.sum()))
