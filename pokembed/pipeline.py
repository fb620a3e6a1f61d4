"""One build: source → documents → artwork → vectors → projection → table → card, each stage timed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pokembed.sources.artwork import DEFAULT_ARTWORK_URL
from pokembed.embedding.cached import EMBED_CHUNK
from pokembed.embedding.encoders import LONG_DOCUMENT_MODES
from pokembed.errors import BadInputError
from pokembed.embedding.registry import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
from pokembed.projection import UmapParams
from pokembed.dataset.versioning import AUTO as AUTO_VERSION

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; the defaults serve the real, published run."""

    out: Path
    source: str = "auto"  # live GraphQL, else PokéAPI's tables at the latest commit (see pokembed.sources.choice)
    artwork: str = DEFAULT_ARTWORK_URL
    cache_dir: Path | None = None  # default: <out's parent>/.pokembed-cache
    limit: int | None = None
    text_model: str = DEFAULT_TEXT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    device: str = "auto"
    long_documents: str = "truncate"
    version: str = "0.1.0"  # or "auto": decided from what changed since the previous version (pokembed.dataset.versioning)
    umap: UmapParams = field(default_factory=UmapParams)
    neighbors: int = 10
    refresh: bool = False
    previous: Path | None = None  # a previous output folder, for the changelog (default: the existing out folder)
    repo_id: str | None = None  # the Hub repo the card's examples load from
    card_template: Path | None = None  # default: the template in the package (pokembed/templates)
    embed_chunk: int = EMBED_CHUNK  # items embedded between two cache commits: what an interruption loses at most
    progress: bool = True

    @property
    def cache(self) -> Path:
        """The build cache folder."""
        return self.cache_dir if self.cache_dir is not None else Path(self.out).resolve().parent / ".pokembed-cache"


@dataclass
class BuildResult:
    """What a build did: where it wrote, counts and seconds per stage."""

    out: Path
    rows: int
    counts: dict[str, int]
    timings: dict[str, float]
    changelog: list[str]
    truncated: list[str]
    missing_artwork: list[int]
    version: str = ""  # the version built (what version="auto" chose)
    unchanged_since: str | None = None  # --version auto found nothing changed since this version: nothing written


class StageTimer:
    """Times named stages and logs each as it ends."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("%s ...", name)
        yield
        seconds = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        log.info("%s done in %.2f s", name, seconds)


def validate_config(config: BuildConfig) -> None:
    """Reject bad options before any slow work starts."""
    from pokembed.projection import validate_umap_params
    from pokembed.dataset.versioning import validate_version

    if config.version != AUTO_VERSION:
        validate_version(config.version)
    validate_umap_params(config.umap)
    if config.long_documents not in LONG_DOCUMENT_MODES:
        raise BadInputError(
            f"unknown `long_documents` {config.long_documents!r}; use one of: {', '.join(LONG_DOCUMENT_MODES)}"
        )
    if config.limit is not None and config.limit < 1:
        raise BadInputError(f"`limit` must be a positive number, got {config.limit}")
    if config.neighbors < 1:
        raise BadInputError(f"`neighbors` must be a positive number, got {config.neighbors}")
    if config.previous is not None and not Path(config.previous).is_dir():
        raise BadInputError(f"`previous` {config.previous} is not a folder; pass an earlier output folder, or leave "
                            "`previous` out to diff against the existing output")
    if config.card_template is not None and not Path(config.card_template).is_file():
        raise BadInputError(f"card template {config.card_template} not found; pass an existing `card_template` file")


def build(config: BuildConfig) -> BuildResult:
    """Run every stage and write the dataset folder to config.out (temp folder, then swapped in whole).

    Paths are checked before any work; the output folder's lock is held throughout, so a second build of the same
    folder fails at once, and what an interrupted build left behind is finished or undone first.
    """
    from pokembed.dataset.output_folder import check_build_paths, output_lock, recover

    validate_config(config)
    check_build_paths(Path(config.out), Path(config.cache))
    with output_lock(Path(config.out)):
        recover(Path(config.out))
        return _build_locked(config)


def _build_locked(config: BuildConfig) -> BuildResult:
    from pokembed.sources.artwork import load_artwork
    from pokembed.dataset.card import DEFAULT_TEMPLATE, read_template, render_card
    from pokembed.dataset.changelog import choose_changelog, read_previous
    from pokembed.dataset.table import check_output_folder, dataset_features, dataset_rows, rows_to_table, write_dataset_folder
    from pokembed.sources.documents import document_text, row_metadata
    from pokembed.dataset.facts import METADATA_KEY, BuildFacts, facts_to_json
    from pokembed.dataset.figures import render_figures
    from pokembed.embedding.registry import get_model_spec, query_model_spec
    from pokembed.projection import combined_distances, nearest_neighbors, pca_2d, project_2d
    from pokembed.sources.choice import load_source
    from pokembed.embedding.vector_cache import VectorCache, content_hash, model_cache_key

    check_output_folder(Path(config.out))
    timer = StageTimer()
    text_spec = get_model_spec(config.text_model, "text")
    image_spec = get_model_spec(config.image_model, "image")
    cache_dir = Path(config.cache)
    cache_dir.mkdir(parents=True, exist_ok=True)

    with timer.stage("source"):
        source = load_source(config.source, cache_dir=cache_dir, refresh=config.refresh, progress=config.progress)
        records = source.records[: config.limit] if config.limit else source.records
        if not records:
            raise BadInputError(f"the source {config.source} returned no Pokémon; check the source")

    with timer.stage("documents"):
        documents = [document_text(record) for record in records]
        metas = [row_metadata(record, source.meta[record["id"]]) for record in records]
        ids = [meta.id for meta in metas]

    with timer.stage("artwork"):
        artwork = load_artwork(ids, config.artwork, cache_dir=cache_dir, progress=config.progress,
                               refresh=config.refresh)
        pngs = artwork.png

    previous_folder = Path(config.previous) if config.previous else Path(config.out)
    previous = None
    version_line: list[str] = []
    if config.version == AUTO_VERSION:
        previous = read_previous(previous_folder, config.version)
        decision = _decide_version(config, previous, metas, documents, pngs, text_spec, image_spec)
        if decision.version is None:
            _log_unchanged(decision.previous, previous.facts.data_version, source.data_version)
            return BuildResult(out=Path(config.out), rows=0, counts={}, timings=timer.timings, changelog=[],
                               truncated=[], missing_artwork=[], version=decision.previous,
                               unchanged_since=decision.previous)
        log.info("--version auto: %s", decision.changelog_line())
        config = replace(config, version=decision.version)
        version_line = [decision.changelog_line()]

    with_image = [pokemon_id for pokemon_id in ids if pokemon_id in pngs]
    with VectorCache(cache_dir / "vectors.sqlite") as vector_cache:
        # Hashed once for the plan and the embedding stages (a local model's key reads every file of its folder).
        text_keys = [content_hash(document) for document in documents]
        text_model_key = model_cache_key(text_spec, config.long_documents)
        image_keys = [content_hash(pngs[pokemon_id]) for pokemon_id in with_image]
        image_model_key = model_cache_key(image_spec)
        _log_embed_plan(config, text_spec, vector_cache, documents, text_keys, text_model_key, image_keys,
                        image_model_key)
        with timer.stage("text embeddings"):
            text_vectors, text_infos, text_embedded = _embed_texts(config, text_spec, vector_cache, documents,
                                                                   text_keys, text_model_key)
        with timer.stage("image embeddings"):
            image_rows, image_embedded = _embed_images(config, image_spec, vector_cache,
                                                       [artwork.images[i] for i in with_image], image_keys,
                                                       image_model_key)
    image_by_id = dict(zip(with_image, image_rows)) if image_rows is not None else {}
    image_dim = image_rows.shape[1] if image_rows is not None else image_spec.dimension

    with timer.stage("projection"):
        has_image = np.array([pokemon_id in image_by_id for pokemon_id in ids], dtype=bool)
        image_matrix = np.zeros((len(ids), image_dim), dtype=np.float32)
        for row, pokemon_id in enumerate(ids):
            if pokemon_id in image_by_id:
                image_matrix[row] = image_by_id[pokemon_id]
        distances = combined_distances(text_vectors, image_matrix, has_image)
        coords = project_2d(distances, config.umap, progress=config.progress)
        pca = pca_2d(text_vectors, image_matrix, has_image)
        neighbors = nearest_neighbors(distances, list(range(len(ids))), k=min(config.neighbors, max(len(ids) - 1, 1)))

    with timer.stage("table and card"):
        rows = dataset_rows(metas, documents, text_vectors, text_infos, image_by_id, coords, pca.coordinates, neighbors,
                            pngs)
        truncated_names = [f"{row['name']} ({row['text_tokens']} tokens)" for row in rows if row["text_truncated"]]
        counts = {
            "pokemon": len(rows),
            "species": len({meta.species_id for meta in metas}),
            "with_artwork": len(image_by_id),
            "missing_artwork": len(ids) - len(image_by_id),
            "corrupt_artwork": len(artwork.corrupt),
            "truncated_documents": len(truncated_names),
            "text_embedded_now": text_embedded,
            "image_embedded_now": image_embedded,
        }
        facts = BuildFacts.from_build(
            version=config.version,
            source=source,
            text_spec=text_spec,
            image_spec=image_spec,
            umap=config.umap,
            long_documents=config.long_documents,
            neighbors=config.neighbors,
            artwork=config.artwork,
            query_spec=query_model_spec(image_spec),
            pca=pca,
            counts={k: v for k, v in counts.items() if not k.endswith("_now")},
            missing_artwork=[pokemon_id for pokemon_id in ids if pokemon_id not in image_by_id],
            truncated=truncated_names,
            extra={"source_note": source.note} if source.note else None,
        )
        features = dataset_features(text_vectors.shape[1], image_dim)
        table = rows_to_table(rows, features)
        if previous is None:
            previous = read_previous(previous_folder, config.version)
        changelog = version_line + choose_changelog(previous, table, facts)
        facts = replace(facts, extra={**facts.extra, "changelog": changelog})
        template = read_template(Path(config.card_template) if config.card_template else DEFAULT_TEMPLATE)
        card = render_card(template, table, facts, changelog, previous_changelog=previous.changelog,
                           repo_id=config.repo_id)
    with timer.stage("figures"):
        figures = render_figures(table)
    with timer.stage("table and card"):  # the write counts with the table (the timer adds up a stage's parts)
        write_dataset_folder(Path(config.out), rows, features, metadata={METADATA_KEY: facts_to_json(facts)},
                             card_text=card, marker=facts, lock_held=True, figures=figures)

    return BuildResult(
        out=Path(config.out),
        rows=len(rows),
        counts=counts,
        timings=timer.timings,
        changelog=changelog,
        truncated=truncated_names,
        missing_artwork=facts.missing_artwork,
        version=config.version,
    )


def _embed_texts(config: BuildConfig, spec, vector_cache, documents: list[str], keys: list[str], model_key: str):
    """(vectors, per-document token info, how many were embedded now) for the documents, through the cache."""
    from pokembed.embedding.cached import embed_with_cache
    from pokembed.embedding.encoders import load_text_encoder

    def embed(encoder, positions: list[int]) -> tuple[np.ndarray, list[dict]]:
        result = encoder.embed_documents([documents[i] for i in positions], long_documents=config.long_documents)
        return result.vectors, [{"tokens": int(t), "truncated": bool(c)} for t, c in zip(result.tokens, result.truncated)]

    return embed_with_cache(
        keys, cache=vector_cache, model_key=model_key,
        load=lambda: load_text_encoder(spec, device=config.device, progress=config.progress),
        embed=embed, desc=f"text embeddings ({spec.name})", chunk=config.embed_chunk,
        sizes=[len(document) for document in documents],
    )


def _embed_images(config: BuildConfig, spec, vector_cache, images: list, keys: list[str], model_key: str):
    """(vectors or None, how many were embedded now) for the preprocessed images, keyed by their PNGs' hashes."""
    from pokembed.embedding.cached import embed_with_cache
    from pokembed.embedding.encoders import load_image_encoder

    def embed(encoder, positions: list[int]) -> tuple[np.ndarray, list[dict]]:
        return encoder.embed_images([images[i] for i in positions]), [{} for _ in positions]

    vectors, _, embedded = embed_with_cache(
        keys, cache=vector_cache, model_key=model_key,
        load=lambda: load_image_encoder(spec, device=config.device, progress=config.progress),
        embed=embed, desc=f"image embeddings ({spec.name})", chunk=config.embed_chunk,
    )
    return vectors, embedded


def _log_unchanged(version: str, before: str | None, now: str | None) -> None:
    moved = before != now and now
    log.info("nothing changed since version %s%s: no new version, nothing written", version,
             f" (the source moved from {before} to {now}, but nothing the records hold changed)" if moved else "")


def _decide_version(config: BuildConfig, previous, metas, documents, pngs, text_spec, image_spec):
    """--version auto: compare what is about to be embedded with the previous version."""
    from pokembed.dataset.versioning import decide_version, settings_of

    settings = settings_of(text_model=text_spec, image_model=image_spec, umap=config.umap,
                           long_documents=config.long_documents, neighbors=config.neighbors)
    return decide_version(previous.table, previous.facts, ids=[m.id for m in metas], names=[m.name for m in metas],
                          documents=documents, artwork=pngs, settings=settings)


def _log_embed_plan(config: BuildConfig, text_spec, vector_cache, documents: list[str], doc_keys: list[str],
                    text_model_key: str, image_keys: list[str], image_model_key: str) -> None:
    """Log what is about to be embedded and, for a large text embedding on a CPU, the rough time and alternatives."""
    from pokembed.embedding.cost import EmbedPlan, count_tokens, torch_threads
    from pokembed.embedding.loading import resolve_device

    found = vector_cache.get_many(text_model_key, list(dict.fromkeys(doc_keys)))
    todo = list(dict.fromkeys(d for d, key in zip(documents, doc_keys) if key not in found))
    images_found = vector_cache.get_many(image_model_key, list(dict.fromkeys(image_keys))) if image_keys else {}
    tokens, exact = count_tokens(text_spec, todo)
    device = resolve_device(config.device).type
    plan = EmbedPlan(documents=len(documents), documents_cached=sum(key in found for key in doc_keys), tokens=tokens,
                     tokens_exact=exact, images=len(image_keys), images_cached=sum(k in images_found for k in image_keys),
                     device=device, cpu_threads=torch_threads() if device == "cpu" else 1)
    log.info("%s", plan.describe())
    warning = plan.cpu_warning()
    if warning:
        log.warning("%s", warning)
