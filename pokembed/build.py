"""One build: source → documents → artwork → vectors → projection → table → card, each stage timed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pokembed.artwork import DEFAULT_ARTWORK_URL
from pokembed.encoders import LONG_DOCUMENT_MODES
from pokembed.errors import BadInputError
from pokembed.models import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
from pokembed.projection import UmapParams
from pokembed.versioning import AUTO as AUTO_VERSION

log = logging.getLogger(__name__)

CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "dataset_card.md"
EMBED_CHUNK = 256


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; the defaults serve the real, published run."""

    out: Path
    source: str = "auto"  # live GraphQL, else PokéAPI's tables at the latest commit (see pokembed.sources)
    artwork: str = DEFAULT_ARTWORK_URL
    cache_dir: Path | None = None  # default: <out's parent>/.pokembed-cache
    limit: int | None = None
    text_model: str = DEFAULT_TEXT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    device: str = "auto"
    long_documents: str = "truncate"
    version: str = "0.1.0"  # or "auto": decided from what changed since the previous version (pokembed.versioning)
    umap: UmapParams = field(default_factory=UmapParams)
    neighbors: int = 10
    refresh: bool = False
    previous: Path | None = None  # a previous output folder, for the changelog (default: the existing out folder)
    repo_id: str | None = None  # the Hub repo the card's examples load from
    card_template: Path = CARD_TEMPLATE
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
    version: str = ""  # the version built (what --version auto chose)
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


@dataclass(frozen=True)
class PreviousVersion:
    """What the changelog needs from the previous output folder."""

    table: "object | None" = None  # its table, when it is another version
    facts: "object | None" = None
    changelog: list[str] = field(default_factory=list)  # its card's changelog entries
    same_version_entry: list[str] = field(default_factory=list)  # its own entry, when it is this same version


def read_previous(folder: Path, version: str) -> PreviousVersion:
    """The previous version in `folder` (an output folder of ours), or an empty PreviousVersion.

    A damaged previous output never blocks a rebuild: an unreadable marker or table is warned about and the
    changelog keeps what the old card still says.
    """
    from pokembed.card import facts_from_dict, parse_changelog
    from pokembed.dataset import read_marker, read_table
    from pokembed.errors import PokembedError

    if not folder.is_dir():
        return PreviousVersion()
    readme = folder / "README.md"
    try:
        changelog = parse_changelog(readme.read_text(encoding="utf-8")) if readme.is_file() else []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("cannot read the changelog of the previous card %s (%s); starting it afresh", readme, exc)
        changelog = []
    try:
        marker = read_marker(folder)
        if marker is None:
            return PreviousVersion()
        facts = facts_from_dict(marker)
        if facts.version == version:
            return PreviousVersion(changelog=changelog, same_version_entry=list(facts.extra.get("changelog", [])))
        return PreviousVersion(table=read_table(folder), facts=facts, changelog=changelog)
    except (PokembedError, KeyError, TypeError, ValueError) as exc:
        log.warning("the previous output in %s is damaged (%s); the changelog cannot compare with it", folder, exc)
        return PreviousVersion(changelog=changelog)


def validate_config(config: BuildConfig) -> None:
    """Reject bad options before any slow work starts."""
    from pokembed.projection import validate_umap_params
    from pokembed.publish import validate_version

    if config.version != AUTO_VERSION:
        validate_version(config.version)
    validate_umap_params(config.umap)
    if config.long_documents not in LONG_DOCUMENT_MODES:
        raise BadInputError(
            f"unknown --long-documents {config.long_documents!r}; use one of: {', '.join(LONG_DOCUMENT_MODES)}"
        )
    if config.limit is not None and config.limit < 1:
        raise BadInputError(f"--limit must be a positive number, got {config.limit}")
    if config.neighbors < 1:
        raise BadInputError(f"--neighbors must be a positive number, got {config.neighbors}")
    if not Path(config.card_template).is_file():
        raise BadInputError(f"card template {config.card_template} not found; run from a pokembed checkout")


class LazyEncoder:
    """An encoder loaded only when something needs embedding (a fully cached rebuild loads no model), with one
    progress bar over all the chunks it embeds."""

    def __init__(self, load: Callable[[], object], stack: ExitStack, desc: str) -> None:
        self._load, self._stack, self._desc = load, stack, desc
        self._encoder = None

    def start(self, total: int) -> None:
        """Load the model and open the progress bar for `total` items."""
        self._encoder = self._load()
        self._stack.enter_context(self._encoder.progress_over(total, self._desc))

    def get(self):
        if self._encoder is None:
            raise RuntimeError("LazyEncoder.start must be called before get")
        return self._encoder


def embed_cached(
    keys: Sequence[str],
    *,
    cache,
    model_key: str,
    embed: Callable[[list[int]], tuple[np.ndarray, list[dict]]],
    chunk: int = EMBED_CHUNK,
    sizes: Sequence[int] | None = None,
    on_start: Callable[[int], object] | None = None,
) -> tuple[np.ndarray | None, list[dict], int]:
    """Vectors for `keys` (content hashes): cached ones are read, the rest embedded `chunk` at a time and stored
    as each chunk completes, so an interrupted build resumes. `embed(positions)` embeds the items at those
    positions; `sizes` (e.g. document lengths) orders the work longest first, so each chunk batches well;
    `on_start(n)` is called once with the number of items to embed, before any is embedded.
    Returns (vectors in key order, per-item info, how many were embedded now)."""
    found = cache.get_many(model_key, list(dict.fromkeys(keys)))
    seen: set[str] = set()
    todo = [i for i, key in enumerate(keys) if key not in found and not (key in seen or seen.add(key))]
    if sizes is not None:
        todo.sort(key=lambda i: (-sizes[i], i))
    if todo and on_start is not None:
        on_start(len(todo))
    for start in range(0, len(todo), chunk):
        positions = todo[start : start + chunk]
        vectors, infos = embed(positions)
        items = [(keys[i], vectors[n], infos[n]) for n, i in enumerate(positions)]
        cache.put_many(model_key, items)
        found.update({key: (vector, info) for key, vector, info in items})
    if not keys:
        return None, [], 0
    vectors = np.stack([np.asarray(found[key][0], dtype=np.float32) for key in keys])
    infos = [found[key][1] for key in keys]
    return vectors, infos, len(todo)


def build(config: BuildConfig) -> BuildResult:
    """Run every stage and write the dataset folder to config.out (temp folder, then swapped in whole).

    Paths are checked before any work; the output folder's lock is held throughout, so a second build of the same
    folder fails at once, and what an interrupted build left behind is finished or undone first.
    """
    from pokembed.output_folder import check_build_paths, output_lock, recover

    validate_config(config)
    check_build_paths(Path(config.out), Path(config.cache))
    with output_lock(Path(config.out)):
        recover(Path(config.out))
        return _build_locked(config)


def _build_locked(config: BuildConfig) -> BuildResult:
    from pokembed.artwork import load_artwork
    from pokembed.card import BuildFacts, diff_versions, facts_to_json, render_card
    from pokembed.dataset import check_output_folder, dataset_features, rows_to_table, write_dataset_folder
    from pokembed.documents import document_text, row_metadata
    from pokembed.encoders import load_image_encoder, load_text_encoder
    from pokembed.models import get_model_spec
    from pokembed.projection import combined_distances, nearest_neighbors, pca_2d, project_2d
    from pokembed.sources import load_source
    from pokembed.vector_cache import VectorCache, content_hash, model_cache_key

    check_output_folder(Path(config.out))
    timer = StageTimer()
    text_spec = get_model_spec(config.text_model, "text")
    image_spec = get_model_spec(config.image_model, "image")
    query_spec = get_model_spec(image_spec.query_model, "text") if image_spec.query_model else None
    cache_dir = Path(config.cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    vector_cache = VectorCache(cache_dir / "vectors.sqlite")

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
            moved = previous.facts.data_version != source.data_version and source.data_version
            log.info("nothing changed since version %s%s: no new version, nothing written", decision.previous,
                     f" (the source moved from {previous.facts.data_version} to {source.data_version}, but nothing "
                     "the records hold changed)" if moved else "")
            return BuildResult(out=Path(config.out), rows=0, counts={}, timings=timer.timings, changelog=[],
                               truncated=[], missing_artwork=[], version=decision.previous,
                               unchanged_since=decision.previous)
        log.info("--version auto: %s", decision.changelog_line())
        config = replace(config, version=decision.version)
        version_line = [decision.changelog_line()]

    _log_embed_plan(config, text_spec, image_spec, vector_cache, documents, [pngs[i] for i in ids if i in pngs])

    with timer.stage("text embeddings"), ExitStack() as stack:
        text_encoder = LazyEncoder(lambda: load_text_encoder(text_spec, device=config.device, progress=config.progress),
                                   stack, f"text embeddings ({text_spec.name})")

        def embed_texts(positions: list[int]) -> tuple[np.ndarray, list[dict]]:
            result = text_encoder.get().embed_documents(
                [documents[i] for i in positions], long_documents=config.long_documents
            )
            infos = [{"tokens": int(t), "truncated": bool(c)} for t, c in zip(result.tokens, result.truncated)]
            return result.vectors, infos

        text_vectors, text_infos, text_embedded = embed_cached(
            [content_hash(document) for document in documents],
            cache=vector_cache,
            model_key=model_cache_key(text_spec, config.long_documents),
            embed=embed_texts,
            chunk=config.embed_chunk,
            sizes=[len(document) for document in documents],
            on_start=text_encoder.start,
        )

    with_image = [pokemon_id for pokemon_id in ids if pokemon_id in pngs]
    with timer.stage("image embeddings"), ExitStack() as stack:
        image_encoder = LazyEncoder(lambda: load_image_encoder(image_spec, device=config.device, progress=config.progress),
                                    stack, f"image embeddings ({image_spec.name})")

        def embed_images(positions: list[int]) -> tuple[np.ndarray, list[dict]]:
            vectors = image_encoder.get().embed_images([artwork.images[with_image[i]] for i in positions])
            return vectors, [{} for _ in positions]

        image_rows, _, image_embedded = embed_cached(
            [content_hash(pngs[pokemon_id]) for pokemon_id in with_image],
            cache=vector_cache,
            model_key=model_cache_key(image_spec),
            embed=embed_images,
            chunk=config.embed_chunk,
            on_start=image_encoder.start,
        )
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
        tokens = [int(info["tokens"]) for info in text_infos]
        truncated_flags = [bool(info["truncated"]) for info in text_infos]
        rows = []
        for n, meta in enumerate(metas):
            png = pngs.get(meta.id)
            rows.append(
                {
                    "id": meta.id,
                    "name": meta.name,
                    "species_id": meta.species_id,
                    "is_default": meta.is_default,
                    "generation": meta.generation,
                    "types": list(meta.types),
                    "document": documents[n],
                    "text_tokens": tokens[n],
                    "text_truncated": truncated_flags[n],
                    "text_embedding": text_vectors[n],
                    "image_embedding": image_by_id.get(meta.id),
                    "umap_2d_x": float(coords[n, 0]),
                    "umap_2d_y": float(coords[n, 1]),
                    "pca_2d_x": float(pca.coordinates[n, 0]),
                    "pca_2d_y": float(pca.coordinates[n, 1]),
                    "image": {"bytes": png, "path": None} if png is not None else None,
                    "neighbors": neighbors[n],
                }
            )
        truncated_names = [f"{metas[n].name} ({tokens[n]} tokens)" for n in range(len(metas)) if truncated_flags[n]]
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
        if previous is None:
            previous = read_previous(previous_folder, config.version)
        facts = BuildFacts.from_build(
            version=config.version,
            source=source,
            text_spec=text_spec,
            image_spec=image_spec,
            umap=config.umap,
            long_documents=config.long_documents,
            neighbors=config.neighbors,
            artwork=config.artwork,
            query_spec=query_spec,
            pca=pca,
            counts={k: v for k, v in counts.items() if not k.endswith("_now")},
            missing_artwork=[pokemon_id for pokemon_id in ids if pokemon_id not in image_by_id],
            truncated=truncated_names,
            extra={"source_note": source.note} if source.note else None,
        )
        features = dataset_features(text_vectors.shape[1], image_dim)
        table = rows_to_table(rows, features)
        if previous.table is not None:
            changelog = diff_versions(previous.table, table, previous.facts, facts)
        elif previous.same_version_entry:
            changelog = previous.same_version_entry  # a rebuild of a version keeps what that version changed
        else:
            changelog = diff_versions(None, table, None, facts)
        changelog = version_line + changelog
        facts = replace(facts, extra={**facts.extra, "changelog": changelog})
        card = render_card(
            Path(config.card_template).read_text(encoding="utf-8"),
            table,
            facts,
            changelog,
            previous_changelog=previous.changelog,
            repo_id=config.repo_id,
        )
        write_dataset_folder(
            Path(config.out),
            rows,
            features,
            metadata={"pokembed": facts_to_json(facts)},
            card_text=card,
            marker=facts,
            lock_held=True,
        )

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


def _decide_version(config: BuildConfig, previous: PreviousVersion, metas, documents, pngs, text_spec, image_spec):
    """--version auto: compare what is about to be embedded with the previous version."""
    from pokembed.versioning import decide_version, settings_of

    settings = settings_of(text_model=text_spec, image_model=image_spec, umap=config.umap,
                           long_documents=config.long_documents, neighbors=config.neighbors)
    return decide_version(previous.table, previous.facts, ids=[m.id for m in metas], names=[m.name for m in metas],
                          documents=documents, artwork=pngs, settings=settings)


def _log_embed_plan(config: BuildConfig, text_spec, image_spec, vector_cache, documents: list[str],
                    images: list[bytes]) -> None:
    """Log what is about to be embedded and, for a large text embedding on a CPU, the rough time and alternatives."""
    from pokembed.cost import EmbedPlan, count_tokens, resolve_device_name, torch_threads
    from pokembed.vector_cache import content_hash, model_cache_key

    doc_keys = [content_hash(document) for document in documents]
    found = vector_cache.get_many(model_cache_key(text_spec, config.long_documents), list(dict.fromkeys(doc_keys)))
    todo = list(dict.fromkeys(d for d, key in zip(documents, doc_keys) if key not in found))
    image_keys = [content_hash(png) for png in images]
    images_found = vector_cache.get_many(model_cache_key(image_spec), list(dict.fromkeys(image_keys))) if images else {}
    tokens, exact = count_tokens(text_spec, todo)
    device = resolve_device_name(config.device)
    plan = EmbedPlan(documents=len(documents), documents_cached=sum(key in found for key in doc_keys), tokens=tokens,
                     tokens_exact=exact, images=len(images), images_cached=sum(k in images_found for k in image_keys),
                     device=device, cpu_threads=torch_threads() if device == "cpu" else 1)
    log.info("%s", plan.describe())
    warning = plan.cpu_warning()
    if warning:
        log.warning("%s", warning)
