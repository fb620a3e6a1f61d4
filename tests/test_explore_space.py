"""The Space's logic in the library (pokembed.explore: configuration, loading, warm-up, the JSON answers, the map's
data), in-process on the small offline build with the tiny models: no Gradio, no server, no browser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pokembed.explore.answers import (arithmetic_result, ask_result, oddballs_result, picture_result, records_result,
                                      similar_result)
from pokembed.explore.map_data import map_result, map_view, map_view_data
from pokembed.explore.space import EXAMPLE_QUESTIONS, SpaceConfig
from pokembed.explore.space_loading import load_space, start_warm_up

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def space(built_dataset, tiny_models, tmp_path_factory):
    config = SpaceConfig(dataset=str(built_dataset), text_model=str(tiny_models / "text"),
                         image_model=str(tiny_models / "image"), device="cpu")
    return load_space(config, workdir=tmp_path_factory.mktemp("space-files"))


@pytest.fixture(scope="module")
def rows(built_dataset) -> list[dict]:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet, columns=["id", "name", "generation", "image_embedding", "neighbors"]).to_pylist()


def test_artwork_files(space, rows):
    with_art = {r["id"] for r in rows if r["image_embedding"] is not None}
    assert set(space.art.thumbs) == with_art and set(space.art.cards) == with_art
    some = next(iter(with_art))
    with Image.open(space.art.thumbs[some]) as thumb, Image.open(space.art.cards[some]) as card:
        assert thumb.format == "WEBP" and max(thumb.size) <= 128
        assert card.size == (224, 224)
    assert space.art.url(some).endswith(f"/thumb/{some}.webp")
    missing = next(r["id"] for r in rows if r["image_embedding"] is None)
    assert space.art.url(missing) == space.art.url(missing, "full") == "gradio_api/file=" + space.art.placeholder.as_posix()
    assert space.artwork_count == len(with_art)


def test_similar_result(space, rows):
    chosen = next(r for r in rows if r["image_embedding"] is not None)
    result = similar_result(space, chosen["name"].upper(), "combined", 5)
    assert result["pokemon"]["id"] == chosen["id"] and result["pokemon"]["name"] == chosen["name"]
    assert result["score"] == "cosine" and result["higher_is_closer"]
    expected = space.index.similar(chosen["name"], by="combined", k=5)
    assert [(m["id"], m["name"]) for m in result["matches"]] == [(m.id, m.name) for m in expected]
    assert [m["score"] for m in result["matches"]] == pytest.approx([m.score for m in expected], abs=1e-6)
    assert [m["rank"] for m in result["matches"]] == [1, 2, 3, 4, 5]
    generations = [g["generation"] for g in result["per_generation"]]
    assert all(generations.count(g) <= 3 for g in generations) and chosen["id"] not in [
        g["id"] for g in result["per_generation"]]
    assert all(g["generation_label"].startswith("Generation ") for g in result["per_generation"])
    json.dumps(result)  # plain JSON


def test_similar_by_map_distance(space, rows):
    result = similar_result(space, rows[0]["name"], "umap", 3)
    assert result["score"] == "map distance" and not result["higher_is_closer"]
    scores = [m["score"] for m in result["matches"]]
    assert scores == sorted(scores)


def test_ask_and_picture(space, rows, tmp_path):
    with_art = {r["id"] for r in rows if r["image_embedding"] is not None}
    result = ask_result(space, "  what looks like an ice cream cone? ", 4)
    assert result["question"] == "what looks like an ice cream cone?" and result["searched"] == len(with_art)
    assert len(result["matches"]) == 4 and {m["id"] for m in result["matches"]} <= with_art
    picture = tmp_path / "drawing.png"
    Image.new("RGBA", (30, 20), (255, 0, 0, 255)).save(picture)
    result = picture_result(space, picture, 3)
    assert (result["width"], result["height"]) == (30, 20) and len(result["matches"]) == 3


def test_oddballs_and_map(space, rows):
    result = oddballs_result(space, "text")
    assert result["oddballs"] and len({o["generation"] for o in result["oddballs"]}) == len(result["oddballs"])
    chosen = next(r for r in rows if r["neighbors"]["ids"])
    result = map_result(space, chosen["name"], 10)
    stored = [rows[i]["id"] for i in chosen["neighbors"]["ids"]][:10]
    assert [n["id"] for n in result["neighbors"]] == stored
    distances = [n["distance"] for n in result["neighbors"]]  # the dataset's, not the map's: nearest first
    assert distances == pytest.approx(chosen["neighbors"]["distances"][:10], abs=1e-6)
    assert distances == sorted(distances)
    assert len(result["points"]) == len(rows) and result["pokemon"]["id"] == chosen["id"]
    assert map_result(space)["pokemon"] is None
    view = map_view(space, chosen["name"])
    assert view["start"] == space.index.find(chosen["name"]) and map_view(space, "missingno")["start"] == -1
    path = Path(view["url"].removeprefix("gradio_api/file="))
    assert path.parent == space.art.folder and path.suffix == ".json"  # served compressed by Gradio's brotli
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(map_view_data(space)))
    assert len(data["x"]) == len(rows) and len(set(data["gen_colours"])) == len(data["gens"])
    assert data["nb"][view["start"]] == chosen["neighbors"]["ids"][:10]
    assert data["nd"][view["start"]] == pytest.approx(chosen["neighbors"]["distances"][:10], rel=5e-3)
    assert all(row_distances == sorted(row_distances) for row_distances in data["nd"])


def test_warm_up_answers_the_first_example(space):
    thread = start_warm_up(space)
    thread.join(timeout=120)
    assert space.models.query_ready
    answer = space.answers[EXAMPLE_QUESTIONS[0]]
    assert answer["matches"] == ask_result(space, EXAMPLE_QUESTIONS[0], space.k_default)["matches"]


def test_config_from_env():
    from pokembed.errors import BadInputError

    config = SpaceConfig.from_env({"POKEMBED_DATASET": "a/b", "POKEMBED_TORCH_THREADS": "2"})
    assert config.dataset == "a/b" and config.torch_threads == 2
    with pytest.raises(BadInputError, match="POKEMBED_TORCH_THREADS must be a whole number"):
        SpaceConfig.from_env({"POKEMBED_TORCH_THREADS": "two"})
    assert np.isscalar(config.gallery_size)


def test_the_explore_modules_import_no_gradio():
    """The Space's logic is library code: importing every pokembed.explore module loads neither Gradio nor torch."""
    code = ("import pkgutil, importlib, sys, pokembed.explore as e; "
            "[importlib.import_module(f'pokembed.explore.{m.name}') for m in pkgutil.iter_modules(e.__path__)]; "
            "print('gradio' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]


def test_oddballs_refuse_an_unknown_modality(space):
    from pokembed.errors import BadInputError

    with pytest.raises(BadInputError, match="unknown modality 'smell'; use one of text, image, combined"):
        oddballs_result(space, "smell")
