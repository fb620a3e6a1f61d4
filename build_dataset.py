#!/usr/bin/env python
"""Build the pokembed dataset: PokéAPI records + official artwork → embeddings, UMAP, parquet, card [→ Hub].

The same command as the ``pokembed build`` console script: both run ``pokembed.cli.build_main`` (see there).
"""

from __future__ import annotations

import sys

from pokembed.cli import build_main as main, flagged  # noqa: F401 - flagged: the CLI's flag wording, for tests

if __name__ == "__main__":
    sys.exit(main())
