"""Vectors through the cache: cached ones read, the rest embedded in chunks by an encoder loaded only if needed.

The build's text and image stages both go through ``embed_with_cache``: a fully cached rebuild loads no model, and
each chunk is stored as soon as it is embedded, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

EMBED_CHUNK = 256  # items embedded between two cache commits: what an interruption loses at most


class LazyEncoder:
    """An encoder loaded only when something needs embedding (a fully cached rebuild loads no model), with one
    progress bar over all the chunks it embeds."""

    def __init__(self, load: Callable[[], object], stack: ExitStack, desc: str) -> None:
        self._load, self._stack, self._desc = load, stack, desc
        self._encoder = None

    def start(self, total: int) -> None:
        """Load the model and open the progress bar for `total` items."""
        self._encoder = self._load()
        self._stack.enter_context(self._encoder.progress_over(total, self._desc))

    def get(self):
        if self._encoder is None:
            raise RuntimeError("LazyEncoder.start must be called before get")
        return self._encoder


def embed_cached(
    keys: Sequence[str],
    *,
    cache,
    model_key: str,
    embed: Callable[[list[int]], tuple[np.ndarray, list[dict]]],
    chunk: int = EMBED_CHUNK,
    sizes: Sequence[int] | None = None,
    on_start: Callable[[int], object] | None = None,
) -> tuple[np.ndarray | None, list[dict], int]:
    """Vectors for `keys` (content hashes): cached ones are read, the rest embedded `chunk` at a time and stored
    as each chunk completes, so an interrupted build resumes. `embed(positions)` embeds the items at those
    positions; `sizes` (e.g. document lengths) orders the work longest first, so each chunk batches well;
    `on_start(n)` is called once with the number of items to embed, before any is embedded.
    Returns (vectors in key order, per-item info, how many were embedded now)."""
    found = cache.get_many(model_key, list(dict.fromkeys(keys)))
    seen: set[str] = set()
    todo = [i for i, key in enumerate(keys) if key not in found and not (key in seen or seen.add(key))]
    if sizes is not None:
        todo.sort(key=lambda i: (-sizes[i], i))
    if todo and on_start is not None:
        on_start(len(todo))
    for start in range(0, len(todo), chunk):
        positions = todo[start : start + chunk]
        vectors, infos = embed(positions)
        items = [(keys[i], vectors[n], infos[n]) for n, i in enumerate(positions)]
        cache.put_many(model_key, items)
        found.update({key: (vector, info) for key, vector, info in items})
    if not keys:
        return None, [], 0
    vectors = np.stack([np.asarray(found[key][0], dtype=np.float32) for key in keys])
    infos = [found[key][1] for key in keys]
    return vectors, infos, len(todo)


def embed_with_cache(
    keys: Sequence[str],
    *,
    cache: Any,
    model_key: str,
    load: Callable[[], Any],
    embed: Callable[[Any, list[int]], tuple[np.ndarray, list[dict]]],
    desc: str,
    chunk: int = EMBED_CHUNK,
    sizes: Sequence[int] | None = None,
) -> tuple[np.ndarray | None, list[dict], int]:
    """``embed_cached`` with an encoder from ``load()``, loaded only when something is to be embedded, and one
    progress bar (``desc``) over all its chunks; ``embed(encoder, positions)`` embeds the items at those positions."""
    with ExitStack() as stack:
        encoder = LazyEncoder(load, stack, desc)
        return embed_cached(keys, cache=cache, model_key=model_key, chunk=chunk, sizes=sizes, on_start=encoder.start,
                            embed=lambda positions: embed(encoder.get(), positions))
