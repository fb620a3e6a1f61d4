"""The all-pairs chart's data: cells are dot products of the rows, rows are ordered by id, the marked rows are each
generation's lowest median, pair() ranks as an independent sort does, and the PNG is one pixel per pair."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pokembed.errors import BadInputError
from pokembed.explore.all_pairs import all_pairs, pair
from pokembed.explore.index import PokedexIndex

N, DIM = 30, 6
GENERATIONS = ("generation-i", "generation-ii", "generation-iii")


@pytest.fixture(scope="module")
def columns():
    rng = np.random.default_rng(11)
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    text = unit(rng.normal(size=(N, DIM))).astype(np.float32)
    image = unit(rng.normal(size=(N, DIM))).astype(np.float32)
    has_image = np.arange(N) % 7 != 3
    is_default = np.arange(N) < 24
    ids = np.concatenate([np.arange(1, 25), 10001 + np.arange(6)])
    shuffle = rng.permutation(N)  # the dataset's rows are not in id order: the chart sorts them
    generations = [GENERATIONS[min(i // 8, 2)] if i < 24 else GENERATIONS[i % 3] for i in range(N)]
    cols = {"ids": ids, "text": text, "image": image, "has_image": has_image, "is_default": is_default,
            "generations": generations, "names": [f"mon{i}" for i in ids]}
    return {k: (np.asarray(v)[shuffle] if isinstance(v, np.ndarray) else [v[i] for i in shuffle])
            for k, v in cols.items()}


@pytest.fixture(scope="module")
def index(columns):
    c = columns
    return PokedexIndex(ids=c["ids"], names=tuple(c["names"]), generations=tuple(c["generations"]),
                        types=tuple(("normal",) for _ in range(N)), text=c["text"],
                        image=np.where(c["has_image"][:, None], c["image"], 0), has_image=c["has_image"],
                        umap=np.zeros((N, 2), dtype=np.float32), is_default=c["is_default"])


def expected_cell(c, i, j, modality):
    text = float(np.dot(c["text"][i], c["text"][j]))
    both = c["has_image"][i] and c["has_image"][j]
    image = float(np.dot(c["image"][i], c["image"][j])) if both else np.nan
    return {"text": text, "image": image, "combined": (text + image) / 2 if both else text}[modality]


@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_cells_are_dot_products_in_id_order(index, columns, modality):
    chart = all_pairs(index, modality)
    order = np.argsort(columns["ids"])
    assert chart.ids.tolist() == sorted(columns["ids"].tolist())
    for p in range(N):
        for q in range(N):
            want = expected_cell(columns, order[p], order[q], modality)
            got = chart.matrix[p, q]
            assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-5), (p, q)
    assert chart.row(3) == [None if np.isnan(v) else round(float(v), 4) for v in chart.matrix[3]]


@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_marked_rows_are_each_generations_lowest_median(index, columns, modality):
    chart = all_pairs(index, modality)
    ids = columns["ids"]
    expected = {}
    group = ["forms" if not d else g for g, d in zip(columns["generations"], columns["is_default"])]
    for gen in (*GENERATIONS, "forms"):  # the alternate forms are a group of their own
        members = [i for i in range(N) if group[i] == gen]
        medians = {}
        for i in members:
            values = [expected_cell(columns, i, j, modality) for j in members if j != i]
            values = [v for v in values if not np.isnan(v)]
            if values:
                medians[i] = float(np.median(values))
        lowest = min(medians, key=lambda i: (medians[i], ids[i]))
        expected[gen] = (int(ids[lowest]), medians[lowest])
    got = {m.generation: (m.id, m.median) for m in chart.lowest_median}
    assert set(got) == set(expected)
    for gen, (pid, median) in expected.items():
        assert got[gen][0] == pid and got[gen][1] == pytest.approx(median, abs=1e-5)
        assert chart.ids[next(m.position for m in chart.lowest_median if m.generation == gen)] == pid


def test_blocks_follow_the_id_order(index):
    chart = all_pairs(index, "text")
    assert [(b.label, b.start, b.stop) for b in chart.blocks] == [
        ("generation-i", 0, 8), ("generation-ii", 8, 16), ("generation-iii", 16, 24), ("forms", 24, 30)]
    only_defaults = all_pairs(index, "text", default_only=True)
    assert len(only_defaults.ids) == 24 and only_defaults.blocks[-1].label == "generation-iii"


def test_png_is_one_pixel_per_pair_and_deterministic(index):
    chart = all_pairs(index, "image")
    png = chart.png()
    assert png == all_pairs(index, "image").png()
    picture = Image.open(io.BytesIO(png)).convert("RGBA")
    assert picture.size == (N, N)
    pixels = np.asarray(picture)
    blank = np.isnan(chart.matrix)
    assert blank.any() and (pixels[blank][:, 3] == 0).all() and (pixels[~blank][:, 3] == 255).all()
    lo = np.unravel_index(np.nanargmin(chart.matrix), chart.matrix.shape)
    scale = chart.colour_scale()
    assert scale[0]["value"] == pytest.approx(chart.vmin, abs=1e-4)
    assert "#{:02x}{:02x}{:02x}".format(*pixels[lo][:3]) == scale[0]["colour"]  # the lowest cell: the scale's start
    assert Image.open(io.BytesIO(chart.legend_png(64, 4))).size == (64, 4)
    import matplotlib  # every cell: viridis at its value's level (255 levels from vmin to vmax)

    level = np.rint((chart.matrix[~blank] - chart.vmin) / (chart.vmax - chart.vmin) * 254) / 254
    expected = np.rint(np.asarray(matplotlib.colormaps["viridis"](level))[:, :3] * 255)
    assert np.abs(pixels[~blank][:, :3].astype(int) - expected).max() <= 1


def ranks_by_sort(c, a, b, modality):
    """Where b is in a's list: every other Pokémon (with artwork, for image) by score, then smaller id."""
    others = [j for j in range(N) if j != a and (modality != "image" or c["has_image"][j])]
    ordered = sorted(others, key=lambda j: (-expected_cell(c, a, j, modality), c["ids"][j]))
    return ordered.index(b) + 1


def test_pair_cosines_and_mutual_ranks(index, columns):
    a, b = 4, 9  # both with artwork
    assert columns["has_image"][a] and columns["has_image"][b]
    result = pair(index, columns["names"][a], columns["names"][b])
    assert (result.a_id, result.b_id) == (columns["ids"][a], columns["ids"][b])
    for scores in result.scores:
        assert scores.cosine == pytest.approx(expected_cell(columns, a, b, scores.modality), abs=1e-5)
        assert scores.rank_of_b_for_a == ranks_by_sort(columns, a, b, scores.modality)
        assert scores.rank_of_a_for_b == ranks_by_sort(columns, b, a, scores.modality)
    ranks = {(s.rank_of_b_for_a, s.rank_of_a_for_b) for s in result.scores}
    assert len(ranks) > 1  # the modalities disagree on this data: the test tells them apart


def test_pair_without_artwork_and_unknown_names(index, columns):
    no_art = int(np.flatnonzero(~columns["has_image"])[0])
    result = pair(index, columns["names"][no_art], columns["names"][0])
    image = next(s for s in result.scores if s.modality == "image")
    assert image.cosine is None and image.rank_of_a_for_b is None
    with pytest.raises(BadInputError, match="no Pokémon named"):
        pair(index, "nobody", columns["names"][0])
    with pytest.raises(BadInputError, match="unknown modality"):
        all_pairs(index, "umap")
