"""The All pairs tab (the article's "1 million points" chart): every pair's cosine similarity as one image rendered
once per dataset on the server, generation blocks labelled, each generation's lowest-median row marked; hovering
a cell fetches that one row's numbers (`chart_row`, a server function of the view) and shows both Pokémon; a click
on a row or a mark opens that Pokémon in Similar."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from page_events import first_view, with_outputs
from pokembed.explore.chart_view import chart_result, chart_row
from pokembed.explore.space import Space

PAIRS_JS = (Path(__file__).resolve().parent / "assets" / "pairs.js").read_text(encoding="utf-8")
MODALITY_CHOICES = [("Records (text)", "text"), ("Artwork (image)", "image"), ("Both (combined)", "combined")]


def _percent(position: float, size: int) -> str:
    return f"{100.0 * position / max(size, 1):.3f}%"


def short(label: str) -> str:
    """A block's label beside the chart: "Gen IV", "Other forms"."""
    return label.replace("Generation ", "Gen ")


def chart_overlay(result: Mapping[str, Any]) -> str:
    """Generation blocks (lines and labels) and the lowest-median marks, placed in percent of the chart's side."""
    n = result["size"]
    parts = []
    for block in result["blocks"]:
        top, mid = _percent(block["start"], n), _percent((block["start"] + block["stop"]) / 2, n)
        parts.append(f'<i class="pk-pairs-line" style="top:{top}"></i><i class="pk-pairs-vline" style="left:{top}">'
                     f'</i><span class="pk-pairs-label" style="top:{mid}">{escape(short(block["label"]))}</span>')
    for mark in result["lowest_median"]:
        where = _percent(mark["position"] + 0.5, n)
        parts.append(f'<button type="button" class="pk-pairs-mark" data-name="{escape(mark["name"])}" '
                     f'style="top:{where}" title="{escape(mark["display_name"])}: the lowest median similarity in '
                     f'{escape(mark["generation_label"])} ({mark["median_similarity"]:.3f}); click to explore">'
                     f'◀ {escape(mark["display_name"])}</button>')
    return "".join(parts)


def pairs_page(result: Mapping[str, Any]) -> str:
    """The chart, its overlay, its colour legend, the hover panel, and the data the script needs (names, not
    numbers: a row's numbers are fetched on hover)."""
    n = result["size"]
    scale = ", ".join(f'{s["colour"]} {100 * i / (len(result["colour_scale"]) - 1):.0f}%'
                      for i, s in enumerate(result["colour_scale"]))
    data = {k: result[k] for k in ("modality", "default_only", "ids", "names", "display_names", "has_artwork",
                                   "thumb_base", "placeholder", "size")}
    marked = ", ".join(m["display_name"] for m in result["lowest_median"])
    return (f'<div class="pk-pairs" data-pairs-modality="{escape(result["modality"])}">'
            f'<div class="pk-pairs-body"><div class="pk-pairs-plot">'
            f'<img class="pk-pairs-img" src="{escape(result["image"])}" width="{n}" height="{n}" '
            f'alt="The cosine similarity of every pair of the {n:,} Pokémon, ordered by number, generations as '
            f'blocks; lowest-median rows: {escape(marked)}">{chart_overlay(result)}</div>'
            f'<aside class="pk-pairs-tip" aria-live="polite"><p class="pk-heading">Hover (or tap) the chart: each '
            "cell is two Pokémon. Click a row to explore its Pokémon.</p></aside></div>"
            f'<div class="pk-pairs-legend"><span>{result["vmin"]:.3f}</span><i style="background:linear-gradient('
            f'to right, {scale})"></i><span>{result["vmax"]:.3f}</span> <small>cosine similarity (brighter: more '
            f'alike)</small></div><script type="application/json" class="pk-pairs-data">'
            f'{escape(json.dumps(data, separators=(",", ":")), quote=False)}</script></div>')


def pairs_handlers(space: Space) -> dict[str, Any]:
    """The All pairs tab's handlers: `show` (the chart of one modality) and `row` (one row's numbers, a server
    function of the view: Gradio passes the script's one argument)."""

    @with_outputs(1)
    def show(modality: str, forms: bool) -> tuple[str]:
        return (pairs_page(chart_result(space, modality, bool(forms))),)

    def row(query: Any) -> dict:
        query = query[0] if isinstance(query, list) and len(query) == 1 else query
        if not isinstance(query, Mapping):
            raise gr.Error("send {modality, default_only, position}", print_exception=False)
        return chart_row(space, str(query.get("modality")), bool(query.get("default_only", True)),
                         int(query.get("position") or 0))

    return {"show": show, "row": row}


def pairs_tab(space: Space, params: Mapping[str, str], chosen: str) -> gr.HTML:
    """The All pairs tab, on the link's modality or text (the chart is computed when first shown, then cached)."""
    handlers = pairs_handlers(space)
    show = handlers["show"]
    first = params.get("modality") if params.get("modality") in ("text", "image", "combined") else "text"
    gr.Markdown("Every pair of Pokémon at once, as in the article's \"1 million points\" chart: row and column "
                "are Pokémon in number order, a cell's colour is how alike the two are. Generations show as "
                "blocks; the arrows mark each generation's oddball, the Pokémon least like the rest of its "
                "generation (the article found Magikarp).")
    with gr.Row(equal_height=True):
        modality = gr.Radio(MODALITY_CHOICES, value=first, label="Compare", elem_id="pairs-modality", scale=3,
                            interactive=True)
        forms = gr.Checkbox(True, label="Default forms only", elem_id="pairs-default-only", scale=1, interactive=True)
    initial, note = first_view(show(first, True))
    message = gr.HTML(note, elem_id="pairs-message", elem_classes="pk-msg-slot")
    view = gr.HTML(initial, elem_id="pairs-view", elem_classes="pk-view", js_on_load=PAIRS_JS,
                   server_functions=[handlers["row"]])
    gr.on([modality.input, forms.input], show, [modality, forms], [view, message], api_visibility="private",
          trigger_mode="always_last")
    return view
