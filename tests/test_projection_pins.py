"""pokembed.projection pinned where tests/test_projection.py checks only properties (added for the mutation report,
tests/README.md): the map is exactly UMAP with the documented settings, the PCA above the dense limit and its
fallback equal numpy's SVD, distances stay in [0, 2], the boundaries of every parameter, and each refusal's whole
message."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.projection import (
    PCA_DENSE_LIMIT,
    UmapParams,
    combined_distances,
    nearest_neighbors,
    pca_2d,
    project_2d,
    validate_umap_params,
)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def clustered(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, dim))
    return unit(centres[np.arange(n) % 4] + 0.3 * rng.standard_normal((n, dim)))


def umap_by_hand(distances: np.ndarray, n_neighbors: int, init: str, params: UmapParams) -> np.ndarray:
    import umap

    reducer = umap.UMAP(n_neighbors=n_neighbors, n_components=2, metric="precomputed", min_dist=params.min_dist,
                        n_epochs=params.n_epochs, init=init, random_state=params.seed, n_jobs=1)
    return reducer.fit_transform(distances)


@pytest.mark.parametrize("n, n_neighbors, init", [(4, 3, "spectral"), (3, 2, "random"), (12, 5, "spectral")])
def test_the_map_is_umap_with_the_documented_settings(n, n_neighbors, init):
    """n_neighbors cut to n - 1 when n <= n_neighbors, spectral from four points, the seed, the epochs, min_dist."""
    import warnings

    text = clustered(n)
    distances = combined_distances(text, np.zeros_like(text), np.zeros(n, dtype=bool))
    params = UmapParams(n_neighbors=5, min_dist=0.2, n_epochs=30, seed=3)  # not UMAP's defaults
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = project_2d(distances, params, progress=False)
        expected = umap_by_hand(distances, n_neighbors, init, params)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_the_map_shows_its_progress_only_when_asked_and_no_umap_warnings(capfd):
    import warnings

    text = clustered(12)
    distances = combined_distances(text, np.zeros_like(text), np.zeros(12, dtype=bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # UMAP's "using precomputed metric" notice is ours to silence
        project_2d(distances, UmapParams(n_epochs=20), progress=False)
    assert capfd.readouterr() == ("", "")  # not verbose either
    project_2d(distances, UmapParams(n_epochs=20))
    err = capfd.readouterr().err
    assert "\rUMAP: 100%" in err and "20/20" in err  # (UMAP's bar format shows no unit)


def test_ten_neighbours_by_default():
    assert [len(row["ids"]) for row in nearest_neighbors(np.zeros((12, 12)), range(12))] == [10] * 12


def test_umap_is_skipped_below_three_points_and_says_so(caplog):
    caplog.set_level("INFO", logger="pokembed.projection")
    assert project_2d(np.zeros((1, 1), np.float32), progress=False).tolist() == [[0.0, 0.0]]
    assert "UMAP skipped for 1 point(s); fixed coordinates used" in caplog.messages


def test_distances_stay_in_zero_to_two_even_for_twins_and_opposites():
    rng = np.random.default_rng(1)
    # a unit vector whose float64 dot product with itself rounds above 1, and one that rounds below -1 with its negation
    candidates = unit(rng.standard_normal((2000, 16)))
    twin = next(v for v in candidates if float(v @ v) > 1.0)
    text = np.stack([twin, twin, -twin, candidates[0]])
    distances = combined_distances(text, text, np.ones(4, dtype=bool))
    assert distances.dtype == np.float32
    assert distances.min() == 0.0 and distances.max() == 2.0
    assert distances[0, 1] == 0.0 and distances[0, 2] == 2.0


@pytest.mark.parametrize("n", [PCA_DENSE_LIMIT + 16])
def test_pca_above_the_dense_limit_and_its_fallback_equal_numpys_svd(n, monkeypatch, caplog):
    """Lanczos (more than PCA_DENSE_LIMIT rows), and every eigenpair when Lanczos does not converge."""
    import scipy.sparse.linalg

    text, image = clustered(n, seed=2), clustered(n, seed=5)
    rows = np.hstack([text, image])
    centred = rows - rows.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    for axis in range(2):  # the documented sign: the farthest Pokémon along each axis is positive
        expected[:, axis] *= np.sign(expected[np.argmax(np.abs(expected[:, axis])), axis])
    ratios = (s[:2] ** 2 / (s ** 2).sum()).tolist()
    got = pca_2d(text, image, np.ones(n, dtype=bool))
    np.testing.assert_allclose(got.coordinates, expected, atol=1e-5)
    np.testing.assert_allclose(got.explained_variance_ratio, ratios, atol=1e-9)

    def no_convergence(*args, **kwargs):
        raise scipy.sparse.linalg.ArpackNoConvergence("no convergence", np.zeros(0), np.zeros((n, 0)))

    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", no_convergence)
    caplog.set_level("INFO", logger="pokembed.projection")
    fallback = pca_2d(text, image, np.ones(n, dtype=bool))
    assert "Lanczos did not converge for the PCA; taking every eigenpair instead" in caplog.messages
    np.testing.assert_allclose(fallback.coordinates, expected, atol=1e-5)
    np.testing.assert_allclose(fallback.explained_variance_ratio, ratios, atol=1e-9)


def test_pca_of_a_tight_cluster_is_not_flattened():
    """A total variance far below 1 is still a variance: the axes are kept."""
    base = unit(np.ones((1, 8)))
    text = unit(base + 1e-3 * np.random.default_rng(4).standard_normal((5, 8)))
    got = pca_2d(text, text, np.ones(5, dtype=bool))
    centred = np.hstack([text, text]) - np.hstack([text, text]).mean(axis=0)
    _, s, _ = np.linalg.svd(centred)
    assert (s ** 2).sum() < 1e-3
    np.testing.assert_allclose(np.abs(got.coordinates), np.abs(centred @ np.linalg.svd(centred)[2][:2].T), atol=1e-6)


def test_pca_of_no_pokemon_is_an_empty_float32_map():
    empty = pca_2d(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0, dtype=bool))
    assert empty.coordinates.shape == (0, 2) and empty.coordinates.dtype == np.float32
    assert empty.explained_variance_ratio == (0.0, 0.0)


def test_one_dimensional_vectors_are_vectors():
    text = np.array([[1.0], [-1.0], [1.0]])
    distances = combined_distances(text, text, np.ones(3, dtype=bool))
    assert distances.tolist() == [[0.0, 2.0, 0.0], [2.0, 0.0, 2.0], [0.0, 2.0, 0.0]]


def test_nearest_neighbors_k_one_and_float32_distances_from_float64_input():
    distances = np.array([[0.0, 0.1, 0.2], [0.1, 0.0, 0.3], [0.2, 0.3, 0.0]], dtype=np.float64)
    result = nearest_neighbors(distances, [7, 8, 9], k=1)
    assert [row["ids"] for row in result] == [[8], [7], [7]]
    assert result[0]["distances"] == [float(np.float32(0.1))]  # float32 values, not float64's 0.1


@pytest.mark.parametrize("params", [UmapParams(n_neighbors=2), UmapParams(min_dist=0.0), UmapParams(min_dist=1.0),
                                    UmapParams(n_epochs=1), UmapParams(seed=0), UmapParams(seed=2**32 - 1)])
def test_parameter_boundaries_are_accepted(params):
    validate_umap_params(params)


BAD_PARAMS = [
    (UmapParams(n_neighbors=True), "n_neighbors must be an integer >= 2, got True; the article uses 5"),
    (UmapParams(n_neighbors=1), "n_neighbors must be an integer >= 2, got 1; the article uses 5"),
    (UmapParams(min_dist=True), "min_dist must be between 0.0 and 1.0 (UMAP's spread), got True; the article uses 0.0"),
    (UmapParams(min_dist="0.1"), "min_dist must be between 0.0 and 1.0 (UMAP's spread), got '0.1'; the article uses 0.0"),
    (UmapParams(min_dist=float("nan")), "min_dist must be between 0.0 and 1.0 (UMAP's spread), got nan; the article uses 0.0"),
    (UmapParams(n_epochs=True), "`n_epochs` must be an integer >= 1, got True; the article uses 5000"),
    (UmapParams(n_epochs=2.0), "`n_epochs` must be an integer >= 1, got 2.0; the article uses 5000"),
    (UmapParams(metric="euclidean"), "metric must be 'cosine' (the distances are cosine distances of the concatenated "
                                     "vectors), got 'euclidean'; leave metric at its default"),
    (UmapParams(seed=True), "`seed` must be an integer between 0 and 2**32 - 1, got True; e.g. 42"),
    (UmapParams(seed=2**32), "`seed` must be an integer between 0 and 2**32 - 1, got 4294967296; e.g. 42"),
    (UmapParams(seed=1.0), "`seed` must be an integer between 0 and 2**32 - 1, got 1.0; e.g. 42"),
]


@pytest.mark.parametrize("params, message", BAD_PARAMS)
def test_each_bad_parameter_gets_its_whole_message(params, message):
    with pytest.raises(BadInputError, match=f"^{re.escape(message)}$"):
        validate_umap_params(params)


def refused(call, message: str) -> None:
    with pytest.raises(BadInputError, match=f"^{re.escape(message)}$"):
        call()


def test_each_bad_input_gets_its_whole_message():
    good = unit(np.ones((2, 3)))
    yes = np.ones(2, dtype=bool)
    refused(lambda: combined_distances(np.ones(3), good, yes),
            "text vectors must be a 2-D array (n, dim), got shape (3,); stack one row per Pokémon")
    refused(lambda: combined_distances(np.ones((2, 3), dtype=int), good, yes),
            "text vectors must be floats, got int64; pass the encoder's float32 vectors")
    refused(lambda: combined_distances(good, good, np.ones(2)),
            "has_image must be a boolean array of length 2 (one flag per text vector), got dtype float64 and shape "
            "(2,); pass one True/False per Pokémon")
    refused(lambda: combined_distances(good, good[:1], yes),
            "image must be a 2-D array with one row per Pokémon (2), got shape (1, 3); pass any placeholder row "
            "(e.g. zeros) where has_image is False")
    refused(lambda: combined_distances(np.ones((1, 3)), np.ones((1, 3)), np.zeros(1, dtype=bool)),
            "text vectors must be unit norm, but row 0 has norm 1.7321; normalise the vectors (the encoders do) "
            "before computing distances")
    refused(lambda: combined_distances(np.full((1, 1), 2.0), np.ones((1, 1)), np.ones(1, dtype=bool)),
            "text vectors must be unit norm, but row 0 has norm 2.0000; normalise the vectors (the encoders do) "
            "before computing distances")
    twice = np.vstack([good[:1], 2 * good[:1], 3 * good[:1]])
    refused(lambda: combined_distances(unit(twice), twice, np.ones(3, dtype=bool)),
            "image vectors must be unit norm, but row 1 has norm 2.0000; normalise the vectors (the encoders do) "
            "before computing distances")
    refused(lambda: project_2d(np.zeros((3, 3), dtype=int)),
            "distances must be floats, got int64; build them with combined_distances")
    refused(lambda: project_2d(np.full((3, 3), np.inf)),
            "distances contain NaN or inf; check the vectors for NaN before combined_distances")
    refused(lambda: project_2d(-np.ones((3, 3))), "distances must be non-negative; build them with combined_distances")
    refused(lambda: nearest_neighbors(np.zeros((2, 2)), [1, 1]),
            "ids must be unique (they name the neighbours); remove the duplicate Pokémon rows")
    refused(lambda: nearest_neighbors(np.zeros((2, 2)), [1, 2], k=True),
            "k must be an integer >= 1, got True; ask for at least one neighbour")
    refused(lambda: nearest_neighbors(np.zeros((2, 2)), [1, 2], k=1.0),
            "k must be an integer >= 1, got 1.0; ask for at least one neighbour")
