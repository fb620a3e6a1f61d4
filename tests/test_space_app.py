"""space/app.py in-process: the factory, the JSON results, the page handlers' error behaviour, the warm-up and the API
schema, on the small offline build with the tiny models (no server, no browser)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "space" / "app.py"


def import_app():
    spec = importlib.util.spec_from_file_location("pokembed_space_app_test", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app():
    return import_app()


@pytest.fixture(scope="module")
def space(app, built_dataset, tiny_models, tmp_path_factory):
    config = app.SpaceConfig(dataset=str(built_dataset), text_model=str(tiny_models / "text"),
                             image_model=str(tiny_models / "image"), device="cpu")
    return app.load_space(config, workdir=tmp_path_factory.mktemp("space-files"))


@pytest.fixture(scope="module")
def rows(built_dataset) -> list[dict]:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet, columns=["id", "name", "generation", "image_embedding", "neighbors"]).to_pylist()


@pytest.fixture(scope="module")
def demo(app, space):
    return app.make_demo(space)


def test_import_loads_nothing():
    """Importing the app reads no dataset and loads no model: a fresh interpreter imports it without any data."""
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('a', {str(APP)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print(hasattr(m, 'demo'), hasattr(m, 'space'), 'torch' in sys.modules, 'datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"POKEMBED_DATASET": "/nonexistent", "PATH": "/usr/bin:/bin",
                              "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.stdout.split() == ["False", "False", "False", "False"]


def test_artwork_files(space, rows):
    with_art = {r["id"] for r in rows if r["image_embedding"] is not None}
    assert set(space.art.thumbs) == with_art and set(space.art.cards) == with_art
    some = next(iter(with_art))
    with Image.open(space.art.thumbs[some]) as thumb, Image.open(space.art.cards[some]) as card:
        assert thumb.format == "WEBP" and max(thumb.size) <= 128
        assert card.size == (224, 224)
    assert space.art.url(some).endswith(f"/thumb/{some}.webp")
    missing = next(r["id"] for r in rows if r["image_embedding"] is None)
    assert space.art.url(missing) == space.art.url(missing, "full") == "gradio_api/file=" + space.art.placeholder.as_posix()
    assert space.artwork_count == len(with_art)


def test_similar_result(app, space, rows):
    chosen = next(r for r in rows if r["image_embedding"] is not None)
    result = app.similar_result(space, chosen["name"].upper(), "combined", 5)
    assert result["pokemon"]["id"] == chosen["id"] and result["pokemon"]["name"] == chosen["name"]
    assert result["score"] == "cosine" and result["higher_is_closer"]
    expected = space.index.similar(chosen["name"], by="combined", k=5)
    assert [(m["id"], m["name"]) for m in result["matches"]] == [(m.id, m.name) for m in expected]
    assert [m["score"] for m in result["matches"]] == pytest.approx([m.score for m in expected], abs=1e-6)
    assert [m["rank"] for m in result["matches"]] == [1, 2, 3, 4, 5]
    generations = [g["generation"] for g in result["per_generation"]]
    assert all(generations.count(g) <= 3 for g in generations) and chosen["id"] not in [
        g["id"] for g in result["per_generation"]]
    assert all(g["generation_label"].startswith("Generation ") for g in result["per_generation"])
    json.dumps(result)  # plain JSON


def test_similar_by_map_distance(app, space, rows):
    result = app.similar_result(space, rows[0]["name"], "umap", 3)
    assert result["score"] == "map distance" and not result["higher_is_closer"]
    scores = [m["score"] for m in result["matches"]]
    assert scores == sorted(scores)


def test_page_keeps_results_on_a_typo(app, space, demo, rows):
    """The page's handler: a good name gives the view and clears the message; a typo skips every result output
    (the page keeps what it shows) and returns the message."""
    import gradio as gr

    fn = next(f for f in demo.fns.values() if f.name == "show" and len(f.inputs) == 3)
    view, message = fn.fn(rows[1]["name"], "text", 4)
    assert f'data-name="{rows[1]["name"]}"' not in view.split('class="pk-results"')[1]  # itself not among results
    assert view.count('class="pk-tile"') >= 4 and message == ""
    typo = rows[1]["name"] + "x"
    view, message = fn.fn(typo, "text", 4)
    assert isinstance(view, type(gr.skip())) and "did you mean" in message and typo in message
    missing = next(r["name"] for r in rows if r["image_embedding"] is None)
    view, message = fn.fn(missing, "image", 4)
    assert isinstance(view, type(gr.skip())) and "has no artwork" in message


def test_ask_and_picture(app, space, rows, tmp_path):
    with_art = {r["id"] for r in rows if r["image_embedding"] is not None}
    result = app.ask_result(space, "  what looks like an ice cream cone? ", 4)
    assert result["question"] == "what looks like an ice cream cone?" and result["searched"] == len(with_art)
    assert len(result["matches"]) == 4 and {m["id"] for m in result["matches"]} <= with_art
    picture = tmp_path / "drawing.png"
    Image.new("RGBA", (30, 20), (255, 0, 0, 255)).save(picture)
    result = app.picture_result(space, picture, 3)
    assert (result["width"], result["height"]) == (30, 20) and len(result["matches"]) == 3


def test_oddballs_and_map(app, space, rows):
    result = app.oddballs_result(space, "text")
    assert result["oddballs"] and len({o["generation"] for o in result["oddballs"]}) == len(result["oddballs"])
    chosen = next(r for r in rows if r["neighbors"]["ids"])
    result = app.map_result(space, chosen["name"], 10)
    stored = [rows[i]["id"] for i in chosen["neighbors"]["ids"]][:10]
    assert [n["id"] for n in result["neighbors"]] == stored
    distances = [n["distance"] for n in result["neighbors"]]  # the dataset's, not the map's: nearest first
    assert distances == pytest.approx(chosen["neighbors"]["distances"][:10], abs=1e-6)
    assert distances == sorted(distances)
    assert len(result["points"]) == len(rows) and result["pokemon"]["id"] == chosen["id"]
    assert app.map_result(space)["pokemon"] is None
    view = app.map_view(space, chosen["name"])
    assert view["start"] == space.index.find(chosen["name"]) and app.map_view(space, "missingno")["start"] == -1
    path = Path(view["url"].removeprefix("gradio_api/file="))
    assert path.parent == space.art.folder and path.suffix == ".json"  # served compressed by Gradio's brotli
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(app.map_view_data(space)))
    assert len(data["x"]) == len(rows) and len(set(data["gen_colours"])) == len(data["gens"])
    assert data["nb"][view["start"]] == chosen["neighbors"]["ids"][:10]
    assert data["nd"][view["start"]] == pytest.approx(chosen["neighbors"]["distances"][:10], rel=5e-3)
    assert all(row_distances == sorted(row_distances) for row_distances in data["nd"])


def test_page_is_light_and_has_no_map(demo, space):
    config = json.dumps(demo.get_config_file(), default=lambda _: None)
    assert "pk-map-canvas" in config  # the map's skeleton is there, its data is not
    assert '"nb"' not in config and '"thumb_base"' not in config
    assert len(config) < 200_000, len(config)


def test_api_schema(demo):
    info = demo.get_api_info()
    assert set(info["named_endpoints"]) == {"/similar", "/ask", "/ask_records", "/arithmetic", "/search_by_picture",
                                            "/map", "/oddballs"}
    assert not info["unnamed_endpoints"]
    assert len(json.dumps(info)) < 30_000
    for name, endpoint in info["named_endpoints"].items():
        assert endpoint["description"], name
        for parameter in endpoint["parameters"]:
            assert parameter["python_type"]["description"], (name, parameter["parameter_name"])
    similar = {p["parameter_name"]: p for p in info["named_endpoints"]["/similar"]["parameters"]}
    assert similar["name"]["type"]["type"] == "string" and not similar["name"]["parameter_has_default"]
    assert similar["k"]["type"]["type"] == "integer" and similar["k"]["parameter_default"] == 12
    assert similar["mode"]["parameter_default"] == "text"
    mapped = {p["parameter_name"]: p for p in info["named_endpoints"]["/map"]["parameters"]}
    assert mapped["name"]["parameter_has_default"] and mapped["name"]["parameter_default"] is None


def test_warm_up_answers_the_first_example(app, space):
    thread = app.start_warm_up(space)
    thread.join(timeout=120)
    assert space.models.query_ready
    answer = space.answers[app.EXAMPLE_QUESTIONS[0]]
    assert answer["matches"] == app.ask_result(space, app.EXAMPLE_QUESTIONS[0], space.k_default)["matches"]


def test_config_from_env(app):
    from pokembed.errors import BadInputError

    config = app.SpaceConfig.from_env({"POKEMBED_DATASET": "a/b", "POKEMBED_TORCH_THREADS": "2"})
    assert config.dataset == "a/b" and config.torch_threads == 2
    with pytest.raises(BadInputError, match="POKEMBED_TORCH_THREADS must be a whole number"):
        app.SpaceConfig.from_env({"POKEMBED_TORCH_THREADS": "two"})
    assert np.isscalar(config.gallery_size)


def test_while_loading_says_so_first(app):
    """While a model loads, the page first gets a note next to the input (results kept), then the answer."""
    import gradio as gr

    ready = [False]
    handler = app.with_outputs(1)(lambda question: (f"view of {question}",))
    run = app.while_loading(lambda: ready[0], "question", handler)
    first, second = list(run("q"))
    assert isinstance(first[0], type(gr.skip())) and "Loading the question model" in first[1]
    assert second == ("view of q", "")
    ready[0] = True
    assert list(run("q")) == [("view of q", "")]
