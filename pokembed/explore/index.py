"""The index and its rankings: similar Pokémon, per-generation top-k, artwork search and oddballs.

Pure numpy over arrays held by one `PokedexIndex`; no web framework here. `pokembed.explore.answers` turns these
rankings into the Space's JSON answers, so everything the page shows can be tested without a browser. Reading a dataset back
lives in `pokembed.dataset.table`, its build facts in `pokembed.dataset.facts`, its artwork files in `pokembed.sources.artwork`, and the
checks of what a visitor sends in `pokembed.explore.queries`.
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
                 "umap_2d_x", "umap_2d_y", "neighbors", "is_default")
_OPTIONAL_COLUMNS = ("neighbors", "image_embedding", "is_default")


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


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def unit_query(vector: np.ndarray, dim: int, what: str, fix: str) -> np.ndarray:
    """A query vector as float32 of unit length; BadInputError when it has not the `dim` dimensions of the dataset's
    `what` (the message ends with `fix`) or is zero or not finite."""
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != dim:
        raise BadInputError(f"the query vector has {query.shape[0]} dimensions but the dataset's {what} have {dim}; "
                            f"{fix}")
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm == 0.0:
        raise BadInputError("the query vector is empty (zero or not finite); check the encoder output")
    return query / norm


def top_rows(scores: np.ndarray, candidates: np.ndarray, ids: np.ndarray, k: int, *, descending: bool) -> np.ndarray:
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
    dataset card's embedding-atlas format), nearest first; `neighbor_distances` their stored distances (the cosine
    distance of the combined text and image vectors, pokembed.projection.combined_distances), where the dataset has
    them. `is_default` marks the default form of each species (all True when not given); the rankings'
    ``default_only`` option keeps only those rows as candidates.
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
    neighbor_distances: tuple[tuple[float, ...], ...] = ()  # aligned with `neighbors`; () where none are stored
    is_default: np.ndarray | None = None  # bool (n,); None: every row is a default form
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
        neighbor_distances = (tuple(tuple(float(d) for d in row) for row in self.neighbor_distances)
                              or tuple(() for _ in range(n)))
        is_default = np.ones(n, dtype=bool) if self.is_default is None else np.asarray(self.is_default, dtype=bool)
        if image.size == 0:
            image = np.zeros((n, 0), dtype=np.float32)
        checks = {"ids": ids.shape == (n,), "generations": len(self.generations) == n, "types": len(self.types) == n,
                  "text": text.ndim == 2 and text.shape[0] == n, "image": image.ndim == 2 and image.shape[0] == n,
                  "has_image": has_image.shape == (n,), "is_default": is_default.shape == (n,),
                  "umap": umap.shape == (n, 2), "neighbors": len(neighbors) == n,
                  "neighbor_distances": len(neighbor_distances) == n}
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise BadInputError(f"index arrays {', '.join(wrong)} do not have one row per name ({n}); "
                                "rebuild the dataset with build_dataset.py")
        has_image = has_image & (np.linalg.norm(image, axis=1) > 0) if image.shape[1] else np.zeros(n, dtype=bool)
        image = unit_rows(image) if image.shape[1] else image
        image[~has_image] = 0.0
        set_ = object.__setattr__
        set_(self, "ids", ids)
        set_(self, "names", tuple(self.names))
        set_(self, "generations", tuple(self.generations))
        set_(self, "types", tuple(tuple(t) for t in self.types))
        set_(self, "text", unit_rows(text))
        set_(self, "image", image)
        set_(self, "has_image", has_image)
        set_(self, "is_default", is_default)
        set_(self, "umap", umap)
        set_(self, "neighbors", neighbors)
        set_(self, "neighbor_distances", neighbor_distances)
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

        missing = [c for c in INDEX_COLUMNS if c not in ds.column_names and c not in _OPTIONAL_COLUMNS]
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
        cells = table.column("neighbors").to_pylist() if "neighbors" in columns else []
        neighbors = _neighbor_rows(cells, ids) if cells else ()
        distances = tuple(tuple((cell or {}).get("distances") or ()) for cell in cells)
        umap = np.stack([table.column("umap_2d_x").to_numpy(zero_copy_only=False),
                         table.column("umap_2d_y").to_numpy(zero_copy_only=False)], axis=1).astype(np.float32)
        return cls(
            ids=ids,
            names=tuple(table.column("name").to_pylist()),
            generations=tuple(table.column("generation").to_pylist()),
            types=tuple(tuple(t or ()) for t in table.column("types").to_pylist()),
            text=text, image=image, has_image=has_image, umap=np.nan_to_num(umap), neighbors=neighbors,
            neighbor_distances=distances,
            is_default=(np.asarray(table.column("is_default").fill_null(True).to_pylist(), dtype=bool)
                        if "is_default" in columns else None),
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
            error = BadInputError(f"no Pokémon named {name.strip()!r}; did you mean {hint}?")
            error.suggestions = tuple(suggestions)  # the page offers them as buttons
            raise error
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
        return [i for i, _ in self.stored_neighbors(row)]

    def stored_neighbors(self, row: int) -> list[tuple[int, float | None]]:
        """(row, stored distance) of the dataset's nearest neighbours of `row`, nearest first (out-of-range entries
        skipped); the distance is None where the dataset stores none."""
        distances = self.neighbor_distances[row]
        return [(i, distances[j] if j < len(distances) else None) for j, i in enumerate(self.neighbors[row])
                if 0 <= i < len(self) and i != row]

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
            self.require_image(row)
            return self.image @ self.image[row], others[self.has_image[others]], True
        text = self.text @ self.text[row]
        if not self.has_image[row]:
            return text, others, True
        both = self.has_image
        image = self.image @ self.image[row]
        return np.where(both, (text + image) / 2.0, text), others, True

    def require_image(self, row: int) -> None:
        """Refuse an image ranking for a Pokémon without artwork, in one line."""
        if not self.has_image[row]:
            raise BadInputError(f"{self.names[row]} has no artwork, so it has no image embedding; "
                                "rank it by text, umap or combined instead")

    def default_rows(self, candidates: np.ndarray, default_only: bool) -> np.ndarray:
        """`candidates` kept to default forms when `default_only` (alternate forms such as Megas left out)."""
        return candidates[self.is_default[candidates]] if default_only else candidates

    def similar(self, name: str, by: str = "text", k: int = 10, *, default_only: bool = True) -> list[Match]:
        """The k Pokémon most like `name` by text, image, umap or combined similarity, itself excluded; with
        `default_only` only default forms are candidates (`name` itself may be a form)."""
        row = self.find(name)
        scores, candidates, descending = self.scores(row, by)
        candidates = self.default_rows(candidates, default_only)
        best = top_rows(scores, candidates, self.ids, check_k(k), descending=descending)
        return [self.as_match(r, scores[r]) for r in best]

    def best_per_generation(self, name: str, by: str = "text", k: int = 3, *,
                            default_only: bool = True) -> list[GenerationMatch]:
        """The k best matches for `name` within each generation (generation order), itself excluded; with
        `default_only` only default forms are candidates."""
        row = self.find(name)
        scores, candidates, descending = self.scores(row, by)
        candidates = self.default_rows(candidates, default_only)
        k = check_k(k)
        codes = self._generation_codes[candidates]
        rows: list[GenerationMatch] = []
        for code, gen in enumerate(self._generation_labels):
            members = candidates[codes == code]
            for rank, r in enumerate(top_rows(scores, members, self.ids, k, descending=descending), start=1):
                rows.append(GenerationMatch(gen, rank, int(self.ids[r]), self.names[r], float(scores[r])))
        return rows

    def search_images(self, query_vector: np.ndarray, k: int = 10) -> list[Match]:
        """The k Pokémon whose image embedding is closest (cosine) to a query vector in the image space."""
        if self.image.shape[1] == 0 or not self.has_image.any():
            raise BadInputError("this dataset has no image embeddings; rebuild it with artwork to search by image")
        query = unit_query(query_vector, self.image.shape[1], "image embeddings",
                           "use the query model of the dataset's image model")
        scores = self.image @ query
        candidates = np.flatnonzero(self.has_image)
        return [self.as_match(r, scores[r]) for r in top_rows(scores, candidates, self.ids, check_k(k), descending=True)]

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

    def oddballs(self, modality: str = "text", per_generation: int = 1, *, default_only: bool = True) -> list[Oddball]:
        """Per generation, the Pokémon with the lowest median cosine similarity to the others of its generation.

        Image rankings use only Pokémon with an image embedding; with `default_only` only default forms count (as
        candidates and as the others); generations with fewer than two are skipped.
        """
        if modality not in MODALITIES:
            raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
        per_generation = check_k(per_generation)
        pool = self.has_image if modality == "image" else np.ones(len(self), dtype=bool)
        if default_only:
            pool = pool & self.is_default
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

    def as_match(self, row: int, score: float) -> Match:
        """A row and its score as a Match (id, name, score)."""
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


def check_k(k: int) -> int:
    """`k` as an int from 1 to 1000, else a one-line BadInputError."""
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


__all__ = [
    "MODES", "MODALITIES", "SCORE_LABELS", "Match", "GenerationMatch", "Oddball", "PokedexIndex", "normalize_name",
    "generation_sort_key",
]
