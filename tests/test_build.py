"""The whole build on the ~20-Pokémon fixture with the tiny models: schema, vectors, determinism, cache, resume."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import build_args, fixture_ids, load_cli

from pokembed.pipeline import BuildConfig, build
from pokembed.projection import UmapParams
from pokembed.dataset.facts import MARKER

PARQUET = Path("data") / "train-00000-of-00001.parquet"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_for(csv_folder, artwork, models, out, **kw) -> BuildConfig:
    return BuildConfig(
        out=out,
        source=f"csv:{csv_folder}",
        artwork=str(artwork),
        text_model=str(models / "text"),
        image_model=str(models / "image"),
        device="cpu",
        umap=UmapParams(n_epochs=200),
        progress=False,
        **kw,
    )


@pytest.fixture(scope="module")
def loaded(built_dataset, tmp_path_factory):
    """The built folder through `datasets`, with a cache of its own: the shared one (~/.cache/huggingface/datasets)
    can answer for another build of a folder with the same name and files."""
    from datasets import load_dataset

    return load_dataset(str(built_dataset), split="train", cache_dir=str(tmp_path_factory.mktemp("datasets-cache")))


def test_load_dataset_returns_the_columns_with_their_types(loaded, csv_fixture):
    from datasets import Image, List, Value

    features = loaded.features
    for name in ("id", "species_id", "text_tokens"):
        assert features[name] == Value("int32"), name
    assert features["name"] == Value("string")
    assert features["generation"] == Value("string")
    assert features["document"] == Value("string")
    assert features["is_default"] == Value("bool")
    assert features["text_truncated"] == Value("bool")
    assert features["umap_2d_x"] == Value("float32") and features["umap_2d_y"] == Value("float32")
    assert features["pca_2d_x"] == Value("float32") and features["pca_2d_y"] == Value("float32")
    assert isinstance(features["image"], Image)
    text_feature, image_feature = features["text_embedding"], features["image_embedding"]
    assert isinstance(text_feature, List) and text_feature.feature == Value("float32") and text_feature.length > 0
    assert isinstance(image_feature, List) and image_feature.feature == Value("float32") and image_feature.length > 0
    assert features["types"].feature == Value("string")
    assert set(features["neighbors"]) == {"ids", "distances"}
    assert loaded.num_rows == len(fixture_ids(csv_fixture))
    assert loaded["id"] == fixture_ids(csv_fixture)


def test_vectors_are_unit_norm_and_images_null_exactly_where_artwork_is_missing(loaded, artwork_fixture):
    text = np.array(loaded["text_embedding"], dtype=np.float32)
    assert np.allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)
    have_art = {int(p.stem) for p in Path(artwork_fixture).glob("*.png")}
    for row in loaded:
        if row["id"] in have_art:
            assert row["image_embedding"] is not None
            assert abs(np.linalg.norm(row["image_embedding"]) - 1.0) < 1e-5
            assert row["image"].size == (224, 224) and row["image"].mode == "RGB"
        else:
            assert row["image_embedding"] is None and row["image"] is None
        assert np.isfinite(row["umap_2d_x"]) and np.isfinite(row["umap_2d_y"])
    assert len(have_art) < loaded.num_rows  # the fixture does miss some artwork


def test_documents_are_the_records_and_neighbours_point_at_rows(loaded, csv_fixture):
    from pokembed.sources.documents import document_text
    from pokembed.sources.choice import load_records

    records = load_records(f"csv:{csv_fixture}")
    assert loaded["document"] == [document_text(r) for r in records]
    for index, row in enumerate(loaded):  # embedding-atlas format: ids are zero-based row indices
        assert index not in row["neighbors"]["ids"]
        assert all(0 <= i < loaded.num_rows for i in row["neighbors"]["ids"])
        assert row["neighbors"]["distances"] == sorted(row["neighbors"]["distances"])



def test_pca_columns_are_the_pca_of_the_published_vectors_and_the_variance_is_recorded(loaded, built_dataset):
    import json

    from pokembed.projection import pca_2d

    text = np.array(loaded["text_embedding"], dtype=np.float32)
    has_image = np.array([v is not None for v in loaded["image_embedding"]])
    image = np.array([v if v is not None else [0.0] * loaded.features["image_embedding"].length
                      for v in loaded["image_embedding"]], dtype=np.float32)
    expected = pca_2d(text, image, has_image)
    published = np.stack([loaded["pca_2d_x"], loaded["pca_2d_y"]], axis=1)
    np.testing.assert_allclose(published, expected.coordinates, atol=1e-6)
    assert np.isfinite(published).all() and published.std(axis=0).min() > 0
    facts = json.loads((built_dataset / MARKER).read_text(encoding="utf-8"))
    ratios = facts["pca"]["explained_variance_ratio"]
    np.testing.assert_allclose(ratios, expected.explained_variance_ratio, atol=1e-6)
    assert 1.0 >= ratios[0] >= ratios[1] > 0
    card = (built_dataset / "README.md").read_text(encoding="utf-8")
    assert f"The x axis explains {ratios[0]:.1%} of the variance" in card

def test_card_yaml_is_valid_and_names_the_build(built_dataset):
    text = (built_dataset / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"][0]["data_files"]
    assert "pretty_name" in front and "license" in front
    assert "search_query: " in text or "search_query" in text


def test_two_builds_give_byte_identical_parquet(tmp_path, csv_fixture, artwork_fixture, tiny_models, built_dataset):
    out = tmp_path / "again"
    build(config_for(csv_fixture, artwork_fixture, tiny_models, out, version="0.1.0", cache_dir=tmp_path / "cache"))
    assert sha256(out / PARQUET) == sha256(built_dataset / PARQUET)
    assert (out / "README.md").read_bytes() == (built_dataset / "README.md").read_bytes()


def test_rebuild_after_one_document_changes_embeds_exactly_one_text(tmp_path, csv_fixture, artwork_fixture, tiny_models):
    cache = tmp_path / "cache"
    first = build(config_for(csv_fixture, artwork_fixture, tiny_models, tmp_path / "a", cache_dir=cache))
    assert first.counts["text_embedded_now"] == first.rows
    warm = build(config_for(csv_fixture, artwork_fixture, tiny_models, tmp_path / "a", cache_dir=cache))
    assert warm.counts["text_embedded_now"] == 0 and warm.counts["image_embedded_now"] == 0

    changed = tmp_path / "csv"
    shutil.copytree(csv_fixture, changed)
    with open(changed / "pokemon.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, target = rows[0], rows[1]
    target[header.index("weight")] = str(int(target[header.index("weight")]) + 1)
    with open(changed / "pokemon.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    again = build(config_for(changed, artwork_fixture, tiny_models, tmp_path / "b", cache_dir=cache, version="0.2.0",
                             previous=tmp_path / "a"))
    assert again.counts["text_embedded_now"] == 1
    assert again.counts["image_embedded_now"] == 0
    assert any(target[header.index("identifier")] in line for line in again.changelog)


def test_an_interrupted_build_resumes_and_leaves_no_dataset(tmp_path, csv_fixture, artwork_fixture, tiny_models, monkeypatch):
    from pokembed.embedding import encoders

    cache, out = tmp_path / "cache", tmp_path / "out"
    calls = {"n": 0}
    original = encoders.TextEncoder.embed_documents

    def flaky(self, texts, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, texts, **kw)

    monkeypatch.setattr(encoders.TextEncoder, "embed_documents", flaky)
    with pytest.raises(KeyboardInterrupt):
        build(config_for(csv_fixture, artwork_fixture, tiny_models, out, cache_dir=cache, embed_chunk=5))
    assert not out.exists()
    monkeypatch.setattr(encoders.TextEncoder, "embed_documents", original)
    resumed = build(config_for(csv_fixture, artwork_fixture, tiny_models, out, cache_dir=cache, embed_chunk=5))
    total = len(fixture_ids(csv_fixture))
    assert resumed.counts["text_embedded_now"] == total - 10
    assert pq.read_table(out / PARQUET).num_rows == total


def test_cli_prints_a_summary_with_time_per_step(tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    cli = load_cli()
    code = cli.main(build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out", "--limit", "5"))
    out = capsys.readouterr().out
    assert code == 0
    assert "Built 5 Pokémon" in out
    for step in ("source", "text embeddings", "image embeddings", "projection", "figures", "total"):
        assert step in out


def test_each_row_holds_the_vectors_of_its_own_inputs(loaded, tiny_models):
    """text_embedding[i] is document[i] embedded alone, image_embedding[i] is that row's image embedded alone."""
    from pokembed.embedding.encoders import load_image_encoder, load_text_encoder

    text_encoder = load_text_encoder(str(tiny_models / "text"), device="cpu", progress=False)
    image_encoder = load_image_encoder(str(tiny_models / "image"), device="cpu", progress=False)
    text = np.array(loaded["text_embedding"], dtype=np.float32)
    alone = np.stack([text_encoder.embed_documents([doc]).vectors[0] for doc in loaded["document"]])
    assert np.allclose(text, alone, atol=1e-5)
    with_image = [i for i, row in enumerate(loaded) if row["image"] is not None]
    images = np.array([loaded[i]["image_embedding"] for i in with_image], dtype=np.float32)
    image_alone = np.stack([image_encoder.embed_images([loaded[i]["image"]])[0] for i in with_image])
    assert np.allclose(images, image_alone, atol=1e-5)
    # rows are told apart: any two vectors differ by far more than the tolerance, so swapped rows would fail
    for vectors in (alone, image_alone):
        gaps = np.abs(vectors[:, None, :] - vectors[None, :, :]).max(axis=2) + np.eye(len(vectors))
        assert gaps.min() > 1e-3


def test_loading_a_build_without_cache_dir_stays_in_the_tests_temp_folder(built_dataset, tmp_path_factory):
    """As the Space loads it (no cache_dir): the datasets cache it writes is pytest's, not the user's."""
    from pokembed.dataset.table import load_dataset_split

    loaded = load_dataset_split(built_dataset)
    base = tmp_path_factory.getbasetemp().resolve()
    assert loaded.cache_files and all(Path(f["filename"]).resolve().is_relative_to(base) for f in loaded.cache_files)


def test_a_stage_inside_another_is_timed_apart_so_the_timings_add_up(monkeypatch):
    from pokembed import pipeline

    clock = iter([0.0, 1.0, 4.0, 6.0])  # outer starts, inner starts, inner ends, outer ends
    monkeypatch.setattr(pipeline.time, "perf_counter", lambda: next(clock))
    timer = pipeline.StageTimer()
    with timer.stage("table and card"):
        with timer.stage("figures"):
            pass
    assert timer.timings == {"figures": 3.0, "table and card": 3.0}
