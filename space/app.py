"""pokembed's Hugging Face Space: similar Pokémon, text-to-image search, search by picture, the map and the oddballs.

The dataset named by POKEMBED_DATASET (a Hub id, with optional POKEMBED_REVISION, or a local folder written by
build_dataset.py) loads once, when this module is imported: it *is* the app, and a Space imports this file to start.
Models load lazily, once, on the first question or picture. All ranking logic lives in `pokembed.search`; this file
only wires it to Gradio components. Run locally with `POKEMBED_DATASET=build/smoke python space/app.py`.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gradio as gr

from pokembed import search
from pokembed.dataset_version import served_version_footer
from pokembed.errors import ModelLoadError, PokembedError

logger = logging.getLogger(__name__)

DEFAULT_DATASET = "pokembed/pokemon-embeddings"
EXAMPLE_QUESTIONS = (
    "what looks like an ice cream cone?",
    "a pink balloon with big eyes",
    "a fish that looks useless",
    "a dragon made of fire",
    "a grumpy purple ghost",
)
MODE_CHOICES = [("Text (document cosine)", "text"), ("Image (artwork cosine)", "image"),
                ("UMAP (map distance)", "umap"), ("Combined (text + image)", "combined")]
MODALITY_CHOICES = [("Text", "text"), ("Image", "image"), ("Combined", "combined")]
TYPE_COLOURS = {
    "normal": "#A8A77A", "fire": "#EE8130", "water": "#6390F0", "electric": "#F7D02C", "grass": "#7AC74C",
    "ice": "#96D9D6", "fighting": "#C22E28", "poison": "#A33EA1", "ground": "#E2BF65", "flying": "#A98FF3",
    "psychic": "#F95587", "bug": "#A6B91A", "rock": "#B6A136", "ghost": "#735797", "dragon": "#6F35FC",
    "dark": "#705746", "steel": "#B7B7CE", "fairy": "#D685AD", "stellar": "#40B5A5", "unknown": "#68A090",
}
GENERATION_COLOURS = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880",
                      "#FF97FF", "#FECB52")


@dataclass(frozen=True)
class SpaceConfig:
    """Where the data and models come from, and the input limits; read from the environment by `from_env`."""

    dataset: str = DEFAULT_DATASET
    revision: str | None = None
    text_model: str | None = None    # overrides the query (text) model of the image space
    image_model: str | None = None   # overrides the dataset's image model
    device: str = "auto"
    torch_threads: int = 1           # CPU threads per query (0: torch's default); README explains why 1
    gallery_size: int = 12
    max_question_chars: int = search.MAX_QUESTION_CHARS
    max_upload_bytes: int = search.MAX_UPLOAD_BYTES
    max_upload_pixels: int = search.MAX_UPLOAD_PIXELS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "SpaceConfig":
        """POKEMBED_DATASET, _REVISION, _TEXT_MODEL, _IMAGE_MODEL, _DEVICE and _TORCH_THREADS."""
        threads = environ.get("POKEMBED_TORCH_THREADS") or "1"
        if not threads.isdigit():
            raise search.BadInputError(f"POKEMBED_TORCH_THREADS must be a whole number, got {threads!r}; use e.g. 1")
        return cls(
            dataset=environ.get("POKEMBED_DATASET") or DEFAULT_DATASET,
            revision=environ.get("POKEMBED_REVISION") or None,
            text_model=environ.get("POKEMBED_TEXT_MODEL") or None,
            image_model=environ.get("POKEMBED_IMAGE_MODEL") or None,
            device=environ.get("POKEMBED_DEVICE") or "auto",
            torch_threads=int(threads),
        )


class QueryModels:
    """The query-side encoders, each loaded on first use and then kept (thread-safe)."""

    def __init__(self, image_model: str, text_model: str | None, device: str,
                 recorded_text_model: str | None = None, torch_threads: int = 0) -> None:
        self.image_model = image_model
        self.torch_threads = torch_threads
        self.text_model = text_model                    # an explicit override (POKEMBED_TEXT_MODEL)
        self.recorded_text_model = recorded_text_model  # the dataset's text model: used if the image spec names none
        self.device = device
        self._lock = threading.Lock()
        self._query: Any = None
        self._image: Any = None

    def _image_spec(self) -> Any:
        from pokembed.models import get_model_spec

        spec = get_model_spec(self.image_model, "image")
        text_model = self.text_model or (None if spec.query_model else self.recorded_text_model)
        if text_model and text_model != spec.query_model:
            spec = replace(spec, query_model=text_model)
        return spec

    def query_encoder(self) -> Any:
        """The text encoder that embeds questions into the image space (`search_query: ` prompt)."""
        with self._lock:
            if self._query is None:
                self._query = _loading(self._load_query, "POKEMBED_TEXT_MODEL")
            return self._query

    def image_encoder(self) -> Any:
        """The image encoder for uploaded pictures."""
        with self._lock:
            if self._image is None:
                self._image = _loading(self._load_image, "POKEMBED_IMAGE_MODEL")
            return self._image

    def _threads(self) -> None:
        if self.torch_threads > 0:
            import torch

            torch.set_num_threads(self.torch_threads)

    def _load_query(self) -> Any:
        from pokembed.encoders import load_query_encoder

        self._threads()
        return load_query_encoder(self._image_spec(), device=self.device)

    def _load_image(self) -> Any:
        from pokembed.encoders import load_image_encoder

        self._threads()
        return load_image_encoder(self._image_spec(), device=self.device, progress=False)


def _loading(load: Callable[[], Any], variable: str) -> Any:
    try:
        return load()
    except PokembedError as exc:
        raise ModelLoadError(f"{exc} (the Space can use another model: set {variable})") from exc
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one friendly line
        logger.exception("model load failed")
        raise ModelLoadError(f"the search model could not be loaded ({type(exc).__name__}); "
                             f"set {variable} to a model id or folder that loads") from exc


@dataclass(frozen=True, eq=False)
class Space:
    """What the app serves: the index, artwork files by Pokémon id, the lazily loaded models, the limits."""

    index: search.PokedexIndex
    artwork: Mapping[int, Path]
    placeholder: Path
    models: QueryModels
    config: SpaceConfig


def single_threaded_numpy() -> None:
    """Rank with one BLAS thread: the matrices are small, and numpy's thread pool spinning next to torch's makes a
    0.1 ms matrix-vector product take 15 ms once a model has run (measured on 2 cores). torch keeps its own threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is in the Space's requirements
        logger.warning("threadpoolctl is not installed; numpy keeps its BLAS threads")
        return
    threadpool_limits(limits=1, user_api="blas")


def load_space(config: SpaceConfig) -> Space:
    """Load the dataset once: the index, its artwork written to a temporary folder, and the model names."""
    single_threaded_numpy()
    ds = search.load_dataset_split(config.dataset, config.revision)
    index = search.PokedexIndex.from_dataset(ds)
    folder = Path(tempfile.mkdtemp(prefix="pokembed-art-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    artwork = search.export_artwork(ds, folder)
    recorded = search.models_from_dataset(config.dataset, config.revision)
    image_model = config.image_model or recorded.image_model
    if image_model is None:
        from pokembed.models import DEFAULT_IMAGE_MODEL

        image_model = DEFAULT_IMAGE_MODEL
    logger.info("loaded %d Pokémon from %s (%d with artwork); image model %s", len(index), config.dataset,
                len(artwork), image_model)
    models = QueryModels(image_model, config.text_model, config.device, recorded.text_model, config.torch_threads)
    return Space(index, artwork, _placeholder(folder), models, config)


def _placeholder(folder: Path) -> Path:
    """A grey tile with a question mark for Pokémon without artwork."""
    from PIL import Image, ImageDraw

    path = folder / "no-artwork.png"
    image = Image.new("RGB", (224, 224), (235, 235, 235))
    ImageDraw.Draw(image).text((104, 100), "?", fill=(120, 120, 120), font_size=40)
    image.save(path)
    return path


# ---- handlers: plain functions of (space, inputs) -> outputs ---------------------------------------------------------
def _tile(space: Space, pokemon_id: int, caption: str) -> tuple[str, str]:
    return str(space.artwork.get(pokemon_id, space.placeholder)), caption


def _gallery(space: Space, matches: Sequence[search.Match], mode: str = "text") -> list[tuple[str, str]]:
    label = "d" if mode == "umap" else ""
    return [_tile(space, m.id, f"{m.name} · {label}{m.score:.3f}") for m in matches]


def similar_view(space: Space, name: str, mode: str = "text", k: float = 12) -> tuple[list, Any, str]:
    """Gallery of the k most similar Pokémon, the best-per-generation table, and a one-line summary."""
    import pandas as pd

    row = space.index.find(name)
    matches = space.index.similar(name, by=mode, k=int(k))
    table = pd.DataFrame([(g.generation, g.rank, g.name, round(g.score, 4))
                          for g in space.index.best_per_generation(name, by=mode, k=3)],
                         columns=["generation", "rank", "name", search.SCORE_LABELS[mode]])
    summary = (f"**{space.index.names[row]}** · {' / '.join(space.index.types[row]) or 'no types'} · "
               f"{space.index.generations[row] or 'unknown generation'} — {len(matches)} nearest by {mode} "
               f"({search.SCORE_LABELS[mode]})")
    return _gallery(space, matches, mode), table, summary


def ask_view(space: Space, question: str, k: float = 12) -> tuple[list, str]:
    """Gallery of the Pokémon whose artwork best matches a text question."""
    text = search.validate_question(question, space.config.max_question_chars)
    vector = space.models.query_encoder().embed_queries([text])[0]
    matches = space.index.search_images(vector, k=int(k))
    return _gallery(space, matches), f"Artwork closest to *{text}* (cosine)"


def picture_view(space: Space, upload: Any, k: float = 12) -> tuple[list, str]:
    """Gallery of the Pokémon whose artwork is closest to an uploaded picture."""
    path = upload.get("path") if isinstance(upload, Mapping) else upload
    image = search.validate_upload(path, max_bytes=space.config.max_upload_bytes,
                                   max_pixels=space.config.max_upload_pixels)
    vector = space.models.image_encoder().embed_images([image])[0]
    matches = space.index.search_images(vector, k=int(k))
    return _gallery(space, matches), f"Artwork closest to your {image.width}×{image.height} picture (cosine)"


def map_figure(space: Space, color_by: str = "generation", name: str | None = None) -> Any:
    """Plotly scatter of the UMAP coordinates coloured by generation or primary type; `name` and neighbours marked."""
    import plotly.graph_objects as go

    if color_by not in ("generation", "type"):
        raise search.BadInputError(f"cannot colour the map by {color_by!r}; use generation or type")
    index = space.index
    if color_by == "generation":
        groups = [g or "unknown" for g in index.generations]
        order = sorted(set(groups), key=search.generation_sort_key)
        colours = {g: GENERATION_COLOURS[i % len(GENERATION_COLOURS)] for i, g in enumerate(order)}
    else:
        groups = [t[0] if t else "unknown" for t in index.types]
        order = sorted(set(groups))
        colours = {t: TYPE_COLOURS.get(t, "#888888") for t in order}
    hover = [f"<b>{n}</b><br>{' / '.join(t)}<br>{g or ''}" for n, t, g in
             zip(index.names, index.types, index.generations)]
    fig = go.Figure()
    for group in order:
        rows = [i for i, g in enumerate(groups) if g == group]
        fig.add_trace(go.Scatter(
            x=index.umap[rows, 0].tolist(), y=index.umap[rows, 1].tolist(), mode="markers", name=group,
            marker={"size": 7, "color": colours[group], "opacity": 0.75, "line": {"width": 0}},
            text=[hover[i] for i in rows], hovertemplate="%{text}<extra></extra>"))
    if name:
        row = index.find(name)
        near = index.neighbor_rows(row) or [index.row_of_id(m.id) for m in index.similar(name, by="combined", k=10)]
        fig.add_trace(go.Scatter(
            x=index.umap[near, 0].tolist(), y=index.umap[near, 1].tolist(), mode="markers+text", name="neighbours",
            text=[index.names[i] for i in near], textposition="top center", hovertext=[hover[i] for i in near],
            hovertemplate="%{hovertext}<extra>neighbour</extra>",
            marker={"size": 13, "color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "#222"}}))
        fig.add_trace(go.Scatter(
            x=index.umap[[row], 0].tolist(), y=index.umap[[row], 1].tolist(), mode="markers+text",
            name=index.names[row],
            text=[index.names[row]], textposition="bottom center", hovertext=[hover[row]],
            hovertemplate="%{hovertext}<extra>chosen</extra>",
            marker={"size": 20, "symbol": "star", "color": "#FFD700", "line": {"width": 1.5, "color": "#222"}}))
    fig.update_layout(
        template="plotly_white", height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title=f"{len(index)} Pokémon on the UMAP map, coloured by {color_by}", legend={"itemsizing": "constant"},
        xaxis={"showticklabels": False, "title": None}, yaxis={"showticklabels": False, "title": None})
    return fig


def oddballs_view(space: Space, modality: str = "text") -> Any:
    """Per generation, the Pokémon with the lowest median cosine similarity to the others of its generation."""
    import pandas as pd

    rows = space.index.oddballs(modality, per_generation=1)
    return pd.DataFrame([(o.generation, o.name, ", ".join(space.index.types[space.index.row_of_id(o.id)]),
                          round(o.median_similarity, 4)) for o in rows],
                        columns=["generation", "name", "types", f"median {modality} cosine"])


# ---- the page --------------------------------------------------------------------------------------------------------
def friendly(fn: Callable) -> Callable:
    """Turn our errors into a short message in the page; anything unexpected is logged and reported in one line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PokembedError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - never show a traceback in the page
            logger.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("something went wrong on our side; try again or try another input",
                           print_exception=False) from None

    return wrapper


def build_demo(space: Space) -> gr.Blocks:
    """The Blocks page over a loaded `Space`; every function has a named API endpoint."""
    index = space.index
    names = list(index.names)
    first = "pikachu" if "pikachu" in names else names[0]
    k_max = max(1, min(50, len(index) - 1))
    k_default = min(space.config.gallery_size, k_max)

    @friendly
    def similar(name: str, mode: str, k: float) -> tuple[list, Any, str]:
        """Find the Pokémon most similar to one Pokémon: by its PokéAPI text, its artwork, the map, or both combined.

        Args:
            name: the Pokémon's PokéAPI name, lower-case with hyphens, e.g. "pikachu", "mr-mime", "charizard-mega-x"
            mode: "text", "image" (needs artwork), "umap" (2-D map distance, smaller is closer) or "combined"
            k: how many Pokémon to return, from 1 to the slider's maximum (50 at most)

        Returns:
            gallery: the k matches, best first, each an artwork file captioned "name · score"
            table: the 3 best matches in each generation (generation, rank, name, score)
            summary: one line with the Pokémon's types and generation and what the scores mean
        """
        return similar_view(space, name, mode, k)

    @friendly
    def ask(question: str, k: float) -> tuple[list, str]:
        """Text-to-image search: the Pokémon whose official artwork best matches a description of how it looks.

        Args:
            question: what the Pokémon looks like, in English, e.g. "a pink balloon with big eyes"; 1-500 characters
            k: how many Pokémon to return, from 1 to the slider's maximum (50 at most)

        Returns:
            gallery: the k Pokémon with the closest artwork, best first, captioned "name · cosine"
            status: one line repeating the question (Pokémon without artwork are never returned)
        """
        return ask_view(space, question, k)

    @friendly
    def search_by_picture(image: Any, k: float) -> tuple[list, str]:
        """Search by picture: the Pokémon whose official artwork looks most like a given picture.

        Args:
            image: a PNG, JPEG or WebP picture, at most 10 MB and 16 megapixels; transparency is shown on white
            k: how many Pokémon to return, from 1 to the slider's maximum (50 at most)

        Returns:
            gallery: the k Pokémon with the closest artwork, best first, captioned "name · cosine"
            status: one line with the picture's size
        """
        return picture_view(space, image, k)

    @friendly
    def pokemon_map(color_by: str, name: str | None) -> Any:
        """The 2-D UMAP map of every Pokémon (text and artwork embeddings), optionally marking one and its neighbours.

        Args:
            color_by: "generation" or "type" (the primary type) colours the points
            name: a Pokémon's PokéAPI name to mark with its 10 nearest neighbours, e.g. "magikarp"; empty for none

        Returns:
            plot: a Plotly figure (JSON) with one scatter trace per generation or type, points named by Pokémon
        """
        return map_figure(space, color_by, name)

    @friendly
    def oddballs(modality: str) -> Any:
        """The oddball of each generation: the Pokémon least like the others of its generation.

        Args:
            modality: "text", "image" or "combined" embeddings decide the cosine similarities

        Returns:
            table: one row per generation (generation, name, types, median cosine to the others; lower is odder)
        """
        return oddballs_view(space, modality)

    with gr.Blocks(title="pokembed · Pokémon embeddings") as demo:
        gr.Markdown(
            f"# pokembed · Pokémon embeddings\n"
            f"{len(index)} Pokémon from `{space.config.dataset}`: text embeddings of their PokéAPI records, image "
            "embeddings of their official artwork, and a UMAP map of both.")
        with gr.Tabs():
            with gr.Tab("Similar Pokémon", id="similar"):
                with gr.Row():
                    pokemon = gr.Dropdown(names, value=first, label="Pokémon", allow_custom_value=True,
                                          filterable=True, elem_id="pokemon-name", scale=2)
                    mode = gr.Radio(MODE_CHOICES, value="text", label="Rank by", elem_id="rank-mode", scale=3)
                    k = gr.Slider(1, k_max, value=k_default, step=1, label="How many", scale=1)
                summary = gr.Markdown(label="Summary", elem_id="similar-summary")
                similar_gallery = gr.Gallery(label="Most similar", columns=6, height="auto", object_fit="contain",
                                             elem_id="similar-gallery")
                per_generation = gr.Dataframe(label="Best matches per generation (top 3 in each)", interactive=False,
                                              elem_id="per-generation")
                gr.on([demo.load, pokemon.change, mode.change, k.release], similar, [pokemon, mode, k],
                      [similar_gallery, per_generation, summary], api_name="similar")
            with gr.Tab("Ask the Pokédex", id="ask"):
                with gr.Row():
                    question = gr.Textbox(label="Describe a Pokémon", placeholder=EXAMPLE_QUESTIONS[0],
                                          max_lines=3, scale=4, elem_id="question")
                    ask_k = gr.Slider(1, k_max, value=k_default, step=1, label="How many", scale=1)
                ask_button = gr.Button("Search the artwork", variant="primary", elem_id="ask-button")
                gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Try")
                ask_status = gr.Markdown(label="Status", elem_id="ask-status")
                ask_gallery = gr.Gallery(label="Closest artwork", columns=6, height="auto", object_fit="contain",
                                         elem_id="ask-gallery")
                gr.on([ask_button.click, question.submit], ask, [question, ask_k], [ask_gallery, ask_status],
                      api_name="ask")
            with gr.Tab("Search by picture", id="picture"):
                with gr.Row():
                    upload = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Your picture",
                                      image_mode=None, height=300, elem_id="upload", scale=2)
                    picture_k = gr.Slider(1, k_max, value=k_default, step=1, label="How many", scale=1)
                picture_button = gr.Button("Find look-alikes", variant="primary")
                picture_status = gr.Markdown(label="Status")
                picture_gallery = gr.Gallery(label="Closest artwork", columns=6, height="auto",
                                             object_fit="contain", elem_id="picture-gallery")
                # preprocess=False: our validation (type, pixels, bytes) reads the uploaded file, not Gradio's decoder
                gr.on([picture_button.click, upload.upload], search_by_picture, [upload, picture_k],
                      [picture_gallery, picture_status], api_name="search_by_picture", preprocess=False)
            with gr.Tab("Map", id="map"):
                with gr.Row():
                    color_by = gr.Radio([("Generation", "generation"), ("Type", "type")], value="generation",
                                        label="Colour by", elem_id="color-by")
                    highlight = gr.Dropdown(names, value=None, label="Highlight a Pokémon and its neighbours",
                                            allow_custom_value=True, filterable=True, elem_id="map-pokemon")
                plot = gr.Plot(value=map_figure(space), label="UMAP map", elem_id="map-plot")
                gr.on([color_by.change, highlight.change], pokemon_map, [color_by, highlight], [plot], api_name="map")
            with gr.Tab("Oddballs", id="oddballs"):
                gr.Markdown("The Pokémon with the lowest median cosine similarity to the others of its generation "
                            "(the article's Magikarp finding).")
                modality = gr.Radio(MODALITY_CHOICES, value="text", label="Embeddings", elem_id="oddball-modality")
                oddball_table = gr.Dataframe(value=oddballs_view(space, "text"), interactive=False, label="Oddballs",
                                             elem_id="oddballs-table")
                modality.change(oddballs, [modality], [oddball_table], api_name="oddballs")
        gr.Markdown(served_version_footer(space.config.dataset, space.config.revision), elem_id="dataset-version")
    return demo


def launch(demo: gr.Blocks, config: SpaceConfig) -> None:
    """Serve on GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Gradio reads them), refusing uploads far over our cap; every
    named endpoint is also an MCP tool at /gradio_api/mcp/ (its docstring is the tool's description)."""
    demo.queue(default_concurrency_limit=4).launch(max_file_size=4 * config.max_upload_bytes, mcp_server=True)


logging.basicConfig(level=os.environ.get("POKEMBED_LOG_LEVEL", "INFO"))
space = load_space(SpaceConfig.from_env())
demo = build_demo(space)

if __name__ == "__main__":
    launch(demo, SpaceConfig.from_env())
