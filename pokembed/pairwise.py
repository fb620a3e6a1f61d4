"""Every pair of Pokémon: the cosine similarity matrix ordered by id, its generation blocks, and each generation's
lowest-median row (the article's "1 million points" chart and its oddballs: Magikarp, Unown, Smeargle, Wobbuffet).

Plain numpy over the dataset's columns, shared by the card's figures (``pokembed.dataset.figures``) and the Space's
chart (``pokembed.explore.all_pairs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pokembed.errors import BadInputError
from pokembed.projection import combined_distances

PAIR_MODALITIES = ("text", "image", "combined")
FORMS_BLOCK = "forms"  # the label of the block of alternate forms (ids from 10001, after every species)


@dataclass(frozen=True)
class Block:
    """Rows ``start`` to ``stop - 1`` of the chart: one generation, or the alternate forms."""

    label: str
    start: int
    stop: int


@dataclass(frozen=True)
class LowestMedian:
    """The chart row of a generation whose median similarity to the rest of its generation is lowest."""

    generation: str
    position: int
    median: float


def id_order(ids: np.ndarray) -> np.ndarray:
    """Row indices sorted by Pokémon id: the chart's order."""
    return np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")


def cosine_matrix(text: np.ndarray, image: np.ndarray, has_image: np.ndarray, modality: str) -> np.ndarray:
    """The (n, n) float32 cosine similarity of every pair for ``text``, ``image`` or ``combined``.

    Vectors are unit rows. ``image``: NaN where either Pokémon has no artwork (a blank cell). ``combined``: one
    minus the dataset's combined distance (:func:`pokembed.projection.combined_distances`), the distance its map and
    neighbours use: the mean of the text and image cosines, the text cosine alone where either has no artwork.
    """
    if modality not in PAIR_MODALITIES:
        raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(PAIR_MODALITIES)}")
    text = np.asarray(text, dtype=np.float32)
    has_image = np.asarray(has_image, dtype=bool)
    if modality == "text":
        return text @ text.T
    if modality == "combined":
        return (1.0 - combined_distances(text, image, has_image)).astype(np.float32)
    image = np.where(has_image[:, None], np.asarray(image, dtype=np.float32), 0.0).astype(np.float32)
    matrix = image @ image.T
    matrix[~(has_image[:, None] & has_image[None, :])] = np.nan
    return matrix


def block_labels(generations: list[str | None], is_default: np.ndarray) -> list[str]:
    """Each row's block: its generation ("unknown" for None), or :data:`FORMS_BLOCK` for an alternate form."""
    return [(g or "unknown") if d else FORMS_BLOCK for g, d in zip(generations, np.asarray(is_default, bool))]


def generation_blocks(generations: list[str | None], is_default: np.ndarray) -> tuple[Block, ...]:
    """The runs of one generation along the chart's rows; alternate forms (``is_default`` False) are one
    :data:`FORMS_BLOCK` run wherever they fall."""
    labels = block_labels(generations, is_default)
    blocks: list[Block] = []
    for position, label in enumerate(labels):
        if blocks and blocks[-1].label == label and blocks[-1].stop == position:
            blocks[-1] = Block(label, blocks[-1].start, position + 1)
        else:
            blocks.append(Block(label, position, position + 1))
    return tuple(blocks)


def lowest_median_rows(matrix: np.ndarray, generations: list[str | None], ids: np.ndarray) -> list[LowestMedian]:
    """Per generation (in order of first appearance), the row whose median similarity to the other rows of its
    generation is lowest (pass :func:`block_labels` to treat the alternate forms as a group of their own); the diagonal and blank (NaN) cells are left out, ties go to the smaller id, and a
    generation with fewer than two rows with numbers is skipped."""
    ids = np.asarray(ids, dtype=np.int64)
    labels = [g or "unknown" for g in generations]
    out: list[LowestMedian] = []
    for generation in dict.fromkeys(labels):
        members = np.flatnonzero(np.array([g == generation for g in labels]))
        sims = np.asarray(matrix, dtype=np.float64)[np.ix_(members, members)]
        np.fill_diagonal(sims, np.nan)
        counted = ~np.isnan(sims).all(axis=1)
        if counted.sum() < 2:
            continue
        medians = np.full(len(members), np.inf)
        medians[counted] = np.nanmedian(sims[counted], axis=1)
        best = int(np.lexsort((ids[members], medians))[0])
        out.append(LowestMedian(generation, int(members[best]), float(medians[best])))
    return out


def rank_in(scores: np.ndarray, candidates: np.ndarray, ids: np.ndarray, target: int) -> int | None:
    """1-based place of row ``target`` among ``candidates`` ranked by ``scores`` (higher first, equal scores by the
    smaller id); None when it is not a candidate."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if target not in set(candidates.tolist()):
        return None
    ids = np.asarray(ids, dtype=np.int64)
    ahead = (scores[candidates] > scores[target]) | ((scores[candidates] == scores[target])
                                                     & (ids[candidates] < ids[target]))
    return int(ahead.sum()) + 1
