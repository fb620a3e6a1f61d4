"""Asking the records: a question, embedded with the dataset's text model and its query prompt, against the records'
text embeddings (nomic's retrieval setup), as a free function over a `PokedexIndex`.
"""

from __future__ import annotations

import numpy as np

from pokembed.explore.index import Match, PokedexIndex, check_k, top_rows, unit_query


def ask_records(index: PokedexIndex, query_vector: np.ndarray, k: int = 10, *,
                default_only: bool = True) -> list[Match]:
    """The k Pokémon whose record embedding (text space) is closest by cosine to a query vector (with
    `default_only`, among default forms only).

    The query is a question embedded by the dataset's text model with its query prompt (`search_query: ` for nomic),
    the records having been embedded with the document prompt: nomic's retrieval setup, asymmetric on purpose.
    """
    query = unit_query(query_vector, index.text.shape[1], "text embeddings",
                       "embed the question with the dataset's text model")
    scores = index.text @ query
    candidates = index.default_rows(np.arange(len(index), dtype=np.int64), default_only)
    return [index.as_match(r, scores[r]) for r in top_rows(scores, candidates, index.ids, check_k(k), descending=True)]
