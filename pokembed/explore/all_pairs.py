"""The all-pairs chart as plain data: every pair's cosine similarity ordered by id, rendered once as a PNG with one
pixel per pair, its colour scale, generation blocks, each generation's lowest-median row, one row's numbers for a
hover, and ``pair(a, b)`` for the ``/pair`` endpoint. No web framework here; the numbers come from
:mod:`pokembed.pairwise` (shared with the dataset card's figure).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.index import PokedexIndex
from pokembed.pairwise import (PAIR_MODALITIES, Block, block_labels, cosine_matrix, generation_blocks, id_order,
                               lowest_median_rows, rank_in)

COLOUR_MAP = "viridis"  # perceptually uniform, readable in grey and by most colour-blind visitors
LEVELS = 255            # colours of the chart's palette PNG; index 255 is the transparent blank
ROW_DECIMALS = 4        # a hovered row's numbers: enough to tell neighbours apart, small to send


@dataclass(frozen=True)
class MarkedRow:
    """A generation's lowest-median row (median over the default forms of that generation; the alternate forms
    are the group "forms"): where it is in the chart, who it is, and its median similarity."""

    generation: str
    position: int
    id: int
    name: str
    median: float


@dataclass(frozen=True, eq=False)
class AllPairs:
    """One modality's all-pairs chart; position ``p`` of the chart is index row ``rows[p]`` (Pokémon ``ids[p]``)."""

    modality: str
    rows: np.ndarray                  # int64 (n,): index rows in chart order (by id)
    ids: np.ndarray                   # int64 (n,)
    names: tuple[str, ...]
    matrix: np.ndarray                # float32 (n, n) in chart order; NaN: blank (no artwork)
    vmin: float                       # the colour scale's ends: the lowest and highest off-diagonal numbers
    vmax: float
    blocks: tuple[Block, ...]
    lowest_median: tuple[MarkedRow, ...]

    def png(self) -> bytes:
        """The chart as an n × n PNG, one pixel per pair, in :data:`LEVELS` colours of the map (a palette PNG: about
        a third of the bytes of RGBA) with blank cells transparent; same bytes for the same numbers."""
        from PIL import Image

        scaled = (self.matrix.astype(np.float64) - self.vmin) / (self.vmax - self.vmin)
        levels = np.where(np.isnan(scaled), LEVELS, np.rint(np.clip(np.nan_to_num(scaled), 0.0, 1.0) * (LEVELS - 1)))
        palette = _colours(np.linspace(self.vmin, self.vmax, LEVELS)[None, :], self.vmin, self.vmax)[0, :, :3]
        picture = Image.fromarray(levels.astype(np.uint8), "P")
        picture.putpalette([*palette.reshape(-1).tolist(), 0, 0, 0])
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", transparency=LEVELS)
        return buffer.getvalue()

    def colour_scale(self, steps: int = 11) -> list[dict]:
        """The legend as data: ``steps`` evenly spaced ``{"value", "colour"}`` (hex) from vmin to vmax."""
        values = np.linspace(self.vmin, self.vmax, max(int(steps), 2))
        rgba = _colours(values[None, :], self.vmin, self.vmax)[0]
        return [{"value": round(float(v), ROW_DECIMALS), "colour": "#{:02x}{:02x}{:02x}".format(*c[:3])}
                for v, c in zip(values, rgba)]

    def legend_png(self, width: int = 256, height: int = 12) -> bytes:
        """The colour scale as a horizontal bar (vmin on the left), ``width`` × ``height`` pixels."""
        ramp = np.linspace(self.vmin, self.vmax, width)[None, :].repeat(height, axis=0)
        return _png(_colours(ramp, self.vmin, self.vmax))

    def position(self, pokemon_id: int) -> int:
        """The chart position of a Pokémon id; BadInputError when it is not in the chart."""
        found = np.flatnonzero(self.ids == int(pokemon_id))
        if not found.size:
            raise BadInputError(f"no Pokémon with id {pokemon_id} in this chart; use an id of the dataset")
        return int(found[0])

    def row(self, position: int) -> list[float | None]:
        """One chart row's numbers for a hover, rounded, None where blank."""
        if not 0 <= int(position) < len(self.ids):
            raise BadInputError(f"row {position} is outside the chart; use 0 to {len(self.ids) - 1}")
        values = np.round(self.matrix[int(position)].astype(np.float64), ROW_DECIMALS)
        return [None if np.isnan(v) else float(v) for v in values]


@dataclass(frozen=True)
class PairScores:
    """Two Pokémon under one modality: their cosine, and where each ranks in the other's most-similar list
    (1 = nearest; None where it is not ranked, e.g. no artwork for image)."""

    modality: str
    cosine: float | None
    rank_of_b_for_a: int | None
    rank_of_a_for_b: int | None


@dataclass(frozen=True)
class Pair:
    """The answer of ``pair(a, b)``: both Pokémon and their scores per modality."""

    a_id: int
    a_name: str
    b_id: int
    b_name: str
    scores: tuple[PairScores, ...]


def all_pairs(index: PokedexIndex, modality: str = "text", *, default_only: bool = False) -> AllPairs:
    """The all-pairs chart of ``index`` for ``text``, ``image`` or ``combined`` (every Pokémon, or default forms
    only), ordered by id."""
    if modality not in PAIR_MODALITIES:
        raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(PAIR_MODALITIES)}")
    rows = index.default_rows(id_order(index.ids), default_only)
    image = index.image if index.image.shape[1] else np.zeros((len(index), 1), dtype=np.float32)
    matrix = cosine_matrix(index.text[rows], image[rows], index.has_image[rows], modality)
    ids, names = index.ids[rows], tuple(index.names[r] for r in rows)
    generations = [index.generations[r] for r in rows]
    off = matrix[~np.eye(len(rows), dtype=bool)]
    off = off[np.isfinite(off)]
    vmin, vmax = (float(off.min()), float(off.max())) if off.size else (0.0, 1.0)
    labels = block_labels(generations, index.is_default[rows])  # forms are marked as a group of their own
    marked = tuple(MarkedRow(m.generation, m.position, int(ids[m.position]), names[m.position], m.median)
                   for m in lowest_median_rows(matrix, labels, ids))
    return AllPairs(modality, rows, ids, names, matrix, vmin, vmax if vmax > vmin else vmin + 1e-6,
                    generation_blocks(generations, index.is_default[rows]), marked)


def pair(index: PokedexIndex, a: str, b: str, *, default_only: bool = False) -> Pair:
    """Two Pokémon (by name) → their text, image and combined cosine and mutual ranks, ranked as Similar ranks
    (itself excluded, equal scores by the smaller id; with ``default_only`` among default forms only)."""
    row_a, row_b = index.find(a), index.find(b)
    scores = []
    for modality in PAIR_MODALITIES:
        if modality == "image" and not (index.has_image[row_a] and index.has_image[row_b]):
            scores.append(PairScores(modality, None, None, None))
            continue
        ranks = []
        for row, other in ((row_a, row_b), (row_b, row_a)):
            values, candidates, _ = index.scores(row, modality)
            ranks.append(rank_in(values, index.default_rows(candidates, default_only), index.ids, other))
        cosine = float(index.scores(row_a, modality)[0][row_b])
        scores.append(PairScores(modality, cosine, ranks[0], ranks[1]))
    return Pair(int(index.ids[row_a]), index.names[row_a], int(index.ids[row_b]), index.names[row_b], tuple(scores))


def _colours(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """RGBA bytes of ``values`` under :data:`COLOUR_MAP` scaled from vmin to vmax; NaN transparent."""
    import matplotlib

    cmap = matplotlib.colormaps[COLOUR_MAP].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    scaled = np.clip((np.asarray(values, dtype=np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
    return cmap(np.ma.masked_invalid(scaled), bytes=True)


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8), "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()
