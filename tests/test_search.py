"""pokembed.explore.index on small synthetic arrays whose right answers are known by construction."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from pokembed.errors import BadInputError
from pokembed.explore.artwork_export import export_artwork
from pokembed.dataset.table import load_dataset_split
from pokembed.explore.queries import validate_question, validate_upload
from pokembed.explore.index import PokedexIndex, generation_sort_key, normalize_name

E = np.eye(5, dtype=np.float32)
NO_IMAGE = np.zeros(5, dtype=np.float32)

# name, id, generation, types, text vector, image vector (None = no artwork), umap (x, y)
ROWS = [
    ("bulbasaur", 1, "generation-i", ("grass", "poison"), E[0], E[0], (0.0, 0.0)),
    ("ivysaur", 2, "generation-i", ("grass", "poison"), E[0] + 0.1 * E[1], E[0] + 0.5 * E[2], (0.1, 0.0)),
    ("charmander", 4, "generation-i", ("fire",), E[1], E[1] + 0.25 * E[0], (5.0, 0.0)),
    ("mr-mime", 122, "generation-i", ("psychic", "fairy"), E[0] + E[1], E[1] + 0.2 * E[0], (2.0, 2.0)),
    ("magikarp", 129, "generation-i", ("water",), E[3], E[3], (9.0, 9.0)),
    ("pikachu", 25, "generation-i", ("electric",), E[0] + 0.4 * E[1], None, (0.5, 0.0)),
    ("chikorita", 152, "generation-ii", ("grass",), E[0] + 0.3 * E[2], E[0] + 0.1 * E[1], (0.0, 1.0)),
    ("cyndaquil", 155, "generation-ii", ("fire",), E[1] + 0.2 * E[0], E[1] + 0.3 * E[0], (5.0, 1.0)),
    ("turtwig", 387, "generation-iv", ("grass",), E[0] + 0.6 * E[2], E[0] + 0.9 * E[2], (0.3, 0.3)),
    ("sprigatito", 906, "generation-ix", ("grass",), E[0] + 0.8 * E[2], E[0] + E[1], (0.2, 0.2)),
]


def make_index(rows=ROWS) -> PokedexIndex:
    return PokedexIndex(
        ids=np.array([r[1] for r in rows]),
        names=tuple(r[0] for r in rows),
        generations=tuple(r[2] for r in rows),
        types=tuple(r[3] for r in rows),
        text=np.stack([r[4] for r in rows]),
        image=np.stack([NO_IMAGE if r[5] is None else r[5] for r in rows]),
        has_image=np.array([r[5] is not None for r in rows]),
        umap=np.array([r[6] for r in rows], dtype=np.float32),
        neighbors=tuple((1, 2) if r[1] == 1 else () for r in rows),  # row indices
    )


@pytest.fixture(scope="module")
def index() -> PokedexIndex:
    return make_index()


def cosine(a, b) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


# ---- lookup ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["Mr Mime", "MR-MIME", " mr.mime ", "mr_mime", "Mr. Mime"])
def test_find_ignores_case_spaces_hyphens(index, query):
    assert index.names[index.find(query)] == "mr-mime"


def test_normalize_name_folds_accents():
    assert normalize_name("Flabébé") == normalize_name("flabebe") == "flabebe"


def test_find_unknown_suggests_close_names(index):
    with pytest.raises(BadInputError, match=r"no Pokémon named 'pikchu'; did you mean pikachu\?"):
        index.find("pikchu")


def test_find_unknown_without_close_names(index):
    with pytest.raises(BadInputError, match=r"no Pokémon named 'zzzzzz'; pick a name from the list"):
        index.find("zzzzzz")


def test_find_empty_name(index):
    with pytest.raises(BadInputError, match="no Pokémon name given"):
        index.find("   ")


def test_vectors_are_normalised(index):
    assert np.allclose(np.linalg.norm(index.text, axis=1), 1.0)
    norms = np.linalg.norm(index.image, axis=1)
    assert np.allclose(norms[index.has_image], 1.0) and np.all(norms[~index.has_image] == 0)


def test_rows_must_match():
    with pytest.raises(BadInputError, match="umap"):
        PokedexIndex(ids=np.arange(2), names=("a", "b"), generations=(None, None), types=((), ()),
                     text=np.ones((2, 3)), image=np.ones((2, 3)), has_image=np.ones(2, bool), umap=np.zeros((3, 2)))


# ---- rankings ----------------------------------------------------------------------------------------------------
def test_similar_by_text(index):
    matches = index.similar("Bulbasaur", by="text", k=3)
    assert [m.name for m in matches] == ["ivysaur", "chikorita", "pikachu"]
    assert matches[0].score == pytest.approx(cosine(E[0], E[0] + 0.1 * E[1]), abs=1e-6)
    assert all(m.name != "bulbasaur" for m in index.similar("bulbasaur", by="text", k=50))
    assert len(index.similar("bulbasaur", k=50)) == len(index) - 1


def test_similar_by_image_skips_rows_without_image(index):
    matches = index.similar("bulbasaur", by="image", k=50)
    assert "pikachu" not in [m.name for m in matches]
    assert len(matches) == int(index.has_image.sum()) - 1
    assert matches[0].name == "chikorita"  # E0 + 0.1 E1 is the closest picture
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)


def test_similar_by_image_without_artwork_is_a_clear_error(index):
    with pytest.raises(BadInputError, match="pikachu has no artwork, so it has no image embedding"):
        index.similar("pikachu", by="image")


def test_similar_by_umap_is_ascending_distance(index):
    matches = index.similar("bulbasaur", by="umap", k=3)
    assert [m.name for m in matches] == ["ivysaur", "sprigatito", "turtwig"]
    assert matches[0].score == pytest.approx(0.1, abs=1e-6)


def test_similar_combined_averages_text_and_image(index):
    matches = {m.name: m.score for m in index.similar("bulbasaur", by="combined", k=50)}
    expected = (cosine(E[0], E[0] + 0.1 * E[1]) + cosine(E[0], E[0] + 0.5 * E[2])) / 2
    assert matches["ivysaur"] == pytest.approx(expected, abs=1e-6)
    assert matches["pikachu"] == pytest.approx(cosine(E[0], E[0] + 0.4 * E[1]), abs=1e-6)  # no image: text alone
    # a Pokémon without artwork still ranks by combined (its text similarity)
    assert index.similar("pikachu", by="combined", k=1)[0].name == "ivysaur"


def test_ties_break_by_id():
    rows = [("b", 2, "generation-i", (), E[1], E[1], (0, 0)), ("a", 1, "generation-i", (), E[1], E[1], (0, 0)),
            ("q", 3, "generation-i", (), E[1], E[1], (0, 0))]
    assert [m.id for m in make_index(rows).similar("q", k=2)] == [1, 2]


def test_bad_mode_and_k(index):
    with pytest.raises(BadInputError, match="unknown ranking mode 'colour'"):
        index.similar("bulbasaur", by="colour")
    with pytest.raises(BadInputError, match="k must be between 1 and 1000"):
        index.similar("bulbasaur", k=0)


def test_generation_order():
    gens = ["generation-ix", "generation-iv", None, "generation-ii", "generation-i", "generation-viii"]
    assert sorted(gens, key=generation_sort_key) == [
        "generation-i", "generation-ii", "generation-iv", "generation-viii", "generation-ix", None]


def test_best_per_generation(index):
    rows = index.best_per_generation("bulbasaur", by="text", k=2)
    assert [r.generation for r in rows] == [
        "generation-i", "generation-i", "generation-ii", "generation-ii", "generation-iv", "generation-ix"]
    assert [(r.rank, r.name) for r in rows[:2]] == [(1, "ivysaur"), (2, "pikachu")]
    assert rows[2].name == "chikorita" and rows[2].rank == 1
    assert all(r.name != "bulbasaur" for r in rows)


def test_search_images(index):
    matches = index.search_images(3 * (E[1] + 0.3 * E[0]), k=2)  # unnormalised query: cyndaquil's picture
    assert matches[0].name == "cyndaquil" and matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert "pikachu" not in [m.name for m in index.search_images(E[0], k=50)]
    with pytest.raises(BadInputError, match="query vector has 3 dimensions but the dataset's image embeddings have 5"):
        index.search_images(np.ones(3))
    with pytest.raises(BadInputError, match="query vector is empty"):
        index.search_images(np.zeros(5))


def test_oddballs_text_finds_the_magikarp(index):
    rows = index.oddballs("text")
    by_gen = {r.generation: r for r in rows}
    assert by_gen["generation-i"].name == "magikarp"
    assert by_gen["generation-i"].median_similarity == pytest.approx(0.0, abs=1e-6)
    assert set(by_gen) == {"generation-i", "generation-ii"}  # single-member generations are skipped
    assert by_gen["generation-ii"].rank == 1


def test_oddballs_image_uses_only_rows_with_images(index):
    rows = index.oddballs("image", per_generation=2)
    gen1 = [r for r in rows if r.generation == "generation-i"]
    assert [r.rank for r in gen1] == [1, 2]
    assert gen1[0].name == "magikarp"
    assert "pikachu" not in {r.name for r in rows}
    medians = [r.median_similarity for r in gen1]
    assert medians == sorted(medians)


def test_oddballs_bad_modality(index):
    with pytest.raises(BadInputError, match="unknown modality 'umap'"):
        index.oddballs("umap")


# ---- validation --------------------------------------------------------------------------------------------------
def test_validate_question():
    assert validate_question("  what looks like\nan ice cream cone?  ") == "what looks like an ice cream cone?"
    with pytest.raises(BadInputError, match="the question is empty"):
        validate_question("   ")
    with pytest.raises(BadInputError, match="the question is 501 characters long; keep it under 500"):
        validate_question("a" * 501)


def test_validate_upload(tmp_path):
    png = tmp_path / "clear.png"
    Image.new("RGBA", (8, 6), (0, 0, 0, 0)).save(png)
    image = validate_upload(png)
    assert image.mode == "RGB" and image.size == (8, 6) and image.getpixel((0, 0)) == (255, 255, 255)

    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(BadInputError, match="that file is not a picture we can read"):
        validate_upload(text)

    big = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(big)
    with pytest.raises(BadInputError, match="the picture is 300×200 pixels; upload one under"):
        validate_upload(big, max_pixels=300 * 199)
    with pytest.raises(BadInputError, match="the picture is .* MB; upload one under"):
        validate_upload(big, max_bytes=10)
    with pytest.raises(BadInputError, match="no picture given"):
        validate_upload(None)


# ---- the dataset and its models ------------------------------------------------------------------------------------
def _contract_dataset(n_rows: int = 3):
    import datasets

    features = datasets.Features({
        "id": datasets.Value("int32"), "name": datasets.Value("string"), "species_id": datasets.Value("int32"),
        "is_default": datasets.Value("bool"), "generation": datasets.Value("string"),
        "types": datasets.List(datasets.Value("string")), "document": datasets.Value("string"),
        "text_tokens": datasets.Value("int32"), "text_truncated": datasets.Value("bool"),
        "text_embedding": datasets.List(datasets.Value("float32"), length=4),
        "image_embedding": datasets.List(datasets.Value("float32"), length=3),
        "umap_2d_x": datasets.Value("float32"), "umap_2d_y": datasets.Value("float32"), "image": datasets.Image(),
        "neighbors": {"ids": datasets.List(datasets.Value("int32")),
                      "distances": datasets.List(datasets.Value("float32"))},
    })
    rows = {
        "id": [1, 2, 10001][:n_rows], "name": ["bulbasaur", "ivysaur", "deoxys-attack"][:n_rows],
        "species_id": [1, 2, 386][:n_rows], "is_default": [True, True, False][:n_rows],
        "generation": ["generation-i", "generation-i", "generation-iii"][:n_rows],
        "types": [["grass", "poison"], ["grass", "poison"], ["psychic"]][:n_rows], "document": ["{}"] * n_rows,
        "text_tokens": [3] * n_rows, "text_truncated": [False] * n_rows,
        "text_embedding": [[2, 0, 0, 0], [0, 3, 0, 0], [1, 1, 0, 0]][:n_rows],
        "image_embedding": [[0, 0, 5], None, [0, 1, 0]][:n_rows],
        "umap_2d_x": [0.5, 1.5, 2.5][:n_rows], "umap_2d_y": [1.0, 2.0, 3.0][:n_rows],
        "image": [Image.new("RGB", (4, 4), "red"), None, Image.new("RGB", (4, 4), "blue")][:n_rows],
        "neighbors": [{"ids": [1, 2], "distances": [0.1, 0.2]}, {"ids": [0], "distances": [0.1]},
                      {"ids": [], "distances": []}][:n_rows],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def test_from_dataset_and_artwork(tmp_path):
    ds = _contract_dataset()
    index = PokedexIndex.from_dataset(ds)
    assert index.names == ("bulbasaur", "ivysaur", "deoxys-attack")
    assert index.ids.tolist() == [1, 2, 10001]
    assert index.types[0] == ("grass", "poison")
    assert index.has_image.tolist() == [True, False, True]
    assert np.allclose(index.text[0], [1, 0, 0, 0]) and np.allclose(index.image[0], [0, 0, 1])
    assert np.allclose(index.umap[2], [2.5, 3.0])
    assert [index.names[r] for r in index.neighbor_rows(0)] == ["ivysaur", "deoxys-attack"]
    assert index.neighbor_rows(1) == [0]
    assert index.stored_neighbors(0) == [(1, pytest.approx(0.1)), (2, pytest.approx(0.2))]
    assert index.stored_neighbors(2) == []

    paths = export_artwork(ds, tmp_path / "art")
    assert sorted(paths) == [1, 10001]
    with Image.open(paths[10001]) as art:
        assert art.getpixel((0, 0))[:3] == (0, 0, 255)


def test_neighbors_as_row_indices_or_old_ids():
    ds = _contract_dataset()
    old = ds.map(lambda row: {"neighbors": {"ids": {1: [2, 10001], 2: [1], 10001: []}[row["id"]],
                                             "distances": [0.1] * {1: 2, 2: 1, 10001: 0}[row["id"]]}})
    index = PokedexIndex.from_dataset(old)
    assert index.neighbors == ((1, 2), (0,), ())
    assert make_index().neighbor_rows(0) == [1, 2]


def test_dataset_folder_round_trip(tmp_path):
    folder = tmp_path / "out"
    (folder / "data").mkdir(parents=True)
    _contract_dataset().to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    loaded = load_dataset_split(folder, cache_dir=tmp_path / "cache")
    assert loaded.num_rows == 3
    assert PokedexIndex.from_dataset(loaded).names[2] == "deoxys-attack"


def test_missing_dataset_folder_is_a_clear_error(tmp_path):
    from pokembed.errors import SourceUnavailableError

    with pytest.raises(SourceUnavailableError, match="could not load the dataset .*set POKEMBED_DATASET"):
        load_dataset_split(tmp_path / "empty-folder-that-is-not-there", cache_dir=tmp_path / "cache")
