#!/usr/bin/env python
"""UMAP time: pokembed.projection.combined_distances + project_2d with the article's parameters (and pca_2d beside).

Input: 1,351 seeded random unit text vectors and 1,351 image vectors (768 each, i.e. 1,351 x 1,536 concatenated), or
the real vectors of a built dataset folder (--dataset DIR, rows without artwork stay without). Parameters: the
article's n_neighbors=5, min_dist=0.0, n_epochs=5000, cosine, seed 42 (pokembed's UmapParams defaults).

UMAP runs on the CPU whatever --device says (umap-learn has no GPU path; the flag is accepted for uniformity). The
first project_2d call in a process includes numba's just-in-time compilation of UMAP's kernels, which a build pays
once too; --repeats 2 shows the warm time beside it.

  python benchmarks/umap_time.py                        # all 1,351 rows (UMAP is CPU work: no smaller default)
  python benchmarks/umap_time.py --dataset build/out    # a built dataset's real vectors
  python benchmarks/umap_time.py --limit 50 --epochs 200   # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CORPUS = 1351
DIMENSION = 768


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="umap_time.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="accepted for uniformity; UMAP runs on the CPU")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--all", action="store_true", help=f"every row (the default: {CORPUS:,} random, or the dataset's)")
    size.add_argument("--limit", type=int, default=None, help="only the first N rows (smoke runs)")
    parser.add_argument("--dataset", type=Path, default=None, help="a built pokembed dataset folder: use its vectors")
    parser.add_argument("--rows", type=int, default=CORPUS, help=f"random rows (default {CORPUS:,})")
    parser.add_argument("--epochs", type=int, default=None, help="UMAP n_epochs (default 5000, the article's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random vectors (UMAP's own seed stays 42)")
    parser.add_argument("--repeats", type=int, default=1, help="UMAP runs; the first includes numba compilation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def random_vectors(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(text, image, has_image, description): seeded Gaussian vectors scaled to unit norm, every row with an image."""
    rng = np.random.default_rng(seed)
    text = rng.standard_normal((rows, DIMENSION))
    image = rng.standard_normal((rows, DIMENSION))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    return (text.astype(np.float32), image.astype(np.float32), np.ones(rows, dtype=bool),
            f"{rows:,} x {2 * DIMENSION:,} random unit vectors (seed {seed}), every row with an image")


def dataset_vectors(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(text, image, has_image, description) from a built dataset; rows without artwork keep has_image False."""
    from pokembed.dataset.table import read_table

    table = read_table(folder)
    text = np.asarray(table.column("text_embedding").to_pylist(), dtype=np.float32)
    images = table.column("image_embedding").to_pylist()
    has_image = np.array([v is not None for v in images], dtype=bool)
    width = next((len(v) for v in images if v is not None), DIMENSION)
    image = np.zeros((len(images), width), dtype=np.float32)
    for row, vector in enumerate(images):
        if vector is not None:
            image[row] = vector
    return text, image, has_image, (f"{len(text):,} rows of {folder} ({text.shape[1]} + {width} dimensions, "
                                    f"{int(has_image.sum()):,} with an image)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from pokembed.projection import UmapParams, combined_distances, pca_2d, project_2d

    if args.dataset is not None:
        text, image, has_image, what = dataset_vectors(args.dataset)
    else:
        text, image, has_image, what = random_vectors(args.rows, args.seed)
    if args.limit:
        text, image, has_image = text[: args.limit], image[: args.limit], has_image[: args.limit]
        what += f"; first {len(text):,} rows only (--limit)"
    params = UmapParams() if args.epochs is None else UmapParams(n_epochs=args.epochs)
    import numba
    import umap

    print(f"input: {what}")
    print(f"UMAP parameters: n_neighbors={params.n_neighbors}, min_dist={params.min_dist}, n_epochs={params.n_epochs}, "
          f"metric={params.metric} (precomputed combined distances), seed {params.seed}; umap-learn {umap.__version__}, "
          f"numba {numba.__version__}, CPU (device flag {args.device!r} does not apply), date {time.strftime('%Y-%m-%d')}")

    start = time.perf_counter()
    distances = combined_distances(text, image, has_image)
    distance_seconds = time.perf_counter() - start
    umap_seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        coordinates = project_2d(distances, params, progress=not args.no_progress)
        umap_seconds.append(time.perf_counter() - start)
    assert coordinates.shape == (len(text), 2)
    start = time.perf_counter()
    pca = pca_2d(text, image, has_image)
    pca_seconds = time.perf_counter() - start

    print()
    print(f"{'step':<44}{'seconds':>9}")
    print(f"{'combined_distances (' + f'{len(text):,}' + ' x ' + f'{len(text):,}' + ')':<44}{distance_seconds:>9.2f}")
    print(f"{'project_2d, first call (incl. numba JIT)':<44}{umap_seconds[0]:>9.2f}")
    if len(umap_seconds) > 1:
        warm = umap_seconds[1:]
        print(f"{'project_2d, warm (median of ' + str(len(warm)) + ')':<44}{statistics.median(warm):>9.2f}")
    ratios = ", ".join(f"{r:.2%}" for r in pca.explained_variance_ratio)
    print(f"{'pca_2d (variance ratios ' + ratios + ')':<44}{pca_seconds:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
