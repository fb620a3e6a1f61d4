"""The Similar tab's controls (Pokémon, "Similar by", "How many", "Default forms only") as one `gr.HTML` of the
browser's own form controls.

Four Gradio components (a dropdown holding every Pokémon's name, a radio, a slider, a checkbox) were most of the
work a phone does to start the page: Gradio sends and builds each with the page, the dropdown's 1,351 choices
included (README, Benchmarks). Here they are plain HTML: a text box with a `<datalist>` of display names (searchable
by typing, closed by Escape or leaving it), radio buttons, a range with a number box, a checkbox. The list's
1,351 options are sent as one string and made when the box is first used, so the page starts with ~370 elements
rather than ~1,700.

The component's value is the request, {"name", "mode", "k", "forms"}. assets/controls.js sets it when the visitor
changes a control (Gradio then fires the component's change event, which shows the results) and draws it when the
server sets it (a click on a picture, a shared link, a request that failed put back to what is shown).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from pokembed.errors import BadInputError
from pokembed.explore.index import MODES
from pokembed.explore.space import Space

CONTROLS_JS = (Path(__file__).resolve().parent / "assets" / "controls.js").read_text(encoding="utf-8")
MODE_CHOICES = [("Text", "text"), ("Image", "image"), ("Map (UMAP)", "umap"), ("Combined", "combined")]
CONTROL_IDS = ("pokemon-name", "rank-mode", "similar-k", "similar-default-only")
"""The ids of the four controls inside the component (the stylesheet, assets/controls.js and page.js name them)."""


def first_request(space: Space) -> dict[str, Any]:
    """What the Similar tab shows first: Pikachu (or the dataset's first Pokémon) by text, the default number of
    results, default forms only."""
    names = space.index.names
    first = names[space.index.find("pikachu")] if "pikachu" in names else names[0]
    return {"name": first, "mode": "text", "k": space.k_default, "forms": True}


def name_options(names: Sequence[str], display: Sequence[str]) -> list[tuple[str, str]]:
    """(label, name) for the Pokémon box's list: the display name, with the dataset's name after it where several
    Pokémon share one (Koraidon's five builds), so every label picks one Pokémon."""
    shared = {label for label, count in Counter(display).items() if count > 1}
    return [(f"{label} ({name})" if label in shared else label, name) for label, name in zip(display, names)]


def options_text(options: Sequence[tuple[str, str]]) -> str:
    """The Pokémon box's list as assets/controls.js reads it: a line per Pokémon, its label and name separated by a
    tab (any tab or line break inside one made a space)."""
    def clean(text: str) -> str:
        return " ".join(text.split())

    return "\n".join(f"{clean(label)}\t{clean(name)}" for label, name in options)


def controls_markup(k_max: int, k_default: int) -> str:
    """The controls' HTML (the component's template). The states drawn here are the defaults: assets/controls.js
    draws the component's value over them as soon as it runs, and fills the empty datalist when the box is used."""
    radios = "".join(f'<label><input type="radio" name="pk-rank-mode" value="{value}"'
                     f'{" checked" if value == "text" else ""}><span>{escape(label)}</span></label>'
                     for label, value in MODE_CHOICES)
    return ('<div class="pk-controls">'
            '<div id="pokemon-name" class="pk-field pk-name-field"><label for="pk-name-box">Pokémon</label>'
            '<input id="pk-name-box" type="text" list="pk-names" autocomplete="off" spellcheck="false" '
            'placeholder="Type a name" enterkeyhint="go"><datalist id="pk-names"></datalist></div>'
            f'<fieldset id="rank-mode" class="pk-field"><legend>Similar by</legend><div class="pk-radios">{radios}</div>'
            '</fieldset>'
            '<div id="similar-k" class="pk-field"><label id="pk-k-label" for="pk-k-number">How many</label>'
            f'<div class="pk-k"><input type="range" min="1" max="{int(k_max)}" step="1" value="{int(k_default)}" '
            'aria-labelledby="pk-k-label">'
            f'<input id="pk-k-number" type="number" min="1" max="{int(k_max)}" step="1" value="{int(k_default)}" '
            'inputmode="numeric"></div></div>'
            '<div id="similar-default-only" class="pk-field pk-check"><label><input type="checkbox" checked '
            'aria-describedby="pk-forms-hint"><span>Default forms only</span></label>'
            '<span id="pk-forms-hint" class="pk-hint">leave out Megas, Gigantamax and other forms</span></div>'
            '</div>')


def similar_controls(space: Space, start: Mapping[str, Any]) -> gr.HTML:
    """The controls' component, its value the request `start`."""
    options = name_options(space.index.names, space.display)
    return gr.HTML(dict(start), html_template=controls_markup(space.k_max, space.k_default), js_on_load=CONTROLS_JS,
                   elem_id="similar-controls", apply_default_css=False, names=options_text(options))


def read_request(value: Any, k_max: int) -> dict[str, Any]:
    """The request a controls value asks for, checked (it comes from the browser): a name, a known mode, a whole
    number of results from 1 to `k_max`, and the forms switch. A bad value raises BadInputError naming the fix."""
    if not isinstance(value, Mapping):
        raise BadInputError("the page sent no request; reload the page")
    mode, k, forms = value.get("mode"), value.get("k"), value.get("forms", True)
    if not isinstance(mode, str) or mode not in MODES:
        raise BadInputError(f"unknown ranking mode {quoted(mode)}; pick Text, Image, Map (UMAP) or Combined")
    whole = isinstance(k, int) or (isinstance(k, float) and k.is_integer())
    if isinstance(k, bool) or not whole or not 1 <= k <= k_max:
        raise BadInputError(f"How many must be a whole number from 1 to {k_max}, not {quoted(k)}")
    if not isinstance(forms, bool):
        raise BadInputError(f"the forms switch must be on or off, not {quoted(forms)}; reload the page")
    name = value.get("name")
    return {"name": name.strip()[:100] if isinstance(name, str) else "", "mode": mode, "k": int(k), "forms": forms}


def quoted(value: Any) -> str:
    """A value from the browser as a message quotes it: its repr, cut to 20 characters."""
    text = repr(value)
    return text if len(text) <= 20 else text[:19] + "…"
