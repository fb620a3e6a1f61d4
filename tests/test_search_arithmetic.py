"""Ask the records, embedding arithmetic, centroids and the PCA map, on hand-built vectors whose answers are known."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.projection import pca_2d
from pokembed.explore.index import PokedexIndex
from pokembed.explore.arithmetic import ARITHMETIC_PRESETS, Term, embedding_arithmetic, parse_expression
from pokembed.explore.centroids import generation_centroid, generation_names, type_centroid, type_names, unit_centroid
from pokembed.explore.map_data import pca_map
from pokembed.explore.records_search import ask_records

# Concept axes: every text vector is a sum of a few of them, so the right answer of each sum is known by construction.
AXES = ("mouse", "electric", "water", "fire", "turtle", "lizard", "stage2", "ball", "magnet", "duck", "horse")
DIM = len(AXES)


def v(*concepts: str) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    for concept in concepts:
        vector[AXES.index(concept)] += 1.0
    return vector


# name, id, generation, types, text vector, image vector (None: no artwork)
ROWS = [
    ("pikachu", 25, "generation-i", ("electric",), v("mouse", "electric"), v("mouse", "electric")),
    ("voltorb", 100, "generation-i", ("electric",), v("electric", "ball"), v("electric", "ball")),
    ("magnemite", 81, "generation-i", ("electric", "steel"), v("electric", "magnet"), None),
    ("marill", 183, "generation-ii", ("water", "fairy"), v("mouse", "water"), v("mouse", "water")),
    ("squirtle", 7, "generation-i", ("water",), v("water", "turtle"), v("water", "turtle")),
    ("wartortle", 8, "generation-i", ("water",), v("water", "turtle", "stage2"), v("water", "turtle", "stage2")),
    ("psyduck", 54, "generation-i", ("water",), v("water", "duck"), v("water", "duck")),
    ("charmander", 4, "generation-i", ("fire",), v("fire", "lizard"), v("fire", "lizard")),
    ("charmeleon", 5, "generation-i", ("fire",), v("fire", "lizard", "stage2"), v("fire", "lizard", "stage2")),
    ("ponyta", 77, "generation-i", ("fire",), v("fire", "horse"), v("fire", "horse")),
    ("mr-mime", 122, "generation-i", ("psychic", "fairy"), v("ball", "duck"), v("horse", "magnet")),
]


def make_index(rows=ROWS, *, with_images: bool = True) -> PokedexIndex:
    image = np.stack([np.zeros(DIM, np.float32) if r[5] is None else r[5] for r in rows])
    return PokedexIndex(
        ids=np.array([r[1] for r in rows]),
        names=tuple(r[0] for r in rows),
        generations=tuple(r[2] for r in rows),
        types=tuple(r[3] for r in rows),
        text=np.stack([r[4] for r in rows]),
        image=image if with_images else np.zeros((len(rows), 0), np.float32),
        has_image=np.array([r[5] is not None for r in rows]) if with_images else np.zeros(len(rows), bool),
        umap=np.zeros((len(rows), 2), dtype=np.float32),
    )


@pytest.fixture(scope="module")
def index() -> PokedexIndex:
    return make_index()


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def names(matches) -> list[str]:
    return [m.name for m in matches]


# ---- centroids -----------------------------------------------------------------------------------------------------
def test_unit_centroid_is_the_normalised_mean_of_the_unit_members() -> None:
    centroid = unit_centroid(np.array([[2.0, 0.0], [0.0, 0.5], [7.0, 7.0]]), np.array([True, True, False]))
    np.testing.assert_allclose(centroid, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)  # rows normalised before the mean
    assert centroid.dtype == np.float32
    np.testing.assert_allclose(unit_centroid(np.eye(3), [0, 1, 2]), np.full(3, 1 / np.sqrt(3)), rtol=1e-6)
    with pytest.raises(BadInputError, match="no members"):
        unit_centroid(np.eye(3), np.zeros(3, dtype=bool))
    with pytest.raises(BadInputError, match="cancel out"):
        unit_centroid(np.array([[1.0, 0.0], [-1.0, 0.0]]), [0, 1])


def test_type_and_generation_centroids_are_unit_means_of_their_members(index) -> None:
    text = {r[0]: unit(r[4]) for r in ROWS}
    electric = type_centroid(index, "electric")
    np.testing.assert_allclose(electric, unit(np.mean([text["pikachu"], text["voltorb"], text["magnemite"]], axis=0)),
                               rtol=1e-6)
    assert np.linalg.norm(electric) == pytest.approx(1.0, abs=1e-6)
    fairy = type_centroid(index, "Fairy")  # second slot counts (marill is water/fairy), case ignored
    np.testing.assert_allclose(fairy, unit(text["marill"] + text["mr-mime"]), rtol=1e-6)
    second = generation_centroid(index, "generation-ii")
    np.testing.assert_allclose(second, text["marill"], rtol=1e-6)
    for spelling in ("generation-i", "gen:1", "1", "i", "Gen I"):
        first_gen = [text[r[0]] for r in ROWS if r[2] == "generation-i"]
        np.testing.assert_allclose(generation_centroid(index, spelling), unit(np.mean(first_gen, axis=0)), rtol=1e-6)


def test_image_centroids_use_only_members_with_artwork(index) -> None:
    image = {r[0]: unit(r[5]) for r in ROWS if r[5] is not None}
    np.testing.assert_allclose(type_centroid(index, "electric", "image"),
                               unit(image["pikachu"] + image["voltorb"]), rtol=1e-6)  # magnemite has no artwork
    with pytest.raises(BadInputError, match="no Pokémon of type steel has artwork"):
        type_centroid(index, "steel", "image")


def test_groups_are_listed_and_unknown_ones_named(index) -> None:
    assert type_names(index) == ["electric", "fairy", "fire", "psychic", "steel", "water"]
    assert generation_names(index) == ["generation-i", "generation-ii"]
    with pytest.raises(BadInputError, match="no type 'watr' in this dataset; did you mean water"):
        type_centroid(index, "watr")
    with pytest.raises(BadInputError, match="no generation 'gen:9' in this dataset; use one of generation-i, "):
        generation_centroid(index, "gen:9")


# ---- arithmetic ----------------------------------------------------------------------------------------------------
def reference(index: PokedexIndex, vectors: list[np.ndarray], inputs: set[str], space: str = "text") -> list[str]:
    """The ranking computed independently: normalised sum, cosine to every unit row, inputs and no-art rows out."""
    result = unit(np.sum(vectors, axis=0))
    rows = [r for r in ROWS if r[0] not in inputs and (space == "text" or r[5] is not None)]
    scored = sorted(rows, key=lambda r: (-float(unit(r[4] if space == "text" else r[5]) @ result), r[1]))
    return [r[0] for r in scored]


def test_swapping_a_type_gives_the_known_pokemon(index) -> None:
    result = embedding_arithmetic(index, "pikachu - type:electric + type:water", k=3)
    assert result.matches[0].name == "marill"  # the water mouse
    assert result.expression == "pikachu − type:electric + type:water"
    assert result.excluded == ("pikachu",)
    text = {r[0]: unit(r[4]) for r in ROWS}
    electric = unit(np.mean([text["pikachu"], text["voltorb"], text["magnemite"]], axis=0))
    water = unit(np.mean([text["marill"], text["squirtle"], text["wartortle"], text["psyduck"]], axis=0))
    expected_vector = unit(text["pikachu"] - electric + water)
    assert names(result.matches) == reference(index, [text["pikachu"], -electric, water], {"pikachu"})[:3]
    assert result.matches[0].score == pytest.approx(float(text["marill"] @ expected_vector), abs=1e-6)


def test_an_evolution_step_applied_to_another_line_lands_exactly(index) -> None:
    result = embedding_arithmetic(index, "charmander + (wartortle - squirtle)", k=4)
    assert result.matches[0].name == "charmeleon"
    assert result.matches[0].score < 1.0  # unit terms of different lengths: not exactly charmeleon's vector
    text = {r[0]: unit(r[4]) for r in ROWS}
    expected = reference(index, [text["charmander"], text["wartortle"], -text["squirtle"]],
                         {"charmander", "wartortle", "squirtle"})
    assert names(result.matches) == expected[:4]
    assert set(result.excluded) == {"charmander", "wartortle", "squirtle"}
    assert [t.sign for t in result.terms] == [1, 1, -1]


def test_the_inputs_are_never_among_the_matches(index) -> None:
    for expression in ("pikachu + type:electric", "pikachu", "squirtle + wartortle", "voltorb - pikachu + pikachu"):
        for space in ("text", "image"):
            result = embedding_arithmetic(index, expression, space=space, k=len(ROWS))
            typed = {t.name for t in result.terms if t.kind == "pokemon"}
            assert typed and not typed & set(names(result.matches)), (expression, space)
            assert set(result.excluded) == typed
    # the nearest of "pikachu + type:electric" would be pikachu itself; then voltorb and magnemite tie (same shape)
    # and the tie goes to the smaller id
    top = embedding_arithmetic(index, "pikachu + type:electric", k=2).matches
    assert names(top) == ["magnemite", "voltorb"] and top[0].score == pytest.approx(top[1].score, abs=1e-6)


def test_image_space_ranks_artwork_only(index) -> None:
    result = embedding_arithmetic(index, "pikachu - type:electric + type:water", space="image", k=len(ROWS))
    assert "magnemite" not in names(result.matches)  # no artwork
    image = {r[0]: unit(r[5]) for r in ROWS if r[5] is not None}
    electric = unit(image["pikachu"] + image["voltorb"])
    water = unit(np.mean([image["marill"], image["squirtle"], image["wartortle"], image["psyduck"]], axis=0))
    assert names(result.matches) == reference(index, [image["pikachu"], -electric, water], {"pikachu"}, "image")
    with pytest.raises(BadInputError, match="magnemite has no artwork"):
        embedding_arithmetic(index, "magnemite + type:water", space="image")
    with pytest.raises(BadInputError, match="no image embeddings; use the text space"):
        embedding_arithmetic(make_index(with_images=False), "pikachu", space="image")


def test_terms_can_be_given_parsed(index) -> None:
    terms = [Term(1, "pokemon", "Pikachu"), Term(-1, "type", "electric"), Term(1, "type", "water")]
    parsed = embedding_arithmetic(index, terms, k=3)
    assert parsed == embedding_arithmetic(index, "pikachu - type:electric + type:water", k=3)
    assert parsed.terms[0].name == "pikachu"


def test_arithmetic_errors_say_what_to_do(index) -> None:
    with pytest.raises(BadInputError, match="the terms cancel out"):
        embedding_arithmetic(index, "pikachu - pikachu")
    with pytest.raises(BadInputError, match="unknown space 'audio'; use one of text, image"):
        embedding_arithmetic(index, "pikachu", space="audio")
    with pytest.raises(BadInputError, match="k must be between 1 and 1000"):
        embedding_arithmetic(index, "pikachu", k=0)


# ---- parsing -------------------------------------------------------------------------------------------------------
def parsed(index, text: str) -> list[tuple[int, str, str]]:
    return [(t.sign, t.kind, t.name) for t in parse_expression(index, text)]


def test_expressions_parse_names_groups_signs_and_parentheses(index) -> None:
    assert parsed(index, "mr-mime - electric") == [(1, "pokemon", "mr-mime"), (-1, "type", "electric")]
    assert parsed(index, "Mr Mime + water type") == [(1, "pokemon", "mr-mime"), (1, "type", "water")]
    assert parsed(index, "charmander+(wartortle\u2212squirtle)") == [
        (1, "pokemon", "charmander"), (1, "pokemon", "wartortle"), (-1, "pokemon", "squirtle")]
    assert parsed(index, "- (pikachu - (gen:2 + generation:i))") == [
        (-1, "pokemon", "pikachu"), (1, "generation", "generation-ii"), (1, "generation", "generation-i")]
    assert parsed(index, "-pikachu + generation-ii") == [(-1, "pokemon", "pikachu"), (1, "generation", "generation-ii")]


@pytest.mark.parametrize(("text", "message"), [
    ("", "the expression is empty"),
    ("pikachu +", "ends with an operator"),
    ("pikachu + ()", "empty '\\(\\)'"),
    ("(pikachu", "a '\\(' is never closed"),
    ("pikachu )", "unexpected '\\)'"),
    ("pikachu (marill)", "follows a term without \\+ or -"),
    ("pikachuu", "no Pokémon named 'pikachuu'; did you mean pikachu\\?; for a group write type:NAME"),
    ("wartortle-squirtle", "write spaces around - when it means minus"),
    ("colour:red", "unknown prefix 'colour'"),
    ("type:lava", "no type 'lava'"),
    (" + ".join(["pikachu"] * 13), "at most 12"),
    ("x" * 600, "keep it under 500"),
])
def test_bad_expressions_are_refused_with_a_fix(index, text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_expression(index, text)


# ---- asking the records --------------------------------------------------------------------------------------------
def test_ask_records_ranks_the_text_embeddings_against_the_query(index) -> None:
    query = 3.0 * v("water", "turtle") + 0.1 * v("stage2")  # any length: the query is normalised
    matches = ask_records(index, query, k=3)
    assert names(matches) == ["squirtle", "wartortle", "psyduck"]
    assert matches[0].score == pytest.approx(float(unit(v("water", "turtle")) @ unit(query)), abs=1e-6)
    assert [m.id for m in matches] == [7, 8, 54]
    everyone = ask_records(index, v("magnet"), k=100)
    assert len(everyone) == len(ROWS) and everyone[0].name == "magnemite"  # text space: artwork not needed
    with pytest.raises(BadInputError, match="the query vector has 3 dimensions but the dataset's text embeddings"):
        ask_records(index, np.ones(3))
    with pytest.raises(BadInputError, match="the query vector is empty"):
        ask_records(index, np.zeros(DIM))


# ---- the PCA map ---------------------------------------------------------------------------------------------------
def test_pca_map_is_the_pca_of_the_index_vectors(index) -> None:
    result = pca_map(index)
    expected = pca_2d(index.text, index.image, index.has_image)
    assert result.coordinates.tobytes() == expected.coordinates.tobytes()
    assert result.explained_variance_ratio == expected.explained_variance_ratio
    text_only = pca_map(make_index(with_images=False))
    assert text_only.coordinates.shape == (len(ROWS), 2) and np.isfinite(text_only.coordinates).all()


# ---- presets on the real names -------------------------------------------------------------------------------------
def _real_index(shared_dir) -> PokedexIndex:
    """Every Pokémon in the real PokéAPI tables, with random unit vectors: the names, types and generations are real."""
    folder = shared_dir / "pokeapi" / "csv"

    def table(name: str) -> list[dict]:
        with open(folder / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    types = {row["id"]: row["identifier"] for row in table("types.csv")}
    generations = {row["id"]: row["identifier"] for row in table("generations.csv")}
    species_generation = {row["id"]: generations[row["generation_id"]] for row in table("pokemon_species.csv")}
    slots: dict[str, list[tuple[int, str]]] = {}
    for row in table("pokemon_types.csv"):
        slots.setdefault(row["pokemon_id"], []).append((int(row["slot"]), types[row["type_id"]]))
    pokemon = table("pokemon.csv")
    art = shared_dir / "pokeapi" / "official-artwork"
    rng = np.random.default_rng(0)
    return PokedexIndex(
        ids=np.array([int(p["id"]) for p in pokemon]),
        names=tuple(p["identifier"] for p in pokemon),
        generations=tuple(species_generation[p["species_id"]] for p in pokemon),
        types=tuple(tuple(t for _, t in sorted(slots.get(p["id"], []))) for p in pokemon),
        text=rng.normal(size=(len(pokemon), 8)),
        image=rng.normal(size=(len(pokemon), 8)),
        has_image=np.array([(art / f"{p['id']}.png").is_file() for p in pokemon]),
        umap=np.zeros((len(pokemon), 2), dtype=np.float32),
    )


def test_every_preset_runs_on_the_real_names_types_and_generations(shared_dir) -> None:
    real = _real_index(shared_dir)
    assert len(ARITHMETIC_PRESETS) >= 4
    for preset in ARITHMETIC_PRESETS:
        result = embedding_arithmetic(real, preset.expression, space=preset.space, k=5)
        assert len(result.matches) == 5 and preset.story and preset.label
        assert not set(result.excluded) & set(names(result.matches))
