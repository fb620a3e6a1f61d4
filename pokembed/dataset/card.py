"""The dataset card: the README.md (Hub YAML + body) rendered from the template, the table and the build facts.

The template is the top-level ``dataset_card.md`` (the file a maintainer edits); the package carries the same bytes as
``pokembed/dataset/templates/dataset_card.md`` (a link in a checkout, the file itself in a wheel), read with
importlib.resources. It is a Jinja template with ``{{ name }}`` placeholders, rendered by jinja2 as huggingface_hub's ``DatasetCard.from_template``
renders cards; the card is read back with ``DatasetCard`` (``pokembed.dataset.facts.card_metadata``). The YAML front matter is
the template's fixed part plus ``dataset_info`` and the public build facts written by PyYAML in the Hub's layout
(flow style for leaf mappings); ``from_template`` itself is not used because its YAML dump (block style, its own key
order) would change every card's bytes. Everything that depends on the build is computed from the table and the
`BuildFacts`, never from the clock, so the same build renders the same card. The quick start is
``pokembed.dataset.card_usage``'s, the build's prose ``pokembed.dataset.card_text``'s, the changelog
``pokembed.dataset.changelog``'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pokembed.dataset.card_text import (
    DISTANCE_DESCRIPTION,
    artwork_description,
    format_int,
    markdown_text,
    long_documents_description,
    model_description,
    pca_description,
    pca_share,
    query_description,
    source_description,
)
from pokembed.dataset.card_usage import usage_example
from pokembed.dataset.changelog import changelog_block, display_version
from pokembed.dataset.changes import pokemon_count
from pokembed.errors import BadInputError
from pokembed.dataset.facts import METADATA_KEY, BuildFacts, public_facts, public_model_id, query_model_of

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_TEMPLATE = resources.files("pokembed.dataset") / "templates" / "dataset_card.md"
PLACEHOLDER_REPO_ID = "YOUR-NAMESPACE/pokemon-embeddings"

# What each column is; `{placeholders}` are filled from the build facts. Every feature of the table needs one.
COLUMN_DOCS: dict[str, str] = {
    "id": "PokéAPI Pokémon id (alternate forms have ids from 10001).",
    "name": "PokéAPI name, e.g. `pikachu`, `charizard-mega-x`.",
    "display_name": "PokéAPI's English name: the species' for a default form (`Mr. Mime`, `Nidoran♀`), the form's "
    "own where PokéAPI has one (`Mega Charizard X`, `Alolan Raichu`), else the species'.",
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


def read_template(path: Path | Any = DEFAULT_TEMPLATE) -> str:
    """The card template: the package's `templates/dataset_card.md` by default, or any file with the same
    ``{{ name }}`` placeholders."""
    try:
        return path.read_text(encoding="utf-8")
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
    _check_columns(table)
    mapping = _card_values(table, facts, repo_id)
    mapping["changelog"] = changelog_block(facts, changelog, previous_changelog)
    import jinja2

    environment = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return environment.from_string(template).render(mapping)
    except jinja2.TemplateError as error:
        raise BadInputError(
            f"the card template has an unknown or malformed placeholder ({error}); use only the {{{{ names }}}} "
            "render_card fills"
        ) from error


def _check_columns(table: "pa.Table") -> None:
    """Every column of the table has a description, and every described column is there."""
    undocumented = [column for column in table.column_names if column not in COLUMN_DOCS]
    if undocumented:
        raise BadInputError(
            f"column(s) {undocumented} have no description in pokembed.dataset.card.COLUMN_DOCS; add one for each"
        )
    absent = [column for column in COLUMN_DOCS if column not in table.column_names]
    if absent:
        raise BadInputError(
            f"render_card needs the full table, but column(s) {absent} are missing; "
            "pass pokembed.dataset.table.rows_to_table(rows, features) or read_table(out_dir)"
        )


def _column_context(facts: BuildFacts, neighbors_k: int) -> dict[str, Any]:
    """The values COLUMN_DOCS' ``{placeholders}`` name."""
    text_model, image_model = dict(facts.text_model), dict(facts.image_model)
    return {
        "text_model_id": public_model_id(text_model),
        "text_max_tokens": format_int(text_model.get("max_tokens")),
        "text_input": (
            f"`{text_model['document_prompt']}` + `document`" if text_model.get("document_prompt") else "`document`"
        ),
        "image_model_id": public_model_id(image_model),
        "neighbors_k": neighbors_k,
        "pca_x_variance": pca_share(facts, 0),
        "pca_y_variance": pca_share(facts, 1),
    }


def _card_values(table: "pa.Table", facts: BuildFacts, repo_id: str | None) -> dict[str, Any]:
    """Every template placeholder but the changelog, from the table and the facts."""
    rows = _columns(table)
    text_model, image_model = dict(facts.text_model), dict(facts.image_model)
    umap = dict(facts.umap)
    neighbors_k = facts.neighbors_k if facts.neighbors_k is not None else _neighbors_k(rows)
    context = _column_context(facts, neighbors_k)
    n_rows = table.num_rows
    defaults = rows.get("is_default", [])
    n_default = sum(1 for value in defaults if value)
    with_image = rows.get("has_image", [])
    return {
        "size_category": size_category(n_rows),
        "yaml_extra": _yaml_extra(table, facts),
        "n_rows": format_int(n_rows),
        "n_default_forms": _count(n_default, "default form", "default forms"),
        "n_alternate_forms": _count(len(defaults) - n_default, "alternate form", "alternate forms"),
        "version": display_version(facts.version),
        "usage_example": usage_example(repo_id or PLACEHOLDER_REPO_ID, facts, rows.get("name", [])),
        "columns_table": "\n".join(
            f"| `{column}` | {_type_name(table, column)} | {COLUMN_DOCS[column].format(**context)} |"
            for column in table.column_names
        ),
        "source_description": source_description(facts),
        "text_model_description": model_description(text_model, "text"),
        "long_documents": facts.long_documents,
        "long_documents_description": long_documents_description(facts.long_documents, text_model),
        "image_model_description": model_description(image_model, "image"),
        "artwork_description": artwork_description(facts, n_missing=with_image.count(False)),
        "query_model_description": query_description(facts),
        "umap_n_neighbors": umap.get("n_neighbors"),
        "umap_min_dist": umap.get("min_dist"),
        "umap_n_epochs": umap.get("n_epochs"),
        "umap_metric": umap.get("metric"),
        "umap_seed": umap.get("seed"),
        "distance_description": DISTANCE_DESCRIPTION,
        "pca_description": pca_description(facts),
        "neighbors_k": neighbors_k,
        "built_at": facts.built_at or "not recorded",
        "counts_table": _counts_table(rows, facts, with_image),
        "truncated_section": _truncated_section(rows, facts, text_model),
        "missing_section": _missing_section(rows, facts),
        "model_credits": ", ".join(
            dict.fromkeys(f"`{public_model_id(m)}`" for m in (text_model, image_model, query_model_of(facts)) if m)
        ),
    }


# --- helpers -------------------------------------------------------------------------------------------------------


def _columns(table: "pa.Table") -> dict[str, list]:
    """The columns the card reads, as Python lists (vectors reduced to a `has_image` flag)."""
    wanted = ("id", "name", "is_default", "generation", "text_tokens", "text_truncated", "neighbors")
    rows = {name: table.column(name).to_pylist() for name in wanted if name in table.column_names}
    if "image_embedding" in table.column_names:
        rows["has_image"] = table.column("image_embedding").is_valid().to_pylist()
    return rows


def _neighbors_k(rows: Mapping[str, list]) -> int:
    lengths = [len(n["ids"]) for n in rows.get("neighbors", []) if n]
    return max(lengths, default=0)


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
    return "\n".join(f"| {_cell(label)} | {format_int(value)} |" for label, value in lines)


ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10, "xi": 11, "xii": 12}


def _generation_key(generation: str | None) -> tuple:
    suffix = (generation or "").removeprefix("generation-")
    return (generation is None, ROMAN.get(suffix, 99), generation or "")


def _truncated_section(rows: Mapping[str, list], facts: BuildFacts, text_model: Mapping[str, Any]) -> str:
    limit = format_int(text_model.get("max_tokens", "the model's"))
    if "text_truncated" in rows:
        over = [
            (rows["name"][i], rows["id"][i], rows["text_tokens"][i])
            for i, flag in enumerate(rows["text_truncated"])
            if flag
        ]
        over.sort(key=lambda item: (-(item[2] or 0), item[1]))
        listing = "\n".join(f"| {_cell(name)} | {pid} | {format_int(tokens)} |" for name, pid, tokens in over)
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
    return f"{pokemon_count(len(over))} {_plural(len(over), 'exceeds', 'exceed')} {limit} tokens (prompt included); {handling}.\n\n{table}"


def _missing_section(rows: Mapping[str, list], facts: BuildFacts) -> str:
    names = dict(zip(rows.get("id", []), rows.get("name", [])))
    missing = list(facts.missing_artwork)
    if not missing and "has_image" in rows:
        missing = [pid for pid, has_image in zip(rows["id"], rows["has_image"]) if not has_image]
    if not missing:
        return "None: every Pokémon has artwork."
    listing = ", ".join(f"`{names.get(pid, pid)}` ({pid})" for pid in missing)
    return (
        f"{pokemon_count(len(missing))} {_plural(len(missing), 'has', 'have')} no official artwork: their `image` and "
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

        # num_bytes is the Arrow size, as datasets counts it
        extra["dataset_info"] = dataset_info_yaml(Features.from_arrow_schema(table.schema),
                                                  num_bytes=_arrow_size(table), num_examples=table.num_rows)
    except Exception:  # noqa: BLE001 - the feature YAML is a nicety; the parquet metadata carries the features too
        pass
    extra[METADATA_KEY] = public_facts(facts)
    # default_flow_style=None: lists of plain values (missing artwork ids, ...) stay on one line each
    return yaml.safe_dump(extra, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None)


def dataset_info_yaml(features: Any, *, num_bytes: int, num_examples: int) -> dict:
    """The card's ``dataset_info`` (the features and the one ``train`` split), written by datasets' own
    ``DatasetInfosDict.to_dataset_card_data`` as ``push_to_hub`` writes it, not by hand from private helpers."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    splits = SplitDict()
    splits.add(SplitInfo(name="train", num_bytes=num_bytes, num_examples=num_examples))
    card_data = DatasetCardData()
    DatasetInfosDict({"default": DatasetInfo(features=features, splits=splits)}).to_dataset_card_data(card_data)
    return card_data["dataset_info"]


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
    return markdown_text(value)


def _count(count: int, one: str, many: str) -> str:
    return f"{count:,} {_plural(count, one, many)}"


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


