"""The Space's three functions beyond the article, in-process: asking the records, embedding arithmetic and the PCA
layout of the map, on the small offline build with the tiny models (no server, no browser)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pokembed.explore.answers import arithmetic_result, default_expression, records_result
from pokembed.explore.map_data import map_result, map_view_data
from test_explore_space import space  # noqa: F401 - the same fixture: a loaded Space
from test_space_app import app, demo  # noqa: F401 - the same fixtures: the app, its page


@pytest.fixture(scope="module")
def table(built_dataset):
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet).to_pylist()


def test_records_result_ranks_the_records_with_the_text_models_query_prompt(app, space, table, tiny_models):
    from pokembed.embedding.encoders import load_text_encoder

    result = records_result(space, "  a ghost type that   evolves by trading ", 5)
    assert result["question"] == "a ghost type that evolves by trading" and result["searched"] == len(table)
    # independently: the same model's search_query embedding against the published text embeddings
    encoder = load_text_encoder(str(tiny_models / "text"), device="cpu", progress=False)
    assert encoder.spec.query_prompt == "search_query: "
    query = encoder.embed_queries([result["question"]])[0]
    text = np.array([r["text_embedding"] for r in table], dtype=np.float64)
    scores = (text / np.linalg.norm(text, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    best = [i for i in np.lexsort(([r["id"] for r in table], -scores)) if table[i]["is_default"]][:5]  # forms off
    assert [m["id"] for m in result["matches"]] == [table[i]["id"] for i in best]
    assert [m["score"] for m in result["matches"]] == pytest.approx(scores[best].tolist(), abs=1e-5)
    without_art = {r["id"] for r in table if r["image_embedding"] is None}
    everyone = records_result(space, "anything", len(table) - 1)
    assert without_art & {m["id"] for m in everyone["matches"]}  # records reach Pokémon without artwork too
    json.dumps(result)
    assert space.models.records_encoder() is space.models.query_encoder()  # one model serves both here


def test_arithmetic_result_is_the_library_ranking_as_json(app, space, table):
    from pokembed.explore.arithmetic import embedding_arithmetic

    a, b, c = (r["name"] for r in table[:3])
    result = arithmetic_result(space, f"{a} + ({b} - {c})", "text", 4)
    expected = embedding_arithmetic(space.index, f"{a} + ({b} - {c})", "text", 4)
    assert [m["id"] for m in result["matches"]] == [m.id for m in expected.matches]
    assert not {a, b, c} & {m["name"] for m in result["matches"]}
    assert result["excluded"] == sorted([a, b, c], key=[r["name"] for r in table].index)
    assert result["terms"] == [{"sign": "+", "kind": "pokemon", "name": a}, {"sign": "+", "kind": "pokemon", "name": b},
                               {"sign": "-", "kind": "pokemon", "name": c}]
    assert result["method"].startswith("Each term is a unit vector") and result["story"] is None
    image = arithmetic_result(space, f"{a} - type:{table[0]['types'][0]}", "image", 3)
    with_art = {r["id"] for r in table if r["image_embedding"] is not None}
    assert image["space"] == "image" and {m["id"] for m in image["matches"]} <= with_art
    json.dumps(result)


def test_the_arithmetic_tab_keeps_results_on_a_bad_expression(app, space, demo, table):
    import gradio as gr

    import page_tabs

    compute = page_tabs.arithmetic_handlers(space)["compute"]
    view, message = compute(f"{table[0]['name']} - type:{table[0]['types'][0]}", "text", 3)
    assert view.count('class="pk-tile"') == 3 and message == ""
    view, message = compute("pikachuu + type:nothing", "text", 3)
    assert isinstance(view, type(gr.skip())) and "No Pokémon named &#x27;pikachuu&#x27;" in message
    view, message = compute(f"{table[0]['name']} - {table[0]['name']}", "text", 3)
    assert isinstance(view, type(gr.skip())) and "cancel out" in message
    expression, embedding_space = default_expression(space)
    assert arithmetic_result(space, expression, embedding_space, 2)["matches"]


def test_the_ask_tab_shows_the_records_beside_the_artwork(app, space, demo):
    import page_tabs

    answer = page_tabs.ask_handlers(space)["ask"]  # a generator: a loading note while the model loads, then the answer
    view, message = list(answer("learns surf and fly", 3))[-1]
    assert message == "" and 'class="pk-side-by-side"' in view
    artwork, records = view.split("<section>")[1:3]
    assert "Artwork</b> that best matches" in artwork and "Records</b> (what PokéAPI says" in records
    assert artwork.count('class="pk-tile"') == 3 and records.count('class="pk-tile"') == 3
    names = [m["name"] for m in records_result(space, "learns surf and fly", 3)["matches"]]
    assert [records.split('data-name="')[i + 1].split('"')[0] for i in range(3)] == names


def test_the_pca_layout_is_the_published_columns(app, space, table):
    published = np.array([[r["pca_2d_x"], r["pca_2d_y"]] for r in table], dtype=np.float32)
    np.testing.assert_allclose(space.pca.coordinates, published, atol=1e-5)
    result = map_result(space, table[0]["name"], 3, projection="pca")
    assert result["projection"] == "pca"
    assert [(p["x"], p["y"]) for p in result["points"]] == [(round(float(x), 4), round(float(y), 4))
                                                           for x, y in space.pca.coordinates]
    ratios = result["explained_variance_ratio"]
    assert len(ratios) == 2 and 1 >= ratios[0] >= ratios[1] > 0
    first = np.array([result["points"][0]["x"], result["points"][0]["y"]])
    neighbour = next(p for p in result["points"] if p["id"] == result["neighbors"][0]["id"])
    assert result["neighbors"][0]["score"] == pytest.approx(
        float(np.linalg.norm(first - [neighbour["x"], neighbour["y"]])), abs=1e-3)  # distance on the PCA map
    assert "explained_variance_ratio" not in map_result(space, projection="umap")
    data = map_view_data(space)
    assert len(data["pca_x"]) == len(table) and data["pca_variance"] == ratios
    with pytest.raises(Exception, match="unknown projection 'tsne'"):
        map_result(space, projection="tsne")


def test_the_new_endpoints_are_documented(demo):
    info = demo.get_api_info()["named_endpoints"]
    records = {p["parameter_name"]: p for p in info["/ask_records"]["parameters"]}
    assert records["question"]["type"]["type"] == "string" and records["k"]["parameter_default"] == 12
    arithmetic = {p["parameter_name"]: p for p in info["/arithmetic"]["parameters"]}
    assert set(arithmetic) == {"expression", "space", "k"} and arithmetic["space"]["parameter_default"] == "text"
    assert "type:NAME" in arithmetic["expression"]["python_type"]["description"]
    mapped = {p["parameter_name"]: p for p in info["/map"]["parameters"]}
    assert mapped["projection"]["parameter_default"] == "umap"
    assert "explained_variance_ratio" in info["/map"]["description"]
