"""Searches beyond the article's, as free functions over a `PokedexIndex` (whose API they leave unchanged).

nomic's retrieval use (a ``search_query: `` question against the ``search_document: `` record embeddings),
word2vec-style arithmetic on Pokémon and on type and generation centroids, and the PCA map computed from the
index's own vectors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.queries import clean_text
from pokembed.explore.index import (Match, PokedexIndex, check_k, top_rows, unit_query, unit_rows, generation_sort_key,
                             normalize_name)


ARITHMETIC_SPACES = ("text", "image")
TERM_KINDS = ("pokemon", "type", "generation")
MAX_ARITHMETIC_TERMS = 12
MAX_EXPRESSION_CHARS = 500
_MINUS = ("-", "\u2212", "\u2013")  # hyphen-minus, minus sign, en dash
_CANCELLED = 1e-6  # a sum of unit vectors shorter than this has no direction


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


def unit_centroid(vectors: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The mean of the member rows of `vectors` (unit vectors), scaled to unit length.

    `members` is a boolean mask or a list of row indices. No members, or members that cancel out, give
    BadInputError: such a centroid has no direction.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    rows = matrix[np.asarray(members)]
    if rows.shape[0] == 0:
        raise BadInputError("this group has no members, so it has no centroid; pick a group the dataset contains")
    mean = unit_rows(rows).astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm < _CANCELLED:
        raise BadInputError("this group's members cancel out, so its centroid has no direction; pick another group")
    return (mean / norm).astype(np.float32)


def type_names(index: PokedexIndex) -> list[str]:
    """The types present in the dataset, alphabetically."""
    return sorted({t for types in index.types for t in types})


def generation_names(index: PokedexIndex) -> list[str]:
    """The generations present in the dataset, in game order."""
    return sorted({g for g in index.generations if g}, key=generation_sort_key)


def type_centroid(index: PokedexIndex, type_name: str, space: str = "text") -> np.ndarray:
    """Unit mean of the `space` vectors of every Pokémon having `type_name` in either slot (image: with artwork)."""
    name = _resolve_type(index, type_name)
    members = np.array([name in types for types in index.types], dtype=bool)
    return _group_centroid(index, members, space, f"type {name}")


def generation_centroid(index: PokedexIndex, generation: str, space: str = "text") -> np.ndarray:
    """Unit mean of the `space` vectors of every Pokémon of `generation` (image: with artwork)."""
    name = _resolve_generation(index, generation)
    members = np.array([g == name for g in index.generations], dtype=bool)
    return _group_centroid(index, members, space, name)


def ask_records(index: PokedexIndex, query_vector: np.ndarray, k: int = 10, *,
                default_only: bool = True) -> list[Match]:
    """The k Pokémon whose record embedding (text space) is closest by cosine to a query vector (with
    `default_only`, among default forms only).

    The query is a question embedded by the dataset's text model with its query prompt (`search_query: ` for nomic),
    the records having been embedded with the document prompt: nomic's retrieval setup, asymmetric on purpose.
    """
    query = unit_query(query_vector, index.text.shape[1], "text embeddings",
                       "embed the question with the dataset's text model")
    scores = index.text @ query
    candidates = index.default_rows(np.arange(len(index), dtype=np.int64), default_only)
    return [index.as_match(r, scores[r]) for r in top_rows(scores, candidates, index.ids, check_k(k), descending=True)]


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
    _check_space(space)
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
    _check_space(space)
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
    if norm < _CANCELLED:
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


def pca_map(index: PokedexIndex) -> "PcaProjection":  # noqa: F821 - pokembed.projection.PcaProjection
    """The 2-D PCA of the index's concatenated vectors, as the build computes the `pca_2d_x/y` columns."""
    from pokembed.projection import pca_2d

    image, has_image = index.image, index.has_image
    if image.shape[1] == 0:
        image, has_image = np.zeros((len(index), 1), dtype=np.float32), np.zeros(len(index), dtype=bool)
    return pca_2d(index.text, image, has_image)


def _check_space(space: str) -> None:
    if space not in ARITHMETIC_SPACES:
        raise BadInputError(f"unknown space {space!r}; use one of {', '.join(ARITHMETIC_SPACES)}")


def _group_centroid(index: PokedexIndex, members: np.ndarray, space: str, label: str) -> np.ndarray:
    _check_space(space)
    if space == "image":
        members = members & index.has_image
        if not members.any():
            raise BadInputError(f"no Pokémon of {label} has artwork, so it has no image centroid; use the text space")
        return unit_centroid(index.image, members)
    return unit_centroid(index.text, members)


def _resolve_type(index: PokedexIndex, name: str) -> str:
    known = type_names(index)
    key = normalize_name(name or "")
    for type_name in known:
        if normalize_name(type_name) == key:
            return type_name
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(known)}"
    raise BadInputError(f"no type {name.strip()!r} in this dataset; {hint}")


def _generation_number(text: str) -> int | None:
    key = normalize_name(text).removeprefix("generation").removeprefix("gen")
    if not key:
        return None
    number = generation_sort_key(f"generation-{key}")[0]
    return number if number < 10**5 else None


def _resolve_generation(index: PokedexIndex, name: str) -> str:
    known = generation_names(index)
    wanted = _generation_number(name or "")
    for generation in known:
        if generation == name or (wanted is not None and generation_sort_key(generation)[0] == wanted):
            return generation
    raise BadInputError(f"no generation {str(name).strip()!r} in this dataset; use one of {', '.join(known)} "
                        "(or gen:1, gen:iv)")


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
        return Term(sign, "type", _resolve_type(index, rest))
    if colon and prefix in ("generation", "gen"):
        return Term(sign, "generation", _resolve_generation(index, rest))
    if colon:
        raise BadInputError(f"unknown prefix {prefix!r}: in {text!r}; use type:NAME or generation:NAME")
    if text.lower().endswith(" type"):
        return Term(sign, "type", _resolve_type(index, text[: -len(" type")]))
    try:
        return Term(sign, "pokemon", index.names[index.find(text)])
    except BadInputError as missing:
        error = str(missing)
    if normalize_name(text) in {normalize_name(t) for t in type_names(index)}:
        return Term(sign, "type", _resolve_type(index, text))
    number = _generation_number(text) if normalize_name(text).startswith("gen") else None
    if number is not None and any(generation_sort_key(g)[0] == number for g in generation_names(index)):
        return Term(sign, "generation", _resolve_generation(index, text))
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
    "unit_centroid",
    "type_names",
    "generation_names",
    "type_centroid",
    "generation_centroid",
    "ask_records",
    "parse_expression",
    "term_vector",
    "embedding_arithmetic",
    "pca_map",
]
