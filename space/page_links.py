"""Shareable links: the page's URL names the tab and the Pokémon (and the question or the expression), kept up to
date by assets/page.js as the visitor explores; opening such a link shows that view (`open_shared_link`, on load:
the deferred tab it names builds itself from the link's parameters).

The parameters: `tab` (similar, ask, picture, arithmetic, map, oddballs, pairs), `pokemon` (a name, as the API takes
it), `mode` (Similar's ranking), `q` (Ask's question), `expr` and `space` (Sums). Unknown values are ignored: a
link never shows an error, at worst the default view.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from pokembed.errors import PokembedError
from pokembed.explore.index import MODES
from pokembed.explore.space import Space

TABS = ("similar", "ask", "picture", "arithmetic", "map", "oddballs", "pairs")
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


def open_shared_link(demo: gr.Blocks, space: Space, tabs: gr.Tabs, similar: Mapping[str, Any],
                     opened: Mapping[str, gr.State]) -> None:
    """On load, show the view the URL names: pick the tab, set the Similar tab's request (Pokémon, mode), hand the
    link's parameters to the deferred tab it names (its `opened` state), which builds itself from them.

    The load event only reads the link into a state; the state's change (a link that names something) updates the
    page. Every output of the load event is refreshed in the browser whether or not it changes (Gradio copies a
    tab's whole component tree, 1,351 Pokémon names included, for each), so a visitor without a link pays nothing.
    """
    link = gr.State(None)

    def read_link(request: gr.Request) -> dict | None:
        params = {k: v for k, v in dict(request.query_params).items() if isinstance(v, str)} if request else {}
        return params if names_a_view(params) else None

    demo.load(read_link, None, [link], show_progress="hidden", api_visibility="private")
    link.change(lambda params: link_updates(space, params or {}, tabs, similar, opened), [link],
                [tabs, similar["controls"], *opened.values()], show_progress="hidden",
                api_visibility="private")


def names_a_view(params: Mapping[str, str]) -> bool:
    """Whether a link's parameters name anything to show: a known tab or a Pokémon."""
    return params.get("tab") in TABS or "pokemon" in params


def link_updates(space: Space, params: Mapping[str, str], tabs: gr.Tabs, similar: Mapping[str, Any],
                 opened: Mapping[str, gr.State]) -> dict:
    """What a link's parameters change: nothing without a known tab or a Pokémon."""
    if not names_a_view(params):
        return {}
    tab = params.get("tab")
    name = known_name(space, params.get("pokemon"))
    mode = params.get("mode") if params.get("mode") in MODES else None
    updates: dict = {tabs: gr.Tabs(selected=tab if tab in TABS else "similar")}
    if name or mode:  # the Similar tab's request: its first one, with the link's Pokémon and mode
        updates[similar["controls"]] = {**similar["start"], **({"name": name} if name else {}),
                                        **({"mode": mode} if mode else {})}
    if tab in opened:
        cleaned = {k: v for k, v in params.items() if k != "pokemon"}
        updates[opened[tab]] = {**cleaned, **({"pokemon": name} if name else {})}
    return updates
