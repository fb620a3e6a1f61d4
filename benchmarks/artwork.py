"""Artwork preprocessing rate: every PNG of a local folder through load_artwork (no cache), per worker count.

Usage: python benchmarks/artwork.py [FOLDER] [--workers 1 8] [--repeat 1] [--cached]
FOLDER defaults to ../shared/pokeapi/official-artwork (798 PNGs of 475x475 RGBA on the shared data).
--cached also times a rebuild that reads the preprocessed PNGs back from a (temporary) cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pokembed.sources.artwork import load_artwork

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_ARTWORK as DEFAULT_FOLDER  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8], help="worker counts to time (default 1 8)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count; the best is reported")
    parser.add_argument("--cached", action="store_true", help="also time reading back from a warm cache")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"Error: artwork folder {args.folder} does not exist; pass a folder of {{id}}.png files", file=sys.stderr)
        return 1
    ids = sorted(int(p.stem) for p in args.folder.glob("*.png") if p.stem.isdigit())
    if not ids:
        print(f"Error: no {{id}}.png files in {args.folder}", file=sys.stderr)
        return 1
    print(f"{len(ids)} PNGs in {args.folder} ({os.cpu_count()} CPUs), cache disabled")
    for workers in args.workers:
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = load_artwork(ids, str(args.folder), cache_dir=None, workers=workers, progress=False)
            best = min(best, time.perf_counter() - start)
        print(
            f"workers={workers:<2d}  {len(result.images)} images, {len(result.missing)} missing, "
            f"{len(result.corrupt)} corrupt  {best:6.2f} s  {len(ids) / best:7.1f} images/s"
        )
    if args.cached:
        with tempfile.TemporaryDirectory() as cache:
            load_artwork(ids, str(args.folder), cache_dir=Path(cache), progress=False)
            start = time.perf_counter()
            result = load_artwork(ids, str(args.folder), cache_dir=Path(cache), progress=False)
            seconds = time.perf_counter() - start
        print(f"cached      {len(result.images)} images read back  {seconds:6.2f} s  {len(ids) / seconds:7.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
