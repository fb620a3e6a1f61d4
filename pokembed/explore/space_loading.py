"""Loading the Space: the dataset read once (index, display names, artwork files, the PCA map, the version footer),
and the warm-up that loads the query models in the background while the page is already served.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path

from pokembed.explore.answers import ask_result
from pokembed.explore.index import PokedexIndex
from pokembed.explore.map_data import pca_map
from pokembed.explore.names import names_to_show
from pokembed.explore.query_models import QueryModels
from pokembed.explore.space import CARD_SIZE, EXAMPLE_QUESTIONS, THUMB_SIZE, ArtworkFiles, Space, SpaceConfig

logger = logging.getLogger(__name__)


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
    from pokembed.dataset.facts import models_from_facts, read_build_facts
    from pokembed.dataset.table import load_dataset_split
    from pokembed.explore.artwork_export import export_artwork, write_thumbnails
    from pokembed.hub.published import dataset_version, version_footer

    single_threaded_numpy()
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pokembed-art-"))
    # a local folder is read through a cache of its own: datasets' shared cache can answer for an earlier build of a
    # folder with the same name and files (a rebuilt build/smoke would show its old vectors); Hub revisions are safe
    local = Path(config.dataset).is_dir()
    ds = load_dataset_split(config.dataset, config.revision, cache_dir=folder / "datasets-cache" if local else None)
    index = PokedexIndex.from_dataset(ds)
    species = ds["species_id"] if "species_id" in ds.column_names else None
    shown = ds["display_name"] if "display_name" in ds.column_names else None  # PokéAPI's own English names
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
    pca = pca_map(index)
    logger.info("PCA map computed in %.2f s (axes explain %s of the variance)", time.perf_counter() - started,
                " and ".join(f"{r:.1%}" for r in pca.explained_variance_ratio))
    footer = version_footer(dataset_version(config.dataset, config.revision, facts))
    space = Space(index, tuple(names_to_show(index.names, species, shown)), art, models, config, pca=pca,
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
