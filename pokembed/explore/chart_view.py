"""The Space's all-pairs chart and `/pair`, as plain data: the chart of a modality rendered once per dataset as a PNG
file the page links to, what the page draws over it (generation blocks, each generation's lowest-median row, who
is at each position), one row's numbers for a hover (cosines and mutual ranks; never the whole matrix), and two
Pokémon's scores. The numbers come from `pokembed.explore.all_pairs`; no Gradio here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.all_pairs import ROW_DECIMALS, AllPairs, all_pairs, pair
from pokembed.explore.names import generation_label
from pokembed.explore.space import Space
from pokembed.pairwise import FORMS_BLOCK, PAIR_MODALITIES

_LOCK = threading.Lock()


def chart(space: Space, modality: str = "text", default_only: bool = True) -> tuple[AllPairs, Path]:
    """The chart of one modality (default forms only, or every Pokémon) and its PNG, computed and written once per
    loaded dataset (kept in `space.charts`, the PNG beside the Space's artwork files)."""
    if modality not in PAIR_MODALITIES:
        raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(PAIR_MODALITIES)}")
    key = (modality, bool(default_only))
    with _LOCK:
        if key not in space.charts:
            data = all_pairs(space.index, modality, default_only=bool(default_only))
            path = space.art.folder / f"all-pairs-{modality}-{'default' if default_only else 'all'}.png"
            path.write_bytes(data.png())
            space.charts[key] = (data, path)
        return space.charts[key]


def block_label(label: str) -> str:
    """How a block reads: "Generation I", or "Other forms" for the alternate forms."""
    return "Other forms" if label == FORMS_BLOCK else generation_label(None if label == "unknown" else label)


def chart_result(space: Space, modality: str = "text", default_only: bool = True) -> dict[str, Any]:
    """What the page draws: the PNG's URL and size, the colour scale, the generation blocks, each generation's
    lowest-median row, and each position's id, name and display name and whether it has artwork."""
    data, path = chart(space, modality, default_only)
    index = space.index
    return {
        "modality": modality, "default_only": bool(default_only), "size": len(data.ids),
        "image": "gradio_api/file=" + path.as_posix(), "vmin": round(data.vmin, ROW_DECIMALS),
        "vmax": round(data.vmax, ROW_DECIMALS), "colour_scale": data.colour_scale(),
        "blocks": [{"label": block_label(b.label), "start": b.start, "stop": b.stop} for b in data.blocks],
        "lowest_median": [{"generation": m.generation, "generation_label": block_label(m.generation),
                           "position": m.position, "id": m.id, "name": m.name,
                           "display_name": space.display[int(data.rows[m.position])],
                           "median_similarity": round(m.median, ROW_DECIMALS)} for m in data.lowest_median],
        "ids": [int(i) for i in data.ids], "names": list(data.names),
        "display_names": [space.display[int(r)] for r in data.rows],
        "has_artwork": [bool(index.has_image[int(r)]) for r in data.rows],
        "thumb_base": "gradio_api/file=" + (space.art.folder / "thumb").as_posix() + "/",
        "placeholder": space.art.url(-1),
    }


def mutual_ranks(matrix: np.ndarray, ids: np.ndarray, position: int) -> tuple[list, list]:
    """For chart row `position`: where each column ranks in this row's most-similar list, and where this row ranks
    in each column's list (1 = nearest; itself and blank cells left out; equal scores by the smaller id; None
    where blank or itself)."""
    values = np.where(np.isnan(matrix), -np.inf, matrix).astype(np.float64)
    np.fill_diagonal(values, -np.inf)
    ids = np.asarray(ids, dtype=np.int64)
    blank = np.isnan(matrix[position]) | (np.arange(len(ids)) == position)
    row = values[position]
    ahead_here = (row[None, :] > row[:, None]) | ((row[None, :] == row[:, None]) & (ids[None, :] < ids[:, None]))
    here = ahead_here.sum(axis=1) + 1
    mine = values[:, position]
    ahead_there = (values > mine[:, None]) | ((values == mine[:, None]) & (ids[None, :] < ids[position]))
    there = ahead_there.sum(axis=1) + 1
    return ([None if b else int(r) for b, r in zip(blank, here)],
            [None if b else int(r) for b, r in zip(blank, there)])


def chart_row(space: Space, modality: str, default_only: bool, position: int) -> dict[str, Any]:
    """One chart row for a hover: its cosines with every column (rounded, None where blank) and the mutual ranks."""
    data, _ = chart(space, modality, default_only)
    cosines = data.row(int(position))
    rank_here, rank_there = mutual_ranks(data.matrix, data.ids, int(position))
    return {"position": int(position), "id": int(data.ids[int(position)]), "cosines": cosines,
            "rank_of_column": rank_here, "rank_in_column": rank_there}


def pair_result(space: Space, a: str, b: str, default_only: bool = True) -> dict[str, Any]:
    """Two Pokémon: their text, image and combined cosine, and where each ranks in the other's most-similar list."""
    found = pair(space.index, a, b, default_only=default_only)
    index = space.index

    def who(pokemon_id: int) -> dict[str, Any]:
        row = index.row_of_id(pokemon_id)
        return {"id": int(pokemon_id), "name": index.names[row], "display_name": space.display[row]}

    return {"a": who(found.a_id), "b": who(found.b_id), "default_only": bool(default_only), "scores": {
        s.modality: {"cosine": None if s.cosine is None else round(s.cosine, 6), "rank_of_b_for_a": s.rank_of_b_for_a,
                     "rank_of_a_for_b": s.rank_of_a_for_b} for s in found.scores}}
