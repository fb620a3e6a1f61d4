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


def test_page_keeps_results_on_a_typo(app, space, demo, rows, monkeypatch):
    """The Similar tab's handler, as the page wires it (controls and the shown request in; view, shown, controls and
    message out): a new request gives the view, keeps it as shown and clears the message; a typo or an image
    request for a Pokémon without artwork keeps the view and puts the controls back to what is shown, with the
    message beside them; the request already shown changes nothing, its message included."""
    import gradio as gr

    skip = type(gr.skip())
    fn = next(f for f in demo.fns.values() if f.name == "show")
    assert fn.trigger_mode == "always_last" and list(fn.targets) == [(fn.inputs[0]._id, "change")]
    assert [o.elem_id for o in fn.inputs] == ["similar-controls", None]
    assert [o.elem_id for o in fn.outputs] == ["similar-view", None, "similar-controls", "similar-message"]
    shown = {"name": rows[0]["name"], "mode": "text", "k": 4, "forms": True}
    asked = {**shown, "name": rows[1]["name"]}
    view, now, controls, message = fn.fn(asked, shown)
    results = view.split('class="pk-results"')[1].split('class="pk-generations"')[0]
    assert f'data-chosen="{rows[1]["name"]}"' in view and results.count('class="pk-tile"') == 4
    assert f'data-name="{rows[1]["name"]}"' not in results  # itself not among results
    assert now == asked and isinstance(controls, skip) and message == ""
    # a name typed in capitals is shown, and written back to the controls as the dataset's name
    view, now, controls, message = fn.fn({**asked, "name": rows[1]["name"].upper()}, shown)
    assert now == controls == asked and message == ""
    typo = rows[1]["name"] + "x"
    view, now, controls, message = fn.fn({**asked, "name": typo}, shown)
    assert isinstance(view, skip) and isinstance(now, skip) and controls == shown
    assert "Did you mean" in message and typo in message
    # the suggestions are buttons naming the Pokémon by its display name, which choose it when clicked
    assert f'class="pk-suggestion" data-name="{rows[1]["name"]}">{space.display[1]}</button>' in message
    missing = next(r["name"] for r in rows if r["image_embedding"] is None)
    view, now, controls, message = fn.fn({**shown, "name": missing, "mode": "image"}, shown)
    assert isinstance(view, skip) and isinstance(now, skip) and controls == shown and "has no artwork" in message
    assert all(isinstance(v, skip) for v in fn.fn(dict(shown), shown))
    # the request's mode, number and forms switch reach the library's answer, whose page is shown
    import page_tabs

    asked_of = []
    answer = page_tabs.similar_result
    monkeypatch.setattr(page_tabs, "similar_result", lambda *a: asked_of.append(a[1:]) or answer(*a))
    every = {**asked, "mode": "combined", "k": 3, "forms": False}
    view, now, controls, message = fn.fn(every, shown)
    assert asked_of == [(rows[1]["name"], "combined", 3, False)] and now == every
    assert view == html_of(page_tabs, space, answer(space, rows[1]["name"], "combined", 3, False))
    for bad, words in (({**asked, "k": 0}, "How many"), ({**asked, "k": 2.5}, "How many"),
                       ({**asked, "k": space.k_max + 1}, "How many"), ({**asked, "k": True}, "How many"),
                       ({**asked, "k": "many"}, "How many"), ({**asked, "mode": "smell"}, "Unknown ranking mode"),
                       ({**asked, "mode": ["text"]}, "Unknown ranking mode"), ({**asked, "forms": "false"}, "forms"),
                       ({**asked, "mode": "x" * 500}, "xxxxxxxxxxxxxxxxxx…; pick Text"),
                       (None, "reload the page")):
        view, now, controls, message = fn.fn(bad, shown)
        assert isinstance(view, skip) and controls == shown and words in message, (bad, message)


def html_of(page_tabs, space, result) -> str:
    return page_tabs.html.similar_page(result, space.art.url, page_tabs.MODE_EXPLANATIONS[result["mode"]])


def test_the_similar_controls(app, space, demo):
    """The controls' component: its value is the first request, its list offers every Pokémon once by display name
    (a name several share gets the dataset's name after it), and it holds the four controls."""
    import re

    import page_controls

    controls = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "similar-controls")
    assert controls.value == page_controls.first_request(space)
    assert controls.value["name"] in space.index.names and controls.value["k"] == space.k_default
    options = [line.split("\t") for line in controls.props["names"].split("\n")]
    labels = [label for label, _ in options]
    assert [name for _, name in options] == list(space.index.names) and len(set(labels)) == len(labels)
    assert set(labels) >= set(space.display) - {d for d in space.display if list(space.display).count(d) > 1}
    assert page_controls.name_options(["a", "b", "c"], ["Koraidon", "Koraidon", "Mew"]) == [
        ("Koraidon (a)", "a"), ("Koraidon (b)", "b"), ("Mew", "c")]
    assert page_controls.options_text([("Mr.\tMime", "mr-mime"), ("Mew\n", "mew")]) == "Mr. Mime\tmr-mime\nMew\tmew"
    template = controls.html_template
    assert [i for i in re.findall(r'\bid="([\w-]+)"', template) if i in page_controls.CONTROL_IDS] == list(
        page_controls.CONTROL_IDS)
    assert re.findall(r'type="radio" name="pk-rank-mode" value="(\w+)"', template) == ["text", "image", "umap",
                                                                                       "combined"]
    assert f'max="{space.k_max}"' in template and '<datalist id="pk-names"></datalist>' in template
    # Gradio reads the template as a JS template literal (and Handlebars): nothing in it may be evaluated
    assert not [c for c in ("`", "${", "\\", "{{") if c in template]


HIDDEN_TAB_ELEMENTS = ("question", "ask-view", "upload", "picture-view", "arithmetic-expression", "arithmetic-view",
                       "map-view", "pk-map-canvas", "oddballs-view", "pairs-view")


def test_the_page_sends_only_the_first_tab(app, demo, space):
    """The hidden tabs are built when first opened (page_deferred), so the page's config holds the Similar tab's
    components and only a state per hidden tab: none of their elements, no map data."""
    config = json.dumps(demo.get_config_file(), default=lambda _: None)
    elem_ids = {c["props"].get("elem_id") for c in demo.get_config_file()["components"]}
    assert {"similar-view", "similar-controls"} <= elem_ids and not elem_ids & set(HIDDEN_TAB_ELEMENTS)
    assert "pk-map-canvas" not in config  # the map's template comes with its tab
    assert '"nb"' not in config and '"thumb_base"' not in config
    labels = [c["props"].get("label") for c in demo.get_config_file()["components"] if c["type"] == "tabitem"]
    assert labels == ["Similar"] + [label for label, _, _ in app.DEFERRED_TABS]
    assert len(config) < 200_000, len(config)


def build_tab(app, space, tab_id: str, params: dict, chosen: str | None = None):
    """A deferred tab built as its render builds it, in a Blocks of its own: (the view it gives, its components by
    elem_id, its page functions by name)."""
    import gradio as gr

    build = next(b for _, i, b in app.DEFERRED_TABS if i == tab_id)
    with gr.Blocks() as blocks:
        view = build(space, params, chosen or space.index.names[0])
    return (view, {getattr(c, "elem_id", None): c for c in blocks.blocks.values()},
            {f.name: f.fn for f in blocks.fns.values()})


def test_each_deferred_tab_builds_its_view(app, space, rows):
    for _, tab_id, _ in app.DEFERRED_TABS:
        view, components, _ = build_tab(app, space, tab_id, {})
        assert view.elem_id == f"{tab_id}-view" and components[f"{tab_id}-view"] is view
    view, _, _ = build_tab(app, space, "oddballs", {})
    assert view.value.count('class="pk-tile"') >= 1  # the first view is filled when the tab is built
    view, _, _ = build_tab(app, space, "map", {}, chosen=rows[3]["name"])
    assert view.value["start"] == space.index.find(rows[3]["name"]) == 3  # starts on the Similar tab's Pokémon


def test_a_deferred_tab_opens_on_its_links_parameters(app, space, rows):
    import page_tabs

    question = "a small blue turtle"
    view, components, _ = build_tab(app, space, "ask", {"tab": "ask", "q": question})
    assert components["question"].value == question and f"<b>{question}</b>" in view.value
    expression = f"{rows[0]['name']} + ({rows[1]['name']} - {rows[2]['name']})"
    view, components, _ = build_tab(app, space, "arithmetic", {"tab": "arithmetic", "expr": expression, "space": "text"})
    assert components["arithmetic-expression"].value == expression
    assert view.value == page_tabs.arithmetic_handlers(space)["compute"](expression, "text", space.k_default)[0]
    view, components, _ = build_tab(app, space, "arithmetic", {"tab": "arithmetic", "expr": "pikachuu + type:nothing"})
    assert view.value is None and "No Pokémon named &#x27;pikachuu&#x27;" in components["arithmetic-message"].value
    view, components, _ = build_tab(app, space, "pairs", {"tab": "pairs", "modality": "image"})
    assert components["pairs-modality"].value == "image" and 'data-pairs-modality="image"' in view.value
    view, _, _ = build_tab(app, space, "map", {"tab": "map", "pokemon": rows[5]["name"]}, chosen=rows[2]["name"])
    assert view.value["start"] == 5  # the link's Pokémon, not the Similar tab's


def test_example_chips_use_the_tabs_own_controls(app, space, rows):
    """An Ask example, a Sums preset and an example picture fill their box and answer with the tab's "How many" (and
    forms switch), not the page's defaults."""
    import page_tabs

    example = build_tab(app, space, "ask", {})[2]["example"]
    question, view, message = list(example(["a grumpy purple ghost"], 3, False))[-1]
    expected = page_tabs.ask_handlers(space)["answer"]("a grumpy purple ghost", 3, False)
    assert question == "a grumpy purple ghost" and (view, message) == expected and view.count('class="pk-tile"') == 6
    preset = build_tab(app, space, "arithmetic", {})[2]["preset"]
    expression = f"{rows[0]['name']} + ({rows[1]['name']} - {rows[2]['name']})"
    filled = preset([expression, "image"], 4)
    assert filled == (expression, "image", *page_tabs.arithmetic_handlers(space)["compute"](expression, "image", 4))
    assert filled[2].count('class="pk-tile"') == 4

    picture = str(next(iter(page_tabs.example_pictures(space).values())))
    example = build_tab(app, space, "picture", {})[2]["example"]
    shown, view, message = list(example([picture], 2))[-1]
    assert shown == picture and (view, message) == page_tabs.picture_handlers(space)["look_up"](picture, 2)
    assert view.count('class="pk-tile"') == 2


def test_a_link_hands_its_parameters_to_the_tab_it_names(app, demo, space, rows):
    import gradio as gr
    import page_links

    tabs, controls = gr.Tabs(render=False), gr.HTML(render=False)
    opened = {tab: gr.State(render=False) for tab in ("ask", "map")}
    start = {"name": rows[0]["name"], "mode": "text", "k": 7, "forms": True}
    similar = {"controls": controls, "start": start}
    updates = page_links.link_updates(space, {"tab": "ask", "q": "a fish", "pokemon": "nobody-at-all"}, tabs,
                                      similar, opened)
    assert updates[opened["ask"]] == {"tab": "ask", "q": "a fish"} and controls not in updates
    assert opened["map"] not in updates and updates[tabs].selected == "ask"
    updates = page_links.link_updates(space, {"tab": "map", "pokemon": rows[4]["name"].upper(), "mode": "image"},
                                      tabs, similar, opened)
    assert updates[opened["map"]] == {"tab": "map", "pokemon": rows[4]["name"], "mode": "image"}
    assert updates[controls] == {**start, "name": rows[4]["name"], "mode": "image"}
    assert page_links.link_updates(space, {"tab": "similar", "mode": "umap"}, tabs, similar, opened)[controls] == {
        **start, "mode": "umap"}
    assert page_links.link_updates(space, {"pokemon": rows[2]["name"], "mode": "smell"}, tabs, similar,
                                   opened)[controls] == {**start, "name": rows[2]["name"]}
    assert page_links.link_updates(space, {"q": "a fish"}, tabs, similar, opened) == {}
    assert page_links.link_updates(space, {"tab": "nowhere", "pokemon": rows[4]["name"]}, tabs, similar,
                                   opened)[tabs].selected == "similar"


def test_the_stylesheet_holds_the_results_back_for_controls_the_page_has(demo):
    """style.css hides the Similar results until the controls it names are drawn: each id it names must be a
    Similar control of the page (a renamed control would hide the results for good)."""
    import re

    css = (ROOT / "space" / "assets" / "style.css").read_text(encoding="utf-8")
    rule = next(line for line in css.splitlines() if line.startswith(".column:has(> #similar-view)"))
    named = re.findall(r":has\(#([\w-]+) input\)", rule)
    controls = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "similar-controls")
    holding = ids_holding_an_input(controls.html_template)
    assert len(named) == 4 and set(named) <= holding, (named, holding)


def ids_holding_an_input(markup: str) -> set[str]:
    """The ids of the elements of `markup` with an <input> inside them."""
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str | None] = []
            self.found: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "input":
                self.found.update(i for i in self.open if i)
            else:
                self.open.append(dict(attrs).get("id"))

        def handle_endtag(self, tag: str) -> None:
            if tag != "input" and self.open:
                self.open.pop()

    parser = Parser()
    parser.feed(markup)
    return parser.found


def test_the_load_event_only_reads_the_link(demo, rows):
    """Gradio refreshes every output of the load event in the browser, copying each one's whole component tree: the
    load event outputs one state (the link's parameters, None without a link), and that state's change updates
    the tabs, the Similar controls and the deferred tabs only when a link names something."""
    from types import SimpleNamespace

    types = {block_id: block.get_block_name() for block_id, block in demo.blocks.items()}
    loads = [f for f in demo.fns.values() if any(event == "load" for _, event in f.targets)]
    assert len(loads) == 1 and [types[o._id] for o in loads[0].outputs] == ["state"]
    read_link = loads[0].fn
    assert read_link(SimpleNamespace(query_params={})) is None
    assert read_link(SimpleNamespace(query_params={"q": "a fish"})) is None  # names no tab and no Pokémon
    link = {"tab": "map", "pokemon": rows[4]["name"]}
    assert read_link(SimpleNamespace(query_params=link)) == link
    state = loads[0].outputs[0]
    applies = [f for f in demo.fns.values() if (state._id, "change") in f.targets]
    assert len(applies) == 1 and {"tabs", "html"} <= {types[o._id] for o in applies[0].outputs}
    assert "similar-controls" in {o.elem_id for o in applies[0].outputs}


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
    """A click on a picture: the Similar request names that Pokémon (its mode, number and forms switch kept) and
    the Similar tab is selected."""
    import gradio as gr

    chooses = [f for f in demo.fns.values() if f.name == "choose"]
    assert chooses and all([i.elem_id for i in f.inputs] == ["similar-controls"] and [o.elem_id for o in f.outputs] ==
                           ["similar-controls", "pk-tabs"] for f in chooses)
    choose = chooses[0].fn
    request = {"name": "mew", "mode": "image", "k": 5, "forms": False}
    controls, tabs = choose(request, gr.EventData(None, {"name": "pikachu"}))
    assert controls == {**request, "name": "pikachu"} and isinstance(tabs, gr.Tabs) and tabs.selected == "similar"
    assert request["name"] == "mew"  # the request it was given is not changed
    assert all(isinstance(v, type(gr.skip())) for v in choose(request, gr.EventData(None, {})))


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
