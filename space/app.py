"""pokembed's Hugging Face Space: similar Pokémon, questions to the artwork and the records, search by picture,
embedding arithmetic, the map (UMAP or PCA), the oddballs and the all-pairs chart.

`make_demo(load_space(config))` builds the page; importing this file loads nothing. `python space/app.py` (what a
Space runs) reads the dataset named by POKEMBED_DATASET (a Hub id, with optional POKEMBED_REVISION, or a local folder
written by build_dataset.py), starts warming the query models in the background, and serves the page at once.
What the Space answers lives in `pokembed.explore` (configuration, loading, answers as plain dicts, map data); this
folder only builds the page: the tabs in `page_tabs.py`, the JSON API in `page_api.py`, HTML in `pokedex_html.py`.
Run locally with `POKEMBED_DATASET=build/smoke python space/app.py`.
"""

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the Space's folder: its page modules sit beside this file however it is loaded
    sys.path.insert(0, str(HERE))

from page_api import api_endpoints, describe_endpoint_parameters  # noqa: E402
from page_deferred import deferred_tab  # noqa: E402
from page_events import choose_on_click  # noqa: E402
from page_links import open_shared_link, page_script  # noqa: E402
from page_text import footer, head_tags, header  # noqa: E402
from page_pairs import pairs_tab  # noqa: E402
from page_tabs import arithmetic_tab, ask_tab, map_tab, oddballs_tab, picture_tab, similar_tab  # noqa: E402
from pokembed.explore.space import Space, SpaceConfig  # noqa: E402
from pokembed.explore.space_loading import load_space, start_warm_up  # noqa: E402

logger = logging.getLogger(__name__)
ASSETS = HERE / "assets"
DEFERRED_TABS = (("Ask", "ask", ask_tab), ("By picture", "picture", picture_tab),
                 ("Sums", "arithmetic", arithmetic_tab), ("Map", "map", map_tab),
                 ("Oddballs", "oddballs", oddballs_tab), ("All pairs", "pairs", pairs_tab))
"""The tabs built when first opened (page_deferred), in page order after Similar: (label, id, build)."""


def make_demo(space: Space) -> gr.Blocks:
    """The page over a loaded `Space`: a header, one tab per function, and the JSON API."""
    with gr.Blocks(title="pokembed · Pokémon embeddings") as demo:
        gr.HTML(header(space), elem_id="pk-header", padding=False)
        api_endpoints(space)  # first, so the endpoints own their names
        describe_endpoint_parameters(demo)  # inside the Blocks: its API info is fixed when the block closes
        with gr.Tabs(selected="similar", elem_id="pk-tabs") as tabs:
            similar = similar_tab(space)
            opened = {tab_id: deferred_tab(label, tab_id, functools.partial(build, space), similar, tabs)
                      for label, tab_id, build in DEFERRED_TABS}
        choose_on_click([similar["message"], similar["view"]], similar["controls"], tabs)
        open_shared_link(demo, space, tabs, similar, opened)
        gr.HTML(footer(space), elem_id="pk-footer", padding=False)
    return demo


class CompressPages:
    """gzip for the responses Gradio's own brotli middleware leaves alone because their paths have no file
    extension: the page itself ("/", its components' config inline), /config and /gradio_api/info. Event streams and
    already-encoded responses pass through untouched (Starlette's GZip rules)."""

    def __init__(self, app: Any) -> None:
        from starlette.middleware.gzip import GZipMiddleware

        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "." not in scope.get("path", "").rsplit("/", 1)[-1]:
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def launch_options(space: Space) -> dict[str, Any]:
    """What `launch` needs beyond the Blocks: the stylesheet, a theme on the system's fonts (no font downloads),
    the artwork folder, the upload cap, and compressed pages."""
    from starlette.middleware import Middleware

    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS).set(  # softer text still at >= 4.5:1
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300")
    return {"css_paths": [ASSETS / "style.css"], "theme": theme, "head": head_tags() + page_script(), "allowed_paths": [str(space.art.folder)],
            "max_file_size": 4 * space.config.max_upload_bytes,
            "app_kwargs": {"middleware": [Middleware(CompressPages)]}}


def serve(demo: gr.Blocks, space: Space, **launch: Any) -> Any:
    """Serve on GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Gradio reads them); launch options can be added (an MCP
    server, a port) by keyword."""
    return demo.queue(default_concurrency_limit=4).launch(**{**launch_options(space), **launch})


def main() -> None:
    """What the Space runs: load the dataset, warm the models in the background, serve the page and, at
    /gradio_api/mcp/, the API endpoints as MCP tools for LLM agents (their docstrings are the tools' descriptions)."""
    logging.basicConfig(level=os.environ.get("POKEMBED_LOG_LEVEL", "INFO"))
    space = load_space(SpaceConfig.from_env())
    start_warm_up(space)
    serve(make_demo(space), space, mcp_server=True)


if __name__ == "__main__":
    main()
