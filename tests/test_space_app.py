"""space/app.py in-process: the page factory, the page handlers' error behaviour, the API schema and the small
functions that reach past Gradio's documented API, on the small offline build with the tiny models (no server, no
browser). The answers themselves are tested without Gradio in test_explore_space.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "space" / "app.py"

from test_explore_space import rows, space  # noqa: F401 - fixtures: the loaded Space, the parquet rows


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


def test_page_keeps_results_on_a_typo(app, space, demo, rows):
    """The page's handler: a good name gives the view and clears the message; a typo skips every result output
    (the page keeps what it shows) and returns the message."""
    import gradio as gr

    fn = next(f for f in demo.fns.values() if f.name == "show" and len(f.inputs) == 4)
    view, shown, message = fn.fn(rows[1]["name"], "text", 4)
    assert f'data-name="{rows[1]["name"]}"' not in view.split('class="pk-results"')[1]  # itself not among results
    assert view.count('class="pk-tile"') >= 4 and message == ""
    typo = rows[1]["name"] + "x"
    view, shown, message = fn.fn(typo, "text", 4)
    assert isinstance(view, type(gr.skip())) and "Did you mean" in message and typo in message
    # the suggestions are buttons naming the Pokémon by its display name, which choose it when clicked
    assert f'class="pk-suggestion" data-name="{rows[1]["name"]}">{space.display[1]}</button>' in message
    missing = next(r["name"] for r in rows if r["image_embedding"] is None)
    view, shown, message = fn.fn(missing, "image", 4)
    assert isinstance(view, type(gr.skip())) and "has no artwork" in message
    # the mode on screen is not updated, so the radio goes back to it (the handler after `show` copies it over)
    assert isinstance(shown, type(gr.skip()))
    assert fn.fn(rows[1]["name"], "image" if rows[1]["image_embedding"] is not None else "text", 4)[1] in ("image", "text")


def test_page_is_light_and_has_no_map(demo, space):
    config = json.dumps(demo.get_config_file(), default=lambda _: None)
    assert "pk-map-canvas" in config  # the map's skeleton is there, its data is not
    assert '"nb"' not in config and '"thumb_base"' not in config
    assert len(config) < 200_000, len(config)


def test_api_schema(demo):
    info = demo.get_api_info()
    assert set(info["named_endpoints"]) == {"/similar", "/ask", "/ask_records", "/arithmetic", "/search_by_picture",
                                            "/map", "/oddballs", "/pair"}
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


def test_while_loading_says_so_first(app):
    """While a model loads, the page first gets a note next to the input (results kept), then the answer."""
    import gradio as gr

    ready = [False]
    from page_events import while_loading, with_outputs  # space/ is on the path once the app is imported

    handler = with_outputs(1)(lambda question: (f"view of {question}",))
    run = while_loading(lambda: ready[0], "question", handler)
    first, second = list(run("q"))
    assert isinstance(first[0], type(gr.skip())) and "Loading the question model" in first[1]
    assert second == ("view of q", "")
    ready[0] = True
    assert list(run("q")) == [("view of q", "")]


def test_clicked_name_reads_the_click_data_a_tile_sends(app):
    """gradio_hooks.clicked_name: what tiles.js sends with trigger("click", {name}) arrives as gr.EventData; fails here
    first if Gradio stops exposing the data as attributes."""
    import gradio as gr
    from gradio_hooks import clicked_name

    assert clicked_name(gr.EventData(None, {"name": "mr-mime"})) == "mr-mime"
    assert clicked_name(gr.EventData(None, {})) is None
    assert clicked_name(gr.EventData(None, None)) is None
    assert clicked_name(gr.EventData(None, {"name": ""})) is None


def test_choosing_a_tile_opens_similar_with_that_pokemon(demo):
    import gradio as gr

    choose = next(f for f in demo.fns.values() if f.name == "choose").fn
    name, tabs = choose(gr.EventData(None, {"name": "pikachu"}))
    assert name == "pikachu" and isinstance(tabs, gr.Tabs)
    assert all(isinstance(v, type(gr.skip())) for v in choose(gr.EventData(None, {})))


def test_describe_api_parameters_reaches_the_api_info(app):
    """gradio_hooks.describe_api_parameters on a fresh gr.api endpoint: the names and descriptions land in
    get_api_info, where gradio_client and the API page read them (fails loudly when Gradio moves them)."""
    import gradio as gr
    from gradio_hooks import describe_api_parameters

    def double(x: int, label: str = "a") -> str:
        return label * x

    with gr.Blocks() as blocks:
        gr.api(double, api_name="double")
        dependency = next(f for f in blocks.fns.values() if f.api_name == "double")
        describe_api_parameters(dependency.inputs, {"x": "how many times", "label": "what to repeat"})
    parameters = blocks.get_api_info()["named_endpoints"]["/double"]["parameters"]
    assert [(p["parameter_name"], p["label"], p["python_type"]["description"]) for p in parameters] == [
        ("x", "x", "how many times"), ("label", "label", "what to repeat")]
    assert parameters[0]["type"]["type"] == "integer" and parameters[1]["parameter_default"] == "a"
    with pytest.raises(RuntimeError, match="describes 1 parameters"):
        describe_api_parameters(dependency.inputs, {"x": "how many times"})
