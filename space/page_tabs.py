"""The page's tabs, one function each: Similar, Ask, By picture, Sums (arithmetic), Map and Oddballs. Each lays out
its components and wires them to the answers in `pokembed.explore` (rendered by `pokedex_html`); all page events are
private (the API is `page_api`). Similar is built with the page; the others are deferred (`page_deferred`): called
as `build(params, chosen)` when first opened, with a shared link's parameters, and their handlers made by
`*_handlers(space)`."""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

import pokedex_html as html
from page_text import ask_intro
from page_controls import first_request, read_request, similar_controls
from page_events import first_view, while_loading, with_outputs
from pokembed.errors import PokembedError
from pokembed.explore.answers import (arithmetic_result, ask_result, available_presets, default_expression,
                                      oddballs_result, picture_result, records_result, similar_result)
from pokembed.explore.map_data import map_view
from pokembed.explore.space import EXAMPLE_QUESTIONS, RECORD_QUESTIONS, Space

ASSETS = Path(__file__).resolve().parent / "assets"
TILES_JS = (ASSETS / "tiles.js").read_text(encoding="utf-8")
MAP_JS = (ASSETS / "map.js").read_text(encoding="utf-8")
MAP_TEMPLATE = (ASSETS / "map.html").read_text(encoding="utf-8")
MODE_EXPLANATIONS = {
    "text": "what their PokéAPI records say",
    "image": "how their official artwork looks",
    "umap": "how close they are on the map",
    "combined": "their records and their artwork together",
}
MODALITY_CHOICES = [("Text", "text"), ("Image", "image"), ("Combined", "combined")]
ARITHMETIC_SPACE_CHOICES = [("Text (records)", "text"), ("Image (artwork)", "image")]


def similar_handlers(space: Space) -> dict[str, Any]:
    """The Similar tab's handler: `show(request, shown)` gives (view, shown, controls, message) for a request from
    the controls (page_controls) when it differs from the one shown. Shown, the request is kept as `shown` and,
    where it was not already, written back to the controls in its checked form (the dataset's name for a typed
    one); on bad input the view stays and the controls are put back to what is shown."""

    @with_outputs(3, kept=lambda request, shown: (gr.skip(), gr.skip(), shown))
    def render(request: Any, shown: Mapping[str, Any]) -> tuple:
        wanted = read_request(request, space.k_max)
        result = similar_result(space, wanted["name"], wanted["mode"], wanted["k"], wanted["forms"])
        now = {**wanted, "name": result["pokemon"]["name"]}
        view = html.similar_page(result, space.art.url, MODE_EXPLANATIONS[wanted["mode"]])
        return view, now, (gr.skip() if now == request else now)

    def show(request: Any, shown: Mapping[str, Any]) -> tuple:
        if request == shown:  # what is on screen (a request put back): nothing to do, the message stays
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return render(request, shown)

    return {"show": show}


def similar_tab(space: Space) -> dict[str, Any]:
    """Similar Pokémon: the controls, the chosen Pokémon's card beside its nearest Pokémon, then the 9 × 3
    per-generation grid. Gives its components: "controls" (their value is the request), "shown" (the request on
    screen), "view", "message", and "start" (the first request)."""
    start = first_request(space)
    show = similar_handlers(space)["show"]
    with gr.Tab("Similar", id="similar"):
        controls = similar_controls(space, start)
        message = gr.HTML(elem_id="similar-message", elem_classes="pk-msg-slot", js_on_load=TILES_JS)
        view = gr.HTML(show(start, None)[0], elem_id="similar-view", elem_classes="pk-view", js_on_load=TILES_JS)
        shown = gr.State(start)
        # always_last: while one request is answered, only the latest of those made meanwhile waits
        controls.change(show, [controls, shown], [view, shown, controls, message], show_progress="hidden",
                        trigger_mode="always_last", api_visibility="private")
    return {"controls": controls, "shown": shown, "view": view, "message": message, "start": start}


def forms_switch(elem_id: str) -> gr.Checkbox:
    """The "default forms only" switch, on by default: Megas, Gigantamax, regional and other alternate forms left
    out of the results."""
    return gr.Checkbox(True, interactive=True, label="Default forms only",
                       info="leave out Megas, Gigantamax and other forms",
                       elem_id=elem_id, min_width=150, scale=1)


def how_many(space: Space) -> gr.Slider:
    """A deferred tab's "How many" slider. Its inputs say interactive=True: Gradio shows a component built in a
    render disabled otherwise."""
    return gr.Slider(1, space.k_max, value=space.k_default, step=1, label="How many", scale=1, min_width=150,
                     interactive=True)


def ask_handlers(space: Space) -> dict[str, Any]:
    """The Ask tab's handlers: `answer` (artwork and records for one question) and `ask` (the same, first saying so
    while the question model loads)."""

    @with_outputs(1)
    def answer(question: str, k: float, forms: bool = True) -> tuple[str]:
        artwork = ask_result(space, question, int(k), bool(forms))
        records = records_result(space, artwork["question"], int(k), bool(forms))
        return (ask_page(space, artwork, records, int(k)),)

    return {"answer": answer, "ask": while_loading(lambda: space.models.query_ready, "question", answer)}


def ask_opening(space: Space, handlers: Mapping[str, Any], question: str) -> tuple[Any, str]:
    """The Ask tab's first view and message: the question's answers (the first example's from the warm-up)."""
    result = space.answers.get(question)
    if result is not None and len(result["matches"]) >= space.k_default:
        try:
            return ask_page(space, result, records_result(space, question, space.k_default), space.k_default), ""
        except PokembedError as exc:
            return None, html.message(str(exc))
    return first_view(list(handlers["ask"](question, space.k_default))[-1])


def ask_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """Ask the Pokédex: a question against the artwork and, beside it, against the records (nomic's retrieval use),
    opening with the link's question or the first example's answer."""
    handlers = ask_handlers(space)
    ask = handlers["ask"]
    first = (params.get("q") or "").strip()[: space.config.max_question_chars] or EXAMPLE_QUESTIONS[0]

    def example(sample: list, k: float, forms: bool) -> Iterator[tuple]:
        """An example chip: into the question box, then asked with the tab's own "How many" and forms switch."""
        for view, message in ask(sample[0], k, forms):
            yield sample[0], view, message

    gr.Markdown(ask_intro(space))
    with gr.Row(equal_height=True):
        question = gr.Textbox(first, interactive=True, label="Describe a Pokémon", max_lines=2, scale=4,
                              elem_id="question", min_width=220)
        k = how_many(space)
        forms = forms_switch("ask-default-only")
    button = gr.Button("Search the artwork and the records", variant="primary", elem_id="ask-button")
    view_html, message_html = ask_opening(space, handlers, first)
    message = gr.HTML(message_html, elem_id="ask-message", elem_classes="pk-msg-slot")
    view = gr.HTML(view_html, elem_id="ask-view", elem_classes="pk-view", js_on_load=TILES_JS, render=False)
    for questions, label, elem_id in ((EXAMPLE_QUESTIONS, "Try one (click to ask)", "ask-examples"),
                                      (RECORD_QUESTIONS, "Questions for the records", "ask-record-examples")):
        chips = gr.Dataset(components=[question], samples=[[q] for q in questions], type="values", label=label,
                           elem_id=elem_id)
        chips.click(example, [chips, k, forms], [question, view, message], api_visibility="private",
                    trigger_mode="always_last")
    view.render()
    gr.on([button.click, question.submit, forms.input], ask, [question, k, forms], [view, message],
          api_visibility="private", trigger_mode="always_last")
    return view


def ask_page(space: Space, artwork: Mapping[str, Any], records: Mapping[str, Any], k: int) -> str:
    """The Ask tab's view: the artwork's and the records' answers to one question, side by side."""
    asked = html.escape(artwork["question"])
    return html.side_by_side(
        html.results_page(artwork["matches"][:k], space.art.url,
                          f"<b>Artwork</b> that best matches <b>{asked}</b> (click a picture to explore that "
                          "Pokémon)"),
        html.results_page(records["matches"][:k], space.art.url,
                          f"<b>Records</b> (what PokéAPI says about each Pokémon) that best answer <b>{asked}</b>"))


def arithmetic_handlers(space: Space) -> dict[str, Any]:
    """The Sums tab's handler: `compute` (an expression in a space, its nearest Pokémon)."""

    @with_outputs(1)
    def compute(expression: str, embedding_space: str, k: float) -> tuple[str]:
        return (html.arithmetic_page(arithmetic_result(space, expression, embedding_space, int(k)), space.art.url),)

    return {"compute": compute}


def arithmetic_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """Embedding arithmetic: Pokémon and type or generation centroids added and subtracted, the nearest shown;
    opens on the link's expression (and space) or the default one."""
    compute = arithmetic_handlers(space)["compute"]
    presets = available_presets(space)
    first, first_space = default_expression(space)

    def preset(sample: list, k: float) -> tuple:
        """A preset chip: into the expression box and the space switch, computed with the tab's "How many"."""
        return (sample[0], sample[1], *compute(sample[0], sample[1], k))

    if params.get("expr"):
        first = params["expr"][: space.config.max_question_chars]
        first_space = params.get("space") if params.get("space") in ("text", "image") else "text"
    gr.Markdown("Add and subtract Pokémon, like *king − man + woman = queen* with words: write Pokémon names, "
                "`type:water` or `generation:iv`, joined by `+` and `-` with spaces around them, and see which "
                "Pokémon is nearest to the result. Parentheses group: `charmander + (wartortle - squirtle)`.")
    with gr.Row(equal_height=True):
        expression = gr.Textbox(first, interactive=True, label="Expression", max_lines=1, scale=4,
                                elem_id="arithmetic-expression", min_width=220)
        embedding_space = gr.Radio(ARITHMETIC_SPACE_CHOICES, value=first_space, label="Space", scale=2,
                                   elem_id="arithmetic-space", min_width=200, interactive=True)
        k = how_many(space)
    button = gr.Button("Compute", variant="primary", elem_id="arithmetic-button")
    initial, note = first_view(compute(first, first_space, space.k_default))
    message = gr.HTML(note, elem_id="arithmetic-message", elem_classes="pk-msg-slot")
    view = gr.HTML(initial, elem_id="arithmetic-view", elem_classes="pk-view", js_on_load=TILES_JS, render=False)
    if presets:
        chips = gr.Dataset(components=[expression, embedding_space], samples=[[p.expression, p.space] for p in presets],
                           sample_labels=[p.label for p in presets], type="values",
                           label="Presets that tell a story (click to compute)", elem_id="arithmetic-presets")
        chips.click(preset, [chips, k], [expression, embedding_space, view, message], api_visibility="private",
                    trigger_mode="always_last")
    view.render()
    gr.on([button.click, expression.submit, embedding_space.change], compute, [expression, embedding_space, k],
          [view, message], trigger_mode="always_last", api_visibility="private")
    return view


def picture_handlers(space: Space) -> dict[str, Any]:
    """The By picture tab's handlers: `look_up` (an upload's look-alikes) and `search` (the same, first saying so
    while the picture model loads)."""

    @with_outputs(1)
    def look_up(upload: Any, k: float) -> tuple[str]:
        path = upload.get("path") if isinstance(upload, Mapping) else upload
        result = picture_result(space, path, int(k))
        heading = (f"Artwork that looks most like your {result['width']}×{result['height']} picture (click a "
                   "picture to explore that Pokémon)")
        return (html.results_page(result["matches"], space.art.url, heading),)

    return {"look_up": look_up, "search": while_loading(lambda: space.models.image_ready, "picture", look_up)}


def picture_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """Search by picture: an uploaded picture's image embedding against the artwork, or one of three examples."""
    search = picture_handlers(space)["search"]
    gr.Markdown(f"Upload a drawing or a photo to find the Pokémon whose artwork looks most like it (of the "
                f"{space.artwork_count:,} that have artwork; PNG, JPEG or WebP, under "
                f"{space.config.max_upload_bytes / 1e6:.0f} MB).")
    with gr.Row(equal_height=True):
        upload = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Your picture", image_mode=None,
                          height=260, elem_id="upload", scale=2, min_width=220, interactive=True)
        k = how_many(space)
    button = gr.Button("Find look-alikes", variant="primary", elem_id="picture-button")
    message = gr.HTML(elem_id="picture-message", elem_classes="pk-msg-slot")
    view = gr.HTML(elem_id="picture-view", elem_classes="pk-view", js_on_load=TILES_JS, render=False)

    def example(sample: list, k: float) -> Iterator[tuple]:
        """An example picture: shown in the picture box, then searched with the tab's "How many"."""
        for view, message in search(sample[0], k):
            yield sample[0], view, message

    examples = example_pictures(space)
    if examples:
        chips = gr.Dataset(components=[upload], samples=[[str(path)] for path in examples.values()],
                           sample_labels=list(examples), type="values", elem_id="picture-examples",
                           label="Or try one of the dataset's own pictures")
        chips.click(example, [chips, k], [upload, view, message], api_visibility="private",
                    trigger_mode="always_last")
    view.render()
    # preprocess=False: our validation (type, pixels, bytes) reads the uploaded file, not Gradio's decoder
    gr.on([button.click, upload.upload], search, [upload, k], [view, message], preprocess=False,
          api_visibility="private")
    return view


EXAMPLE_PICTURES = ("pikachu", "psyduck", "gengar")


def example_pictures(space: Space) -> dict[str, Path]:
    """Three of the dataset's own artwork files to try (display name -> file): Pikachu, Psyduck and Gengar where the
    dataset has them, else its first three with artwork."""
    index = space.index
    rows = [index.find(n) for n in EXAMPLE_PICTURES if n in index.names and index.has_image[index.find(n)]]
    rows += [r for r in range(len(index)) if index.has_image[r] and r not in rows]
    return {space.display[r]: space.art.cards[int(index.ids[r])] for r in rows[:3] if int(index.ids[r]) in space.art.cards}


def map_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """The map: every Pokémon placed by UMAP or by PCA, starting on the Similar tab's Pokémon; its data is sent
    when the tab first opens, not with the page."""
    x_share, y_share = (f"{r:.1%}" for r in space.pca.explained_variance_ratio)
    gr.Markdown("Each dot is a Pokémon: neighbours on the map have similar records and artwork. Hover for "
                "artwork; click a dot (or find a name) to list its nearest neighbours. Switch the layout to "
                f"**PCA**, a straight projection of the same numbers (its axes explain {x_share} and {y_share} "
                "of their variance), to see how much of the clustering the map's method (UMAP) adds.")
    return gr.HTML(map_view(space, params.get("pokemon") or chosen), html_template=MAP_TEMPLATE, js_on_load=MAP_JS,
                   elem_id="map-view", elem_classes="pk-view")


def oddballs_handlers(space: Space) -> dict[str, Any]:
    """The Oddballs tab's handler: `show` (each generation's oddballs in one modality)."""

    @with_outputs(1)
    def show(modality: str, forms: bool = True) -> tuple[str]:
        return (html.oddballs_page(oddballs_result(space, modality, bool(forms)), space.art.url),)

    return {"show": show}


def oddballs_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """Oddballs: in each generation, the Pokémon least like the others (the article's Magikarp)."""
    show = oddballs_handlers(space)["show"]
    with gr.Row(equal_height=True):
        modality = gr.Radio(MODALITY_CHOICES, value="text", label="Embeddings", elem_id="oddball-modality", scale=3,
                            interactive=True)
        forms = forms_switch("oddballs-default-only")
    initial, note = first_view(show("text", True))
    message = gr.HTML(note, elem_id="oddballs-message", elem_classes="pk-msg-slot")
    view = gr.HTML(initial, elem_id="oddballs-view", elem_classes="pk-view", js_on_load=TILES_JS)
    gr.on([modality.change, forms.input], show, [modality, forms], [view, message], api_visibility="private")
    return view
