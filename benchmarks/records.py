"""Records rate: time load_records on a source (default the shared CSV tables), best of a few runs.

Usage: python benchmarks/records.py [--source csv:../shared/pokeapi/csv] [--repeat 3]
The target on the shared data (1,351 Pokémon) is under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pokembed.errors import PokembedError
from pokembed.sources.choice import load_records

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_SOURCE  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help="graphql, graphql:URL or csv:PATH (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; each is printed and the best summarised")
    args = parser.parse_args()
    print(f"source {args.source} ({os.cpu_count()} CPUs)")
    times = []
    for run in range(1, max(1, args.repeat) + 1):
        start = time.perf_counter()
        try:
            records = load_records(args.source, progress=False)
        except PokembedError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        times.append(time.perf_counter() - start)
        print(f"run {run}: {len(records)} records  {times[-1]:6.2f} s  {len(records) / times[-1]:8.1f} records/s")
    best = min(times)
    print(f"best: {len(records)} records in {best:.2f} s ({len(records) / best:.1f} records/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
