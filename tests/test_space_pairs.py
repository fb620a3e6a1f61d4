"""The Space's /pair endpoint, the "default forms only" switch and display names, through the running Space's API
(gradio_client against space/app.py on the small offline build), checked against numpy over the parquet columns;
and the all-pairs chart's hover rows (pokembed.explore.chart_view) against /pair's ranks."""

from __future__ import annotations

import numpy as np
import pytest

from space_server import running_space


@pytest.fixture(scope="module")
def client(built_dataset, tiny_models, tmp_path_factory):
    from gradio_client import Client

    with running_space(built_dataset, tiny_models, tmp_path_factory.mktemp("space-pairs")) as url:
        yield Client(url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def columns(built_dataset) -> dict:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    table = pq.read_table(parquet).to_pydict()
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    has_image = np.array([v is not None for v in table["image_embedding"]])
    dim = len(next(v for v in table["image_embedding"] if v is not None))
    image = np.array([v if v is not None else [0.0] * dim for v in table["image_embedding"]], dtype=np.float64)
    image[has_image] = unit(image[has_image])
    return {"ids": np.array(table["id"]), "names": table["name"], "display": table["display_name"],
            "is_default": np.array(table["is_default"], dtype=bool), "has_image": has_image,
            "text": unit(np.array(table["text_embedding"], dtype=np.float64)), "image": image}


def rank(cosines: np.ndarray, ids: np.ndarray, pool: np.ndarray, of: int, target: int) -> int:
    """1 + how many of `pool` (not `of` itself) are more similar to `of` than `target` is (ties: smaller id)."""
    others = [c for c in np.flatnonzero(pool) if c != of]
    return 1 + sum(cosines[c] > cosines[target] or (cosines[c] == cosines[target] and ids[c] < ids[target])
                   for c in others)


def test_pair_is_the_dot_products_and_the_mutual_ranks(client, columns):
    c = columns
    both = np.flatnonzero(c["has_image"] & c["is_default"])
    a, b = int(both[0]), int(both[-1])
    for default_only in (True, False):
        got = client.predict(c["names"][a], c["names"][b], default_only, api_name="/pair")
        assert (got["a"]["id"], got["b"]["id"]) == (c["ids"][a], c["ids"][b])
        pool = c["is_default"] if default_only else np.ones(len(c["ids"]), dtype=bool)
        text_a, text_b = c["text"] @ c["text"][a], c["text"] @ c["text"][b]
        image_a, image_b = c["image"] @ c["image"][a], c["image"] @ c["image"][b]
        combined = lambda t, i: np.where(c["has_image"], (t + i) / 2, t)  # noqa: E731
        expected = {"text": (text_a, text_b, pool), "image": (image_a, image_b, pool & c["has_image"]),
                    "combined": (combined(text_a, image_a), combined(text_b, image_b), pool)}
        for modality, (from_a, from_b, candidates) in expected.items():
            scores = got["scores"][modality]
            assert scores["cosine"] == pytest.approx(from_a[b], abs=1e-5), modality
            assert scores["rank_of_b_for_a"] == rank(from_a, c["ids"], candidates, a, b), modality
            assert scores["rank_of_a_for_b"] == rank(from_b, c["ids"], candidates, b, a), modality


def test_the_forms_switch_through_the_api(client, columns):
    c = columns
    assert not c["is_default"].all(), "the fixture has an alternate form"
    form = int(np.flatnonzero(~c["is_default"])[0])
    chosen = int(np.argmax(np.where(c["is_default"], c["text"] @ c["text"][form], -np.inf)))  # a species near it
    k = len(c["ids"]) - 1
    default = client.predict(c["names"][chosen], "text", k, True, api_name="/similar")
    everyone = client.predict(c["names"][chosen], "text", k, False, api_name="/similar")
    assert {m["id"] for m in default["matches"]} == set(c["ids"][c["is_default"]]) - {c["ids"][chosen]}
    assert c["ids"][form] in {m["id"] for m in everyone["matches"]} and len(everyone["matches"]) == k
    cosines = c["text"] @ c["text"][chosen]
    order = [int(c["ids"][i]) for i in np.lexsort((c["ids"], -cosines)) if i != chosen and c["is_default"][i]]
    assert [m["id"] for m in default["matches"]] == order
    grid = {m["id"] for m in default["per_generation"]}
    assert grid and grid <= set(c["ids"][c["is_default"]])
    odd = client.predict("text", True, api_name="/oddballs")["oddballs"]
    assert odd and all(c["is_default"][list(c["ids"]).index(o["id"])] for o in odd)


def test_display_names_are_the_datasets_not_title_cased_slugs(client, columns):
    c = columns
    form = int(np.flatnonzero(~c["is_default"])[0])
    got = client.predict(c["names"][form], "text", 3, False, api_name="/similar")["pokemon"]
    assert got["display_name"] == c["display"][form]
    assert got["display_name"] != c["names"][form].replace("-", " ").title()  # "Mega Venusaur", not "Venusaur Mega"


def test_a_chart_rows_ranks_are_pairs_ranks(built_dataset, tiny_models, tmp_path_factory, columns):
    from pokembed.explore.chart_view import chart_result, chart_row, pair_result
    from pokembed.explore.space import SpaceConfig
    from pokembed.explore.space_loading import load_space

    space = load_space(SpaceConfig(dataset=str(built_dataset), text_model=str(tiny_models / "text"),
                                   image_model=str(tiny_models / "image"), device="cpu"),
                       workdir=tmp_path_factory.mktemp("chart"))
    chart = chart_result(space, "text", True)
    assert chart["ids"] == sorted(chart["ids"]) and "gradio_api/file=" in chart["image"]
    row = chart_row(space, "text", True, 1)
    for col in (0, len(chart["ids"]) - 1):
        scores = pair_result(space, chart["names"][1], chart["names"][col], True)["scores"]["text"]
        assert row["cosines"][col] == pytest.approx(scores["cosine"], abs=1e-4)
        assert (row["rank_of_column"][col], row["rank_in_column"][col]) == (scores["rank_of_b_for_a"],
                                                                             scores["rank_of_a_for_b"])
