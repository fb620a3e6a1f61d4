"""pokembed.dataset.table pinned where test_dataset.py checks less (added for the mutation report, tests/README.md):
whole refusal messages, the parquet layout a reader sees (row groups, page index, per-column compression, encoding
and dictionaries, the chunking note), metadata values as sorted JSON, several data files read in name order, null
vectors between present ones, figures and logs of the output folder."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pokembed.dataset.table import (CDC_OPTIONS, DATA_FILE, dataset_features, read_table, rows_to_table,
                                    table_metadata, write_dataset_folder, write_parquet)
from pokembed.errors import BadInputError
from test_dataset import CARD, IMAGE_DIM, TEXT_DIM, make_rows


def refused(call, message: str) -> None:
    with pytest.raises(BadInputError, match=f"^{re.escape(message)}$"):
        call()


@pytest.mark.parametrize("text_dim, image_dim, bad", [(0, 4, "text_dim 0"), (4, 0, "image_dim 0"),
                                                      (True, 4, "text_dim True"), (4, 2.0, "image_dim 2.0")])
def test_dimensions_must_be_positive_integers(text_dim, image_dim, bad):
    name, value = bad.split(" ")
    refused(lambda: dataset_features(text_dim, image_dim),
            f"{name} must be a positive integer, got {value}; pass the model's output dimension")


def test_a_one_dimensional_model_is_allowed():
    features = dataset_features(1, 1)
    assert features["text_embedding"].length == 1 and features["image_embedding"].length == 1


def test_columns_keep_their_feature_types_even_all_null():
    rows = make_rows(3)
    for row in rows:
        row["generation"], row["types"], row["image"] = None, [], row["image"] and row["image"]["bytes"]
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    table = rows_to_table(rows, features)
    assert table.schema.equals(features.arrow_schema, check_metadata=False)
    assert table.column("image").to_pylist()[0] == {"bytes": rows[0]["image"], "path": None}
    bad = make_rows(2)
    bad[1]["text_tokens"] = "many"
    with pytest.raises(BadInputError, match=r"^column 'text_tokens' does not fit its feature type int32: .*; fix the "
                                            r"rows' values$"):
        rows_to_table(bad, features)


def test_null_vectors_between_present_ones():
    rows = make_rows(5, missing=(0, 2))
    table = rows_to_table(rows, dataset_features(TEXT_DIM, IMAGE_DIM))
    got = table.column("image_embedding").to_pylist()
    assert got[0] is None and got[2] is None
    for n in (1, 3, 4):
        np.testing.assert_array_equal(np.array(got[n], dtype=np.float32), rows[n]["image_embedding"])
    assert pa.types.is_float32(table.schema.field("image_embedding").type.value_type)
    rows[3]["image_embedding"] = np.ones(IMAGE_DIM + 1)
    refused(lambda: rows_to_table(rows, dataset_features(TEXT_DIM, IMAGE_DIM)),
            f"image_embedding of row 3 (id 4) has shape ({IMAGE_DIM + 1},), expected ({IMAGE_DIM},); use the model "
            "dimension the features were built with")


def test_the_parquet_layout(tmp_path: Path, caplog):
    rows = make_rows(230, missing=(2,))
    path = tmp_path / "t.parquet"
    with caplog.at_level(logging.INFO, logger="pokembed.dataset.table"):
        write_parquet(rows, path, features=dataset_features(TEXT_DIM, IMAGE_DIM),
                      metadata={"pokembed": {"b": 1, "a": "é"}, "note": "plain"})
    assert caplog.messages == [f"wrote 230 rows to {path} ({path.stat().st_size} bytes)"]
    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 30]
    assert meta.metadata[b"content_defined_chunking"] == json.dumps(CDC_OPTIONS).encode()
    assert table_metadata(pq.read_table(path)) == {"pokembed": '{"a": "é", "b": 1}', "note": "plain"}
    for i in range(meta.num_columns):
        column = meta.row_group(0).column(i)
        name = column.path_in_schema
        assert column.has_offset_index, name  # the page index
        if name.startswith("image."):
            assert column.compression == "UNCOMPRESSED" and not column.has_dictionary_page, name
        else:
            assert column.compression == "ZSTD", name
            fixed = name.startswith(("text_embedding", "image_embedding"))
            assert column.has_dictionary_page == (not fixed and column.physical_type != "BOOLEAN"), name


def test_metadata_keys_and_values_refused(tmp_path: Path):
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    for key in ("huggingface", "ARROW:schema"):
        refused(lambda: write_parquet(make_rows(1), tmp_path / "x.parquet", features=features, metadata={key: "x"}),
                f"parquet metadata key {key!r} is reserved; use another key, e.g. 'pokembed'")
    with pytest.raises(BadInputError, match=r"^parquet metadata 'facts' is not JSON-serialisable: .*; pass strings "
                                            r"or plain JSON values$"):
        write_parquet(make_rows(1), tmp_path / "x.parquet", features=features, metadata={"facts": {1, 2}})
    assert not (tmp_path / "x.parquet").exists()


def test_table_metadata_leaves_out_datasets_and_arrows_keys():
    schema = pa.schema([("a", pa.int32())], metadata={b"huggingface": b"{}", b"ARROW:schema": b"x",
                                                      b"pokembed": "é".encode(), b"arrow:lower": b"y"})
    assert table_metadata(pa.table({"a": [1]}, schema=schema)) == {"pokembed": "é", "arrow:lower": "y"}


def test_several_data_files_are_read_in_name_order_and_damage_is_named(tmp_path: Path):
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": [3, 4]}), tmp_path / "data" / "b.parquet")
    pq.write_table(pa.table({"id": [1, 2]}), tmp_path / "data" / "a.parquet")
    assert read_table(tmp_path).column("id").to_pylist() == [1, 2, 3, 4]
    damaged = tmp_path / "data" / "c.parquet"
    damaged.write_bytes(b"PAR1 not really\n\n   parquet " + b"x" * 400)
    with pytest.raises(BadInputError) as error:
        read_table(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{damaged} is damaged (ArrowInvalid: ") and message.endswith("); rebuild the dataset")
    detail = message[len(f"{damaged} is damaged (ArrowInvalid: "):-len("); rebuild the dataset")]
    with pytest.raises(pa.ArrowInvalid) as arrow:
        pq.read_table(damaged)
    assert detail == " ".join(str(arrow.value).split())[:160]  # arrow's own words, on one line, cut at 160
    refused(lambda: read_table(tmp_path / "none"),
            f"{tmp_path / 'none'} has no data/*.parquet; build the dataset into it first (build_dataset.py --out)")


def test_figures_and_the_log_of_the_output_folder(tmp_path: Path, caplog):
    out = tmp_path / "out"
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    refused(lambda: write_dataset_folder(out, make_rows(2), features, {}, CARD, {"v": 1},
                                         figures={"images/a.png": b"a", "../b.png": b"b", "c.txt": b"c"}),
            "figure paths ../b.png, c.txt are not pokembed's to write; use images/NAME.png")
    assert not out.exists()
    with caplog.at_level(logging.INFO, logger="pokembed.dataset.table"):
        write_dataset_folder(out, make_rows(2), features, {}, "card é\n", {"v": 1},
                             figures={"images/umap.png": b"u", "images/all_pairs.png": b"p"})
    assert (out / "images" / "umap.png").read_bytes() == b"u" and (out / "images" / "all_pairs.png").read_bytes() == b"p"
    assert (out / "README.md").read_bytes() == "card é\n".encode("utf-8")
    assert (out / DATA_FILE).is_file()
    assert caplog.messages[-1] == f"dataset folder written to {out}"


def test_a_caller_holding_the_lock_gets_the_same_folder(tmp_path: Path):
    """lock_held=True (the pipeline takes the lock for the whole build): the same README, parquet, marker and the
    user's own files kept, and a foreign folder still refused."""
    from pokembed.dataset.facts import MARKER
    from pokembed.dataset.output_folder import output_lock

    out = tmp_path / "out"
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    write_dataset_folder(out, make_rows(2), features, {}, CARD, {"v": 1})
    (out / "notes.txt").write_text("mine")
    with output_lock(out):
        write_dataset_folder(out, make_rows(3), features, {"pokembed": "x"}, "new card\n", {"v": 2}, lock_held=True,
                             figures={"images/umap.png": b"u"})
    assert (out / "README.md").read_text() == "new card\n" and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / MARKER).read_text()) == {"v": 2} and (out / "images" / "umap.png").read_bytes() == b"u"
    assert read_table(out).num_rows == 3 and table_metadata(read_table(out)) == {"pokembed": "x"}
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x").write_text("x")
    with output_lock(foreign):
        refused(lambda: write_dataset_folder(foreign, make_rows(1), features, {}, CARD, {}, lock_held=True),
                f"{foreign} is not a pokembed output folder; choose an empty or new `out`")
