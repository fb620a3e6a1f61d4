"""Group centroids of a `PokedexIndex`: a type's or a generation's members' unit vectors averaged and scaled to unit
length, and the names of the groups a dataset holds (a typed name resolved, or a BadInputError saying what to type).
The terms of embedding arithmetic (`pokembed.explore.arithmetic`) besides single Pokémon.
"""

from __future__ import annotations

import difflib

import numpy as np

from pokembed.errors import BadInputError
from pokembed.explore.index import PokedexIndex, generation_sort_key, normalize_name, unit_rows

EMBEDDING_SPACES = ("text", "image")
CANCELLED = 1e-6  # a sum of unit vectors shorter than this has no direction


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
    if not np.isfinite(norm) or norm < CANCELLED:
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
    name = resolve_type(index, type_name)
    members = np.array([name in types for types in index.types], dtype=bool)
    return _group_centroid(index, members, space, f"type {name}")


def generation_centroid(index: PokedexIndex, generation: str, space: str = "text") -> np.ndarray:
    """Unit mean of the `space` vectors of every Pokémon of `generation` (image: with artwork)."""
    name = resolve_generation(index, generation)
    members = np.array([g == name for g in index.generations], dtype=bool)
    return _group_centroid(index, members, space, name)


def check_space(space: str) -> None:
    """BadInputError unless `space` is "text" or "image"."""
    if space not in EMBEDDING_SPACES:
        raise BadInputError(f"unknown space {space!r}; use one of {', '.join(EMBEDDING_SPACES)}")


def _group_centroid(index: PokedexIndex, members: np.ndarray, space: str, label: str) -> np.ndarray:
    check_space(space)
    if space == "image":
        members = members & index.has_image
        if not members.any():
            raise BadInputError(f"no Pokémon of {label} has artwork, so it has no image centroid; use the text space")
        return unit_centroid(index.image, members)
    return unit_centroid(index.text, members)


def resolve_type(index: PokedexIndex, name: str) -> str:
    """The dataset's spelling of a type name typed in any case or spacing."""
    known = type_names(index)
    key = normalize_name(name or "")
    for type_name in known:
        if normalize_name(type_name) == key:
            return type_name
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(known)}"
    raise BadInputError(f"no type {name.strip()!r} in this dataset; {hint}")


def generation_number(text: str) -> int | None:
    """The number in "generation-iv", "gen:4", "IV"..., or None."""
    key = normalize_name(text).removeprefix("generation").removeprefix("gen")
    if not key:
        return None
    number = generation_sort_key(f"generation-{key}")[0]
    return number if number < 10**5 else None


def resolve_generation(index: PokedexIndex, name: str) -> str:
    """The dataset's name of a generation given by name or number (gen:1, gen:iv)."""
    known = generation_names(index)
    wanted = generation_number(name or "")
    for generation in known:
        if generation == name or (wanted is not None and generation_sort_key(generation)[0] == wanted):
            return generation
    raise BadInputError(f"no generation {str(name).strip()!r} in this dataset; use one of {', '.join(known)} "
                        "(or gen:1, gen:iv)")
