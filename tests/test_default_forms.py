"""The "default forms only" switch: with it on (the default), alternate forms are never candidates in Similar, the
per-generation grid, Ask and Oddballs; the queried Pokémon itself may be a form. Answers pinned with plain numpy."""

from __future__ import annotations

import numpy as np
import pytest

from pokembed.explore.records_search import ask_records
from pokembed.explore.index import PokedexIndex

N, DIM = 40, 8
GENERATIONS = ("generation-i", "generation-ii", "generation-iii")


@pytest.fixture(scope="module")
def columns():
    rng = np.random.default_rng(7)
    text = rng.normal(size=(N, DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    image = rng.normal(size=(N, DIM)).astype(np.float32)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    is_default = np.arange(N) % 3 != 2  # every third row is a form
    ids = np.where(is_default, np.arange(1, N + 1), 10000 + np.arange(1, N + 1))
    generations = [GENERATIONS[(i // 3) % 3] for i in range(N)]
    return {"ids": ids, "names": [f"mon{i}" for i in range(N)], "generations": generations, "text": text,
            "image": image, "is_default": is_default}


@pytest.fixture(scope="module")
def index(columns):
    c = columns
    return PokedexIndex(ids=c["ids"], names=tuple(c["names"]), generations=tuple(c["generations"]),
                        types=tuple(("normal",) for _ in range(N)), text=c["text"], image=c["image"],
                        has_image=np.ones(N, dtype=bool), umap=np.zeros((N, 2), dtype=np.float32),
                        is_default=c["is_default"])


def expected_top(scores, allowed, ids, k):
    rows = [r for r in np.argsort(-scores, kind="stable") if allowed[r]]
    return [int(ids[r]) for r in sorted(rows, key=lambda r: (-scores[r], ids[r]))[:k]]


@pytest.mark.parametrize("query_row", [0, 5])  # a default Pokémon, then a form
def test_similar(index, columns, query_row):
    scores = columns["text"] @ columns["text"][query_row]
    others = np.arange(N) != query_row
    got = [m.id for m in index.similar(columns["names"][query_row], by="text", k=8)]
    assert got == expected_top(scores, others & columns["is_default"], columns["ids"], 8)
    assert all(i < 10000 for i in got)
    everyone = [m.id for m in index.similar(columns["names"][query_row], by="text", k=8, default_only=False)]
    assert everyone == expected_top(scores, others, columns["ids"], 8)
    assert any(i > 10000 for i in everyone)  # the switch changes the answer on this data


def test_best_per_generation(index, columns):
    scores = columns["text"] @ columns["text"][5]
    got = index.best_per_generation("mon5", by="text", k=2)
    for gen in GENERATIONS:
        allowed = (np.arange(N) != 5) & columns["is_default"] & (np.array(columns["generations"]) == gen)
        assert [g.id for g in got if g.generation == gen] == expected_top(scores, allowed, columns["ids"], 2)
    everyone = index.best_per_generation("mon5", by="text", k=2, default_only=False)
    assert any(g.id > 10000 for g in everyone)


def test_ask_records(index, columns):
    query = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    scores = columns["text"] @ (query / np.linalg.norm(query))
    got = [m.id for m in ask_records(index, query, k=10)]
    assert got == expected_top(scores, columns["is_default"], columns["ids"], 10)
    everyone = [m.id for m in ask_records(index, query, k=10, default_only=False)]
    assert everyone == expected_top(scores, np.ones(N, dtype=bool), columns["ids"], 10)


@pytest.mark.parametrize("default_only", [True, False])
def test_oddballs(index, columns, default_only):
    generations = np.array(columns["generations"])
    got = {o.generation: (o.id, o.median_similarity) for o in index.oddballs("text", default_only=default_only)}
    for gen in GENERATIONS:
        members = np.flatnonzero((generations == gen) & (columns["is_default"] | (not default_only)))
        sims = columns["text"][members] @ columns["text"][members].T
        medians = [np.median(np.delete(sims[i], i)) for i in range(len(members))]
        lowest = members[int(np.argmin(medians))]
        assert got[gen][0] == columns["ids"][lowest]
        assert got[gen][1] == pytest.approx(min(medians), abs=1e-6)
