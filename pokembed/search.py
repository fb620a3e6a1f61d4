"""The index and its rankings: similar Pokémon, per-generation top-k, artwork search and oddballs.

Pure numpy over arrays held by one `PokedexIndex`; no web framework here. `space/app.py` only wires these
functions to components, so everything the page shows can be tested without a browser. Reading a dataset back
lives in `pokembed.dataset`, its build facts in `pokembed.facts`, its artwork files in `pokembed.artwork`, and the
checks of what a visitor sends in `pokembed.queries`.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from pokembed.errors import BadInputError

logger = logging.getLogger(__name__)

MODES = ("text", "image", "umap", "combined")
MODALITIES = ("text", "image", "combined")
SCORE_LABELS = {"text": "cosine", "image": "cosine", "combined": "cosine", "umap": "map distance"}
"""What the score of each ranking mode is: cosine similarity (higher is closer) or UMAP distance (lower is closer)."""

INDEX_COLUMNS = ("id", "name", "generation", "types", "text_embedding", "image_embedding",
                 "umap_2d_x", "umap_2d_y", "neighbors")


class Match(NamedTuple):
    """One ranked Pokémon: its id, name and score (see `SCORE_LABELS` for what the score means per mode)."""

    id: int
    name: str
    score: float


class GenerationMatch(NamedTuple):
    """One row of the "best matches per generation" table."""

    generation: str
    rank: int
    id: int
    name: str
    score: float


class Oddball(NamedTuple):
    """A Pokémon least like the others of its generation: its median cosine similarity to them."""

    modality: str
    generation: str
    rank: int
    id: int
    name: str
    median_similarity: float


def normalize_name(name: str) -> str:
    """Fold a Pokémon name for lookup: case, accents, spaces, hyphens and punctuation do not matter."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def generation_sort_key(generation: str | None) -> tuple[int, str]:
    """Order generations as the games do (generation-i < generation-ii < ... < generation-ix); unknown last."""
    if not generation:
        return (10**6, "")
    numeral = generation.rsplit("-", 1)[-1].lower()
    if numeral.isdigit():
        return (int(numeral), generation)
    if numeral and all(ch in _ROMAN for ch in numeral):
        total = 0
        for ch, nxt in zip(numeral, numeral[1:] + " "):
            value = _ROMAN[ch]
            total += -value if nxt in _ROMAN and _ROMAN[nxt] > value else value
        return (total, generation)
    return (10**5, generation)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _top(scores: np.ndarray, candidates: np.ndarray, ids: np.ndarray, k: int, *, descending: bool) -> np.ndarray:
    """Indices of the k best candidates by score; ties broken by the smaller Pokémon id."""
    if k <= 0 or candidates.size == 0:
        return candidates[:0]
    key = -scores[candidates] if descending else scores[candidates]
    order = np.lexsort((ids[candidates], key))
    return candidates[order[:k]]


@dataclass(frozen=True, eq=False)
class PokedexIndex:
    """Everything the Space ranks with, one row per Pokémon, built once from the dataset.

    `text` and `image` are L2-normalised on construction; `image` rows where `has_image` is False are zeros and never
    ranked. `neighbors` are the dataset's stored nearest neighbours of each row as zero-based row indices (the
    dataset card's embedding-atlas format), nearest first.
    """

    ids: np.ndarray                       # int64 (n,)
    names: tuple[str, ...]
    generations: tuple[str | None, ...]
    types: tuple[tuple[str, ...], ...]
    text: np.ndarray                      # float32 (n, text_dim)
    image: np.ndarray                     # float32 (n, image_dim)
    has_image: np.ndarray                 # bool (n,)
    umap: np.ndarray                      # float32 (n, 2)
    neighbors: tuple[tuple[int, ...], ...] = ()
    _by_name: dict[str, int] = field(init=False, repr=False)
    _by_id: dict[int, int] = field(init=False, repr=False)
    _generation_labels: tuple[str, ...] = field(init=False, repr=False)  # in game order, "unknown" for None
    _generation_codes: np.ndarray = field(init=False, repr=False)        # int (n,): position in the labels

    def __post_init__(self) -> None:
        n = len(self.names)
        ids = np.asarray(self.ids, dtype=np.int64)
        has_image = np.asarray(self.has_image, dtype=bool)
        text = np.asarray(self.text, dtype=np.float32)
        image = np.asarray(self.image, dtype=np.float32)
        umap = np.asarray(self.umap, dtype=np.float32)
        neighbors = tuple(tuple(int(i) for i in row) for row in self.neighbors) or tuple(() for _ in range(n))
        if image.size == 0:
            image = np.zeros((n, 0), dtype=np.float32)
        checks = {"ids": ids.shape == (n,), "generations": len(self.generations) == n, "types": len(self.types) == n,
                  "text": text.ndim == 2 and text.shape[0] == n, "image": image.ndim == 2 and image.shape[0] == n,
                  "has_image": has_image.shape == (n,),
                  "umap": umap.shape == (n, 2), "neighbors": len(neighbors) == n}
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise BadInputError(f"index arrays {', '.join(wrong)} do not have one row per name ({n}); "
                                "rebuild the dataset with build_dataset.py")
        has_image = has_image & (np.linalg.norm(image, axis=1) > 0) if image.shape[1] else np.zeros(n, dtype=bool)
        image = _unit_rows(image) if image.shape[1] else image
        image[~has_image] = 0.0
        set_ = object.__setattr__
        set_(self, "ids", ids)
        set_(self, "names", tuple(self.names))
        set_(self, "generations", tuple(self.generations))
        set_(self, "types", tuple(tuple(t) for t in self.types))
        set_(self, "text", _unit_rows(text))
        set_(self, "image", image)
        set_(self, "has_image", has_image)
        set_(self, "umap", umap)
        set_(self, "neighbors", neighbors)
        by_name: dict[str, int] = {}
        for row, name in enumerate(self.names):
            by_name.setdefault(normalize_name(name), row)
        set_(self, "_by_name", by_name)
        set_(self, "_by_id", {int(i): row for row, i in enumerate(ids)})
        labels = [g or "unknown" for g in self.generations]
        order = tuple(sorted(set(labels), key=lambda g: generation_sort_key(None if g == "unknown" else g)))
        set_(self, "_generation_labels", order)
        set_(self, "_generation_codes", np.array([order.index(g) for g in labels], dtype=np.int64).reshape(n))

    # ---- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_dataset(cls, ds: Any) -> "PokedexIndex":
        """Build the index from a loaded `datasets.Dataset` with pokembed's columns (the image column is not read)."""
        import pyarrow as pa

        missing = [c for c in INDEX_COLUMNS if c not in ds.column_names and c not in ("neighbors", "image_embedding")]
        if missing:
            raise BadInputError(f"the dataset lacks the column(s) {', '.join(missing)}; "
                                "point POKEMBED_DATASET at a dataset written by build_dataset.py")
        columns = [c for c in INDEX_COLUMNS if c in ds.column_names]
        table: pa.Table = ds.select_columns(columns).with_format("arrow")[:]
        n = table.num_rows
        text, has_text = _column_matrix(table.column("text_embedding"))
        if not has_text.all():
            raise BadInputError("some rows have no text_embedding; rebuild the dataset with build_dataset.py")
        if "image_embedding" in columns:
            image, has_image = _column_matrix(table.column("image_embedding"))
        else:
            image, has_image = np.zeros((n, 0), dtype=np.float32), np.zeros(n, dtype=bool)
        ids = table.column("id").to_numpy(zero_copy_only=False)
        neighbors = _neighbor_rows(table.column("neighbors").to_pylist(), ids) if "neighbors" in columns else ()
        umap = np.stack([table.column("umap_2d_x").to_numpy(zero_copy_only=False),
                         table.column("umap_2d_y").to_numpy(zero_copy_only=False)], axis=1).astype(np.float32)
        return cls(
            ids=ids,
            names=tuple(table.column("name").to_pylist()),
            generations=tuple(table.column("generation").to_pylist()),
            types=tuple(tuple(t or ()) for t in table.column("types").to_pylist()),
            text=text, image=image, has_image=has_image, umap=np.nan_to_num(umap), neighbors=neighbors,
        )

    # ---- lookup -------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    def find(self, name: str) -> int:
        """Row of the Pokémon called `name` (case, spaces, hyphens and accents ignored); unknown -> BadInputError."""
        key = normalize_name(name or "")
        if not key:
            raise BadInputError("no Pokémon name given; pick one from the list, e.g. pikachu")
        row = self._by_name.get(key)
        if row is not None:
            return row
        close = difflib.get_close_matches(key, list(self._by_name), n=3, cutoff=0.6)
        suggestions = [self.names[self._by_name[c]] for c in close]
        if suggestions:
            hint = suggestions[0] if len(suggestions) == 1 else ", ".join(suggestions[:-1]) + " or " + suggestions[-1]
            raise BadInputError(f"no Pokémon named {name.strip()!r}; did you mean {hint}?")
        example = self.names[0] if self.names else "pikachu"
        raise BadInputError(f"no Pokémon named {name.strip()!r}; pick a name from the list, e.g. {example}")

    def row_of_id(self, pokemon_id: int) -> int:
        """Row of a Pokémon id; unknown -> BadInputError."""
        try:
            return self._by_id[int(pokemon_id)]
        except KeyError:
            raise BadInputError(f"no Pokémon with id {pokemon_id} in this dataset; use an id it contains") from None

    def neighbor_rows(self, row: int) -> list[int]:
        """Rows of the dataset's stored nearest neighbours of `row`, nearest first (out-of-range entries skipped)."""
        return [i for i in self.neighbors[row] if 0 <= i < len(self) and i != row]

    # ---- rankings -----------------------------------------------------------------------------------------------
    def scores(self, row: int, by: str = "text") -> tuple[np.ndarray, np.ndarray, bool]:
        """(scores over all rows, candidate rows, descending?) for ranking against `row` by one mode."""
        if by not in MODES:
            raise BadInputError(f"unknown ranking mode {by!r}; use one of {', '.join(MODES)}")
        everyone = np.arange(len(self), dtype=np.int64)
        others = everyone[everyone != row]
        if by == "text":
            return self.text @ self.text[row], others, True
        if by == "umap":
            return np.linalg.norm(self.umap - self.umap[row], axis=1), others, False
        if by == "image":
            self._require_image(row)
            return self.image @ self.image[row], others[self.has_image[others]], True
        text = self.text @ self.text[row]
        if not self.has_image[row]:
            return text, others, True
        both = self.has_image
        image = self.image @ self.image[row]
        return np.where(both, (text + image) / 2.0, text), others, True

    def _require_image(self, row: int) -> None:
        if not self.has_image[row]:
            raise BadInputError(f"{self.names[row]} has no artwork, so it has no image embedding; "
                                "rank it by text, umap or combined instead")

    def similar(self, name: str, by: str = "text", k: int = 10) -> list[Match]:
        """The k Pokémon most like `name` by text, image, umap or combined similarity, itself excluded."""
        row = self.find(name)
        scores, candidates, descending = self.scores(row, by)
        best = _top(scores, candidates, self.ids, _check_k(k), descending=descending)
        return [self._match(r, scores[r]) for r in best]

    def best_per_generation(self, name: str, by: str = "text", k: int = 3) -> list[GenerationMatch]:
        """The k best matches for `name` within each generation (generation order), itself excluded."""
        row = self.find(name)
        scores, candidates, descending = self.scores(row, by)
        k = _check_k(k)
        codes = self._generation_codes[candidates]
        rows: list[GenerationMatch] = []
        for code, gen in enumerate(self._generation_labels):
            members = candidates[codes == code]
            for rank, r in enumerate(_top(scores, members, self.ids, k, descending=descending), start=1):
                rows.append(GenerationMatch(gen, rank, int(self.ids[r]), self.names[r], float(scores[r])))
        return rows

    def search_images(self, query_vector: np.ndarray, k: int = 10) -> list[Match]:
        """The k Pokémon whose image embedding is closest (cosine) to a query vector in the image space."""
        query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if self.image.shape[1] == 0 or not self.has_image.any():
            raise BadInputError("this dataset has no image embeddings; rebuild it with artwork to search by image")
        if query.shape[0] != self.image.shape[1]:
            raise BadInputError(f"the query vector has {query.shape[0]} dimensions but the dataset's image embeddings "
                                f"have {self.image.shape[1]}; use the query model of the dataset's image model")
        norm = float(np.linalg.norm(query))
        if not np.isfinite(norm) or norm == 0.0:
            raise BadInputError("the query vector is empty (zero or not finite); check the encoder output")
        scores = self.image @ (query / norm)
        candidates = np.flatnonzero(self.has_image)
        return [self._match(r, scores[r]) for r in _top(scores, candidates, self.ids, _check_k(k), descending=True)]

    def similarity_matrix(self, rows: np.ndarray, modality: str) -> np.ndarray:
        """Pairwise cosine similarities among `rows` for text, image or combined (as `scores` defines them)."""
        if modality not in MODALITIES:
            raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
        text = self.text[rows] @ self.text[rows].T
        if modality == "text":
            return text
        image = self.image[rows] @ self.image[rows].T
        if modality == "image":
            return image
        both = self.has_image[rows][:, None] & self.has_image[rows][None, :]
        return np.where(both, (text + image) / 2.0, text)

    def oddballs(self, modality: str = "text", per_generation: int = 1) -> list[Oddball]:
        """Per generation, the Pokémon with the lowest median cosine similarity to the others of its generation.

        Image rankings use only Pokémon with an image embedding; generations with fewer than two are skipped.
        """
        if modality not in MODALITIES:
            raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
        per_generation = _check_k(per_generation)
        pool = self.has_image if modality == "image" else np.ones(len(self), dtype=bool)
        out: list[Oddball] = []
        for code, gen in enumerate(self._generation_labels):
            members = np.flatnonzero(pool & (self._generation_codes == code))
            if members.size < 2:
                continue
            sims = self.similarity_matrix(members, modality).astype(np.float64)
            np.fill_diagonal(sims, np.nan)
            medians = np.nanmedian(sims, axis=1)
            order = np.lexsort((self.ids[members], medians))[:per_generation]
            for rank, i in enumerate(order, start=1):
                r = members[i]
                out.append(Oddball(modality, gen, rank, int(self.ids[r]), self.names[r], float(medians[i])))
        return out

    def _match(self, row: int, score: float) -> Match:
        return Match(int(self.ids[row]), self.names[row], float(score))


def _neighbor_rows(cells: Sequence[Any], ids: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """The `neighbors` column as row indices: the card documents zero-based row indices; a column whose values
    cannot be row indices but are all Pokémon ids (an older layout) is mapped through the ids, with a warning."""
    lists = [list((cell or {}).get("ids") or ()) for cell in cells]
    values = {int(v) for row in lists for v in row}
    n = len(ids)
    if values and max(values) >= n:
        by_id = {int(i): row for row, i in enumerate(ids)}
        if values <= set(by_id):
            logger.warning("the neighbors column holds Pokémon ids, not row indices; mapping them to rows")
            return tuple(tuple(by_id[int(v)] for v in row) for row in lists)
    return tuple(tuple(int(v) for v in row) for row in lists)


def _check_k(k: int) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise BadInputError(f"k must be a whole number, got {k!r}; use e.g. 10") from None
    if not 1 <= k <= 1000:
        raise BadInputError(f"k must be between 1 and 1000, got {k}; use e.g. 10")
    return k


def _column_matrix(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """A (fixed-size or variable) list<float> Arrow column as an (n, dim) float32 matrix plus a row-present mask."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(array)
    present = ~array.is_null().to_numpy(zero_copy_only=False)
    if not present.any():
        return np.zeros((n, 0), dtype=np.float32), present
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    present &= np.nan_to_num(lengths.astype(np.float64)) > 0
    dims = set(lengths[present].astype(np.int64).tolist())
    if len(dims) != 1:
        raise BadInputError(f"embedding rows have different lengths {sorted(dims)}; rebuild the dataset")
    dim = dims.pop()
    flat = pc.list_flatten(array.filter(pa.array(present))).to_numpy(zero_copy_only=False)
    matrix = np.zeros((n, dim), dtype=np.float32)
    matrix[present] = np.asarray(flat, dtype=np.float32).reshape(-1, dim)
    return matrix, present


# ==== beyond the article: ask the records, embedding arithmetic, PCA beside UMAP ===================================
# Free functions over a `PokedexIndex` (its API is unchanged): nomic's retrieval use (a `search_query: ` question
# against the `search_document: ` record embeddings), word2vec-style arithmetic on Pokémon and group centroids, and
# the PCA map computed from the index's own vectors.

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
    mean = _unit_rows(rows).astype(np.float64).mean(axis=0)
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


def ask_records(index: PokedexIndex, query_vector: np.ndarray, k: int = 10) -> list[Match]:
    """The k Pokémon whose record embedding (text space) is closest by cosine to a query vector.

    The query is a question embedded by the dataset's text model with its query prompt (`search_query: ` for nomic),
    the records having been embedded with the document prompt: nomic's retrieval setup, asymmetric on purpose.
    """
    query = _unit_query(query_vector, index.text.shape[1], "text embeddings",
                        "embed the question with the dataset's text model")
    scores = index.text @ query
    candidates = np.arange(len(index), dtype=np.int64)
    return [index._match(r, scores[r]) for r in _top(scores, candidates, index.ids, _check_k(k), descending=True)]


def parse_expression(index: PokedexIndex, expression: str) -> tuple[Term, ...]:
    """Signed terms from text such as ``pikachu - type:electric + type:water`` or ``charmander + (wartortle -
    squirtle)``.

    Operators are ``+`` and ``-`` (or ``−``) written apart from names, since names such as ``mr-mime`` hold hyphens;
    parentheses group, and a minus before one flips every sign inside. A term is a Pokémon name, ``type:NAME`` or
    ``generation:NAME`` (also ``gen:4``, ``gen:iv``); a bare word that names no Pokémon is tried as a type, then as a
    generation. Consecutive words form one name (``mr mime``). Anything else is a BadInputError saying what to type.
    """
    text = " ".join((expression or "").split())
    if not text:
        raise BadInputError("the expression is empty; write terms joined by + and -, e.g. "
                            "pikachu - type:electric + type:water")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise BadInputError(f"the expression is {len(text)} characters long; keep it under {MAX_EXPRESSION_CHARS}")
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
            index._require_image(row)
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
    k = _check_k(k)
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
    best = _top(scores, np.flatnonzero(pool), index.ids, k, descending=True)
    canonical = tuple(Term(t.sign, t.kind, index.names[index.find(t.name)] if t.kind == "pokemon" else t.name)
                      for t in parsed)
    expression = " ".join(str(t) for t in canonical).removeprefix("+ ")
    return ArithmeticResult(expression, space, canonical, tuple(index.names[r] for r in sorted(inputs)),
                            tuple(index._match(r, scores[r]) for r in best))


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


def _unit_query(vector: np.ndarray, dim: int, what: str, fix: str) -> np.ndarray:
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != dim:
        raise BadInputError(f"the query vector has {query.shape[0]} dimensions but the dataset's {what} have {dim}; "
                            f"{fix}")
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm == 0.0:
        raise BadInputError("the query vector is empty (zero or not finite); check the encoder output")
    return query / norm


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
    "MODES", "MODALITIES", "SCORE_LABELS", "Match", "GenerationMatch", "Oddball", "PokedexIndex", "normalize_name",
    "generation_sort_key",
    # beyond the article
    "ARITHMETIC_SPACES", "TERM_KINDS", "ARITHMETIC_METHOD", "ARITHMETIC_PRESETS", "Term", "ArithmeticResult",
    "ArithmeticPreset", "unit_centroid", "type_names", "generation_names", "type_centroid", "generation_centroid",
    "ask_records", "parse_expression", "term_vector", "embedding_arithmetic", "pca_map",
]
