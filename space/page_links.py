"""Shareable links: the page's URL names the tab and the Pokémon (and the question or the expression), kept up to
date by assets/page.js as the visitor explores; opening such a link shows that view (`open_shared_link`, on load).

The parameters: `tab` (similar, ask, picture, arithmetic, map, oddballs, pairs), `pokemon` (a name, as the API takes
it), `mode` (Similar's ranking), `q` (Ask's question), `expr` and `space` (Sums). Unknown values are ignored: a
link never shows an error, at worst the default view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from pokembed.errors import PokembedError
from pokembed.explore.map_data import map_view
from pokembed.explore.space import Space

TABS = ("similar", "ask", "picture", "arithmetic", "map", "oddballs", "pairs")
MODES = ("text", "image", "umap", "combined")
PAGE_JS = (Path(__file__).resolve().parent / "assets" / "page.js").read_text(encoding="utf-8")


def page_script() -> str:
    """The document-level script (for launch's `head`) that keeps the URL naming what is shown."""
    return f"<script>{PAGE_JS}</script>"


def known_name(space: Space, name: str | None) -> str | None:
    """The dataset's name for `name`, or None when it names no Pokémon."""
    if not name:
        return None
    try:
        return space.index.names[space.index.find(name)]
    except PokembedError:
        return None


def open_shared_link(demo: gr.Blocks, space: Space, tabs: gr.Tabs, parts: Mapping[str, Mapping[str, Any]]) -> None:
    """On load, show the view the URL names: pick the tab, set the Pokémon, the question or the expression, and
    fill the views that otherwise fill when their tab is first opened (Ask, Map, Oddballs, All pairs)."""
    similar, ask, sums = parts["similar"], parts["ask"], parts["arithmetic"]
    outputs = [tabs, similar["name"], similar["mode"], ask["question"], ask["view"], ask["message"], ask["shown"],
               sums["expression"], sums["space"], sums["view"], sums["message"], parts["map"]["view"],
               parts["map"]["loaded"], parts["oddballs"]["view"], parts["oddballs"]["loaded"]]
    extra = parts.get("pairs", {}).get("link_outputs", [])
    fillers: list[Callable[[Mapping[str, str], str | None], dict]] = [
        lambda p, name: _similar(similar, p, name),
        lambda p, name: _ask(ask, space, p),
        lambda p, name: _sums(sums, p, space.k_default),
        lambda p, name: {parts["map"]["view"]: map_view(space, name), parts["map"]["loaded"]: True}
        if p.get("tab") == "map" else {},
        lambda p, name: _oddballs(parts["oddballs"], p),
        parts.get("pairs", {}).get("open_link", lambda p, name: {}),
    ]

    def opened(request: gr.Request) -> dict:
        params = {k: v for k, v in dict(request.query_params).items() if isinstance(v, str)} if request else {}
        tab = params.get("tab")
        if tab not in TABS and "pokemon" not in params:
            return {}
        name = known_name(space, params.get("pokemon"))
        updates: dict = {tabs: gr.Tabs(selected=tab if tab in TABS else "similar")}
        for fill in fillers:
            updates.update(fill(params, name))
        return updates

    demo.load(opened, None, outputs + extra, show_progress="hidden", api_visibility="private")


def _similar(similar: Mapping[str, Any], params: Mapping[str, str], name: str | None) -> dict:
    updates: dict = {}
    if name:
        updates[similar["name"]] = name
    if params.get("mode") in MODES:
        updates[similar["mode"]] = params["mode"]
    return updates


def _ask(ask: Mapping[str, Any], space: Space, params: Mapping[str, str]) -> dict:
    if params.get("tab") != "ask":
        return {}
    question = (params.get("q") or "").strip()[: space.config.max_question_chars]
    if not question:
        return {}
    view, message = list(ask["ask"](question, space.k_default))[-1]
    return {ask["question"]: question, ask["view"]: view, ask["message"]: message, ask["shown"]: True}


def _sums(sums: Mapping[str, Any], params: Mapping[str, str], k: int) -> dict:
    if params.get("tab") != "arithmetic" or not params.get("expr"):
        return {}
    embedding_space = params.get("space") if params.get("space") in ("text", "image") else "text"
    view, message = sums["compute"](params["expr"], embedding_space, k)
    return {sums["expression"]: params["expr"], sums["space"]: embedding_space, sums["view"]: view,
            sums["message"]: message}


def _oddballs(oddballs: Mapping[str, Any], params: Mapping[str, str]) -> dict:
    if params.get("tab") != "oddballs":
        return {}
    view, message = oddballs["show"]("text")
    return {oddballs["view"]: view, oddballs["loaded"]: True}
