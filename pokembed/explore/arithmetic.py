"""Embedding arithmetic, word2vec's *king - man + woman*, over a `PokedexIndex`: an expression of signed Pokémon and
type or generation centroids (`pokembed.explore.centroids`) parsed into terms, summed as unit vectors, and the
Pokémon nearest the normalised sum; presets that tell a story.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.queries import clean_text
from pokembed.explore.centroids import (CANCELLED, EMBEDDING_SPACES, check_space, generation_centroid, generation_names,
                                        generation_number, resolve_generation, resolve_type, type_centroid, type_names)
from pokembed.explore.index import Match, PokedexIndex, check_k, generation_sort_key, normalize_name, top_rows


ARITHMETIC_SPACES = EMBEDDING_SPACES
TERM_KINDS = ("pokemon", "type", "generation")
MAX_ARITHMETIC_TERMS = 12
MAX_EXPRESSION_CHARS = 500
_MINUS = ("-", "\u2212", "\u2013")  # hyphen-minus, minus sign, en dash


@dataclass(frozen=True)
class Term:
    """One signed term of an arithmetic expression: a Pokémon, or the centroid of a type or a generation."""

    sign: int    # +1 or -1
    kind: str    # one of TERM_KINDS
    name: str    # the Pokémon's, type's or generation's name as the dataset spells it

    def __str__(self) -> str:
        label = self.name if self.kind == "pokemon" else f"{self.kind}:{self.name}"
        return ("+ " if self.sign > 0 else "− ") + label


@dataclass(frozen=True)
class ArithmeticResult:
    """The nearest Pokémon to a normalised sum of signed terms, the Pokémon among the terms excluded."""

    expression: str                # the terms as understood, e.g. "pikachu − type:electric + type:water"
    space: str                     # "text" or "image"
    terms: tuple[Term, ...]
    excluded: tuple[str, ...]      # the Pokémon named in the terms: never among the matches
    matches: tuple[Match, ...]     # nearest first; score = cosine similarity to the normalised result


@dataclass(frozen=True)
class ArithmeticPreset:
    """An expression that tells a story, for the page's examples."""

    label: str
    expression: str
    space: str
    story: str


ARITHMETIC_METHOD = (
    "Each term is a unit vector (a Pokémon's embedding, or a type's or generation's centroid: the mean of its "
    "members' unit vectors, normalised); the signed terms are added, the sum is normalised, and the Pokémon are "
    "ranked by cosine similarity to it, leaving out the Pokémon you typed."
)

ARITHMETIC_PRESETS = (
    ArithmeticPreset("Pikachu, but water", "pikachu - type:electric + type:water", "text",
                     "word2vec's king − man + woman = queen, with types: take electric out of Pikachu and put water "
                     "in. Which Pokémon is the water-type Pikachu?"),
    ArithmeticPreset("Charmander, evolved like Squirtle", "charmander + (wartortle - squirtle)", "text",
                     "Evolution as a direction: the step from Squirtle to Wartortle, applied to Charmander. "
                     "Does it land on Charmeleon?"),
    ArithmeticPreset("Magikarp, powered up like Charmander", "magikarp + (charizard - charmander)", "text",
                     "The gap between Charmander and Charizard added to Magikarp: is Gyarados the answer?"),
    ArithmeticPreset("Eevee, on fire (artwork)", "eevee - type:normal + type:fire", "image",
                     "In the artwork space: Eevee minus the look of normal types plus the look of fire types. "
                     "Does an Eeveelution come up?"),
    ArithmeticPreset("Gengar, but fairy (artwork)", "gengar - type:ghost + type:fairy", "image",
                     "What a ghost looks like when it is drawn as a fairy instead."),
    ArithmeticPreset("Bulbasaur, born in generation IX", "bulbasaur - generation:i + generation:ix", "text",
                     "Trade Bulbasaur's generation for the newest one: the records' generation centroids "
                     "point at the later grass starters?"),
)


def parse_expression(index: PokedexIndex, expression: str) -> tuple[Term, ...]:
    """Signed terms from text such as ``pikachu - type:electric + type:water`` or ``charmander + (wartortle -
    squirtle)``.

    Operators are ``+`` and ``-`` (or ``−``) written apart from names, since names such as ``mr-mime`` hold hyphens;
    parentheses group, and a minus before one flips every sign inside. A term is a Pokémon name, ``type:NAME`` or
    ``generation:NAME`` (also ``gen:4``, ``gen:iv``); a bare word that names no Pokémon is tried as a type, then as a
    generation. Consecutive words form one name (``mr mime``). Anything else is a BadInputError saying what to type.
    """
    text = clean_text(expression, what="expression", max_chars=MAX_EXPRESSION_CHARS,
                      when_empty="write terms joined by + and -, e.g. pikachu - type:electric + type:water")
    tokens = _expression_tokens(text)
    terms: list[Term] = []
    position = _parse_sum(index, tokens, 0, 1, terms)
    if position != len(tokens):
        raise BadInputError(f"unexpected {tokens[position]!r} in the expression; close each '(' once, e.g. "
                            "charmander + (wartortle - squirtle)")
    if len(terms) > MAX_ARITHMETIC_TERMS:
        raise BadInputError(f"the expression has {len(terms)} terms; use at most {MAX_ARITHMETIC_TERMS}")
    return tuple(terms)


def term_vector(index: PokedexIndex, term: Term, space: str = "text") -> np.ndarray:
    """The unit vector of one term in `space`: a Pokémon's embedding or a group's unit centroid (sign not applied)."""
    check_space(space)
    if term.kind == "pokemon":
        row = index.find(term.name)
        if space == "image":
            index.require_image(row)
            return index.image[row]
        return index.text[row]
    if term.kind == "type":
        return type_centroid(index, term.name, space)
    if term.kind == "generation":
        return generation_centroid(index, term.name, space)
    raise BadInputError(f"unknown term kind {term.kind!r}; use one of {', '.join(TERM_KINDS)}")


def embedding_arithmetic(index: PokedexIndex, terms: str | Sequence[Term], space: str = "text",
                         k: int = 10) -> ArithmeticResult:
    """The k Pokémon nearest (cosine) to the normalised signed sum of the terms' unit vectors in `space`.

    `terms` is an expression (see `parse_expression`) or parsed `Term`s. Every Pokémon named in the terms is left
    out of the matches, whatever its sign; in image space only Pokémon with artwork are ranked.
    """
    check_space(space)
    k = check_k(k)
    parsed = parse_expression(index, terms) if isinstance(terms, str) else tuple(terms)
    if not parsed:
        raise BadInputError("no terms given; e.g. pikachu - type:electric + type:water")
    total = np.zeros(index.text.shape[1] if space == "text" else index.image.shape[1], dtype=np.float64)
    if total.size == 0:
        raise BadInputError("this dataset has no image embeddings; use the text space")
    for term in parsed:
        if term.sign not in (1, -1):
            raise BadInputError(f"a term's sign must be +1 or -1, got {term.sign!r}")
        total += term.sign * term_vector(index, term, space).astype(np.float64)
    norm = float(np.linalg.norm(total))
    if norm < CANCELLED:
        raise BadInputError("the terms cancel out, so the result has no direction; add or change a term")
    result = (total / norm).astype(np.float32)
    vectors = index.text if space == "text" else index.image
    scores = vectors @ result
    inputs = {index.find(t.name) for t in parsed if t.kind == "pokemon"}
    pool = np.ones(len(index), dtype=bool) if space == "text" else index.has_image.copy()
    pool[list(inputs)] = False
    best = top_rows(scores, np.flatnonzero(pool), index.ids, k, descending=True)
    canonical = tuple(Term(t.sign, t.kind, index.names[index.find(t.name)] if t.kind == "pokemon" else t.name)
                      for t in parsed)
    expression = " ".join(str(t) for t in canonical).removeprefix("+ ")
    return ArithmeticResult(expression, space, canonical, tuple(index.names[r] for r in sorted(inputs)),
                            tuple(index.as_match(r, scores[r]) for r in best))


def _expression_tokens(text: str) -> list[str]:
    """Words, '(' and ')' and the operators '+' and '-'; a hyphen counts as minus only at the start of a word."""
    tokens: list[str] = []
    word = ""
    for char in text:
        starts_word = not word
        if char in "()+" or (char in _MINUS and (starts_word or char != "-")) or char == " ":
            if word:
                tokens.append(word)
                word = ""
            if char != " ":
                tokens.append("-" if char in _MINUS else char)
        else:
            word += char
    if word:
        tokens.append(word)
    return tokens


def _parse_sum(index: PokedexIndex, tokens: list[str], position: int, sign: int, terms: list[Term]) -> int:
    """Parse `[sign] operand {(+|-) operand}` from `position`, appending terms; returns where it stopped."""
    expect_operand = True
    current = 1
    while position < len(tokens):
        token = tokens[position]
        if token in ("+", "-"):
            if not expect_operand:
                expect_operand = True
                current = 1
            current *= -1 if token == "-" else 1
            position += 1
            continue
        if token == ")":
            break
        if not expect_operand:
            raise BadInputError(f"{token!r} follows a term without + or -; join terms with + or -, "
                                "e.g. charmander + (wartortle - squirtle)")
        if token == "(":
            position = _parse_sum(index, tokens, position + 1, sign * current, terms)
            if position >= len(tokens) or tokens[position] != ")":
                raise BadInputError("a '(' is never closed; close it with ')'")
            position += 1
        else:
            words = []
            while position < len(tokens) and tokens[position] not in ("+", "-", "(", ")"):
                words.append(tokens[position])
                position += 1
            terms.append(_term(index, " ".join(words), sign * current))
        expect_operand = False
    if expect_operand:
        raise BadInputError("the expression ends with an operator or has an empty '()'; put a term after each "
                            "+ and -, e.g. pikachu - type:electric + type:water")
    return position


def _term(index: PokedexIndex, text: str, sign: int) -> Term:
    """One term from its text: `type:NAME`, `generation:NAME`/`gen:N`, `NAME type`, a Pokémon, a type, a generation."""
    prefix, colon, rest = text.partition(":")
    prefix = prefix.strip().lower()
    if colon and prefix == "type":
        return Term(sign, "type", resolve_type(index, rest))
    if colon and prefix in ("generation", "gen"):
        return Term(sign, "generation", resolve_generation(index, rest))
    if colon:
        raise BadInputError(f"unknown prefix {prefix!r}: in {text!r}; use type:NAME or generation:NAME")
    if text.lower().endswith(" type"):
        return Term(sign, "type", resolve_type(index, text[: -len(" type")]))
    try:
        return Term(sign, "pokemon", index.names[index.find(text)])
    except BadInputError as missing:
        error = str(missing)
    if normalize_name(text) in {normalize_name(t) for t in type_names(index)}:
        return Term(sign, "type", resolve_type(index, text))
    number = generation_number(text) if normalize_name(text).startswith("gen") else None
    if number is not None and any(generation_sort_key(g)[0] == number for g in generation_names(index)):
        return Term(sign, "generation", resolve_generation(index, text))
    spaced = " (write spaces around - when it means minus)" if "-" in text.strip("-") else ""
    raise BadInputError(f"{error}{spaced}; for a group write type:NAME or generation:NAME")


__all__ = [
    "ARITHMETIC_SPACES",
    "TERM_KINDS",
    "ARITHMETIC_METHOD",
    "ARITHMETIC_PRESETS",
    "Term",
    "ArithmeticResult",
    "ArithmeticPreset",
    "parse_expression",
    "term_vector",
    "embedding_arithmetic",
]
