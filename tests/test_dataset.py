"""The table's schema, deterministic parquet and the output folder written in one move."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from pokembed.dataset.table import (
    DATA_FILE,
    dataset_features,
    read_table,
    table_metadata,
    write_dataset_folder,
    write_parquet,
)
from pokembed.errors import BadInputError
from pokembed.dataset.facts import MARKER, read_marker

TEXT_DIM, IMAGE_DIM = 8, 4
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/*.parquet
---
# test card
"""
COLUMNS = [
    "id", "name", "display_name", "species_id", "is_default", "generation", "types", "document", "text_tokens",
    "text_truncated", "text_embedding", "image_embedding", "umap_2d_x", "umap_2d_y", "pca_2d_x", "pca_2d_y", "image",
    "neighbors",
]


def png(seed: int) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def make_rows(n: int = 6, missing: tuple[int, ...] = (2, 5)) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for index in range(n):
        pokemon_id = index + 1 if index < n - 1 else 10001
        text = rng.normal(size=TEXT_DIM).astype(np.float32)
        image = rng.normal(size=IMAGE_DIM).astype(np.float32)
        has_image = index not in missing
        rows.append(
            {
                "id": pokemon_id,
                "name": f"mon-{pokemon_id}",
                "display_name": f"Mon {pokemon_id}",
                "species_id": min(pokemon_id, n - 1),
                "is_default": pokemon_id < 10000,
                "generation": "generation-i",
                "types": ["grass", "poison"] if index % 2 else ["fire"],
                "document": json.dumps({"id": pokemon_id, "name": f"mon-{pokemon_id}"}, separators=(",", ":")),
                "text_tokens": 10 + index,
                "text_truncated": index == 0,
                "text_embedding": text / np.linalg.norm(text),
                "image_embedding": (image / np.linalg.norm(image)) if has_image else None,
                "umap_2d_x": float(index),
                "umap_2d_y": -float(index),
                "pca_2d_x": 0.5 * index,
                "pca_2d_y": -0.25 * index,
                "image": {"bytes": png(index), "path": None} if has_image else None,
                "neighbors": {"ids": [1, 2], "distances": [0.25, 0.5]},
            }
        )
    return rows


def write(out_dir: Path, rows: list[dict] | None = None, **overrides) -> None:
    arguments = {
        "rows": make_rows() if rows is None else rows,
        "features": dataset_features(TEXT_DIM, IMAGE_DIM),
        "metadata": {"pokembed": json.dumps({"version": "1.0.0", "source": "csv:/x"})},
        "card_text": CARD,
        "marker": {"version": "1.0.0"},
    }
    arguments.update(overrides)
    write_dataset_folder(out_dir, **arguments)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_features_have_the_contract_columns_and_types() -> None:
    from datasets import Image, List, Value

    features = dataset_features(768, 512)
    assert list(features) == COLUMNS
    assert features["id"] == Value("int32") and features["species_id"] == Value("int32")
    assert features["text_embedding"] == List(Value("float32"), length=768)
    assert features["image_embedding"] == List(Value("float32"), length=512)
    assert features["image"] == Image()
    assert features["neighbors"] == {"ids": List(Value("int32")), "distances": List(Value("float32"))}
    with pytest.raises(BadInputError, match="text_dim must be a positive integer"):
        dataset_features(0, 4)


def test_load_dataset_returns_the_features_and_nulls(tmp_path: Path) -> None:
    import datasets

    out_dir = tmp_path / "out"
    write(out_dir)
    assert sorted(snapshot(out_dir)) == [MARKER, "README.md", DATA_FILE]
    loaded = datasets.load_dataset(str(out_dir), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.features == dataset_features(TEXT_DIM, IMAGE_DIM)
    assert loaded.num_rows == 6
    assert loaded["id"][:] == [1, 2, 3, 4, 5, 10001]
    images = loaded["image"][:]
    embeddings = loaded["image_embedding"][:]
    assert [i for i, e in enumerate(embeddings) if e is None] == [2, 5]
    assert [i for i, img in enumerate(images) if img is None] == [2, 5]
    assert images[0].size == (16, 16) and images[0].mode == "RGB"
    assert len(loaded[0]["text_embedding"]) == TEXT_DIM
    assert loaded[1]["neighbors"] == {"ids": [1, 2], "distances": [0.25, 0.5]}
    assert loaded[1]["types"] == ["grass", "poison"]


def test_parquet_metadata_and_read_table(tmp_path: Path) -> None:
    from datasets import Features

    out_dir = tmp_path / "out"
    write(out_dir)
    table = read_table(out_dir)
    assert table.num_rows == 6
    assert json.loads(table_metadata(table)["pokembed"]) == {"version": "1.0.0", "source": "csv:/x"}
    expected = dataset_features(TEXT_DIM, IMAGE_DIM).arrow_schema.metadata[b"huggingface"]
    assert table.schema.metadata[b"huggingface"] == expected
    assert Features.from_arrow_schema(table.schema) == dataset_features(TEXT_DIM, IMAGE_DIM)
    assert read_marker(out_dir) == {"version": "1.0.0"}
    with pytest.raises(BadInputError, match="has no data/\\*.parquet; build the dataset"):
        read_table(tmp_path / "nothing")


def test_two_writes_give_identical_bytes(tmp_path: Path) -> None:
    write(tmp_path / "a")
    write(tmp_path / "b")
    first = (tmp_path / "a" / DATA_FILE).read_bytes()
    assert first == (tmp_path / "b" / DATA_FILE).read_bytes()
    write(tmp_path / "a")  # rewriting our own folder replaces it
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folders left behind


def test_write_parquet_alone_is_deterministic_and_atomic(tmp_path: Path) -> None:
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    path = tmp_path / "t.parquet"
    write_parquet(make_rows(), path, features=features, metadata={"a": "b", "c": {"d": [1]}})
    first = path.read_bytes()
    write_parquet(make_rows(), path, features=features, metadata={"a": "b", "c": {"d": [1]}})
    assert path.read_bytes() == first
    with pytest.raises(BadInputError, match="parquet metadata key 'huggingface' is reserved"):
        write_parquet(make_rows(), path, features=features, metadata={"huggingface": "{}"})
    with pytest.raises(BadInputError, match="text_embedding of row 0 \\(id 1\\) has shape \\(3,\\), expected \\(8,\\)"):
        rows = make_rows()
        rows[0]["text_embedding"] = np.zeros(3, np.float32)
        write_parquet(rows, path, features=features, metadata={})
    assert path.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


@pytest.mark.parametrize("failure", ["bad row", "bad marker", "crash while writing parquet", "crash at the rename"])
def test_a_failed_write_leaves_the_old_folder_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    import os

    import pyarrow.parquet as pq

    out_dir = tmp_path / "out"
    write(out_dir)
    before = snapshot(out_dir)
    rows = make_rows(8, missing=())
    overrides: dict = {"rows": rows, "card_text": "# new card\n"}
    expected: type[BaseException] = BadInputError
    if failure == "bad row":
        rows[7]["image_embedding"] = [1.0]
    elif failure == "bad marker":
        overrides["marker"] = {"version": {1, 2}}
    elif failure == "crash while writing parquet":
        def crash(self, *args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(pq.ParquetWriter, "write_table", crash)
        expected = KeyboardInterrupt
    else:
        import pokembed.dataset.output_folder

        def exchange(src, dst):
            raise OSError(5, "disk gone")

        monkeypatch.setattr(pokembed.dataset.output_folder, "_exchange", exchange)  # the swap fails: one line, old intact
        expected = BadInputError
    with pytest.raises(expected):
        write(out_dir, **overrides)
    assert snapshot(out_dir) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BadInputError, match="mine is not a pokembed output folder; choose an empty or new `out`"):
        write(foreign)
    assert snapshot(foreign) == {"notes.txt": b"keep me"}
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        write(a_file)


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty)
    assert (empty / MARKER).is_file()


def test_a_dataclass_marker_is_written_as_json(tmp_path: Path) -> None:
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Facts:
        version: str
        counts: dict

    write(tmp_path / "out", marker=Facts("1.2.0", {"pokemon": 6}))
    assert read_marker(tmp_path / "out") == {"version": "1.2.0", "counts": {"pokemon": 6}}


def test_rows_must_match_the_features(tmp_path: Path) -> None:
    rows = make_rows()
    del rows[3]["document"]
    with pytest.raises(BadInputError, match="row 3 \\(id 4\\) does not match the dataset features: missing \\['document'\\]"):
        write(tmp_path / "out", rows=rows)
    assert not (tmp_path / "out").exists()


def test_raw_png_bytes_are_accepted_for_image(tmp_path: Path) -> None:
    rows = make_rows()
    rows[0]["image"] = png(0)
    write(tmp_path / "a", rows=rows)
    write(tmp_path / "b")
    assert (tmp_path / "a" / DATA_FILE).read_bytes() == (tmp_path / "b" / DATA_FILE).read_bytes()
