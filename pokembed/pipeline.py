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
    card_template: Path | None = None  # default: the package's copy of the top-level dataset_card.md
    embed_chunk: int = EMBED_CHUNK  # items embedded between two cache commits: what an interruption loses at most
    progress: bool = True
    timeout: float | None = None  # seconds for one request's total deadline (default: each source's own)

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
    """Times named stages and logs each as it ends; a stage inside another is counted apart from it, so the timings
    add up to the whole."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._inner: list[float] = []  # per open stage: the seconds its inner stages took

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("%s ...", name)
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            seconds = elapsed - self._inner.pop()
            if self._inner:
                self._inner[-1] += elapsed
            self.timings[name] = self.timings.get(name, 0.0) + seconds
        log.info("%s done in %.2f s", name, seconds)


def validate_config(config: BuildConfig) -> str:
    """Reject bad options before any slow work starts; return the card template's text (read now, so a missing or
    unreadable template fails before the build, not after it)."""
    from pokembed.dataset.card import DEFAULT_TEMPLATE, read_template
    from pokembed.projection import validate_umap_params
    from pokembed.dataset.output_folder import out_folder
    from pokembed.dataset.versioning import validate_version

    out_folder(config.out)
    if config.version != AUTO_VERSION:
        validate_version(config.version)
    validate_umap_params(config.umap)
    if config.long_documents not in LONG_DOCUMENT_MODES:
        raise BadInputError(
            f"unknown `long_documents` {config.long_documents!r}; use one of: {', '.join(LONG_DOCUMENT_MODES)}"
        )
    if config.limit is not None and config.limit < 1:
        raise BadInputError(f"`limit` must be a positive number, got {config.limit}")
    if config.timeout is not None and not config.timeout > 0:
        raise BadInputError(f"--timeout {config.timeout:g}: a request's deadline must be more than 0 seconds; pass "
                            "e.g. --timeout 600")
    if config.neighbors < 1:
        raise BadInputError(f"`neighbors` must be a positive number, got {config.neighbors}")
    if config.previous is not None and not Path(config.previous).is_dir():
        raise BadInputError(f"`previous` {config.previous} is not a folder; pass an earlier output folder, or leave "
                            "`previous` out to diff against the existing output")
    if config.card_template is not None and not Path(config.card_template).is_file():
        raise BadInputError(f"card template {config.card_template} not found; pass an existing `card_template` file")
    return read_template(Path(config.card_template) if config.card_template else DEFAULT_TEMPLATE)


def build(config: BuildConfig) -> BuildResult:
    """Run every stage and write the dataset folder to config.out (temp folder, then swapped in whole).

    Paths are checked before any work; the output folder's lock is held throughout, so a second build of the same
    folder fails at once, and what an interrupted build left behind is finished or undone first.
    """
    from pokembed.dataset.output_folder import check_build_paths, output_lock, recover
    from pokembed.dataset.versioning import normalize_version

    template = validate_config(config)
    config = replace(config, version=normalize_version(config.version))
    check_build_paths(Path(config.out), Path(config.cache))
    with output_lock(Path(config.out)):
        recover(Path(config.out))
        return _build_locked(config, template)


@dataclass(frozen=True)
class _Inputs:
    """What the build embeds: the source, its records' documents and row metadata, and the artwork."""

    source: object  # a pokembed.sources.choice.SourceData
    documents: list[str]
    metas: list  # pokembed.sources.documents.RowMetadata, one per document
    artwork: object  # a pokembed.sources.artwork.Artwork

    @property
    def ids(self) -> list[int]:
        return [meta.id for meta in self.metas]


def _build_locked(config: BuildConfig, template: str) -> BuildResult:
    from pokembed.dataset.changelog import choose_changelog, read_previous
    from pokembed.dataset.table import check_output_folder
    from pokembed.embedding.resolve import resolve_models

    check_output_folder(Path(config.out))
    timer = StageTimer()
    models = resolve_models(config.text_model, config.image_model)  # the query model too, before any work
    text_spec, image_spec = models.text, models.image
    cache_dir = Path(config.cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    previous = read_previous(Path(config.previous) if config.previous else Path(config.out), config.version)
    inputs = _read_inputs(config, cache_dir, timer)  # the previous version is checked (warned when unusable) first

    changes = _changes(config, previous, inputs, models)  # one value: the changelog and --version auto
    version_line: list[str] = []
    if config.version == AUTO_VERSION:
        decision = _decide_version(previous, changes)
        if decision.version is None:
            _log_unchanged(decision.previous, previous.facts.data_version, inputs.source.data_version)
            return BuildResult(out=Path(config.out), rows=0, counts={}, timings=timer.timings, changelog=[],
                               truncated=[], missing_artwork=[], version=decision.previous,
                               unchanged_since=decision.previous)
        log.info("--version auto: %s", decision.changelog_line())
        config = replace(config, version=decision.version)
        version_line = [decision.changelog_line()]

    vectors = _embed(config, cache_dir, inputs, text_spec, image_spec, timer)
    with timer.stage("projection"):
        projection = _project(config, inputs.ids, vectors)
    with timer.stage("table and card"):
        changelog = version_line + choose_changelog(previous, changes)
        result = _write(config, template, inputs, vectors, projection, models, changelog, previous.changelog,
                        timer)
    return replace(result, timings=timer.timings)


def _read_inputs(config: BuildConfig, cache_dir: Path, timer: StageTimer) -> _Inputs:
    """The source's records (cut to ``limit``), their documents and row metadata, and their artwork."""
    from pokembed.sources.artwork import load_artwork
    from pokembed.sources.choice import load_source
    from pokembed.sources.documents import document_text, row_metadata

    with timer.stage("source"):
        source = load_source(config.source, cache_dir=cache_dir, refresh=config.refresh, progress=config.progress,
                             timeout=config.timeout)
        records = source.records[: config.limit] if config.limit else source.records
        if not records:
            raise BadInputError(f"the source {config.source} returned no Pokémon; check the source")
    with timer.stage("documents"):
        documents = [document_text(record) for record in records]
        metas = [row_metadata(record, source.meta[record["id"]]) for record in records]
    with timer.stage("artwork"):
        artwork = load_artwork([meta.id for meta in metas], config.artwork, cache_dir=cache_dir,
                               progress=config.progress, refresh=config.refresh,
                               **({"timeout": config.timeout} if config.timeout else {}))
    return _Inputs(source, documents, metas, artwork)


def _settings(config: BuildConfig, source, models, **measured):
    """The build facts as published (no path of this machine: ``publishable_facts``): the settings alone before
    embedding (what the version comparison reads, so both sides are the same public view), or complete with
    ``measured`` (pca, counts, missing_artwork, truncated, extra) at the end."""
    from pokembed.dataset.facts import BuildFacts, publishable_facts

    measured = {"counts": {}, "missing_artwork": [], "truncated": [], **measured}
    return publishable_facts(BuildFacts.from_build(
        version=config.version, source=source, text_spec=models.text, image_spec=models.image, umap=config.umap,
        long_documents=config.long_documents, neighbors=config.neighbors, artwork=config.artwork,
        query_spec=models.query, **measured))


def _changes(config: BuildConfig, previous, inputs: _Inputs, models):
    """What changed since the previous version (None when there is none to compare with)."""
    from pokembed.dataset.changes import compare_versions, snapshot_of_build, snapshot_of_table

    if previous.table is None or previous.facts is None:
        return None
    current = snapshot_of_build(inputs.ids, [m.name for m in inputs.metas], inputs.documents, inputs.artwork.png,
                                _settings(config, inputs.source, models))
    return compare_versions(snapshot_of_table(previous.table, previous.facts), current)


@dataclass(frozen=True)
class _Vectors:
    text: np.ndarray
    text_infos: list[dict]
    image_by_id: dict[int, np.ndarray]
    image_dim: int
    embedded_now: dict[str, int]  # text_embedded_now, image_embedded_now


def _embed(config: BuildConfig, cache_dir: Path, inputs: _Inputs, text_spec, image_spec, timer: StageTimer) -> _Vectors:
    """Text and image vectors through the vector cache, after logging what is about to be embedded."""
    from pokembed.embedding.vector_cache import VectorCache, content_hash, model_cache_key

    pngs = inputs.artwork.png
    with_image = [pokemon_id for pokemon_id in inputs.ids if pokemon_id in pngs]
    with VectorCache(cache_dir / "vectors.sqlite") as vector_cache:
        # Hashed once for the plan and the embedding stages (a local model's key reads every file of its folder).
        text_keys = [content_hash(document) for document in inputs.documents]
        text_model_key = model_cache_key(text_spec, config.long_documents)
        image_keys = [content_hash(pngs[pokemon_id]) for pokemon_id in with_image]
        image_model_key = model_cache_key(image_spec)
        _log_embed_plan(config, text_spec, vector_cache, inputs.documents, text_keys, text_model_key, image_keys,
                        image_model_key)
        with timer.stage("text embeddings"):
            text_vectors, text_infos, text_embedded = _embed_texts(config, text_spec, vector_cache, inputs.documents,
                                                                   text_keys, text_model_key)
        with timer.stage("image embeddings"):
            image_rows, image_embedded = _embed_images(config, image_spec, vector_cache,
                                                       [inputs.artwork.images[i] for i in with_image], image_keys,
                                                       image_model_key)
    image_by_id = dict(zip(with_image, image_rows)) if image_rows is not None else {}
    image_dim = image_rows.shape[1] if image_rows is not None else image_spec.dimension
    return _Vectors(text_vectors, text_infos, image_by_id, image_dim,
                    {"text_embedded_now": text_embedded, "image_embedded_now": image_embedded})


@dataclass(frozen=True)
class _Projection:
    coords: object  # UMAP coordinates
    pca: object  # a PcaProjection
    neighbors: object


def _project(config: BuildConfig, ids: list[int], vectors: _Vectors) -> _Projection:
    """UMAP and PCA maps and nearest neighbours over the combined text + image distances."""
    from pokembed.projection import combined_distances, nearest_neighbors, pca_2d, project_2d

    has_image = np.array([pokemon_id in vectors.image_by_id for pokemon_id in ids], dtype=bool)
    image_matrix = np.zeros((len(ids), vectors.image_dim), dtype=np.float32)
    for row, pokemon_id in enumerate(ids):
        if pokemon_id in vectors.image_by_id:
            image_matrix[row] = vectors.image_by_id[pokemon_id]
    distances = combined_distances(vectors.text, image_matrix, has_image)
    coords = project_2d(distances, config.umap, progress=config.progress)
    pca = pca_2d(vectors.text, image_matrix, has_image)
    neighbors = nearest_neighbors(distances, list(range(len(ids))), k=min(config.neighbors, max(len(ids) - 1, 1)))
    return _Projection(coords, pca, neighbors)


def _write(config: BuildConfig, template: str, inputs: _Inputs, vectors: _Vectors, projection: _Projection,
           models, changelog: list[str], previous_changelog: list[str], timer: StageTimer) -> BuildResult:
    """The rows, the build facts and the card, written to the output folder (temp folder, then swapped in)."""
    from pokembed.dataset.card import render_card
    from pokembed.dataset.facts import METADATA_KEY, facts_to_json
    from pokembed.dataset.figures import render_figures
    from pokembed.dataset.table import dataset_features, dataset_rows, rows_to_table, write_dataset_folder

    ids, pngs = inputs.ids, inputs.artwork.png
    rows = dataset_rows(inputs.metas, inputs.documents, vectors.text, vectors.text_infos, vectors.image_by_id,
                        projection.coords, projection.pca.coordinates, projection.neighbors, pngs)
    truncated_names = [f"{row['name']} ({row['text_tokens']} tokens)" for row in rows if row["text_truncated"]]
    counts = {
        "pokemon": len(rows),
        "species": len({meta.species_id for meta in inputs.metas}),
        "with_artwork": len(vectors.image_by_id),
        "missing_artwork": len(ids) - len(vectors.image_by_id),
        "corrupt_artwork": len(inputs.artwork.corrupt),
        "truncated_documents": len(truncated_names),
        **vectors.embedded_now,
    }
    source = inputs.source
    facts = _settings(config, source, models, pca=projection.pca,
                      counts={k: v for k, v in counts.items() if not k.endswith("_now")},
                      missing_artwork=[pokemon_id for pokemon_id in ids if pokemon_id not in vectors.image_by_id],
                      truncated=truncated_names,
                      extra={"source_note": source.note, "changelog": changelog} if source.note
                      else {"changelog": changelog})
    features = dataset_features(vectors.text.shape[1], vectors.image_dim)
    table = rows_to_table(rows, features)
    card = render_card(template, table, facts, changelog, previous_changelog=previous_changelog,
                       repo_id=config.repo_id)
    with timer.stage("figures"):  # inside "table and card", timed apart from it
        figures = render_figures(table)
    write_dataset_folder(Path(config.out), rows, features, metadata={METADATA_KEY: facts_to_json(facts)},
                         card_text=card, marker=facts, lock_held=True, figures=figures)
    return BuildResult(out=Path(config.out), rows=len(rows), counts=counts, timings={}, changelog=changelog,
                       truncated=truncated_names, missing_artwork=facts.missing_artwork, version=config.version)


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


def _decide_version(previous, changes):
    """--version auto: the next version after the previous one, by what changed (the first one without one)."""
    from pokembed.dataset.versioning import FIRST_VERSION, VersionDecision, decision_from

    if changes is None:
        return VersionDecision("initial", FIRST_VERSION, None)
    return decision_from(changes, str(previous.facts.version))


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
