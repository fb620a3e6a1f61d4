"""Combined distances, the UMAP map and the nearest neighbours."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pokembed.errors import BadInputError
from pokembed.projection import UmapParams, combined_distances, nearest_neighbors, pca_2d, project_2d

FAST = UmapParams(n_epochs=200)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n_clusters: int = 5, per_cluster: int = 20, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit text and image vectors around shared cluster centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim)) * 3
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    text = unit(centres[labels] + rng.normal(size=(labels.size, dim)))
    image = unit(centres[labels][:, ::-1] + rng.normal(size=(labels.size, dim)))
    return text, image


def test_defaults_are_the_articles() -> None:
    assert UmapParams() == UmapParams(n_neighbors=5, min_dist=0.0, n_epochs=5000, metric="cosine", seed=42)


def test_combined_distance_is_the_cosine_distance_of_the_concatenation() -> None:
    text, image = clustered(2, 4, dim=8)
    has_image = np.ones(len(text), dtype=bool)
    distances = combined_distances(text, image, has_image)
    joined = np.hstack([text, image]).astype(np.float64)
    joined /= np.linalg.norm(joined, axis=1, keepdims=True)
    expected = 1.0 - joined @ joined.T
    np.fill_diagonal(expected, 0.0)
    assert distances.dtype == np.float32
    np.testing.assert_allclose(distances, expected, atol=1e-6)


def test_pairs_without_artwork_use_the_text_distance_alone() -> None:
    text, image = clustered(2, 3, dim=8)
    has_image = np.array([True, False, True, True, False, True])
    image[~has_image] = np.nan  # placeholder rows are ignored, whatever they hold
    distances = combined_distances(text, image, has_image)
    text_only = 1.0 - text.astype(np.float64) @ text.T.astype(np.float64)
    both = 1.0 - image[[0, 2]].astype(np.float64) @ image[[0, 2]].T.astype(np.float64)
    assert distances[0, 1] == pytest.approx(text_only[0, 1], abs=1e-6)
    assert distances[1, 4] == pytest.approx(text_only[1, 4], abs=1e-6)
    assert distances[0, 2] == pytest.approx((text_only[0, 2] + both[0, 1]) / 2, abs=1e-6)
    assert np.isfinite(distances).all()
    assert (distances == distances.T).all()
    assert (np.diag(distances) == 0).all()


def test_combined_distances_rejects_bad_vectors() -> None:
    text, image = clustered(1, 3, dim=4)
    with pytest.raises(BadInputError, match="text vectors must be unit norm"):
        combined_distances(text * 2, image, np.ones(3, dtype=bool))
    with pytest.raises(BadInputError, match="has_image must be a boolean array of length 3"):
        combined_distances(text, image, np.ones(2, dtype=bool))
    with pytest.raises(BadInputError, match="image must be a 2-D array with one row per Pokémon"):
        combined_distances(text, image[:2], np.ones(3, dtype=bool))


def test_projection_keeps_neighbourhoods() -> None:
    from sklearn.manifold import trustworthiness

    text, image = clustered()
    has_image = np.ones(len(text), dtype=bool)
    has_image[::7] = False
    distances = combined_distances(text, image, has_image)
    coordinates = project_2d(distances, FAST, progress=False)
    assert coordinates.shape == (len(text), 2)
    assert coordinates.dtype == np.float32
    assert np.isfinite(coordinates).all()
    assert trustworthiness(distances, coordinates, n_neighbors=5, metric="precomputed") >= 0.9


def test_projection_is_deterministic() -> None:
    text, image = clustered(3, 10)
    distances = combined_distances(text, image, np.ones(len(text), dtype=bool))
    first = project_2d(distances, FAST, progress=False)
    second = project_2d(distances.copy(), FAST, progress=False)
    assert first.tobytes() == second.tobytes()
    other_seed = project_2d(distances, UmapParams(n_epochs=200, seed=7), progress=False)
    assert other_seed.tobytes() != first.tobytes()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_tiny_inputs_get_coordinates(n: int) -> None:
    text, image = clustered(1, n, dim=8) if n else (np.zeros((0, 8), np.float32), np.zeros((0, 8), np.float32))
    distances = combined_distances(text, image, np.ones(n, dtype=bool))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coordinates = project_2d(distances, FAST, progress=False)
    assert coordinates.shape == (n, 2)
    assert coordinates.dtype == np.float32
    assert np.isfinite(coordinates).all()
    cut = [w for w in caught if "n_neighbors" in str(w.message)]
    assert bool(cut) == (3 <= n <= 5)
    if cut:
        assert f"using n_neighbors={n - 1}" in str(cut[0].message)
    if n == 2:
        assert coordinates.tolist() == [[0.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (UmapParams(n_neighbors=1), "n_neighbors must be an integer >= 2, got 1"),
        (UmapParams(n_neighbors=2.5), "n_neighbors must be an integer"),
        (UmapParams(min_dist=-0.1), "min_dist must be between 0.0 and 1.0"),
        (UmapParams(min_dist=1.5), "min_dist must be between 0.0 and 1.0"),
        (UmapParams(n_epochs=0), "`n_epochs` must be an integer >= 1, got 0"),
        (UmapParams(metric="euclidean"), "metric must be 'cosine'"),
        (UmapParams(seed=-1), "`seed` must be an integer between 0 and 2\\*\\*32 - 1"),
    ],
)
def test_parameters_are_validated_at_fit_time(params: UmapParams, message: str) -> None:
    distances = np.zeros((4, 4), dtype=np.float32)
    with pytest.raises(BadInputError, match=message):
        project_2d(distances, params, progress=False)


def test_project_2d_rejects_bad_matrices() -> None:
    with pytest.raises(BadInputError, match="square"):
        project_2d(np.zeros((3, 4), dtype=np.float32), FAST, progress=False)
    with pytest.raises(BadInputError, match="NaN or inf"):
        project_2d(np.full((3, 3), np.nan, dtype=np.float32), FAST, progress=False)


def test_nearest_neighbors_excludes_self_and_breaks_ties_by_id() -> None:
    distances = np.array(
        [
            [0.0, 0.2, 0.1, 0.2],
            [0.2, 0.0, 0.3, 0.3],
            [0.1, 0.3, 0.0, 0.5],
            [0.2, 0.3, 0.5, 0.0],
        ],
        dtype=np.float32,
    )
    ids = [25, 10001, 4, 7]
    result = nearest_neighbors(distances, ids, k=2)
    assert result[0] == {"ids": [4, 7], "distances": [pytest.approx(0.1), pytest.approx(0.2)]}  # 7 < 10001 at 0.2
    assert result[1]["ids"] == [25, 4]  # 0.2, then the tie at 0.3 goes to id 4 before 7
    assert result[3]["ids"] == [25, 10001]
    for row in result:
        assert all(isinstance(i, int) for i in row["ids"])
        assert all(np.float32(d) == d for d in row["distances"])
    assert len(nearest_neighbors(distances, ids, k=10)[0]["ids"]) == 3  # capped at n - 1


def test_nearest_neighbors_self_excluded_even_among_zero_distances() -> None:
    distances = np.zeros((3, 3), dtype=np.float32)
    result = nearest_neighbors(distances, [3, 1, 2], k=5)
    assert [row["ids"] for row in result] == [[1, 2], [2, 3], [1, 3]]
    assert nearest_neighbors(np.zeros((1, 1), np.float32), [1]) == [{"ids": [], "distances": []}]


def test_nearest_neighbors_rejects_bad_input() -> None:
    distances = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(BadInputError, match="ids must be unique"):
        nearest_neighbors(distances, [1, 1])
    with pytest.raises(BadInputError, match="one Pokémon id per row"):
        nearest_neighbors(distances, [1])
    with pytest.raises(BadInputError, match="k must be an integer >= 1"):
        nearest_neighbors(distances, [1, 2], k=0)


def svd_reference(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA by numpy's SVD: the centred rows projected on the two leading right singular vectors, and S**2 / sum."""
    centred = rows.astype(np.float64) - rows.astype(np.float64).mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, singular[:2] ** 2 / (singular**2).sum()


def oriented_like_pokembed(coordinates: np.ndarray) -> np.ndarray:
    """The documented sign convention, applied independently: the row farthest out on each axis is positive."""
    out = coordinates.copy()
    for axis in range(out.shape[1]):
        far = int(np.argmax(np.abs(out[:, axis])))
        if out[far, axis] < 0:
            out[:, axis] *= -1
    return out


@pytest.mark.parametrize("per_cluster", [12, 60])  # 48 rows: all eigenpairs (LAPACK); 240: the two leading (ARPACK)
def test_pca_matches_numpys_svd_of_the_concatenated_vectors(per_cluster: int) -> None:
    text, image = clustered(4, per_cluster, dim=16, seed=3)
    result = pca_2d(text, image, np.ones(len(text), dtype=bool))
    expected, ratios = svd_reference(np.hstack([text, image]))
    assert result.coordinates.dtype == np.float32 and result.coordinates.shape == (len(text), 2)
    np.testing.assert_allclose(result.explained_variance_ratio, ratios, rtol=1e-6)  # float32 unit norms: ~1e-7
    np.testing.assert_allclose(result.coordinates, oriented_like_pokembed(expected), atol=1e-5)
    assert result.explained_variance_ratio[0] >= result.explained_variance_ratio[1] > 0


@pytest.mark.parametrize("per_cluster", [10, 40])
def test_pokemon_without_artwork_are_placed_by_text_on_axes_fitted_on_the_others(per_cluster: int) -> None:
    text, image = clustered(3, per_cluster, dim=12, seed=5)
    has_image = np.ones(len(text), dtype=bool)
    has_image[::4] = False
    image[~has_image] = np.nan  # never read
    result = pca_2d(text, image, has_image)
    # the reference: numpy's SVD of the complete rows; the others projected with their image part at the mean
    complete = np.hstack([text[has_image], image[has_image]]).astype(np.float64)
    mean = complete.mean(axis=0)
    _, singular, vt = np.linalg.svd(complete - mean, full_matrices=False)
    np.testing.assert_allclose(result.explained_variance_ratio, singular[:2] ** 2 / (singular**2).sum(), rtol=1e-6)
    dim = text.shape[1]
    placed = np.hstack([text, np.where(has_image[:, None], np.nan_to_num(image), mean[dim:])])
    expected = oriented_like_pokembed((placed - mean) @ vt[:2].T)
    np.testing.assert_allclose(result.coordinates, expected, atol=1e-5)
    assert sum(result.explained_variance_ratio) <= 1.0


def test_pca_without_any_artwork_is_the_pca_of_the_text() -> None:
    text, image = clustered(3, 10, dim=12, seed=5)
    result = pca_2d(text, np.full_like(image, np.nan), np.zeros(len(text), dtype=bool))
    expected, ratios = svd_reference(text)
    np.testing.assert_allclose(result.explained_variance_ratio, ratios, rtol=1e-6)
    np.testing.assert_allclose(result.coordinates, oriented_like_pokembed(expected), atol=1e-5)


@pytest.mark.parametrize("per_cluster", [8, 30])
def test_pca_sign_is_fixed_whatever_the_row_order_and_repeatable(per_cluster: int) -> None:
    text, image = clustered(5, per_cluster, dim=16, seed=11)
    has_image = np.ones(len(text), dtype=bool)
    has_image[::5] = False
    first = pca_2d(text, image, has_image)
    assert first.coordinates.tobytes() == pca_2d(text.copy(), image.copy(), has_image.copy()).coordinates.tobytes()
    for seed in range(4):  # the eigen solver's own sign would follow the row order; the convention does not
        order = np.random.default_rng(seed).permutation(len(text))
        permuted = pca_2d(text[order], image[order], has_image[order])
        np.testing.assert_allclose(permuted.coordinates, first.coordinates[order], atol=1e-5)
        np.testing.assert_allclose(permuted.explained_variance_ratio, first.explained_variance_ratio, rtol=1e-9)
    for axis in range(2):
        far = int(np.argmax(np.abs(first.coordinates[:, axis])))
        assert first.coordinates[far, axis] > 0


def test_pca_sign_ties_go_to_the_first_row() -> None:
    # two points: one axis, both equally far from the centre; the first row is the positive one
    text = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    result = pca_2d(text, text, np.ones(2, dtype=bool))
    assert result.coordinates[0, 0] > 0 > result.coordinates[1, 0]
    assert result.coordinates[0, 0] == pytest.approx(1.0, abs=1e-6)  # |[t1,t1] - [t2,t2]| = 2, split in half
    assert result.coordinates[:, 1].tolist() == [0.0, 0.0]
    assert result.explained_variance_ratio == (pytest.approx(1.0), 0.0)


@pytest.mark.parametrize("n", [0, 1])
def test_pca_of_almost_nothing(n: int) -> None:
    text = np.eye(4, dtype=np.float32)[:n]
    result = pca_2d(text, text, np.ones(n, dtype=bool))
    assert result.coordinates.shape == (n, 2) and not result.coordinates.any()
    assert result.explained_variance_ratio == (0.0, 0.0)


def test_pca_rejects_bad_vectors_like_the_map_does() -> None:
    text, image = clustered(1, 3, dim=4)
    with pytest.raises(BadInputError, match="text vectors must be unit norm"):
        pca_2d(text * 2, image, np.ones(3, dtype=bool))


def test_pca_bytes_do_not_depend_on_the_blas_thread_count(tmp_path) -> None:
    """A stand-in for another machine: one and two BLAS threads sum in different orders, yet the float32
    coordinates and the ratios come out identical, on both the LAPACK (50 rows) and the Lanczos (600 rows) path."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "pca.py"
    script.write_text(
        "import sys, numpy as np\n"
        "from pokembed.projection import pca_2d\n"
        "rng = np.random.default_rng(1)\n"
        "n, d = int(sys.argv[1]), 64\n"
        "c = rng.normal(size=(8, d)) * 2; lab = rng.integers(0, 8, n)\n"
        "t = c[lab] + rng.normal(size=(n, d)); t /= np.linalg.norm(t, axis=1, keepdims=True)\n"
        "i = c[lab][:, ::-1] + rng.normal(size=(n, d)); i /= np.linalg.norm(i, axis=1, keepdims=True)\n"
        "h = np.ones(n, bool); h[::5] = False\n"
        "r = pca_2d(t.astype(np.float32), i.astype(np.float32), h)\n"
        "print(r.coordinates.tobytes().hex(), repr(r.explained_variance_ratio))\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    for n in (50, 600):
        outputs = set()
        for threads in ("1", "2"):
            env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
                   "MKL_NUM_THREADS": threads, "PYTHONPATH": root}
            run = subprocess.run([sys.executable, str(script), str(n)], env=env, capture_output=True, text=True,
                                 check=True, timeout=120)
            outputs.add(run.stdout)
        assert len(outputs) == 1, n
