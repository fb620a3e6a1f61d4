"""The table: its `datasets.Features` schema, deterministic parquet, and the Hub repo folder written in one move.

The output folder is a Hub dataset repo::

    README.md                            the card
    data/train-00000-of-00001.parquet    the table (schema metadata: "huggingface" features, "pokembed" build facts)
    .pokembed                            marker JSON (version, build facts): tells us the folder is ours
    images/umap.png, images/all_pairs.png the card's figures (pokembed.dataset.figures)

It is written in a hidden sibling folder and swapped into place whole (``pokembed.dataset.output_folder``), so a failed or
killed build never leaves a half-written dataset; the user's own files in the folder are kept, and a folder that
lacks the marker is never replaced.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pokembed.atomic_files import atomic_path
from pokembed.errors import BadInputError, SourceUnavailableError
from pokembed.dataset.facts import CARD, MARKER, marker_text

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

logger = logging.getLogger(__name__)

DATA_FILE = "data/train-00000-of-00001.parquet"

ROW_GROUP_SIZE = 100  # rows per row group: small enough for the Hub viewer and random access with images inside
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
# datasets' own parquet writer uses these content-defined chunking options; they let the Hub's Xet storage
# deduplicate unchanged pages between versions, so a rebuild uploads little more than what changed.
CDC_OPTIONS = {"min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0}


def dataset_features(text_dim: int, image_dim: int) -> "datasets.Features":
    """The table's schema: one row per Pokémon; `image_embedding` and `image` are null where there is no artwork."""
    from datasets import Features, Image, List, Value

    for name, dim in (("text_dim", text_dim), ("image_dim", image_dim)):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise BadInputError(f"{name} must be a positive integer, got {dim!r}; pass the model's output dimension")
    return Features(
        {
            "id": Value("int32"),
            "name": Value("string"),
            "display_name": Value("string"),
            "species_id": Value("int32"),
            "is_default": Value("bool"),
            "generation": Value("string"),
            "types": List(Value("string")),
            "document": Value("string"),
            "text_tokens": Value("int32"),
            "text_truncated": Value("bool"),
            "text_embedding": List(Value("float32"), length=text_dim),
            "image_embedding": List(Value("float32"), length=image_dim),
            "umap_2d_x": Value("float32"),
            "umap_2d_y": Value("float32"),
            "pca_2d_x": Value("float32"),
            "pca_2d_y": Value("float32"),
            "image": Image(),
            "neighbors": {"ids": List(Value("int32")), "distances": List(Value("float32"))},
        }
    )


def dataset_rows(
    metas: Sequence[Any],
    documents: Sequence[str],
    text_vectors: np.ndarray,
    text_infos: Sequence[Mapping[str, Any]],
    image_by_id: Mapping[int, np.ndarray],
    coords: np.ndarray,
    pca_coords: np.ndarray,
    neighbors: Sequence[Mapping[str, list]],
    pngs: Mapping[int, bytes],
) -> list[dict]:
    """One row per Pokémon in the schema's column order, from the stages' outputs (in the records' order):
    ``coords`` the UMAP map, ``pca_coords`` the PCA one."""
    rows = []
    for n, meta in enumerate(metas):
        png = pngs.get(meta.id)
        rows.append(
            {
                "id": meta.id,
                "name": meta.name,
                "display_name": meta.display_name,
                "species_id": meta.species_id,
                "is_default": meta.is_default,
                "generation": meta.generation,
                "types": list(meta.types),
                "document": documents[n],
                "text_tokens": int(text_infos[n]["tokens"]),
                "text_truncated": bool(text_infos[n]["truncated"]),
                "text_embedding": text_vectors[n],
                "image_embedding": image_by_id.get(meta.id),
                "umap_2d_x": float(coords[n, 0]),
                "umap_2d_y": float(coords[n, 1]),
                "pca_2d_x": float(pca_coords[n, 0]),
                "pca_2d_y": float(pca_coords[n, 1]),
                "image": {"bytes": png, "path": None} if png is not None else None,
                "neighbors": neighbors[n],
            }
        )
    return rows


def rows_to_table(rows: Sequence[Mapping[str, Any]], features: "datasets.Features") -> "pa.Table":
    """An Arrow table of `rows` with exactly the columns and types of `features` (and datasets' schema metadata).

    Fixed-length float lists take numpy arrays or lists (or None); `image` takes ``{"bytes": png, "path": None}``,
    raw PNG bytes, or None.
    """
    import pyarrow as pa

    schema = features.arrow_schema
    expected = set(schema.names)
    for index, row in enumerate(rows):
        if set(row) != expected:
            missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
            raise BadInputError(
                f"row {index} (id {row.get('id')}) does not match the dataset features: "
                f"missing {missing}, unexpected {extra}; give every row exactly the feature columns"
            )
    columns = []
    for field in schema:
        values = [row[field.name] for row in rows]
        try:
            if pa.types.is_fixed_size_list(field.type) and pa.types.is_floating(field.type.value_type):
                columns.append(_fixed_float_column(field.name, values, field.type, rows))
            else:
                if field.name == "image":
                    values = [{"bytes": v, "path": None} if isinstance(v, (bytes, bytearray)) else v for v in values]
                columns.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as error:
            raise BadInputError(
                f"column {field.name!r} does not fit its feature type {field.type}: {error}; fix the rows' values"
            ) from error
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    features: "datasets.Features",
    metadata: Mapping[str, Any],
) -> None:
    """Write `rows` as parquet whose bytes depend only on the rows, the features and the metadata.

    The schema metadata carries datasets' ``huggingface`` key (the features, exactly as datasets writes it, so
    `datasets.load_dataset` returns the right feature types) plus each `metadata` item: key -> string value (e.g.
    ``{"pokembed": facts_to_json(facts)}``; a non-string value is stored as sorted JSON). Fixed compression, no
    timestamps; written to a temporary file in the same folder and renamed into place.
    """
    import pyarrow.parquet as pq

    table = rows_to_table(rows, features)
    schema_metadata = dict(table.schema.metadata or {})
    for key, value in metadata.items():
        if key == "huggingface" or key.startswith("ARROW:"):
            raise BadInputError(f"parquet metadata key {key!r} is reserved; use another key, e.g. 'pokembed'")
        try:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise BadInputError(
                f"parquet metadata {key!r} is not JSON-serialisable: {error}; pass strings or plain JSON values"
            ) from error
        schema_metadata[key.encode("utf-8")] = text.encode("utf-8")
    table = table.replace_schema_metadata(schema_metadata)

    path = Path(path)
    with atomic_path(path) as tmp, pq.ParquetWriter(
        tmp,
        table.schema,
        use_content_defined_chunking=CDC_OPTIONS,
        write_page_index=True,
        **_column_options(table.schema),
    ) as writer:
        writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
        writer.add_key_value_metadata({"content_defined_chunking": json.dumps(CDC_OPTIONS)})
    logger.info("wrote %d rows to %s (%d bytes)", table.num_rows, path, path.stat().st_size)


def read_table(out_dir: Path) -> "pa.Table":
    """The table of an output folder: its ``data/*.parquet`` files, in name order, with their schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((Path(out_dir) / "data").glob("*.parquet"))
    if not files:
        raise BadInputError(f"{out_dir} has no data/*.parquet; build the dataset into it first (build_dataset.py --out)")
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file))
        except (OSError, pa.ArrowException) as exc:
            raise BadInputError(
                f"{file} is damaged ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); rebuild the dataset"
            ) from None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def table_metadata(table: "pa.Table") -> dict[str, str]:
    """The metadata `write_parquet` stored in a table's schema (datasets' and Arrow's own keys left out)."""
    return {
        key.decode("utf-8"): value.decode("utf-8")
        for key, value in (table.schema.metadata or {}).items()
        if key != b"huggingface" and not key.startswith(b"ARROW:")
    }


def check_output_folder(out_dir: Path) -> None:
    """Refuse an output folder we must not replace: one that exists and is neither empty nor ours (no marker)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir} is a file, not a folder; choose an empty or new `out`")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not os.path.lexists(out_dir / MARKER):
        raise BadInputError(f"{out_dir} is not a pokembed output folder; choose an empty or new `out`")


def write_dataset_folder(
    out_dir: Path,
    rows: Sequence[Mapping[str, Any]],
    features: "datasets.Features",
    metadata: Mapping[str, Any],
    card_text: str,
    marker: Any,
    *,
    lock_held: bool = False,
    figures: Mapping[str, bytes] | None = None,
) -> None:
    """Write the Hub repo folder (README.md, the parquet, the `.pokembed` marker, the card's `figures` as
    ``{relative path: bytes}``, e.g. ``images/umap.png``) and move it into place at once.

    `metadata` goes to `write_parquet`; `marker` (a JSON-like mapping, or a dataclass such as `BuildFacts`) is
    written as sorted, indented JSON to `.pokembed`.

    Everything is written into a hidden sibling folder first; only a complete folder replaces `out_dir`, keeping
    the user's own files in it (everything but README.md, .pokembed, data/*.parquet and images/*.png). An existing `out_dir` is
    replaced only when it is empty or carries our marker; on any failure the old folder is left intact. The
    folder's lock is taken unless the caller holds it (``lock_held``).
    """
    from pokembed.dataset.output_folder import is_owned, output_lock, recover, replace_folder

    out_dir = Path(out_dir)
    figures = dict(figures or {})
    stray = [path for path in figures if not is_owned(path)]
    if stray:
        raise BadInputError(f"figure paths {', '.join(stray)} are not pokembed's to write; use images/NAME.png")
    check_output_folder(out_dir)
    marker_json = marker_text(marker)

    def write(folder: Path) -> None:
        (folder / CARD).write_text(card_text, encoding="utf-8", newline="\n")
        write_parquet(rows, folder / DATA_FILE, features=features, metadata=metadata)
        for path, data in sorted(figures.items()):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)

    def is_ours(folder: Path) -> bool:
        check_output_folder(folder)
        return True

    if lock_held:
        replace_folder(out_dir, write, marker_json, is_ours=is_ours)
    else:
        with output_lock(out_dir):
            recover(out_dir)
            replace_folder(out_dir, write, marker_json, is_ours=is_ours)
    logger.info("dataset folder written to %s", out_dir)


def _fixed_float_column(name: str, values: list, pa_type: "pa.DataType", rows: Sequence[Mapping]) -> "pa.Array":
    import pyarrow as pa

    dim = pa_type.list_size
    valid = np.array([value is not None for value in values], dtype=bool)
    matrix = np.zeros((len(values), dim), dtype=np.float32)
    for index, value in enumerate(values):
        if value is None:
            continue
        vector = np.asarray(value, dtype=np.float32)
        if vector.shape != (dim,):
            raise BadInputError(
                f"{name} of row {index} (id {rows[index].get('id')}) has shape {vector.shape}, expected ({dim},); "
                "use the model dimension the features were built with"
            )
        matrix[index] = vector
    flat = pa.array(matrix.reshape(-1), type=pa_type.value_type)
    return pa.FixedSizeListArray.from_arrays(flat, type=pa_type, mask=pa.array(~valid))


def _column_options(schema: "pa.Schema") -> dict:
    """Per-leaf parquet options, close to datasets' own: image bytes stored plain and uncompressed (already PNG, and
    byte-stable for deduplication); everything else compressed, with dictionaries except for the embedding floats
    (unique values, where a dictionary only costs time)."""
    import pyarrow as pa

    def leaves(path: str, pa_type: pa.DataType) -> list[str]:
        if pa.types.is_struct(pa_type):
            return [leaf for field in pa_type for leaf in leaves(f"{path}.{field.name}", field.type)]
        if pa.types.is_list(pa_type) or pa.types.is_large_list(pa_type) or pa.types.is_fixed_size_list(pa_type):
            return leaves(f"{path}.list.element", pa_type.value_type)
        return [path]

    compression: dict[str, str] = {}
    compression_level: dict[str, int] = {}
    use_dictionary: list[str] = []
    column_encoding: dict[str, str] = {}
    for field in schema:
        for leaf in leaves(field.name, field.type):
            if field.name == "image":
                compression[leaf] = "none"
                column_encoding[leaf] = "PLAIN"
            else:
                compression[leaf] = COMPRESSION
                compression_level[leaf] = COMPRESSION_LEVEL
                if not pa.types.is_fixed_size_list(field.type):
                    use_dictionary.append(leaf)
    return {
        "compression": compression,
        "compression_level": compression_level,
        "use_dictionary": use_dictionary,
        "column_encoding": column_encoding,
    }


# ---- reading a built dataset back ------------------------------------------------------------------------------
def load_dataset_split(dataset: str | Path, revision: str | None = None, *, cache_dir: Path | None = None) -> Any:
    """The train split via `datasets.load_dataset`: a local folder written by build_dataset.py, or a Hub id."""
    import datasets

    folder = Path(dataset)
    cache = str(cache_dir) if cache_dir else None
    try:
        if folder.is_dir():
            return datasets.load_dataset(str(folder.resolve()), split="train", cache_dir=cache)
        return datasets.load_dataset(str(dataset), revision=revision, split="train", cache_dir=cache)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; one message tells the user what to do
        raise SourceUnavailableError(
            f"could not load the dataset {str(dataset)!r} ({type(exc).__name__}: {exc}); set POKEMBED_DATASET to a "
            "Hub dataset id or a folder written by build_dataset.py") from exc
