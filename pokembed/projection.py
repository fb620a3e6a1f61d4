"""The 2-D maps (UMAP, and PCA beside it) and the nearest neighbours, all from one combined distance matrix.

Text and image vectors are unit norm, so the cosine distance between two concatenated vectors ``[t, i]`` (the
article's input to UMAP) is the mean of the text and the image cosine distances. Writing it that way lets a Pokémon
without artwork take part with its text distance alone, instead of with an invented image vector.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pokembed.errors import BadInputError

logger = logging.getLogger(__name__)

_NORM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class UmapParams:
    """UMAP settings; the defaults are the article's. Stored as given and validated when `project_2d` runs."""

    n_neighbors: int = 5
    min_dist: float = 0.0
    n_epochs: int = 5000
    metric: str = "cosine"
    seed: int = 42


def combined_distances(text: np.ndarray, image: np.ndarray, has_image: np.ndarray) -> np.ndarray:
    """Cosine distances between Pokémon over their concatenated text and image vectors, as an (n, n) float32 matrix.

    Both kinds of vectors are unit norm, so the cosine distance of the concatenations ``[t_a, i_a]`` and
    ``[t_b, i_b]`` is ``(d_text + d_image) / 2``: the mean of the text and the image cosine distances. For a pair
    where either Pokémon has no artwork (``has_image`` False), the distance is the text cosine distance alone; no
    image vector is invented, and the rows of `image` where ``has_image`` is False are ignored (zeros, NaN, anything).
    Both kinds of distance lie in [0, 2], so the two cases share one scale. The result is symmetric with a zero
    diagonal.
    """
    text, image, has_image = _checked_vectors(text, image, has_image)
    distance = 1.0 - text @ text.T
    if has_image.any():
        image_distance = 1.0 - image @ image.T
        both = has_image[:, None] & has_image[None, :]
        distance = np.where(both, (distance + image_distance) / 2.0, distance)
    distance = (distance + distance.T) / 2.0  # exactly symmetric whatever the matrix product's rounding
    np.clip(distance, 0.0, 2.0, out=distance)
    np.fill_diagonal(distance, 0.0)
    return distance.astype(np.float32)


def _checked_vectors(text: np.ndarray, image: np.ndarray,
                     has_image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Text and image vectors as float64 unit rows (image rows without artwork zeroed) and the has_image mask."""
    text = _as_matrix(text, "text")
    n = text.shape[0]
    has_image = np.asarray(has_image)
    if has_image.shape != (n,) or has_image.dtype != np.bool_:
        raise BadInputError(
            f"has_image must be a boolean array of length {n} (one flag per text vector), "
            f"got dtype {has_image.dtype} and shape {has_image.shape}; pass one True/False per Pokémon"
        )
    image = np.asarray(image)
    if image.ndim != 2 or image.shape[0] != n:
        raise BadInputError(
            f"image must be a 2-D array with one row per Pokémon ({n}), got shape {image.shape}; "
            "pass any placeholder row (e.g. zeros) where has_image is False"
        )
    image = np.where(has_image[:, None], image, 0.0).astype(np.float64)
    _check_unit_norm(text, "text")
    _check_unit_norm(image[has_image], "image")
    return text, image, has_image


def project_2d(distances: np.ndarray, params: UmapParams = UmapParams(), *, progress: bool = True) -> np.ndarray:
    """UMAP of a precomputed distance matrix to (n, 2) float32 coordinates; deterministic for a given input.

    The seed makes UMAP run single-threaded, so the same input gives bit-identical output. Small inputs adapt
    instead of failing: with n <= n_neighbors, n_neighbors is cut to n - 1 with a warning (as UMAP does); n = 3 uses
    a seeded random initial layout (the spectral one needs four points); n = 2 gives the fixed coordinates
    (0, 0) and (1, 0), n = 1 gives (0, 0) and n = 0 an empty (0, 2) array.
    """
    distances = _check_distances(distances)
    validate_umap_params(params)
    n = distances.shape[0]
    if n <= 2:
        logger.info("UMAP skipped for %d point(s); fixed coordinates used", n)
        return np.array([[0.0, 0.0], [1.0, 0.0]][:n], dtype=np.float32).reshape(n, 2)
    n_neighbors = params.n_neighbors
    if n <= n_neighbors:
        warnings.warn(
            f"n_neighbors={n_neighbors} is not smaller than the number of points ({n}); using n_neighbors={n - 1}",
            UserWarning,
            stacklevel=2,
        )
        n_neighbors = n - 1

    import umap  # heavy: numba compilation on first use

    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        n_components=2,
        metric="precomputed",
        min_dist=float(params.min_dist),
        n_epochs=int(params.n_epochs),
        init="spectral" if n >= 4 else "random",
        random_state=int(params.seed),
        n_jobs=1,
        verbose=False,
        tqdm_kwds={"disable": not progress, "desc": "UMAP", "unit": "epoch"},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="using precomputed metric", category=UserWarning)
        coordinates = reducer.fit_transform(distances)
    coordinates = np.ascontiguousarray(coordinates, dtype=np.float32)
    if not np.isfinite(coordinates).all():
        bad = np.flatnonzero(~np.isfinite(coordinates).all(axis=1)).tolist()
        raise BadInputError(
            f"UMAP left rows {bad[:10]} without coordinates (disconnected from every other point); "
            "check those rows' distances for inf/huge values or raise n_neighbors"
        )
    return coordinates


def nearest_neighbors(distances: np.ndarray, ids: Sequence[int], k: int = 10) -> list[dict]:
    """The k nearest Pokémon of each row by `distances`, self excluded: ``[{"ids": [...], "distances": [...]}]``.

    ``ids`` are Pokémon ids in row order; neighbours are listed nearest first, equal distances by smaller id.
    Distances are compared and returned as float32 values (Python floats that are exactly float32). With fewer
    than k other rows, every other row is listed.
    """
    distances = _check_distances(distances)
    n = distances.shape[0]
    ids_array = np.asarray(list(ids), dtype=np.int64)
    if ids_array.shape != (n,):
        raise BadInputError(f"ids must give one Pokémon id per row ({n}), got {ids_array.size}; pass the table's ids")
    if np.unique(ids_array).size != n:
        raise BadInputError("ids must be unique (they name the neighbours); remove the duplicate Pokémon rows")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise BadInputError(f"k must be an integer >= 1, got {k!r}; ask for at least one neighbour")
    k = min(int(k), n - 1)
    if k <= 0:
        return [{"ids": [], "distances": []} for _ in range(n)]

    id_keys = np.broadcast_to(ids_array, (n, n))
    order = np.lexsort((id_keys, distances), axis=-1)  # by distance, then by id
    self_mask = order == np.arange(n)[:, None]
    order = order[~self_mask].reshape(n, n - 1)[:, :k]
    near = np.take_along_axis(distances, order, axis=1)
    return [
        {"ids": ids_array[row].tolist(), "distances": near[i].tolist()}
        for i, row in enumerate(order)
    ]



PCA_TIE_TOLERANCE = 1e-6
"""Relative tolerance under which two |coordinates| count as equal when the sign convention picks its row."""

PCA_SIGN_CONVENTION = (
    "each axis is oriented so that the Pokémon farthest from the centre along it has a positive coordinate (when "
    "several are equally far, within a relative 1e-6, the first of them in row order)"
)


@dataclass(frozen=True)
class PcaProjection:
    """A 2-D PCA: (n, 2) float32 coordinates and the share of the total variance each of the two axes explains."""

    coordinates: np.ndarray
    explained_variance_ratio: tuple[float, float]


def pca_2d(text: np.ndarray, image: np.ndarray, has_image: np.ndarray) -> PcaProjection:
    """A deterministic 2-D PCA of the concatenated ``[text, image]`` vectors: the same input UMAP maps.

    The axes are fitted on the Pokémon that have both vectors: the projections of their centred ``[t, i]`` rows on
    the two leading right singular vectors, with the explained variance ratios (S_k² / ΣS²) of numpy's SVD of those
    rows. A Pokémon without artwork is placed on the same axes by its text vector, its image part taken as the
    average artwork's (which centring turns into zeros): no image vector of its own is invented and none shifts the
    axes. With fewer than two Pokémon with artwork, the axes are fitted on the text vectors alone.

    Signs are fixed, so the map does not mirror between runs or machines: see `PCA_SIGN_CONVENTION`. (If the two
    leading variances were exactly equal, any rotation of the two axes would be as good; real data does not do that.)
    Fewer than three Pokémon are fine: missing axes are zeros with ratio 0.
    """
    text, image, has_image = _checked_vectors(text, image, has_image)
    n = text.shape[0]
    if n == 0:
        return PcaProjection(np.zeros((0, 2), dtype=np.float32), (0.0, 0.0))
    if int(has_image.sum()) >= 2:
        fit = has_image
        rows = np.hstack([text, image])
        mean = rows[fit].mean(axis=0)
        rows[~fit, text.shape[1]:] = mean[text.shape[1]:]  # the average artwork: zeros once centred
    else:
        fit = np.ones(n, dtype=bool)
        rows = text.copy()
        mean = rows.mean(axis=0)
    centred = rows - mean
    fitted = centred[fit]
    gram = fitted @ fitted.T  # (m, m): the side of the SVD with fewer rows than the 1,536 columns
    gram = (gram + gram.T) / 2.0
    total = float(np.trace(gram))
    values, vectors = _leading_eigenpairs(gram, min(2, int(fit.sum())))
    coordinates = np.zeros((n, 2), dtype=np.float64)
    ratios = [0.0, 0.0]
    for axis, value in enumerate(values):
        if value <= total * 1e-12 or total <= 0.0:
            continue
        direction = fitted.T @ vectors[:, axis] / np.sqrt(value)  # unit right singular vector
        coordinates[:, axis] = _oriented(centred @ direction)
        ratios[axis] = float(value) / total
    return PcaProjection(np.ascontiguousarray(coordinates, dtype=np.float32), (ratios[0], ratios[1]))


PCA_DENSE_LIMIT = 64
"""Up to this many rows the PCA takes every eigenpair (LAPACK); above it, only the two it needs (ARPACK's Lanczos),
which for 1,351 Pokémon is about 1 s instead of 5 to 15 s on two CPU cores."""


def _leading_eigenpairs(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues of a symmetric matrix, largest first, with their unit eigenvectors as columns."""
    n = matrix.shape[0]
    if n <= PCA_DENSE_LIMIT:
        values, vectors = np.linalg.eigh(matrix)  # ascending
        return values[::-1][:k], vectors[:, ::-1][:, :k]
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    # a fixed start vector makes the iteration repeatable (ARPACK would draw a random one); tol=0: machine precision
    start = np.random.default_rng(0).standard_normal(n)
    try:
        values, vectors = eigsh(matrix, k=k, which="LA", v0=start, tol=0)
    except ArpackNoConvergence:  # nearly equal leading eigenvalues: slower, but exact
        logger.info("Lanczos did not converge for the PCA; taking every eigenpair instead")
        values, vectors = np.linalg.eigh(matrix)
        return values[::-1][:k], vectors[:, ::-1][:, :k]
    order = np.argsort(-values, kind="stable")
    return values[order], vectors[:, order]


def _oriented(axis: np.ndarray) -> np.ndarray:
    """`axis` or `-axis`, whichever gives the farthest row a positive coordinate (see `PCA_SIGN_CONVENTION`)."""
    magnitude = np.abs(axis)
    peak = float(magnitude.max()) if axis.size else 0.0
    if peak == 0.0:
        return axis
    first = int(np.flatnonzero(magnitude >= peak * (1.0 - PCA_TIE_TOLERANCE))[0])
    return axis if axis[first] > 0 else -axis

def _as_matrix(vectors: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2 or array.shape[1] == 0:
        raise BadInputError(f"{name} vectors must be a 2-D array (n, dim), got shape {array.shape}; stack one row per Pokémon")
    if not np.issubdtype(array.dtype, np.floating):
        raise BadInputError(f"{name} vectors must be floats, got {array.dtype}; pass the encoder's float32 vectors")
    return array.astype(np.float64)


def _check_unit_norm(vectors: np.ndarray, name: str) -> None:
    if vectors.size == 0:
        return
    norms = np.linalg.norm(vectors, axis=1)
    bad = np.flatnonzero(~(np.abs(norms - 1.0) <= _NORM_TOLERANCE))
    if bad.size:
        raise BadInputError(
            f"{name} vectors must be unit norm, but row {int(bad[0])} has norm {norms[bad[0]]:.4f}; "
            "normalise the vectors (the encoders do) before computing distances"
        )


def _check_distances(distances: np.ndarray) -> np.ndarray:
    array = np.asarray(distances)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise BadInputError(
            f"distances must be a square (n, n) matrix, got shape {array.shape}; build it with combined_distances"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise BadInputError(f"distances must be floats, got {array.dtype}; build them with combined_distances")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise BadInputError("distances contain NaN or inf; check the vectors for NaN before combined_distances")
    if (array < 0).any():
        raise BadInputError("distances must be non-negative; build them with combined_distances")
    return array


def validate_umap_params(params: UmapParams) -> None:
    """Check the UMAP parameters, naming the one that is wrong (UMAP's own style, at fit time)."""
    n_neighbors, min_dist, n_epochs, seed = params.n_neighbors, params.min_dist, params.n_epochs, params.seed
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 2:
        raise BadInputError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}; the article uses 5")
    if (
        isinstance(min_dist, bool)
        or not isinstance(min_dist, numbers.Real)
        or not math.isfinite(min_dist)
        or not 0.0 <= min_dist <= 1.0
    ):
        raise BadInputError(
            f"min_dist must be between 0.0 and 1.0 (UMAP's spread), got {min_dist!r}; the article uses 0.0"
        )
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 1:
        raise BadInputError(f"`n_epochs` must be an integer >= 1, got {n_epochs!r}; the article uses 5000")
    if params.metric != "cosine":
        raise BadInputError(
            f"metric must be 'cosine' (the distances are cosine distances of the concatenated vectors), "
            f"got {params.metric!r}; leave metric at its default"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise BadInputError(f"`seed` must be an integer between 0 and 2**32 - 1, got {seed!r}; e.g. 42")
