"""The map's data: every Pokémon's 2-D coordinates (the dataset's UMAP, or the PCA of the same vectors computed when
the Space starts), its stored nearest neighbours, and the compact columns the map's script draws from. No Gradio here.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.answers import entry, pokemon_facts
from pokembed.explore.colours import GENERATION_COLOURS, TYPE_COLOURS, UNKNOWN_COLOUR
from pokembed.explore.index import PokedexIndex, check_k, generation_sort_key
from pokembed.explore.names import generation_label
from pokembed.explore.space import Space

if TYPE_CHECKING:
    from pokembed.projection import PcaProjection

Projection = Literal["umap", "pca"]
MAP_NEIGHBOURS = 10


def pca_map(index: PokedexIndex) -> PcaProjection:
    """The 2-D PCA of the index's concatenated vectors, as the build computes the `pca_2d_x/y` columns."""
    from pokembed.projection import pca_2d

    image, has_image = index.image, index.has_image
    if image.shape[1] == 0:
        image, has_image = np.zeros((len(index), 1), dtype=np.float32), np.zeros(len(index), dtype=bool)
    return pca_2d(index.text, image, has_image)


def pca_variance(space: Space) -> list[float]:
    """The share of the variance each PCA axis explains, rounded for display and JSON."""
    return [round(float(r), 6) for r in space.pca.explained_variance_ratio]


def map_coordinates(space: Space, projection: str = "umap") -> np.ndarray:
    """The (n, 2) coordinates of one layout: the dataset's UMAP, or the PCA computed at start."""
    if projection == "umap":
        return space.index.umap
    if projection == "pca":
        return space.pca.coordinates
    raise BadInputError(f"unknown projection {projection!r}; use umap or pca")


def map_neighbours(space: Space, row: int, k: int = MAP_NEIGHBOURS) -> list[tuple[int, float | None]]:
    """(row, stored distance) of a row's nearest neighbours as the dataset stores them, nearest first: the distance
    is `neighbors.distances`, the cosine distance of the combined text and image vectors. Where the dataset stores no
    neighbours, the nearest on the UMAP map, with no stored distance (None)."""
    stored = space.index.stored_neighbors(row)
    if stored:
        return stored[:k]
    return [(space.index.row_of_id(m.id), None)
            for m in space.index.similar(space.index.names[row], by="umap", k=k)]


def _stored_distance(distance: float | None) -> float | None:
    """A stored neighbour distance at 3 significant digits (what the list shows; rounding keeps their order), for
    JSON: the map's data stays small."""
    return None if distance is None else float(f"{distance:.3g}")


def map_result(space: Space, name: str | None = None, k: int = MAP_NEIGHBOURS,
               projection: str = "umap") -> dict[str, Any]:
    """Every Pokémon's map coordinates (UMAP, or PCA with the variance each axis explains); with a name, that
    Pokémon and its stored nearest neighbours."""
    index = space.index
    coordinates = map_coordinates(space, projection)
    points = [{"id": int(i), "name": n, "x": round(float(x), 4), "y": round(float(y), 4), "generation": g}
              for i, n, (x, y), g in zip(index.ids, index.names, coordinates, index.generations)]
    result: dict[str, Any] = {"projection": projection, "points": points, "pokemon": None, "neighbors": []}
    if projection == "pca":
        result["explained_variance_ratio"] = pca_variance(space)
    if name is not None and str(name).strip():
        row = index.find(name)
        k = check_k(k)
        result["pokemon"] = pokemon_facts(space, row)
        result["neighbors"] = [
            {**entry(space, int(index.ids[r]), float(np.linalg.norm(coordinates[r] - coordinates[row])), rank=rank),
             "distance": None if distance is None else round(float(distance), 6)}
            for rank, (r, distance) in enumerate(map_neighbours(space, row, k), start=1)]
    return result


def map_view_data(space: Space) -> dict[str, Any]:
    """Compact columns for the map's script: coordinates, names, colour groups, artwork flags, neighbours (`nb`: rows,
    nearest first; `nd`: their stored distances, null where the dataset stores none)."""
    index = space.index
    gens = [g or "unknown" for g in index.generations]
    gen_order = sorted(set(gens), key=lambda g: generation_sort_key(None if g == "unknown" else g))
    primary = [t[0] if t else "unknown" for t in index.types]
    type_order = sorted(set(primary))
    all_neighbours = [map_neighbours(space, r) for r in range(len(index))]
    return {
        "x": [round(float(v), 3) for v in index.umap[:, 0]], "y": [round(float(v), 3) for v in index.umap[:, 1]],
        "pca_x": [round(float(v), 4) for v in space.pca.coordinates[:, 0]],
        "pca_y": [round(float(v), 4) for v in space.pca.coordinates[:, 1]],
        "pca_variance": pca_variance(space),
        "id": [int(i) for i in index.ids], "name": list(index.names), "label": list(space.display),
        "gen": [gen_order.index(g) for g in gens], "gens": [generation_label(g) for g in gen_order],
        "gen_colours": [GENERATION_COLOURS[i % len(GENERATION_COLOURS)] for i in range(len(gen_order))],
        "type": [type_order.index(t) for t in primary], "types": type_order,
        "type_colours": [TYPE_COLOURS.get(t, UNKNOWN_COLOUR) for t in type_order],
        "type_names": [" / ".join(t) or "unknown" for t in index.types],
        "art": [int(bool(a)) for a in index.has_image],
        "nb": [[r for r, _ in neighbours] for neighbours in all_neighbours],
        "nd": [[_stored_distance(d) for _, d in neighbours] for neighbours in all_neighbours],
        "thumb_base": "gradio_api/file=" + (space.art.folder / "thumb").as_posix() + "/",
        "placeholder": space.art.url(-1),
    }


def map_view(space: Space, start: str | None = None) -> dict[str, Any]:
    """What the map's tab receives when it opens: where to fetch its data (a JSON file beside the artwork, written
    once, so the browser gets it compressed and cached) and which row to start on (-1: none)."""
    path = space.art.folder / "map.json"
    if not path.exists():
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")  # two first visitors at once write apart
        tmp.write_text(json.dumps(map_view_data(space), separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)
    try:
        row = space.index.find(start) if start else -1
    except BadInputError:
        row = -1
    return {"url": "gradio_api/file=" + path.as_posix(), "start": row}
