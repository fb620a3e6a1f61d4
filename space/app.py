"""pokembed's Hugging Face Space: similar Pokémon, questions to the artwork and the records, search by picture,
embedding arithmetic, the map (UMAP or PCA) and the oddballs.

`make_demo(load_space(config))` builds the page; importing this file loads nothing. `python space/app.py` (what a
Space runs) reads the dataset named by POKEMBED_DATASET (a Hub id, with optional POKEMBED_REVISION, or a local folder
written by build_dataset.py), starts warming the query models in the background, and serves the page at once.
Rankings live in `pokembed.explore.index`; HTML in `pokedex_html.py`; this file wires them to Gradio. Run locally with
`POKEMBED_DATASET=build/smoke python space/app.py`.
"""

import functools
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gradio as gr
import numpy as np

from pokembed.explore import arithmetic as search_beyond, index as search, queries
from pokembed.errors import BadInputError, ModelLoadError, PokembedError
from pokembed.explore.names import display_names, generation_label

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the Space's folder: pokedex_html.py sits beside this file however it is loaded
    sys.path.insert(0, str(HERE))

import pokedex_html as html  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_DATASET = "pokembed/pokemon-embeddings"
EXAMPLE_QUESTIONS = (
    "what looks like an ice cream cone?",
    "a pink balloon with big eyes",
    "a fish that looks useless",
    "a dragon made of fire",
    "a grumpy purple ghost",
)
RECORD_QUESTIONS = (
    "a ghost type that evolves by trading",
    "learns surf and fly",
    "a legendary bird of ice",
    "the heaviest pokemon",
)
"""Questions the records (PokéAPI JSON) can answer and the artwork cannot: nomic's retrieval use."""
Mode = Literal["text", "image", "umap", "combined"]
EmbeddingSpace = Literal["text", "image"]
Projection = Literal["umap", "pca"]
ARITHMETIC_SPACE_CHOICES = [("Text (records)", "text"), ("Image (artwork)", "image")]
Modality = Literal["text", "image", "combined"]
MODE_CHOICES = [("Text", "text"), ("Image", "image"), ("Map (UMAP)", "umap"), ("Combined", "combined")]
MODE_EXPLANATIONS = {
    "text": "cosine similarity of their PokéAPI records' text embeddings (1 = same direction)",
    "image": "cosine similarity of their official artwork's image embeddings (1 = same direction)",
    "umap": "distance on the 2-D UMAP map (lower is closer)",
    "combined": "the mean of the text and image cosines (text alone where a Pokémon has no artwork)",
}
MODALITY_CHOICES = [("Text", "text"), ("Image", "image"), ("Combined", "combined")]
GENERATION_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
                      "#469990", "#808000", "#000075", "#a9a9a9")
"""Nine generations told apart at a glance (Trubetskoy's distinct colours), then spares; "unknown" takes the next."""
THUMB_SIZE = 128   # px: the tiles show at most 96 CSS px
CARD_SIZE = 224    # px: the chosen Pokémon's card, the dataset's own size
MAP_NEIGHBOURS = 10
ASSETS = HERE / "assets"


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
    max_question_chars: int = queries.MAX_QUESTION_CHARS
    max_upload_bytes: int = queries.MAX_UPLOAD_BYTES
    max_upload_pixels: int = queries.MAX_UPLOAD_PIXELS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "SpaceConfig":
        """POKEMBED_DATASET, _REVISION, _TEXT_MODEL, _IMAGE_MODEL, _DEVICE and _TORCH_THREADS."""
        threads = environ.get("POKEMBED_TORCH_THREADS") or "1"
        if not threads.isdigit():
            raise BadInputError(f"POKEMBED_TORCH_THREADS must be a whole number, got {threads!r}; use e.g. 1")
        return cls(
            dataset=environ.get("POKEMBED_DATASET") or DEFAULT_DATASET,
            revision=environ.get("POKEMBED_REVISION") or None,
            text_model=environ.get("POKEMBED_TEXT_MODEL") or None,
            image_model=environ.get("POKEMBED_IMAGE_MODEL") or None,
            device=environ.get("POKEMBED_DEVICE") or "auto",
            torch_threads=int(threads),
        )


# ---- models ---------------------------------------------------------------------------------------------------------
class QueryModels:
    """The query-side encoders, each loaded once (thread-safe): on first use, or ahead of it by `warm_up`."""

    def __init__(self, image_model: str, text_model: str | None, device: str,
                 recorded_text_model: str | None = None, torch_threads: int = 0) -> None:
        self.image_model = image_model
        self.torch_threads = torch_threads
        self.text_model = text_model                    # an explicit override (POKEMBED_TEXT_MODEL)
        self.recorded_text_model = recorded_text_model  # the dataset's text model: used if the image spec names none
        self.device = device
        self._query_lock = threading.Lock()
        self._image_lock = threading.Lock()
        self._records_lock = threading.Lock()
        self._query: Any = None
        self._image: Any = None
        self._records: Any = None

    @property
    def query_ready(self) -> bool:
        """Whether the question model is loaded (a question is then answered without waiting for a load)."""
        return self._query is not None

    @property
    def image_ready(self) -> bool:
        """Whether the picture model is loaded."""
        return self._image is not None

    def _image_spec(self) -> Any:
        from pokembed.embedding.registry import get_model_spec

        spec = get_model_spec(self.image_model, "image")
        text_model = self.text_model or (None if spec.query_model else self.recorded_text_model)
        if text_model and text_model != spec.query_model:
            spec = replace(spec, query_model=text_model)
        return spec

    def query_encoder(self) -> Any:
        """The text encoder that embeds questions into the image space (`search_query: ` prompt)."""
        with self._query_lock:
            if self._query is None:
                self._query = _loading(self._load_query, "POKEMBED_TEXT_MODEL")
            return self._query

    @property
    def records_model(self) -> str:
        """The text model whose query prompt asks the records: POKEMBED_TEXT_MODEL, else the dataset's own."""
        from pokembed.embedding.registry import DEFAULT_TEXT_MODEL

        return self.text_model or self.recorded_text_model or DEFAULT_TEXT_MODEL

    def records_encoder(self) -> Any:
        """The text encoder that embeds questions (`search_query: `) against the records' text embeddings; the
        question model itself when that is the same model (nomic's text model serves both spaces)."""
        if self._records_is_query():
            return self.query_encoder()
        with self._records_lock:
            if self._records is None:
                self._records = _loading(self._load_records, "POKEMBED_TEXT_MODEL")
            return self._records

    def _records_is_query(self) -> bool:
        from pokembed.embedding.registry import get_model_spec

        try:
            query = self._image_spec().query_model
            return bool(query) and (get_model_spec(query, "text").model_id
                                    == get_model_spec(self.records_model, "text").model_id)
        except PokembedError:  # e.g. SigLIP's query model is its own image model: not a text model of its own
            return False

    def _load_records(self) -> Any:
        from pokembed.embedding.encoders import load_text_encoder

        self._threads()
        return load_text_encoder(self.records_model, device=self.device, progress=False)

    def image_encoder(self) -> Any:
        """The image encoder for uploaded pictures."""
        with self._image_lock:
            if self._image is None:
                self._image = _loading(self._load_image, "POKEMBED_IMAGE_MODEL")
            return self._image

    def _threads(self) -> None:
        if self.torch_threads > 0:
            import torch

            torch.set_num_threads(self.torch_threads)

    def _load_query(self) -> Any:
        from pokembed.embedding.encoders import load_query_encoder

        self._threads()
        return load_query_encoder(self._image_spec(), device=self.device)

    def _load_image(self) -> Any:
        from pokembed.embedding.encoders import load_image_encoder

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


# ---- what the Space serves ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArtworkFiles:
    """The dataset's artwork as files the page links to: thumbnails for tiles, card-sized for the chosen Pokémon."""

    folder: Path
    thumbs: Mapping[int, Path]
    cards: Mapping[int, Path]
    placeholder: Path

    def url(self, pokemon_id: int, size: str = "thumb") -> str:
        """Relative URL of a Pokémon's artwork ("thumb" or "full"), or of the placeholder when it has none."""
        files = self.cards if size == "full" else self.thumbs
        return "gradio_api/file=" + files.get(int(pokemon_id), self.placeholder).as_posix()


@dataclass(frozen=True, eq=False)
class Space:
    """What the app serves: the index, display names, artwork files, the query models, the limits."""

    index: search.PokedexIndex
    display: tuple[str, ...]
    art: ArtworkFiles
    models: QueryModels
    config: SpaceConfig
    answers: dict[str, Any] = field(default_factory=dict)  # the warm-up's first answer, keyed by question
    pca: Any = None  # pokembed.projection.PcaProjection of the index's vectors, computed once at start
    version_footer: str = ""  # the dataset version, tag, build date and changelog link (pokembed.hub.published)

    @property
    def artwork_count(self) -> int:
        """How many Pokémon have artwork (and so can be found by a question or a picture)."""
        return int(self.index.has_image.sum())

    @property
    def k_max(self) -> int:
        return max(1, min(50, len(self.index) - 1))

    @property
    def k_default(self) -> int:
        return min(self.config.gallery_size, self.k_max)


def single_threaded_numpy() -> None:
    """Rank with one BLAS thread: the matrices are small, and numpy's thread pool spinning next to torch's makes a
    0.1 ms matrix-vector product take 15 ms once a model has run (measured on 2 cores). torch keeps its own threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is in the Space's requirements
        logger.warning("threadpoolctl is not installed; numpy keeps its BLAS threads")
        return
    threadpool_limits(limits=1, user_api="blas")


def load_space(config: SpaceConfig, *, workdir: Path | None = None) -> Space:
    """Load the dataset once: the index, display names, artwork files (in `workdir`, else a temporary folder removed
    when the Space is garbage-collected or the process exits) and the model names."""
    from pokembed.explore.artwork_export import export_artwork, write_thumbnails
    from pokembed.dataset.table import load_dataset_split
    from pokembed.hub.published import dataset_version, version_footer
    from pokembed.dataset.facts import models_from_facts, read_build_facts

    single_threaded_numpy()
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pokembed-art-"))
    # a local folder is read through a cache of its own: datasets' shared cache can answer for an earlier build of a
    # folder with the same name and files (a rebuilt build/smoke would show its old vectors); Hub revisions are safe
    local = Path(config.dataset).is_dir()
    ds = load_dataset_split(config.dataset, config.revision, cache_dir=folder / "datasets-cache" if local else None)
    index = search.PokedexIndex.from_dataset(ds)
    species = ds["species_id"] if "species_id" in ds.column_names else None
    stored = export_artwork(ds, folder / "png")
    art = ArtworkFiles(folder, write_thumbnails(stored, folder / "thumb", size=THUMB_SIZE),
                       write_thumbnails(stored, folder / "card", size=CARD_SIZE), _placeholder(folder))
    shutil.rmtree(folder / "png", ignore_errors=True)
    facts = read_build_facts(config.dataset, config.revision)
    recorded = models_from_facts(facts)
    image_model = config.image_model or recorded.image_model
    if image_model is None:
        from pokembed.embedding.registry import DEFAULT_IMAGE_MODEL

        image_model = DEFAULT_IMAGE_MODEL
    logger.info("loaded %d Pokémon from %s (%d with artwork); image model %s", len(index), config.dataset,
                len(art.thumbs), image_model)
    models = QueryModels(image_model, config.text_model, config.device, recorded.text_model, config.torch_threads)
    started = time.perf_counter()
    pca = search_beyond.pca_map(index)
    logger.info("PCA map computed in %.2f s (axes explain %s of the variance)", time.perf_counter() - started,
                " and ".join(f"{r:.1%}" for r in pca.explained_variance_ratio))
    footer = version_footer(dataset_version(config.dataset, config.revision, facts))
    space = Space(index, tuple(display_names(index.names, species)), art, models, config, pca=pca,
                  version_footer=footer)
    if workdir is None:
        weakref.finalize(space, shutil.rmtree, folder, ignore_errors=True)
    return space


def _placeholder(folder: Path) -> Path:
    """A grey tile with a question mark for Pokémon without artwork."""
    from PIL import Image, ImageDraw

    path = folder / "no-artwork.webp"
    image = Image.new("RGB", (THUMB_SIZE, THUMB_SIZE), (236, 236, 236))
    ImageDraw.Draw(image).text((THUMB_SIZE / 2, THUMB_SIZE / 2), "?", fill=(130, 130, 130), font_size=48,
                               anchor="mm")
    image.save(path, "WEBP", quality=80)
    return path


def start_warm_up(space: Space) -> threading.Thread:
    """Load the question model in the background and answer the first example (the Ask tab opens with it), then
    load the picture model; the page is served meanwhile. Failures are logged; a request then retries the load."""

    def warm() -> None:
        try:
            space.answers[EXAMPLE_QUESTIONS[0]] = ask_result(space, EXAMPLE_QUESTIONS[0], space.k_default)
            logger.info("question model ready")
            space.models.records_encoder()
            from PIL import Image

            space.models.image_encoder().embed_images([Image.new("RGB", (CARD_SIZE, CARD_SIZE), "white")])
            logger.info("picture model ready")
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first request loads the model itself
            logger.exception("warm-up failed; the first question or picture will load the model")

    thread = threading.Thread(target=warm, name="pokembed-warm-up", daemon=True)
    thread.start()
    return thread


# ---- results: the JSON the API returns and the page renders --------------------------------------------------------
def pokemon_facts(space: Space, row: int) -> dict[str, Any]:
    """One Pokémon as the results describe it."""
    index = space.index
    return {"id": int(index.ids[row]), "name": index.names[row], "display_name": space.display[row],
            "generation": index.generations[row], "generation_label": generation_label(index.generations[row]),
            "types": list(index.types[row]), "has_artwork": bool(index.has_image[row])}


def _entry(space: Space, pokemon_id: int, score: float, **extra: Any) -> dict[str, Any]:
    row = space.index.row_of_id(pokemon_id)
    return {**extra, "id": int(pokemon_id), "name": space.index.names[row], "display_name": space.display[row],
            "score": round(float(score), 6)}


def _matches(space: Space, matches: Sequence[search.Match]) -> list[dict[str, Any]]:
    return [_entry(space, m.id, m.score, rank=rank) for rank, m in enumerate(matches, start=1)]


def similar_result(space: Space, name: str, mode: str = "text", k: int = 12) -> dict[str, Any]:
    """The chosen Pokémon, its k nearest by `mode`, and the best 3 in each generation."""
    if mode not in search.MODES:
        raise BadInputError(f"unknown ranking mode {mode!r}; use one of {', '.join(search.MODES)}")
    row = space.index.find(name)
    slug = space.index.names[row]
    per_generation = [
        _entry(space, g.id, g.score, generation=g.generation, generation_label=generation_label(g.generation),
               rank=g.rank)
        for g in space.index.best_per_generation(slug, by=mode, k=3)]
    return {"pokemon": pokemon_facts(space, row), "mode": mode, "score": search.SCORE_LABELS[mode],
            "higher_is_closer": mode != "umap",
            "matches": _matches(space, space.index.similar(slug, by=mode, k=k)), "per_generation": per_generation}


def ask_result(space: Space, question: str, k: int = 12) -> dict[str, Any]:
    """The Pokémon whose artwork best matches a question (search_query embedding against image embeddings)."""
    text = queries.validate_question(question, space.config.max_question_chars)
    search.check_k(k)
    vector = space.models.query_encoder().embed_queries([text])[0]
    return {"question": text, "score": "cosine", "searched": space.artwork_count,
            "matches": _matches(space, space.index.search_images(vector, k=k))}


def picture_result(space: Space, path: str | Path | None, k: int = 12) -> dict[str, Any]:
    """The Pokémon whose artwork is closest to a picture file."""
    image = queries.validate_upload(path, max_bytes=space.config.max_upload_bytes,
                                    max_pixels=space.config.max_upload_pixels)
    search.check_k(k)
    vector = space.models.image_encoder().embed_images([image])[0]
    return {"width": image.width, "height": image.height, "score": "cosine", "searched": space.artwork_count,
            "matches": _matches(space, space.index.search_images(vector, k=k))}


def oddballs_result(space: Space, modality: str = "text") -> dict[str, Any]:
    """Per generation, the Pokémon with the lowest median cosine similarity to the others of its generation."""
    rows = space.index.oddballs(modality, per_generation=1)
    return {"modality": modality, "score": "median cosine", "oddballs": [
        {**_entry(space, o.id, o.median_similarity, generation=o.generation,
                  generation_label=generation_label(o.generation)),
         "types": list(space.index.types[space.index.row_of_id(o.id)]),
         "median_similarity": round(o.median_similarity, 6)} for o in rows]}


def records_result(space: Space, question: str, k: int = 12) -> dict[str, Any]:
    """The Pokémon whose records best answer a question: the question's `search_query: ` embedding by the dataset's
    text model against the records' `search_document: ` embeddings (nomic's retrieval use)."""
    text = queries.validate_question(question, space.config.max_question_chars)
    search.check_k(k)
    vector = space.models.records_encoder().embed_queries([text])[0]
    return {"question": text, "score": "cosine", "searched": len(space.index),
            "matches": _matches(space, search_beyond.ask_records(space.index, vector, k=k))}


def arithmetic_result(space: Space, expression: str, embedding_space: str = "text", k: int = 12) -> dict[str, Any]:
    """The Pokémon nearest to a sum of signed Pokémon and type/generation centroids, the Pokémon typed left out."""
    result = search_beyond.embedding_arithmetic(space.index, expression, embedding_space, k)
    return {"expression": result.expression, "space": result.space, "score": "cosine",
            "method": search_beyond.ARITHMETIC_METHOD, "story": _story(space, result),
            "terms": [{"sign": "+" if t.sign > 0 else "-", "kind": t.kind, "name": t.name} for t in result.terms],
            "excluded": list(result.excluded), "matches": _matches(space, result.matches)}


def _story(space: Space, result: search_beyond.ArithmeticResult) -> str | None:
    """The story of the preset whose terms and space these are, if any."""
    for preset in search_beyond.ARITHMETIC_PRESETS:
        try:
            if preset.space == result.space and search_beyond.parse_expression(space.index, preset.expression) == result.terms:
                return preset.story
        except BadInputError:  # a small build may lack a preset's Pokémon
            continue
    return None


def available_presets(space: Space) -> list[search_beyond.ArithmeticPreset]:
    """The presets this dataset can compute (all of them on a full build)."""
    out = []
    for preset in search_beyond.ARITHMETIC_PRESETS:
        try:
            search_beyond.embedding_arithmetic(space.index, preset.expression, preset.space, 1)
        except BadInputError:
            continue
        out.append(preset)
    return out


def pca_variance(space: Space) -> list[float]:
    """The share of the variance each PCA axis explains, rounded for display and JSON."""
    return [round(float(r), 6) for r in space.pca.explained_variance_ratio]


def map_coordinates(space: Space, projection: str = "umap") -> np.ndarray:
    """The (n, 2) coordinates of one layout: the dataset's UMAP, or the PCA computed at start."""
    if projection == "umap":
        return space.index.umap
    if projection == "pca":
        return space.pca.coordinates
    raise BadInputError(f"unknown projection {projection!r}; use umap or pca")


def map_neighbours(space: Space, row: int, k: int = MAP_NEIGHBOURS) -> list[tuple[int, float | None]]:
    """(row, stored distance) of a row's nearest neighbours as the dataset stores them, nearest first: the distance
    is `neighbors.distances`, the cosine distance of the combined text and image vectors. Where the dataset stores no
    neighbours, the nearest on the UMAP map, with no stored distance (None)."""
    stored = space.index.stored_neighbors(row)
    if stored:
        return stored[:k]
    return [(space.index.row_of_id(m.id), None)
            for m in space.index.similar(space.index.names[row], by="umap", k=k)]


def _stored_distance(distance: float | None) -> float | None:
    """A stored neighbour distance at 3 significant digits (what the list shows; rounding keeps their order), for
    JSON: the map's data stays small."""
    return None if distance is None else float(f"{distance:.3g}")


def map_result(space: Space, name: str | None = None, k: int = MAP_NEIGHBOURS,
               projection: str = "umap") -> dict[str, Any]:
    """Every Pokémon's map coordinates (UMAP, or PCA with the variance each axis explains); with a name, that
    Pokémon and its stored nearest neighbours."""
    index = space.index
    coordinates = map_coordinates(space, projection)
    points = [{"id": int(i), "name": n, "x": round(float(x), 4), "y": round(float(y), 4), "generation": g}
              for i, n, (x, y), g in zip(index.ids, index.names, coordinates, index.generations)]
    result: dict[str, Any] = {"projection": projection, "points": points, "pokemon": None, "neighbors": []}
    if projection == "pca":
        result["explained_variance_ratio"] = pca_variance(space)
    if name is not None and str(name).strip():
        row = index.find(name)
        k = search.check_k(k)
        result["pokemon"] = pokemon_facts(space, row)
        result["neighbors"] = [
            {**_entry(space, int(index.ids[r]), float(np.linalg.norm(coordinates[r] - coordinates[row])), rank=rank),
             "distance": None if distance is None else round(float(distance), 6)}
            for rank, (r, distance) in enumerate(map_neighbours(space, row, k), start=1)]
    return result


def map_view_data(space: Space) -> dict[str, Any]:
    """Compact columns for the map's script: coordinates, names, colour groups, artwork flags, neighbours (`nb`: rows,
    nearest first; `nd`: their stored distances, null where the dataset stores none)."""
    index = space.index
    gens = [g or "unknown" for g in index.generations]
    gen_order = sorted(set(gens), key=lambda g: search.generation_sort_key(None if g == "unknown" else g))
    primary = [t[0] if t else "unknown" for t in index.types]
    type_order = sorted(set(primary))
    all_neighbours = [map_neighbours(space, r) for r in range(len(index))]
    return {
        "x": [round(float(v), 3) for v in index.umap[:, 0]], "y": [round(float(v), 3) for v in index.umap[:, 1]],
        "pca_x": [round(float(v), 4) for v in space.pca.coordinates[:, 0]],
        "pca_y": [round(float(v), 4) for v in space.pca.coordinates[:, 1]],
        "pca_variance": pca_variance(space),
        "id": [int(i) for i in index.ids], "name": list(index.names), "label": list(space.display),
        "gen": [gen_order.index(g) for g in gens], "gens": [generation_label(g) for g in gen_order],
        "gen_colours": [GENERATION_COLOURS[i % len(GENERATION_COLOURS)] for i in range(len(gen_order))],
        "type": [type_order.index(t) for t in primary], "types": type_order,
        "type_colours": [html.TYPE_COLOURS.get(t, "#888888") for t in type_order],
        "type_names": [" / ".join(t) or "unknown" for t in index.types],
        "art": [int(bool(a)) for a in index.has_image],
        "nb": [[r for r, _ in neighbours] for neighbours in all_neighbours],
        "nd": [[_stored_distance(d) for _, d in neighbours] for neighbours in all_neighbours],
        "thumb_base": "gradio_api/file=" + (space.art.folder / "thumb").as_posix() + "/",
        "placeholder": space.art.url(-1),
    }


def map_view(space: Space, start: str | None = None) -> dict[str, Any]:
    """What the map's tab receives when it opens: where to fetch its data (a JSON file beside the artwork, written
    once, so the browser gets it compressed and cached) and which row to start on (-1: none)."""
    path = space.art.folder / "map.json"
    if not path.exists():
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")  # two first visitors at once write apart
        tmp.write_text(json.dumps(map_view_data(space), separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)
    try:
        row = space.index.find(start) if start else -1
    except BadInputError:
        row = -1
    return {"url": "gradio_api/file=" + path.as_posix(), "start": row}


# ---- the page: one function per tab ---------------------------------------------------------------------------------
TILES_JS = (ASSETS / "tiles.js").read_text(encoding="utf-8")
MAP_JS = (ASSETS / "map.js").read_text(encoding="utf-8")
MAP_TEMPLATE = """
<div class="pk-map">
  <form class="pk-map-controls" autocomplete="off">
    <label>Layout <select class="pk-map-layout"><option value="umap">UMAP</option>
      <option value="pca">PCA</option></select></label>
    <label>Colour by <select class="pk-map-colour"><option value="generation">Generation</option>
      <option value="type">Primary type</option></select></label>
    <label>Find <input class="pk-map-find" list="pk-map-names" placeholder="e.g. Pikachu" size="14"></label>
    <button type="submit">Show</button>
    <span class="pk-map-message" role="alert"></span>
    <datalist id="pk-map-names"></datalist>
  </form>
  <div class="pk-map-body">
    <div class="pk-map-plot"><canvas class="pk-map-canvas" role="img"
      aria-label="Every Pokémon on the map (UMAP or PCA); hover for artwork, click to select"></canvas>
      <div class="pk-map-tip" hidden></div><p class="pk-map-axes"></p><div class="pk-map-legend"></div></div>
    <aside class="pk-map-side"><p class="pk-heading">Loading the map…</p></aside>
  </div>
</div>
"""


def friendly(fn: Callable[..., tuple]) -> Callable[..., tuple]:
    """For page events: a bad input leaves every result on screen as it was (gr.skip) and puts its message in the
    last output, the message box next to the input; success clears the message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        try:
            return (*fn(*args, **kwargs), "")
        except PokembedError as exc:
            text = str(exc)
        except Exception:  # noqa: BLE001 - never a traceback in the page
            logger.exception("unexpected error in %s", fn.__name__)
            text = "something went wrong on our side; try again or try another input"
        outputs = getattr(wrapper, "outputs", 1)
        return (*[gr.skip()] * outputs, html.message(text))

    return wrapper


def with_outputs(n: int) -> Callable[[Callable], Callable]:
    """`friendly`, for a handler whose results fill `n` components before the message."""

    def decorate(fn: Callable) -> Callable:
        wrapped = friendly(fn)
        wrapped.outputs = n
        return wrapped

    return decorate


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


def similar_tab(space: Space) -> tuple[gr.Dropdown, gr.HTML]:
    """Similar Pokémon: the chosen Pokémon's card beside its nearest Pokémon, then the 9 × 3 per-generation grid."""
    index = space.index
    first = index.names[index.find("pikachu")] if "pikachu" in index.names else index.names[0]

    @with_outputs(1)
    def show(name: str, mode: str, k: float) -> tuple[str]:
        result = similar_result(space, name, mode, int(k))
        return (html.similar_page(result, space.art.url, MODE_EXPLANATIONS[mode]),)

    with gr.Tab("Similar", id="similar"):
        with gr.Row(elem_id="similar-controls", equal_height=True):
            name = gr.Dropdown(list(zip(space.display, index.names)), value=first, label="Pokémon",
                               allow_custom_value=True, filterable=True, elem_id="pokemon-name", scale=2,
                               min_width=180)
            mode = gr.Radio(MODE_CHOICES, value="text", label="Similar by", elem_id="rank-mode", scale=3,
                            min_width=240)
            k = gr.Slider(1, space.k_max, value=space.k_default, step=1, label="How many", scale=1, min_width=150)
        message = gr.HTML(elem_id="similar-message", elem_classes="pk-msg-slot")
        view = gr.HTML(show(first, "text", space.k_default)[0], elem_id="similar-view", elem_classes="pk-view", js_on_load=TILES_JS)
        gr.on([name.change, mode.change, k.release], show, [name, mode, k], [view, message],
              show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    return name, view


def ask_tab(space: Space) -> gr.HTML:
    """Ask the Pokédex: a question against the artwork and, beside it, against the records (nomic's retrieval use),
    opening with the first example's answer."""
    first = EXAMPLE_QUESTIONS[0]

    def page(artwork: Mapping[str, Any], records: Mapping[str, Any], k: int) -> str:
        asked = html.escape(artwork["question"])
        return html.side_by_side(
            html.results_page(artwork["matches"][:k], space.art.url,
                              f"<b>Artwork</b> closest to <b>{asked}</b> (cosine of the question's embedding with "
                              "each artwork's image embedding; click a picture to explore that Pokémon)"),
            html.results_page(records["matches"][:k], space.art.url,
                              f"<b>Records</b> closest to <b>{asked}</b> (cosine of the question's "
                              "<code>search_query: </code> embedding with each PokéAPI record's "
                              "<code>search_document: </code> embedding)"))

    @with_outputs(1)
    def answer(question: str, k: float) -> tuple[str]:
        artwork = ask_result(space, question, int(k))
        return (page(artwork, records_result(space, artwork["question"], int(k)), int(k)),)

    ask = while_loading(lambda: space.models.query_ready, "question", answer)

    def opened(shown: bool, k: float) -> Iterator[tuple]:
        if shown:
            yield gr.skip(), gr.skip(), True
            return
        result = space.answers.get(first)
        if result is None or len(result["matches"]) < int(k):  # not warm yet, or more asked for than it ranked
            for view, message in ask(first, k):
                yield view, message, True
            return
        try:
            records = records_result(space, first, int(k))
        except PokembedError as exc:
            yield gr.skip(), html.message(str(exc)), True
            return
        yield page(result, records, int(k)), "", True

    def example(question: str) -> Iterator[tuple]:
        yield from ask(question, space.k_default)

    with gr.Tab("Ask", id="ask") as tab:
        gr.Markdown(f"Describe a Pokémon and see whose artwork matches: the question is embedded with nomic's "
                    f"`search_query: ` prompt into the image space and compared with the official artwork of "
                    f"**{space.artwork_count:,} Pokémon** (the other {len(space.index) - space.artwork_count:,} of "
                    f"the {len(space.index):,} have none, so a question cannot find them). Beside it, the same "
                    "question asks the **records** of all of them: their PokéAPI JSON, embedded as "
                    "`search_document: `, nomic's retrieval setup. Ask the records what the artwork cannot show: "
                    "\"a ghost type that evolves by trading\", \"learns surf and fly\".")
        with gr.Row(equal_height=True):
            question = gr.Textbox(first, label="Describe a Pokémon", max_lines=2, scale=4, elem_id="question",
                                  min_width=220)
            k = gr.Slider(1, space.k_max, value=space.k_default, step=1, label="How many", scale=1, min_width=150)
        button = gr.Button("Search the artwork and the records", variant="primary", elem_id="ask-button")
        message = gr.HTML(elem_id="ask-message", elem_classes="pk-msg-slot")
        view = gr.HTML(elem_id="ask-view", elem_classes="pk-view", js_on_load=TILES_JS, render=False)
        gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], outputs=[view, message],
                    fn=example, run_on_click=True, cache_examples=False,
                    label="Try one (click to ask)", api_visibility="private", elem_id="ask-examples")
        gr.Examples([[q] for q in RECORD_QUESTIONS], inputs=[question], outputs=[view, message],
                    fn=example, run_on_click=True, cache_examples=False,
                    label="Questions for the records", api_visibility="private", elem_id="ask-record-examples")
        view.render()
        shown = gr.State(False)
        tab.select(opened, [shown, k], [view, message, shown], api_visibility="private")
        gr.on([button.click, question.submit], ask, [question, k], [view, message], api_visibility="private")
    return view


def default_expression(space: Space) -> tuple[str, str]:
    """The arithmetic tab's first expression and space: the first preset this dataset can compute, else one made
    from its first Pokémon (a small build may lack the presets' Pokémon)."""
    presets = available_presets(space)
    if presets:
        return presets[0].expression, presets[0].space
    index = space.index
    own = index.types[0][0] if index.types[0] else None
    other = next((t for t in search_beyond.type_names(index) if t != own), None)
    if own and other:
        return f"{index.names[0]} - type:{own} + type:{other}", "text"
    return index.names[0], "text"


def arithmetic_tab(space: Space) -> gr.HTML:
    """Embedding arithmetic: Pokémon and type or generation centroids added and subtracted, the nearest shown."""
    presets = available_presets(space)
    first, first_space = default_expression(space)

    @with_outputs(1)
    def compute(expression: str, embedding_space: str, k: float) -> tuple[str]:
        return (html.arithmetic_page(arithmetic_result(space, expression, embedding_space, int(k)), space.art.url),)

    with gr.Tab("Sums", id="arithmetic"):  # "Arithmetic" does not fit beside the other labels on a phone
        gr.Markdown(f"**Embedding arithmetic**: word2vec's *king − man + woman = queen*, with Pokémon. "
                    f"{search_beyond.ARITHMETIC_METHOD} Write "
                    "Pokémon names, `type:water` or `generation:iv`, joined by `+` and `-` with spaces around "
                    "them; parentheses group: `charmander + (wartortle - squirtle)`.")
        with gr.Row(equal_height=True):
            expression = gr.Textbox(first, label="Expression", max_lines=1, scale=4, elem_id="arithmetic-expression",
                                    min_width=220)
            embedding_space = gr.Radio(ARITHMETIC_SPACE_CHOICES, value=first_space, label="Space", scale=2,
                                       elem_id="arithmetic-space", min_width=200)
            k = gr.Slider(1, space.k_max, value=space.k_default, step=1, label="How many", scale=1, min_width=150)
        button = gr.Button("Compute", variant="primary", elem_id="arithmetic-button")
        message = gr.HTML(elem_id="arithmetic-message", elem_classes="pk-msg-slot")
        initial = compute(first, first_space, space.k_default)[0]
        view = gr.HTML(initial if isinstance(initial, str) else None, elem_id="arithmetic-view",
                       elem_classes="pk-view", js_on_load=TILES_JS, render=False)
        if presets:
            gr.Examples([[p.expression, p.space] for p in presets], inputs=[expression, embedding_space],
                        outputs=[view, message], fn=lambda e, s: compute(e, s, space.k_default), run_on_click=True,
                        cache_examples=False, example_labels=[p.label for p in presets],
                        label="Presets that tell a story (click to compute)", api_visibility="private",
                        elem_id="arithmetic-presets")
        view.render()
        gr.on([button.click, expression.submit, embedding_space.change], compute, [expression, embedding_space, k],
              [view, message], trigger_mode="always_last", api_visibility="private")
    return view


def picture_tab(space: Space) -> gr.HTML:
    """Search by picture: an uploaded picture's image embedding against the artwork."""

    @with_outputs(1)
    def look_up(upload: Any, k: float) -> tuple[str]:
        path = upload.get("path") if isinstance(upload, Mapping) else upload
        result = picture_result(space, path, int(k))
        heading = (f"Artwork closest to your {result['width']}×{result['height']} picture (cosine of image "
                   "embeddings; click a picture to explore that Pokémon)")
        return (html.results_page(result["matches"], space.art.url, heading),)

    with gr.Tab("By picture", id="picture"):
        gr.Markdown(f"Upload a drawing or a photo: its image embedding is compared with the artwork of the "
                    f"{space.artwork_count:,} Pokémon that have it (PNG, JPEG or WebP, under "
                    f"{space.config.max_upload_bytes / 1e6:.0f} MB).")
        with gr.Row(equal_height=True):
            upload = gr.Image(type="filepath", sources=["upload", "clipboard"], label="Your picture",
                              image_mode=None, height=260, elem_id="upload", scale=2, min_width=220)
            k = gr.Slider(1, space.k_max, value=space.k_default, step=1, label="How many", scale=1, min_width=150)
        button = gr.Button("Find look-alikes", variant="primary", elem_id="picture-button")
        message = gr.HTML(elem_id="picture-message", elem_classes="pk-msg-slot")
        view = gr.HTML(elem_id="picture-view", elem_classes="pk-view", js_on_load=TILES_JS)
        # preprocess=False: our validation (type, pixels, bytes) reads the uploaded file, not Gradio's decoder
        gr.on([button.click, upload.upload], while_loading(lambda: space.models.image_ready, "picture", look_up),
              [upload, k], [view, message], preprocess=False,
              api_visibility="private")
    return view


def map_tab(space: Space, name: gr.Dropdown) -> gr.HTML:
    """The map: every Pokémon placed by UMAP or by PCA; its data is sent when the tab first opens, not with the
    page."""

    def opened(loaded: bool, chosen: str) -> tuple:
        if loaded:
            return gr.skip(), True
        return map_view(space, chosen), True

    with gr.Tab("Map", id="map") as tab:
        x_share, y_share = (f"{r:.1%}" for r in space.pca.explained_variance_ratio)
        gr.Markdown("Each dot is a Pokémon, placed by UMAP from its text and image embeddings together: neighbours "
                    "on the map have similar records and artwork. Hover for artwork; click a dot (or find a name) "
                    "to list its nearest neighbours. Switch the layout to **PCA**, the classical linear projection "
                    "of the same vectors (its x axis explains "
                    f"{x_share} of their variance, its y axis {y_share}), to see how much of the clustering is "
                    "UMAP's doing.")
        view = gr.HTML(None, html_template=MAP_TEMPLATE, js_on_load=MAP_JS, elem_id="map-view", elem_classes="pk-view")
        loaded = gr.State(False)
        tab.select(opened, [loaded, name], [view, loaded], api_visibility="private")
    return view


def oddballs_tab(space: Space) -> gr.HTML:
    """Oddballs: in each generation, the Pokémon least like the others (the article's Magikarp)."""

    @with_outputs(1)
    def show(modality: str) -> tuple[str]:
        return (html.oddballs_page(oddballs_result(space, modality), space.art.url),)

    def opened(loaded: bool, modality: str) -> tuple:
        return (gr.skip(), gr.skip(), True) if loaded else (*show(modality), True)

    with gr.Tab("Oddballs", id="oddballs") as tab:
        modality = gr.Radio(MODALITY_CHOICES, value="text", label="Embeddings", elem_id="oddball-modality")
        message = gr.HTML(elem_id="oddballs-message", elem_classes="pk-msg-slot")
        view = gr.HTML(elem_id="oddballs-view", elem_classes="pk-view", js_on_load=TILES_JS)
        loaded = gr.State(False)
        tab.select(opened, [loaded, modality], [view, message, loaded], api_visibility="private")
        modality.change(show, [modality], [view, message], api_visibility="private")
    return view


def choose_on_click(views: Sequence[gr.HTML], name: gr.Dropdown, tabs: gr.Tabs) -> None:
    """A click on any picture tile (or the map's "Similar Pokémon" button) makes that Pokémon the chosen one."""

    def choose(evt: gr.EventData) -> tuple:
        picked = getattr(evt, "_data", None) or {}
        if not isinstance(picked, Mapping) or not picked.get("name"):
            return gr.skip(), gr.skip()
        return str(picked["name"]), gr.Tabs(selected="similar")

    for view in views:
        view.click(choose, None, [name, tabs], show_progress="hidden", api_visibility="private")


# ---- the API: JSON results, one documented function per endpoint ----------------------------------------------------
def api_endpoints(space: Space) -> None:
    """/similar, /ask, /ask_records, /arithmetic, /search_by_picture, /map and /oddballs: names as plain strings,
    JSON results with ids."""
    served = space  # /arithmetic has a parameter called space too

    def as_api(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PokembedError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            except gr.Error:
                raise
            except Exception:  # noqa: BLE001 - never a traceback to a caller
                logger.exception("unexpected error in /%s", fn.__name__)
                raise gr.Error("something went wrong on our side; try again", print_exception=False) from None

        dependency = gr.api(wrapper, api_name=fn.__name__)
        _describe_parameters(dependency, fn)
        return wrapper

    @as_api
    def similar(name: str, mode: Mode = "text", k: int = 12) -> dict:
        """The k Pokémon most like one Pokémon, and the best 3 of each generation. Returns JSON: `pokemon` (id, name,
        display_name, generation, types, has_artwork), `score` (what the scores are), `matches` and `per_generation`
        (lists of rank, id, name, display_name, score; per_generation rows also carry generation).

        Args:
            name: a Pokémon's name, as PokéAPI spells it ("mr-mime") or as people write it ("Mr. Mime"); case, spaces, hyphens and accents are ignored.
            mode: what "like" means: "text" (cosine of record embeddings), "image" (cosine of artwork embeddings; the Pokémon needs artwork), "umap" (distance on the 2-D map, lower is closer) or "combined" (mean of text and image cosines).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return similar_result(space, name, mode, k)

    @as_api
    def ask(question: str, k: int = 12) -> dict:
        """Pokémon whose official artwork best matches a text question (the question's search_query embedding against
        the image embeddings). Returns JSON: `question`, `searched` (how many Pokémon have artwork), `matches` (rank,
        id, name, display_name, score = cosine).

        Args:
            question: what to look for, in words, e.g. "what looks like an ice cream cone?" (at most 500 characters).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return ask_result(space, question, k)

    @as_api
    def ask_records(question: str, k: int = 12) -> dict:
        """Pokémon whose PokéAPI records best answer a question: the question embedded with the dataset's text model
        and its query prompt (search_query: ) against the records' text embeddings (search_document: ), nomic's
        retrieval setup. Every Pokémon has a record, with or without artwork. Returns JSON: `question`, `searched`,
        `matches` (rank, id, name, display_name, score = cosine).

        Args:
            question: what to look for in the records, e.g. "a ghost type that evolves by trading" or "learns surf and fly" (at most 500 characters).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return records_result(space, question, k)

    @as_api
    def arithmetic(expression: str, space: EmbeddingSpace = "text", k: int = 12) -> dict:  # noqa: A002
        """Embedding arithmetic: the Pokémon nearest to a normalised sum of signed unit vectors, each a Pokémon's
        embedding or a type's or generation's centroid (the normalised mean of its members' unit vectors); the
        Pokémon named in the expression are left out. Returns JSON: `expression` (as understood), `space`, `terms`
        (sign, kind, name), `excluded`, `story` (for a preset), `method`, `matches` (rank, id, name, display_name,
        score = cosine).

        Args:
            expression: terms joined by + and - with spaces around them, e.g. "pikachu - type:electric + type:water" or "charmander + (wartortle - squirtle)"; a term is a Pokémon name, type:NAME or generation:NAME (gen:4 and generation-iv work too).
            space: "text" (the records' embeddings) or "image" (the artwork's; Pokémon without artwork cannot be terms and are not ranked).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return arithmetic_result(served, expression, space, k)

    @as_api
    def search_by_picture(image: gr.FileData, k: int = 12) -> dict:
        """Pokémon whose official artwork is closest to a picture (image embeddings, cosine). Returns JSON: `width`,
        `height`, `searched`, `matches` (rank, id, name, display_name, score).

        Args:
            image: a PNG, JPEG or WebP picture under 10 MB and 16 megapixels (with gradio_client: handle_file(path)).
            k: how many Pokémon to return, 1 to 1000 (the page shows up to 50).
        """
        return picture_result(space, _uploaded_path(image), k)

    @as_api
    def oddballs(modality: Modality = "text") -> dict:
        """In each generation, the Pokémon with the lowest median cosine similarity to the others of its generation.
        Returns JSON: `oddballs` (generation, id, name, display_name, types, median_similarity).

        Args:
            modality: which embeddings to compare: "text", "image" or "combined".
        """
        if modality not in search.MODALITIES:
            raise BadInputError(f"unknown modality {modality!r}; use one of {', '.join(search.MODALITIES)}")
        return oddballs_result(space, modality)

    @as_api
    def map(name: str | None = None, k: int = MAP_NEIGHBOURS, projection: Projection = "umap") -> dict:  # noqa: A001
        """Every Pokémon's 2-D coordinates, by UMAP (the dataset's) or by PCA of the same concatenated vectors
        (computed when the Space starts, with a fixed sign per axis); with a name, that Pokémon and its nearest
        neighbours as stored in the dataset's neighbors column. Returns JSON: `projection`, `points` (id, name, x, y,
        generation), `explained_variance_ratio` (PCA only: the share of the variance each axis explains), `pokemon`,
        `neighbors` (rank, id, name, display_name, distance = the dataset's stored neighbour distance, the cosine
        distance of the combined text and image vectors, nearest first; score = distance on this map).

        Args:
            name: optional; a Pokémon to highlight, spelled as for /similar.
            k: how many neighbours to return with a name, 1 to 1000 (at most as many as the dataset stores).
            projection: "umap" (the published umap_2d_x/y) or "pca" (pca_2d_x/y: the first two principal components).
        """
        return map_result(space, name, k, projection)


def _describe_parameters(dependency: Any, fn: Callable) -> None:
    """Put each parameter's docstring description (the `Args:` lines) into the API info, where clients read it."""
    from gradio.context import get_blocks_context
    from gradio.utils import get_function_description

    _, described, _ = get_function_description(fn)
    blocks = get_blocks_context()
    for component_id, (parameter, text) in zip(dependency["inputs"], described.items()):
        component = blocks.blocks[component_id]
        component.label = parameter
        component._api_info = {**component._api_info, "description": text, "additional_description": text}


def _uploaded_path(image: Any) -> str:
    """The server-side path of a file sent to the API, refused unless Gradio's upload route put it there."""
    from gradio.utils import get_upload_folder, is_in_or_equal

    path = image.get("path") if isinstance(image, Mapping) else getattr(image, "path", image)
    if not path:
        raise BadInputError("no picture given; send one with handle_file(path)")
    if not is_in_or_equal(str(path), get_upload_folder()):
        raise BadInputError("the picture must be uploaded with the request; send it with handle_file(path)")
    return str(path)


def make_demo(space: Space) -> gr.Blocks:
    """The page over a loaded `Space`: a header, one tab per function, and the JSON API."""
    index = space.index
    with gr.Blocks(title="pokembed · Pokémon embeddings") as demo:
        gr.Markdown(f"# pokembed · Pokémon embeddings\n{len(index):,} Pokémon from `{space.config.dataset}`: text "
                    "embeddings of their PokéAPI records, image embeddings of their official artwork "
                    f"({space.artwork_count:,} have it), and a map of both.", elem_id="pk-header")
        api_endpoints(space)  # first, so the endpoints own their names
        with gr.Tabs(selected="similar", elem_id="pk-tabs") as tabs:
            name, similar_view = similar_tab(space)
            ask_view = ask_tab(space)
            picture_view = picture_tab(space)
            arithmetic_view = arithmetic_tab(space)
            map_view = map_tab(space, name)
            oddballs_view = oddballs_tab(space)
        choose_on_click([similar_view, ask_view, picture_view, arithmetic_view, map_view, oddballs_view], name, tabs)
        gr.Markdown(space.version_footer, elem_id="dataset-version")
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

    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    return {"css_paths": [ASSETS / "style.css"], "theme": theme, "allowed_paths": [str(space.art.folder)],
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
