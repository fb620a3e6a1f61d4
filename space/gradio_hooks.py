"""The two places where the Space needs more of Gradio than its documented API gives, each in one small function
that fails loudly (tests/test_space_gradio_hooks.py) rather than quietly when Gradio changes.

- `clicked_name`: the data a `gr.HTML`'s script sends with `trigger("click", {...})` reaches the listener as a
  `gr.EventData`, whose documented attribute access reads it; a click without data carries nothing to read.
- `describe_api_parameters`: `gr.api` takes the endpoint's description from the docstring but gives its parameters
  none (Gradio's MCP server reads the `Args:` lines itself; the API page and gradio_client read the parameter
  components' `api_info()`), so the description is added to what each parameter component's `api_info()` returns.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr


def clicked_name(evt: gr.EventData) -> str | None:
    """The Pokémon name a picture tile's click sent (`trigger("click", {name})` in assets/tiles.js), or None."""
    try:
        name = getattr(evt, "name", None)
    except TypeError:  # a click sent without data: EventData has nothing to look the attribute up in
        return None
    return str(name) if isinstance(name, str) and name else None


def describe_api_parameters(components: Sequence[Any], described: Mapping[str, str]) -> None:
    """Label each parameter component of a `gr.api` endpoint with its parameter's name and add the parameter's
    docstring description to the schema its `api_info()` returns (where /gradio_api/info reads descriptions)."""
    if len(components) != len(described):
        raise RuntimeError(f"an API endpoint has {len(components)} parameter components but its docstring describes "
                           f"{len(described)} parameters; document every parameter under Args:")
    for component, (parameter, text) in zip(components, described.items()):
        schema = component.api_info()
        if not isinstance(schema, dict):
            raise RuntimeError(f"Gradio changed: {type(component).__name__}.api_info() gave {type(schema).__name__}, "
                               "not a dict; update space/gradio_hooks.py")
        described_schema = {**schema, "description": text, "additional_description": text}
        component.label = parameter
        component.api_info = lambda described_schema=described_schema: described_schema
