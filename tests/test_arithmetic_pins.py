"""pokembed.explore.arithmetic pinned where test_search_arithmetic.py checks less (added for the mutation report,
tests/README.md): whole refusal messages, the term limit, nested and doubled signs, words that are types or
generations, text and image spaces of different widths, defaults."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.explore.arithmetic import Term, embedding_arithmetic, parse_expression, term_vector
from pokembed.explore.index import PokedexIndex

NAMES = ("xatu", "pikachu", "raichu", "squirtle", "charmander", "magmar", "onix", "geodude", "eevee", "ditto",
         "mew", "zubat", "abra", "kadabra", "alakazam")


@pytest.fixture(scope="module")
def index() -> PokedexIndex:
    n = len(NAMES)
    rng = np.random.default_rng(5)
    kinds = ("electric", "water", "fire", "rock", "psychic")
    return PokedexIndex(ids=np.arange(1, n + 1), names=NAMES,
                        generations=tuple("generation-i" if i % 3 else "generation-ii" for i in range(n)),
                        types=tuple((kinds[i % 5],) for i in range(n)), text=rng.standard_normal((n, 4)),
                        image=rng.standard_normal((n, 3)), has_image=np.arange(n) % 4 != 1, umap=np.zeros((n, 2)))


def refused(call, message: str) -> None:
    with pytest.raises(BadInputError, match=f"^{re.escape(message)}$"):
        call()


def test_refusals_have_whole_messages(index):
    refused(lambda: parse_expression(index, "  "),
            "the expression is empty; write terms joined by + and -, e.g. pikachu - type:electric + type:water")
    refused(lambda: parse_expression(index, "pikachu )"), "unexpected ')' in the expression; close each '(' once, "
            "e.g. charmander + (wartortle - squirtle)")
    refused(lambda: parse_expression(index, "pikachu (raichu)"), "'(' follows a term without + or -; join terms "
            "with + or -, e.g. charmander + (wartortle - squirtle)")
    refused(lambda: parse_expression(index, "pikachu + (raichu"), "a '(' is never closed; close it with ')'")
    refused(lambda: parse_expression(index, "pikachu +"), "the expression ends with an operator or has an empty "
            "'()'; put a term after each + and -, e.g. pikachu - type:electric + type:water")
    refused(lambda: embedding_arithmetic(index, []), "no terms given; e.g. pikachu - type:electric + type:water")
    refused(lambda: embedding_arithmetic(index, [Term(2, "pokemon", "mew")]), "a term's sign must be +1 or -1, got 2")
    refused(lambda: embedding_arithmetic(index, "mew - mew"),
            "the terms cancel out, so the result has no direction; add or change a term")
    refused(lambda: term_vector(index, Term(1, "colour", "red")),
            "unknown term kind 'colour'; use one of pokemon, type, generation")
    no_art = PokedexIndex(ids=[1, 2], names=("a", "b"), generations=(None, None), types=((), ()),
                          text=np.eye(2), image=np.zeros((2, 0)), has_image=[False, False], umap=np.zeros((2, 2)))
    refused(lambda: embedding_arithmetic(no_art, "a", space="image"),
            "this dataset has no image embeddings; use the text space")


def test_the_term_limit(index):
    twelve = " + ".join(NAMES[:12])
    assert len(parse_expression(index, twelve)) == 12
    refused(lambda: parse_expression(index, twelve + " + abra"), "the expression has 13 terms; use at most 12")


def test_signs_nest_and_double_and_stay_whole_numbers(index):
    terms = parse_expression(index, "mew - (zubat - (abra + kadabra)) - - onix")
    assert [(t.sign, t.name) for t in terms] == [(1, "mew"), (-1, "zubat"), (1, "abra"), (1, "kadabra"), (1, "onix")]
    assert all(type(t.sign) is int for t in terms)
    assert str(terms[1]) == "− zubat" and str(Term(1, "type", "fire")) == "+ type:fire"


def test_words_read_as_names_types_or_generations(index):
    assert parse_expression(index, "XATU") == (Term(1, "pokemon", "xatu"),)  # case does not make an operator
    assert parse_expression(index, "electric type") == (Term(1, "type", "electric"),)
    assert parse_expression(index, "gen2 + psychic") == (Term(1, "generation", "generation-ii"),
                                                         Term(1, "type", "psychic"))
    refused(lambda: parse_expression(index, "gen3"), "no Pokémon named 'gen3'; pick a name from the list, e.g. xatu; "
            "for a group write type:NAME or generation:NAME")
    refused(lambda: parse_expression(index, "2"), "no Pokémon named '2'; pick a name from the list, e.g. xatu; for a "
            "group write type:NAME or generation:NAME")
    refused(lambda: parse_expression(index, "type:fire:hot"),
            "no type 'fire:hot' in this dataset; did you mean fire?")
    refused(lambda: parse_expression(index, "MEW-X"), "no Pokémon named 'MEW-X'; did you mean mew? (write spaces "
            "around - when it means minus); for a group write type:NAME or generation:NAME")
    refused(lambda: parse_expression(index, "zz-X"), "no Pokémon named 'zz-X'; pick a name from the list, e.g. xatu "
            "(write spaces around - when it means minus); for a group write type:NAME or generation:NAME")
    refused(lambda: parse_expression(index, "zz-"), "no Pokémon named 'zz-'; pick a name from the list, e.g. xatu; "
            "for a group write type:NAME or generation:NAME")  # a trailing hyphen is no minus: no hint
    refused(lambda: parse_expression(index, "mew-two"), "no Pokémon named 'mew-two'; did you mean mew? (write "
            "spaces around - when it means minus); for a group write type:NAME or generation:NAME")


def test_text_and_image_of_different_widths(index):
    """Text vectors have 4 dimensions, image vectors 3: each space sums its own; numpy gives the answer."""
    def unit(x):
        return x / np.linalg.norm(x)

    for space, vectors, pool in (("text", index.text, np.ones(len(NAMES), bool)), ("image", index.image, index.has_image)):
        gen = [r for r in range(len(NAMES)) if index.generations[r] == "generation-ii" and pool[r]]
        centroid = unit(vectors[gen].astype(np.float64).mean(axis=0))
        np.testing.assert_allclose(term_vector(index, Term(1, "generation", "generation-ii"), space), centroid,
                                   atol=1e-6)
        total = unit(vectors[0].astype(np.float64) - centroid)
        result = embedding_arithmetic(index, "xatu - generation:ii", space)
        candidates = [r for r in range(1, len(NAMES)) if pool[r]]
        expected = sorted(candidates, key=lambda r: (-float(vectors[r] @ total), r))[:10]
        assert [m.name for m in result.matches] == [NAMES[r] for r in expected]  # ten by default
        assert (result.space, result.excluded) == (space, ("xatu",))
    np.testing.assert_array_equal(term_vector(index, Term(1, "pokemon", "mew")), index.text[10])  # text by default
