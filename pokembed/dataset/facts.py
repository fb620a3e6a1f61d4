"""Build facts, owned here: what a build used and found, how they are written, and how they are read back.

Every build records its `BuildFacts` three ways: the `.pokembed` marker of the output folder (``MARKER``, indented
JSON from ``marker_text``), the parquet schema metadata (key ``pokembed``: ``facts_to_json``) and the card's YAML
(``pokembed:``: ``public_facts``, without local paths). ``read_build_facts`` reads them back from a built folder or
a Hub dataset in that order; ``models_from_dataset`` says which text and image models made a dataset, so the Space
loads query models that match its vectors.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pokembed.errors import BadInputError
from pokembed.local_files import read_json_object

logger = logging.getLogger(__name__)

MARKER = ".pokembed"  # names a folder as a pokembed output and holds its build facts
METADATA_KEY = "pokembed"  # the facts' key in the parquet schema metadata and in the card's YAML
CARD = "README.md"


@dataclass(frozen=True)
class BuildFacts:
    """What a build used and found: rendered in the card, stored in the parquet metadata and the `.pokembed` marker.

    Models and UMAP parameters are kept as plain dicts of their dataclass fields (a `ModelSpec` or `UmapParams` given
    here is converted), so facts survive JSON and this module needs no encoder imports. `built_at` is a date taken
    from the data (e.g. the fetch date), never the clock, so a rebuild renders the same card.
    """

    version: str
    source: str
    data_version: str | None
    fetched_at: str | None
    text_model: Mapping[str, Any]
    image_model: Mapping[str, Any]
    umap: Mapping[str, Any]
    long_documents: str
    counts: Mapping[str, int]
    missing_artwork: Sequence[int]
    truncated: Sequence[str]
    built_at: str | None
    artwork: str | None = None  # artwork URL template or folder
    neighbors_k: int | None = None  # neighbours per row in the `neighbors` column
    query_model: Mapping[str, Any] | None = None  # model embedding text queries into the image space
    pca: Mapping[str, Any] | None = None  # the PCA map: {"explained_variance_ratio": [x, y]}
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything else worth recording (JSON values)

    def __post_init__(self) -> None:
        for name in ("text_model", "image_model", "umap", "query_model", "pca"):
            value = getattr(self, name)
            if value is not None:
                value = _plain(value)
                if name != "umap":  # which local copy of a Hub model's files was read is no fact of the build
                    value = {k: v for k, v in value.items() if k != "snapshot"}
                object.__setattr__(self, name, value)
        object.__setattr__(self, "counts", {str(k): int(v) for k, v in dict(self.counts).items()})
        object.__setattr__(self, "missing_artwork", sorted(int(i) for i in self.missing_artwork))
        object.__setattr__(self, "truncated", [str(name) for name in self.truncated])
        object.__setattr__(self, "extra", _plain(self.extra))

    @classmethod
    def from_build(
        cls,
        *,
        version: str,
        source: Any,
        text_spec: Any,
        image_spec: Any,
        umap: Any,
        long_documents: str,
        counts: Mapping[str, int],
        missing_artwork: Sequence[int],
        truncated: Sequence[str],
        neighbors: int | None = None,
        artwork: str | None = None,
        query_spec: Any = None,
        pca: Any = None,
        built_at: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> "BuildFacts":
        """Facts from the build's own objects: a `SourceData` (or a source string), `ModelSpec`s, `UmapParams`,
        a `PcaProjection` (its explained variance ratios are kept, rounded to 6 places so machines agree).

        `built_at` defaults to the date of the source's fetch time (None for a CSV source): from the data, not now.
        """
        source_name = source if isinstance(source, str) else source.source
        fetched_at = None if isinstance(source, str) else source.fetched_at
        data_version = None if isinstance(source, str) else source.data_version
        return cls(
            version=version,
            source=source_name,
            data_version=data_version,
            fetched_at=fetched_at,
            text_model=text_spec,
            image_model=image_spec,
            umap=umap,
            long_documents=long_documents,
            counts=counts,
            missing_artwork=missing_artwork,
            truncated=truncated,
            built_at=built_at if built_at is not None else (fetched_at[:10] if fetched_at else None),
            artwork=artwork,
            neighbors_k=neighbors,
            query_model=query_spec,
            pca=_pca_facts(pca),
            extra=extra or {},
        )


def _pca_facts(pca: Any) -> dict | None:
    """The PCA facts kept: the explained variance ratio of each axis, rounded to 6 places."""
    if pca is None:
        return None
    ratios = pca.get("explained_variance_ratio") if isinstance(pca, Mapping) else pca.explained_variance_ratio
    return {"explained_variance_ratio": [round(float(r), 6) for r in ratios]}


def facts_to_dict(facts: BuildFacts) -> dict:
    """The facts as plain JSON values."""
    return json.loads(facts_to_json(facts))


def facts_from_dict(data: Mapping[str, Any]) -> BuildFacts:
    """Facts back from `facts_to_dict`; unknown keys (from a newer pokembed) are ignored."""
    names = {f.name for f in dataclasses.fields(BuildFacts)}
    try:
        return BuildFacts(**{k: v for k, v in data.items() if k in names})
    except TypeError as error:
        raise BadInputError(f"build facts are incomplete ({error}); rebuild the previous version's dataset") from error


def facts_to_json(facts: BuildFacts) -> str:
    """The facts as sorted, compact JSON (for the parquet metadata and the `.pokembed` marker)."""
    return json.dumps(dataclasses.asdict(facts), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def facts_from_json(text: str) -> BuildFacts:
    """Facts back from `facts_to_json`."""
    return facts_from_dict(json.loads(text))


def marker_text(facts: Any) -> str:
    """The `.pokembed` marker's text: the facts (a `BuildFacts` or a JSON-like mapping) as sorted, indented JSON."""
    if dataclasses.is_dataclass(facts) and not isinstance(facts, type):
        facts = dataclasses.asdict(facts)
    try:
        return json.dumps(facts, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as error:
        raise BadInputError(f"the {MARKER} marker is not JSON-serialisable: {error}; pass plain JSON values") from error


def _plain(value: Any) -> Any:
    """Dataclasses, mappings and sequences as plain JSON-like values (dicts, lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --- the public view, as the card's YAML records it -----------------------------------------------------------------


def is_local_path(model_id: str) -> bool:
    """Whether a model id is a local folder rather than a Hub id."""
    return model_id.startswith(("/", ".", "~")) or "\\" in model_id or model_id.count("/") > 1


def public_model_id(model: Mapping[str, Any] | None) -> str:
    """A model's Hub id, or `local:<folder name>` for a local folder (no local paths in a public card)."""
    if not model:
        return "unknown"
    model_id = str(model.get("model_id") or model.get("name") or "unknown")
    return f"local:{Path(model_id).name}" if is_local_path(model_id) else model_id


def public_source(source: str) -> str:
    """A source as the card shows it: a CSV folder by its name only."""
    kind, _, where = source.partition(":")
    if kind == "csv" and where:
        return f"csv:{Path(where).name}"
    return source


def publishable_facts(facts: BuildFacts) -> BuildFacts:
    """The facts as a build writes them (marker, parquet metadata, card), so a push names no path of the builder's
    machine: a CSV source by its folder's name (``data_version`` is its commit or sha256), a local artwork folder by
    its name and the sha256 of its files (``extra.artwork_files_sha256``), each model by ``publishable_model``."""
    from pokembed.local_files import folder_fingerprint

    changes: dict[str, Any] = {"source": public_source(facts.source)}
    artwork = facts.artwork
    if artwork and not artwork.startswith(("http://", "https://", "local:")):
        folder = Path(artwork)
        changes["artwork"] = f"local:{folder.name}"
        if folder.is_dir():
            changes["extra"] = {**facts.extra, "artwork_files_sha256": folder_fingerprint(folder)}
    for name in ("text_model", "image_model", "query_model"):
        if getattr(facts, name):
            changes[name] = publishable_model(getattr(facts, name))
    return replace(facts, **changes)


def publishable_model(model: Any) -> dict:
    """A model spec (or its dict) naming no local path: a local folder as ``local:<name>`` with the sha256 of its
    files (``files_sha256``), a registry model's snapshot folder left out (its Hub id and revision identify it)."""
    from pokembed.local_files import folder_fingerprint

    model = dict(_plain(model))
    model_id = str(model.get("model_id") or "")
    if is_local_path(model_id):
        folder = Path(model_id)
        model["model_id"] = f"local:{folder.name}"
        if folder.is_dir():
            model["files_sha256"] = folder_fingerprint(folder)
    if is_local_path(str(model.get("name") or "")):
        model["name"] = model["model_id"]
    if model.get("query_model") and is_local_path(str(model["query_model"])):
        model["query_model"] = f"local:{Path(model['query_model']).name}"
    if model.get("snapshot"):
        model["snapshot"] = None
    return model


def public_facts(facts: BuildFacts) -> dict:
    """The facts as the card's YAML records them: local folders (source, artwork, models) by their names only."""
    public = facts_to_dict(facts)
    public["source"] = public_source(facts.source)
    if facts.artwork and not facts.artwork.startswith(("http://", "https://", "local:")):
        public["artwork"] = f"local:{Path(facts.artwork).name}"
    for name in ("text_model", "image_model", "query_model"):
        if public.get(name):
            public[name]["model_id"] = public_model_id(public[name])
            if is_local_path(str(public[name].get("name", ""))):
                public[name]["name"] = public[name]["model_id"]
            query_model = public[name].get("query_model")
            if query_model and is_local_path(str(query_model)):
                public[name]["query_model"] = f"local:{Path(query_model).name}"
    return public


def query_model_of(facts: BuildFacts) -> dict | None:
    """The model that embeds text queries into the image space: recorded, or (older facts) the one the image model
    names, its own text tower, or the text model."""
    if facts.query_model:
        return dict(facts.query_model)
    text, image = dict(facts.text_model), dict(facts.image_model)
    wanted = image.get("query_model")
    if wanted and wanted in (image.get("name"), image.get("model_id")):
        return image
    return text


# --- reading them back ----------------------------------------------------------------------------------------------


def read_marker(out_dir: Path) -> dict | None:
    """The `.pokembed` marker JSON of an output folder, or None when there is none.

    Raises BadInputError when the marker exists but is not a JSON object (damaged); callers that only want the
    previous version's facts treat that as "unknown" (see ``changelog.read_previous``).
    """
    marker = Path(out_dir) / MARKER
    if not marker.is_file():
        return None
    return read_json_object(marker, what="the marker", fix="it is damaged: a rebuild replaces it")


def card_metadata(card_text: str) -> dict:
    """The YAML front matter of a card as a dict ({} when there is none), parsed by huggingface_hub's DatasetCard."""
    from huggingface_hub import DatasetCard

    if not card_text.startswith("---"):
        return {}
    return DatasetCard(card_text, ignore_metadata_errors=True).data.to_dict()


def facts_from_card(card_text: str) -> BuildFacts | None:
    """The build facts recorded in a card's YAML (``pokembed:`` key), or None for a card without them."""
    data = card_metadata(card_text).get(METADATA_KEY)
    return facts_from_dict(data) if data else None


def _parquet_facts(folder: Path) -> dict:
    import pyarrow.parquet as pq

    for parquet in sorted(folder.glob("data/*.parquet")):
        metadata = pq.read_schema(parquet).metadata or {}
        return _json_object(metadata.get(METADATA_KEY.encode()))
    return {}


def _json_object(text: str | bytes | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _card_facts(text: str) -> dict:
    facts = card_metadata(text).get(METADATA_KEY)
    return facts if isinstance(facts, dict) else {}


def read_build_facts(dataset: str | Path, revision: str | None = None) -> dict:
    """Build facts (plain JSON values) of a built folder or a Hub dataset id: the `.pokembed` marker, else the
    parquet metadata, else the card's YAML; {} when none records them."""
    folder = Path(dataset)
    if folder.is_dir():
        try:
            facts = read_marker(folder) or {}
        except BadInputError as exc:
            logger.warning("%s", exc)
            facts = {}
        if not facts:
            facts = _parquet_facts(folder)
        if not facts and (folder / CARD).is_file():
            facts = _card_facts((folder / CARD).read_text(encoding="utf-8"))
        return facts
    from huggingface_hub import hf_hub_download

    for filename, parse in ((MARKER, _json_object), (CARD, _card_facts)):
        try:
            path = hf_hub_download(str(dataset), filename, repo_type="dataset", revision=revision)
        except Exception as exc:  # noqa: BLE001 - a missing marker is not fatal; the card may have the facts
            logger.info("no %s in %s: %s", filename, dataset, exc)
            continue
        facts = parse(Path(path).read_text(encoding="utf-8"))
        if facts:
            return facts
    return {}


@dataclass(frozen=True)
class DatasetModels:
    """The models a dataset was built with, as recorded in its build facts (None when not recorded)."""

    text_model: str | None
    image_model: str | None


def models_from_facts(facts: Mapping | None) -> DatasetModels:
    """The text and image model ids recorded in build facts (``text_model.model_id``...; missing -> None)."""

    def model_id(key: str) -> str | None:
        model = (facts or {}).get(key)
        value = model.get("model_id") or model.get("name") if isinstance(model, Mapping) else None
        return value if isinstance(value, str) and value else None

    return DatasetModels(model_id("text_model"), model_id("image_model"))


def models_from_dataset(dataset: str | Path, revision: str | None = None) -> DatasetModels:
    """The text and image models a dataset (local folder or Hub id) was built with, from its build facts."""
    return models_from_facts(read_build_facts(dataset, revision))
