"""The page's event plumbing: handlers that keep results on screen on bad input and say so beside it, a note while a
model loads, and a click on any picture tile choosing that Pokémon."""

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gradio as gr

import pokedex_html as html
from gradio_hooks import clicked_name
from pokembed.errors import PokembedError

logger = logging.getLogger(__name__)


def friendly(fn: Callable[..., tuple], kept: Callable[..., tuple] | None = None) -> Callable[..., tuple]:
    """For page events: a bad input leaves every result on screen as it was (gr.skip, or what `kept` gives for the
    handler's arguments) and puts its message in the last output, the message box next to the input; success clears
    the message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        suggestions: tuple = ()
        try:
            return (*fn(*args, **kwargs), "")
        except PokembedError as exc:
            text = str(exc)
            suggestions = tuple(getattr(exc, "suggestions", ()))
        except Exception:  # noqa: BLE001 - never a traceback in the page
            logger.exception("unexpected error in %s", fn.__name__)
            text = "something went wrong on our side; try again or try another input"
        outputs = kept(*args, **kwargs) if kept else [gr.skip()] * getattr(wrapper, "outputs", 1)
        return (*outputs, html.message(text, suggestions=suggestions))

    return wrapper


def with_outputs(n: int, kept: Callable[..., tuple] | None = None) -> Callable[[Callable], Callable]:
    """`friendly`, for a handler whose results fill `n` components before the message (on bad input, gr.skip for
    each, or the `n` outputs `kept` gives for the handler's arguments)."""

    def decorate(fn: Callable) -> Callable:
        wrapped = friendly(fn, kept)
        wrapped.outputs = n
        return wrapped

    return decorate


def first_view(outputs: tuple) -> tuple[str | None, str]:
    """A `friendly` handler's (view, message) as a tab's first values: a view it kept (gr.skip, on bad input) starts
    empty, beside the message."""
    view, message = outputs
    return (view if isinstance(view, str) else None), message


def while_loading(ready: Callable[[], bool], what: str, handler: Callable[..., tuple]) -> Callable[..., Iterator]:
    """A page handler that, while its model is still loading, first says so next to the input (keeping the results
    on screen), then gives the handler's outputs."""

    @functools.wraps(handler)
    def run(*args: Any) -> Iterator[tuple]:
        if not ready():
            yield (*[gr.skip()] * getattr(handler, "outputs", 1), loading_note(what))
        yield handler(*args)

    return run


def loading_note(what: str) -> str:
    return html.message(f"Loading the {what} model: the first answer after a restart takes a few seconds…",
                        kind="info")


def choose_on_click(views: Sequence[gr.HTML], controls: gr.HTML, tabs: gr.Tabs) -> None:
    """A click on any picture tile (or the map's "Similar Pokémon" button) makes that Pokémon the chosen one: the
    Similar tab's request (`controls`, page_controls) names it, and that tab is selected."""

    def choose(request: Any, evt: gr.EventData) -> tuple:
        picked = clicked_name(evt)
        if picked is None:
            return gr.skip(), gr.skip()
        return {**(request if isinstance(request, dict) else {}), "name": picked}, gr.Tabs(selected="similar")

    for view in views:
        view.click(choose, [controls], [controls, tabs], show_progress="hidden", api_visibility="private")
