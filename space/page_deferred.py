"""Tabs built when they are first opened, not with the page.

Gradio sends every component of every tab with the page and boots them all in the browser, shown or not. Deferred,
the six hidden tabs leave the page's config 261 -> 193 kB and the browser's boot work 10-15 % lower (README,
Benchmarks; Lighthouse's scores did not move above this machine's run-to-run spread). A deferred tab
holds only a state, `opened`: None until the visitor first selects the tab (then {}) or a shared link names it
(then the link's parameters); its change runs the tab's `build(params, chosen)` once, inside a `gr.render`, which
lays out the components, wires their events and fills the first view. A click on a picture in the view `build`
returns chooses that Pokémon (`choose_on_click`).
"""

from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from page_events import choose_on_click

Build = Callable[[Mapping[str, str], str], gr.HTML]


def first_opening(current: Any) -> Any:
    """The tab's select event: {} the first time (no link parameters), then nothing, so the tab is built once."""
    return {} if current is None else gr.skip()


def deferred_tab(label: str, tab_id: str, build: Build, similar: Mapping[str, Any], tabs: gr.Tabs) -> gr.State:
    """A tab whose content `build` makes when it is first opened; the Pokémon the Similar tab shows (its "shown"
    request) is passed to `build` as `chosen`, and a click on a picture chooses one (its "controls"), with the
    Similar tab selected. Gives the `opened` state (a shared link sets it to its parameters)."""
    with gr.Tab(label, id=tab_id) as tab:
        opened = gr.State(None)
        tab.select(first_opening, [opened], [opened], show_progress="hidden", api_visibility="private")

        @gr.render(inputs=[opened, similar["shown"]], triggers=[opened.change])
        def body(params: Mapping[str, str] | None, shown: Mapping[str, Any]) -> None:
            if params is None:
                return
            view = build(params, shown["name"])
            choose_on_click([view], similar["controls"], tabs)

    return opened
