"""The dataset card: build facts, the rendered README.md (Hub YAML + body) and the changelog between versions.

The template is the top-level `dataset_card.md`, a `string.Template` with ``$name`` placeholders; everything that
depends on the build is computed here from the table and the `BuildFacts`, never from the clock, so the same build
renders the same card.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pokembed.errors import BadInputError

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "dataset_card.md"
PLACEHOLDER_REPO_ID = "YOUR-NAMESPACE/pokemon-embeddings"
CHANGELOG_START = "<!-- pokembed:changelog:start -->"
CHANGELOG_END = "<!-- pokembed:changelog:end -->"
MAX_NAMES = 20  # names listed in one changelog line before "and N more"

# What each column is; `{placeholders}` are filled from the build facts. Every feature of the table needs one.
COLUMN_DOCS: dict[str, str] = {
    "id": "PokéAPI Pokémon id (alternate forms have ids from 10001).",
    "name": "PokéAPI name, e.g. `pikachu`, `charizard-mega-x`.",
    "species_id": "PokéAPI species id: forms share their species' id.",
    "is_default": "Whether this is the default form of its species.",
    "generation": "Generation that introduced the species, e.g. `generation-i`.",
    "types": "Types in slot order, e.g. `[\"grass\", \"poison\"]`.",
    "document": "The embedded text: the Pokémon's PokéAPI JSON record, without the prompt.",
    "text_tokens": "Tokens in prompt + document as counted by `{text_model_id}` (before any truncation).",
    "text_truncated": "Whether the document exceeds the text model's {text_max_tokens}-token context.",
    "text_embedding": "Unit-norm embedding of {text_input} by `{text_model_id}`.",
    "image_embedding": "Unit-norm embedding of the artwork by `{image_model_id}`; null when there is no artwork.",
    "umap_2d_x": "UMAP x coordinate (every row has one, with or without artwork).",
    "umap_2d_y": "UMAP y coordinate.",
    "pca_2d_x": "PCA x coordinate: the first principal component of the same `[text, image]` input as the UMAP map "
    "({pca_x_variance} of the variance; every row has one).",
    "pca_2d_y": "PCA y coordinate: the second principal component ({pca_y_variance} of the variance).",
    "image": "The official artwork as embedded: composited on white, 224×224 RGB PNG; null when there is none.",
    "neighbors": "The {neighbors_k} nearest Pokémon: `ids` (zero-based row indices, nearest first, the format "
    "embedding-atlas reads; map them to Pokémon with the `id` column) and their `distances`.",
}

SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
]

POOLING = {
    "mean": "attention-masked mean pooling",
    "cls": "the CLS token",
    "pooler": "the model's pooled output",
}


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


def read_template(path: Path = DEFAULT_TEMPLATE) -> str:
    """The card template (the top-level `dataset_card.md` by default)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadInputError(f"cannot read the card template {path}: {error.strerror}; pass an existing template file") from error


def size_category(n_rows: int) -> str:
    """The Hub's `size_categories` value for a row count, e.g. "1K<n<10K" for 1,351."""
    for limit, name in SIZE_CATEGORIES:
        if n_rows < limit:
            return name
    return "n>1M"


def render_card(
    template: str,
    table: "pa.Table",
    facts: BuildFacts,
    changelog: Sequence[str],
    *,
    previous_changelog: Sequence[str] = (),
    repo_id: str | None = None,
) -> str:
    """The README.md: Hub YAML front matter and body, from the template, the table and the facts.

    `changelog` holds this version's lines (from `diff_versions`); `previous_changelog` the earlier entries (from
    `parse_changelog` of the previous card), kept below it, except an entry for this same version, which is replaced.
    `repo_id` fills the `load_dataset` example (a placeholder when None).
    """
    rows = _columns(table)
    names = rows.get("name", [])
    undocumented = [column for column in table.column_names if column not in COLUMN_DOCS]
    if undocumented:
        raise BadInputError(
            f"column(s) {undocumented} have no description in pokembed.card.COLUMN_DOCS; add one for each"
        )
    absent = [column for column in COLUMN_DOCS if column not in table.column_names]
    if absent:
        raise BadInputError(
            f"render_card needs the full table, but column(s) {absent} are missing; "
            "pass pokembed.dataset.rows_to_table(rows, features) or read_table(out_dir)"
        )
    text_model, image_model = dict(facts.text_model), dict(facts.image_model)
    umap = dict(facts.umap)
    neighbors_k = facts.neighbors_k if facts.neighbors_k is not None else _neighbors_k(rows)
    context = {
        "text_model_id": _public_model_id(text_model),
        "text_max_tokens": _format_int(text_model.get("max_tokens")),
        "text_input": (
            f"`{text_model['document_prompt']}` + `document`" if text_model.get("document_prompt") else "`document`"
        ),
        "image_model_id": _public_model_id(image_model),
        "neighbors_k": neighbors_k,
        "pca_x_variance": _pca_share(facts, 0),
        "pca_y_variance": _pca_share(facts, 1),
    }
    n_rows = table.num_rows
    defaults = rows.get("is_default", [])
    n_default = sum(1 for value in defaults if value)
    with_image = rows.get("has_image", [])
    mapping = {
        "size_category": size_category(n_rows),
        "yaml_extra": _yaml_extra(table, facts),
        "n_rows": _format_int(n_rows),
        "n_default_forms": _count(n_default, "default form", "default forms"),
        "n_alternate_forms": _count(len(defaults) - n_default, "alternate form", "alternate forms"),
        "version": _display_version(facts.version),
        "usage_example": _usage_example(repo_id or PLACEHOLDER_REPO_ID, facts, names),
        "columns_table": "\n".join(
            f"| `{column}` | {_type_name(table, column)} | {COLUMN_DOCS[column].format(**context)} |"
            for column in table.column_names
        ),
        "source_description": _source_description(facts),
        "text_model_description": _model_description(text_model, "text"),
        "long_documents": facts.long_documents,
        "long_documents_description": _long_documents_description(facts.long_documents, text_model),
        "image_model_description": _model_description(image_model, "image"),
        "artwork_description": _artwork_description(facts, n_missing=with_image.count(False)),
        "query_model_description": _query_description(facts),
        "umap_n_neighbors": umap.get("n_neighbors"),
        "umap_min_dist": umap.get("min_dist"),
        "umap_n_epochs": umap.get("n_epochs"),
        "umap_metric": umap.get("metric"),
        "umap_seed": umap.get("seed"),
        "distance_description": DISTANCE_DESCRIPTION,
        "pca_description": _pca_description(facts),
        "neighbors_k": neighbors_k,
        "built_at": facts.built_at or "not recorded",
        "counts_table": _counts_table(rows, facts, with_image),
        "truncated_section": _truncated_section(rows, facts, text_model),
        "missing_section": _missing_section(rows, facts),
        "model_credits": ", ".join(
            dict.fromkeys(f"`{_public_model_id(m)}`" for m in (text_model, image_model, _query_model(facts)) if m)
        ),
        "changelog": _changelog_block(facts, changelog, previous_changelog),
    }
    try:
        return string.Template(template).substitute(mapping)
    except (KeyError, ValueError) as error:
        raise BadInputError(f"the card template has an unknown or malformed placeholder ({error}); use only $$names render_card fills") from error


def card_metadata(card_text: str) -> dict:
    """The YAML front matter of a card as a dict ({} when there is none)."""
    import yaml

    match = re.match(r"\A---\n(.*?\n)---\s*\n", card_text, flags=re.S)
    if not match:
        return {}
    return yaml.safe_load(match.group(1)) or {}


def facts_from_card(card_text: str) -> BuildFacts | None:
    """The build facts recorded in a card's YAML (``pokembed:`` key), or None for a card without them."""
    data = card_metadata(card_text).get("pokembed")
    return facts_from_dict(data) if data else None


def parse_changelog(card_text: str) -> list[str]:
    """The changelog entries of a rendered card, newest first, each a markdown block starting with ``### v...``."""
    start, end = card_text.find(CHANGELOG_START), card_text.find(CHANGELOG_END)
    if start < 0 or end < start:
        return []
    body = card_text[start + len(CHANGELOG_START) : end]
    entries = re.split(r"(?m)^(?=### )", body)
    return [entry.strip() for entry in entries if entry.strip().startswith("### ")]


def diff_versions(
    previous: "pa.Table | None",
    current: "pa.Table",
    prev_facts: BuildFacts | None,
    facts: BuildFacts,
) -> list[str]:
    """The changelog lines for `current` since `previous`: Pokémon added or removed, documents and artwork changed,
    models, source, UMAP and long-document settings changed. ``["Initial release."]`` without a previous version."""
    if previous is None:
        return ["Initial release."]
    old, new = _by_id(previous), _by_id(current)
    lines: list[str] = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    if added:
        lines.append(f"Added {_pokemon(len(added))}: {_names([new[i].get('name', i) for i in added])}.")
    if removed:
        lines.append(f"Removed {_pokemon(len(removed))}: {_names([old[i].get('name', i) for i in removed])}.")
    common = sorted(set(old) & set(new))
    changed_documents = [i for i in common if old[i].get("document") != new[i].get("document")]
    if changed_documents:
        lines.append(
            f"Documents changed for {_pokemon(len(changed_documents))}: "
            f"{_names([new[i].get('name', i) for i in changed_documents])}."
        )
    if "image" in _column_names(previous) and "image" in _column_names(current):
        gained = [i for i in common if old[i].get("image") is None and new[i].get("image") is not None]
        lost = [i for i in common if old[i].get("image") is not None and new[i].get("image") is None]
        redrawn = [
            i
            for i in common
            if old[i].get("image") is not None and new[i].get("image") is not None and old[i]["image"] != new[i]["image"]
        ]
        for label, ids in (("Artwork added for", gained), ("Artwork removed for", lost), ("Artwork changed for", redrawn)):
            if ids:
                lines.append(f"{label} {_pokemon(len(ids))}: {_names([new[i].get('name', i) for i in ids])}.")
    if prev_facts is not None:
        lines.extend(_facts_changes(prev_facts, facts))
    return lines or ["No changes to the data."]


# --- helpers -------------------------------------------------------------------------------------------------------

DISTANCE_DESCRIPTION = (
    "text and image vectors are unit norm, so the cosine distance between two concatenated `[text, image]` vectors "
    "(the article's UMAP input) equals the mean of their text and image cosine distances; that is what is used. For "
    "a pair where either Pokémon has no artwork, the distance is the text cosine distance alone: no image vector is "
    "invented for them, and they still get map coordinates and neighbours."
)


PCA_DESCRIPTION = (
    "a 2-D PCA of the same concatenated `[text, image]` vectors, in `pca_2d_x` and `pca_2d_y`. The axes are fitted "
    "on the Pokémon with artwork (numpy's SVD of their centred vectors); a Pokémon without artwork is placed on them "
    "by its text vector, its image part taken as the average artwork's, so no image vector is invented and none "
    "shifts the axes. No parameters and no seed: the same vectors give the same coordinates. The sign of each axis "
    "is fixed: the Pokémon farthest from the centre along it has a positive coordinate (the first in row order "
    "among equally far ones), so the map does not mirror between builds."
)


def _pca_facts(pca: Any) -> dict | None:
    """The PCA facts kept: the explained variance ratio of each axis, rounded to 6 places."""
    if pca is None:
        return None
    ratios = pca.get("explained_variance_ratio") if isinstance(pca, Mapping) else pca.explained_variance_ratio
    return {"explained_variance_ratio": [round(float(r), 6) for r in ratios]}


def _pca_share(facts: BuildFacts, axis: int) -> str:
    ratios = list((facts.pca or {}).get("explained_variance_ratio") or [])
    return f"{ratios[axis]:.1%}" if len(ratios) > axis else "a share not recorded"


def _pca_description(facts: BuildFacts) -> str:
    if not (facts.pca or {}).get("explained_variance_ratio"):
        return PCA_DESCRIPTION
    return (f"{PCA_DESCRIPTION} The x axis explains {_pca_share(facts, 0)} of the variance, the y axis "
            f"{_pca_share(facts, 1)}.")


def _plain(value: Any) -> Any:
    """Dataclasses, mappings and sequences as plain JSON-like values (dicts, lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _columns(table: "pa.Table") -> dict[str, list]:
    """The columns the card reads, as Python lists (vectors reduced to a `has_image` flag)."""
    wanted = ("id", "name", "is_default", "generation", "text_tokens", "text_truncated", "neighbors")
    rows = {name: table.column(name).to_pylist() for name in wanted if name in table.column_names}
    if "image_embedding" in table.column_names:
        rows["has_image"] = table.column("image_embedding").is_valid().to_pylist()
    return rows


def _column_names(table: "pa.Table") -> list[str]:
    return list(table.column_names)


def _neighbors_k(rows: Mapping[str, list]) -> int:
    lengths = [len(n["ids"]) for n in rows.get("neighbors", []) if n]
    return max(lengths, default=0)


def _format_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _display_version(version: str) -> str:
    return "v" + str(version).removeprefix("v")


def _is_local_path(model_id: str) -> bool:
    return model_id.startswith(("/", ".", "~")) or "\\" in model_id or model_id.count("/") > 1


def _public_model_id(model: Mapping[str, Any] | None) -> str:
    """A model's Hub id, or `local:<folder name>` for a local folder (no local paths in a public card)."""
    if not model:
        return "unknown"
    model_id = str(model.get("model_id") or model.get("name") or "unknown")
    return f"local:{Path(model_id).name}" if _is_local_path(model_id) else model_id


def _public_source(source: str) -> str:
    kind, _, where = source.partition(":")
    if kind == "csv" and where:
        return f"csv:{Path(where).name}"
    return source


def _source_description(facts: BuildFacts) -> str:
    kind, _, where = facts.source.partition(":")
    if kind == "pokeapi":
        text = (f"PokéAPI's CSV tables at commit [`{where}`](https://github.com/PokeAPI/pokeapi/tree/{where}/data/v2/csv) "
                "of PokeAPI/pokeapi, joined into the GraphQL record shape: rebuild it from that commit with "
                f"`--source pokeapi:{where}`")
    elif kind == "csv":
        text = f"PokéAPI's CSV tables (`{_public_source(facts.source)}`) joined into the GraphQL record shape"
        if facts.data_version:
            text += f"; data version `{facts.data_version}`"
    else:
        text = f"PokéAPI's GraphQL API (`{where or 'https://graphql.pokeapi.co/v1beta2'}`)"
        if facts.data_version:
            text += f", data version `{facts.data_version}`"
    if facts.fetched_at:
        text += f", fetched {facts.fetched_at}"
    note = facts.extra.get("source_note")
    return text + "." + (f" Note: {note}." if note else "")


def _model_description(model: Mapping[str, Any], kind: str) -> str:
    parts = [f"`{_public_model_id(model)}`"]
    revision = model.get("revision")
    parts.append(f"at revision `{revision}`" if revision else "(a local folder, no Hub revision)")
    details = []
    if kind == "text":
        if model.get("document_prompt") or model.get("query_prompt"):
            details.append(
                f"documents prefixed `{model.get('document_prompt', '')}`, queries `{model.get('query_prompt', '')}`"
            )
        details.append(POOLING.get(str(model.get("pooling")), f"{model.get('pooling')} pooling"))
        if model.get("layer_norm"):
            details.append("layer norm")
        if model.get("dimension"):
            details.append(f"{model['dimension']} dimensions (Matryoshka truncation)")
        details.append("unit-normalised")
        if model.get("max_tokens"):
            details.append(f"{_format_int(model['max_tokens'])}-token context")
    else:
        details.append("the model's own image processor on the 224×224 artwork")
        if model.get("architecture") == "nomic_vision":
            details.append("run natively by pokembed (nomic's `NomicVisionModel` in plain torch, no remote code)")
            details.append("token 0 of the attention-pooling head's output, as nomic publishes it")
        else:
            details.append(POOLING.get(str(model.get("pooling")), f"{model.get('pooling')} pooling"))
        if model.get("dimension"):
            details.append(f"{model['dimension']} dimensions")
        details.append("unit-normalised")
    return " ".join(parts) + ": " + ", ".join(details) + "."


def _long_documents_description(mode: str, text_model: Mapping[str, Any]) -> str:
    limit = _format_int(text_model.get("max_tokens", "the model's"))
    if mode == "chunk":
        return (
            f"a document longer than the {limit}-token context (prompt included) is embedded as consecutive windows "
            "whose embeddings are averaged, weighted by their token counts, and normalised again; nothing is cut off."
        )
    return (
        f"a document longer than the {limit}-token context (prompt included) is cut to its first {limit} tokens; "
        "`text_tokens` keeps the full count and `text_truncated` marks those rows."
    )


def _artwork_description(facts: BuildFacts, *, n_missing: int) -> str:
    where = f"`{facts.artwork}`" if facts.artwork else "the PokeAPI/sprites repository"
    if facts.artwork and not facts.artwork.startswith(("http://", "https://")):
        where = f"a local copy (`{Path(facts.artwork).name}`) of PokeAPI/sprites"
    return (
        f"the official artwork from {where}, composited on white and resized to 224×224 (LANCZOS), as stored in "
        f"`image`; {_pokemon(n_missing)} without artwork."
    )


def _query_model(facts: BuildFacts) -> dict | None:
    """The model that embeds text queries into the image space: given, or the one the image model names."""
    if facts.query_model:
        return dict(facts.query_model)
    text, image = dict(facts.text_model), dict(facts.image_model)
    wanted = image.get("query_model")
    if wanted and wanted in (image.get("name"), image.get("model_id")):
        return image
    return text


def _query_description(facts: BuildFacts) -> str:
    query = _query_model(facts) or {}
    image = dict(facts.image_model)
    if query.get("model_id") == image.get("model_id"):
        return f"`image_embedding` is queried with the text tower of `{_public_model_id(image)}` itself."
    prompt = query.get("query_prompt", "")
    prompt_text = f" with the prompt `{prompt}`" if prompt else ""
    return (
        f"`image_embedding` lives in the space of `{_public_model_id(query)}`, so a text query embedded by it"
        f"{prompt_text} ranks artwork directly (see the quick start)."
    )


COUNT_LABELS = {
    "pokemon": "Pokémon (rows)",
    "default_forms": "default forms",
    "alternate_forms": "alternate forms",
    "with_artwork": "with artwork",
    "missing_artwork": "without artwork",
    "truncated_documents": "documents over the token limit",
}


def _counts_table(rows: Mapping[str, list], facts: BuildFacts, with_image: list[bool]) -> str:
    """Counts computed from the table, then the build's own counts that the table does not already give."""
    n = len(rows.get("id", []))
    n_default = sum(1 for v in rows.get("is_default", []) if v)
    counts = {
        "pokemon": n,
        "default_forms": n_default,
        "alternate_forms": n - n_default,
        "with_artwork": with_image.count(True),
        "missing_artwork": with_image.count(False),
        "truncated_documents": sum(1 for v in rows.get("text_truncated", []) if v),
    }
    lines = [(COUNT_LABELS[key], value) for key, value in counts.items()]
    for key, value in facts.counts.items():
        if key not in counts:
            lines.append((COUNT_LABELS.get(key, key.replace("_", " ")), value))
    generations = sorted(Counter(rows.get("generation", [])).items(), key=lambda kv: _generation_key(kv[0]))
    lines += [(generation or "no generation", count) for generation, count in generations]
    return "\n".join(f"| {_cell(label)} | {_format_int(value)} |" for label, value in lines)


ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10, "xi": 11, "xii": 12}


def _generation_key(generation: str | None) -> tuple:
    suffix = (generation or "").removeprefix("generation-")
    return (generation is None, ROMAN.get(suffix, 99), generation or "")


def _truncated_section(rows: Mapping[str, list], facts: BuildFacts, text_model: Mapping[str, Any]) -> str:
    limit = _format_int(text_model.get("max_tokens", "the model's"))
    if "text_truncated" in rows:
        over = [
            (rows["name"][i], rows["id"][i], rows["text_tokens"][i])
            for i, flag in enumerate(rows["text_truncated"])
            if flag
        ]
        over.sort(key=lambda item: (-(item[2] or 0), item[1]))
        listing = "\n".join(f"| {_cell(name)} | {pid} | {_format_int(tokens)} |" for name, pid, tokens in over)
        table = "| Pokémon | id | tokens |\n|---|---|---|\n" + listing
    else:
        over = list(facts.truncated)
        table = ", ".join(f"`{name}`" for name in over)
    if not over:
        return f"None: every document fits the text model's {limit}-token context."
    handling = (
        f"only their first {limit} tokens are embedded"
        if facts.long_documents != "chunk"
        else "they are embedded in windows whose embeddings are averaged"
    )
    return f"{_pokemon(len(over))} {_plural(len(over), 'exceeds', 'exceed')} {limit} tokens (prompt included); {handling}.\n\n{table}"


def _missing_section(rows: Mapping[str, list], facts: BuildFacts) -> str:
    names = dict(zip(rows.get("id", []), rows.get("name", [])))
    missing = list(facts.missing_artwork)
    if not missing and "has_image" in rows:
        missing = [pid for pid, has_image in zip(rows["id"], rows["has_image"]) if not has_image]
    if not missing:
        return "None: every Pokémon has artwork."
    listing = ", ".join(f"`{names.get(pid, pid)}` ({pid})" for pid in missing)
    return (
        f"{_pokemon(len(missing))} {_plural(len(missing), 'has', 'have')} no official artwork: their `image` and "
        "`image_embedding` are null, and their "
        f"map coordinates and neighbours come from text distances alone.\n\n{listing}"
    )


def _arrow_size(table: "pa.Table") -> int:
    """Bytes of the table in Arrow memory as `load_dataset` reads it back from parquet (what datasets' `num_bytes`
    means), the same for a freshly built table and for one read from the output folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(None), buffer)
    return int(pq.read_table(pa.BufferReader(buffer.getvalue())).combine_chunks().nbytes)


def _yaml_extra(table: "pa.Table", facts: BuildFacts) -> str:
    """`dataset_info` (features, split size) and the build facts under `pokembed`, as YAML lines."""
    import yaml

    extra: dict[str, Any] = {}
    try:
        from datasets import Features

        features = Features.from_arrow_schema(table.schema)
        extra["dataset_info"] = {
            "features": features._to_yaml_list(),
            # datasets reads a split only with all three fields; num_bytes is the Arrow size, as datasets counts it
            "splits": [{"name": "train", "num_bytes": _arrow_size(table), "num_examples": table.num_rows}],
        }
    except Exception:  # noqa: BLE001 - the feature YAML is a nicety; the parquet metadata carries the features too
        pass
    public = facts_to_dict(facts)
    public["source"] = _public_source(facts.source)
    if facts.artwork and not facts.artwork.startswith(("http://", "https://")):
        public["artwork"] = f"local:{Path(facts.artwork).name}"
    for name in ("text_model", "image_model", "query_model"):
        if public.get(name):
            public[name]["model_id"] = _public_model_id(public[name])
            if _is_local_path(str(public[name].get("name", ""))):
                public[name]["name"] = public[name]["model_id"]
            query_model = public[name].get("query_model")
            if query_model and _is_local_path(str(query_model)):
                public[name]["query_model"] = f"local:{Path(query_model).name}"
    extra["pokembed"] = public
    # default_flow_style=None: lists of plain values (missing artwork ids, ...) stay on one line each
    return yaml.safe_dump(extra, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None)


def _usage_example(repo_id: str, facts: BuildFacts, names: Sequence[str]) -> str:
    example = "pikachu" if "pikachu" in names or not names else names[0]
    query = _query_model(facts) or {}
    lines = [
        "import numpy as np",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo_id}", split="train")',
        'names = list(ds["name"])',
        'text = np.array(ds["text_embedding"], dtype=np.float32)  # unit norm: a dot product is a cosine similarity',
        "",
        f"# 1. Cosine similarity: the Pokémon whose PokéAPI JSON is closest to {example}'s",
        f'scores = text @ text[names.index("{example}")]',
        "for i in np.argsort(-scores)[1:6]:",
        "    print(names[i], round(float(scores[i]), 3))",
        "",
        f"# 2. A text query embedded by {_public_model_id(query)}, the way this dataset's queries are",
        *_query_snippet(query),
        "",
        "# 3. Text-to-image: the artwork closest to a description",
        'with_art = [(name, vector) for name, vector in zip(names, ds["image_embedding"]) if vector is not None]',
        "images = np.array([vector for _, vector in with_art], dtype=np.float32)",
        'scores = images @ embed_query("a blue turtle with water cannons on its shell")',
        "for i in np.argsort(-scores)[:5]:",
        "    print(with_art[i][0], round(float(scores[i]), 3))",
    ]
    return "\n".join(lines)


def _query_snippet(model: Mapping[str, Any]) -> list[str]:
    model_id = _public_model_id(model)
    revision = model.get("revision")
    args = f'"{model_id}"' + (f', revision="{revision}"' if revision else "")
    if model.get("pooling") == "pooler" or str(model.get("architecture", "")).startswith("siglip"):
        max_length = model.get("max_tokens") or 64
        return [
            "import torch",
            "import torch.nn.functional as F",
            "from transformers import AutoModel, AutoProcessor",
            "",
            f"processor = AutoProcessor.from_pretrained({args})",
            f"model = AutoModel.from_pretrained({args}).eval()",
            "",
            "def embed_query(text: str) -> np.ndarray:",
            f"    # SigLIP was trained on lowercased text padded to {max_length} tokens",
            "    batch = processor(",
            f'        text=[text.lower()], padding="max_length", max_length={max_length}, truncation=True, return_tensors="pt"',
            "    )",
            "    with torch.inference_mode():",
            "        pooled = model.get_text_features(**batch).pooler_output",
            "    return F.normalize(pooled, dim=-1)[0].numpy()",
        ]
    prompt = model.get("query_prompt", "")
    dimension = model.get("dimension")
    post = []
    if model.get("layer_norm"):
        post.append("    pooled = F.layer_norm(pooled, pooled.shape[1:])")
    if dimension:
        post.append(f"    pooled = pooled[:, :{dimension}]  # Matryoshka dimension")
    return [
        "import torch",
        "import torch.nn.functional as F",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        f"tokenizer = AutoTokenizer.from_pretrained({args})",
        f"model = AutoModel.from_pretrained({args}).eval()",
        "",
        "def embed_query(text: str) -> np.ndarray:",
        f"    batch = tokenizer([{json.dumps(prompt)} + text], return_tensors=\"pt\")",
        "    with torch.inference_mode():",
        "        hidden = model(**batch).last_hidden_state",
        '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
        "    pooled = (hidden * mask).sum(1) / mask.sum(1)  # mean pooling",
        *post,
        "    return F.normalize(pooled, dim=-1)[0].numpy()",
    ]


def _type_name(table: "pa.Table", column: str) -> str:
    import pyarrow as pa

    def name(pa_type: pa.DataType) -> str:
        if pa.types.is_fixed_size_list(pa_type):
            return f"{name(pa_type.value_type)}[{pa_type.list_size}]"
        if pa.types.is_list(pa_type) or pa.types.is_large_list(pa_type):
            return f"list<{name(pa_type.value_type)}>"
        if pa.types.is_struct(pa_type):
            if {f.name for f in pa_type} == {"bytes", "path"} and column == "image":
                return "image"
            return "{" + ", ".join(f"{f.name}: {name(f.type)}" for f in pa_type) + "}"
        return {"float": "float32", "double": "float64", "large_string": "string"}.get(str(pa_type), str(pa_type))

    type_name = name(table.schema.field(column).type)
    nullable = column in ("image", "image_embedding")
    return f"{type_name} or null" if nullable else type_name


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def _count(count: int, one: str, many: str) -> str:
    return f"{count:,} {_plural(count, one, many)}"


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _pokemon(count: int) -> str:
    return f"{count:,} Pokémon"


def _names(names: Sequence[Any]) -> str:
    shown = ", ".join(str(n) for n in names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return shown + (f" and {more:,} more" if more > 0 else "")


def _by_id(table: "pa.Table") -> dict[int, dict]:
    wanted = [c for c in ("id", "name", "document", "image") if c in table.column_names]
    if "id" not in wanted:
        raise BadInputError("a table without an `id` column cannot be compared; pass a pokembed dataset table")
    columns = {c: table.column(c).to_pylist() for c in wanted}
    return {pid: {c: columns[c][i] for c in wanted} for i, pid in enumerate(columns["id"])}


def _facts_changes(old: BuildFacts, new: BuildFacts) -> list[str]:
    lines = []
    for label, before, after in (
        ("Text model", old.text_model, new.text_model),
        ("Image model", old.image_model, new.image_model),
    ):
        if (before.get("model_id"), before.get("revision")) != (after.get("model_id"), after.get("revision")):
            lines.append(f"{label}: {_model_ref(after)} (was {_model_ref(before)}).")
        else:
            changed = [k for k in sorted(set(before) | set(after)) if k not in ("name",) and before.get(k) != after.get(k)]
            if changed:
                lines.append(
                    f"{label} settings changed: "
                    + ", ".join(f"{k} {before.get(k)!r} → {after.get(k)!r}" for k in changed)
                    + "."
                )
    if (old.source, old.data_version) != (new.source, new.data_version):
        lines.append(f"Source: {_source_ref(new)} (was {_source_ref(old)}).")
    elif old.fetched_at != new.fetched_at and new.fetched_at:
        lines.append(f"Source re-fetched {new.fetched_at} (was {old.fetched_at}).")
    umap_changes = [k for k in sorted(set(old.umap) | set(new.umap)) if old.umap.get(k) != new.umap.get(k)]
    if umap_changes:
        lines.append(
            "UMAP parameters: " + ", ".join(f"{k} {old.umap.get(k)} → {new.umap.get(k)}" for k in umap_changes) + "."
        )
    if old.long_documents != new.long_documents:
        lines.append(f"Long documents: {new.long_documents} (was {old.long_documents}).")
    if old.neighbors_k != new.neighbors_k and new.neighbors_k is not None:
        lines.append(f"Neighbours per row: {new.neighbors_k} (was {old.neighbors_k}).")
    return lines


def _model_ref(model: Mapping[str, Any]) -> str:
    revision = model.get("revision")
    return f"`{_public_model_id(model)}`" + (f" @ `{revision}`" if revision else "")


def _source_ref(facts: BuildFacts) -> str:
    return f"`{_public_source(facts.source)}`" + (f" @ `{facts.data_version}`" if facts.data_version else "")


def _changelog_block(facts: BuildFacts, lines: Sequence[str], previous: Sequence[str]) -> str:
    version = _display_version(facts.version)
    heading = f"### {version}" + (f" ({facts.built_at})" if facts.built_at else "")
    body = "\n".join(f"- {line}" for line in lines) or "- No changes recorded."
    entries = [f"{heading}\n\n{body}"]
    for entry in previous:
        match = re.match(r"###\s+(\S+)", entry)
        if match and _display_version(match.group(1)) == version:
            continue  # this version is being rebuilt: its new entry replaces the old one
        entries.append(entry.strip())
    return "\n\n".join(entries)
