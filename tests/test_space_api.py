"""space/app.py as a real server on 127.0.0.1, every endpoint called with gradio_client (valid and bad inputs)."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from space_server import running_space

EXPECTED_ENDPOINTS = {"/similar", "/ask", "/search_by_picture", "/map", "/oddballs"}
CAPTION = re.compile(r"^[a-z0-9-]+ · d?-?\d+\.\d{3}$")


@pytest.fixture(scope="module")
def server(built_dataset, tiny_models, tmp_path_factory):
    with running_space(built_dataset, tiny_models, tmp_path_factory.mktemp("space-api")) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def rows(built_dataset) -> list[dict]:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet, columns=["id", "name", "generation", "image_embedding", "neighbors"]).to_pylist()


@pytest.fixture(scope="module")
def with_art(rows) -> str:
    return next(r["name"] for r in rows if r["image_embedding"] is not None)


def expect_error(match: str, call, *args, api_name: str):
    """The call fails with a Gradio app error whose message matches (and is a short message, not a traceback)."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=match) as caught:
        call(*args, api_name=api_name)
    message = str(caught.value)
    assert "Traceback" not in message and "File \"" not in message and len(message) < 300
    return message


def captions(gallery: list[dict]) -> list[str]:
    return [item["caption"] for item in gallery]


def test_every_function_has_a_named_endpoint(client):
    info = client.view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == EXPECTED_ENDPOINTS
    assert not info["unnamed_endpoints"]


@pytest.mark.parametrize("mode", ["text", "image", "umap", "combined"])
def test_similar(client, with_art, mode):
    gallery, table, summary = client.predict(with_art, mode, 5, api_name="/similar")
    assert len(gallery) == 5
    assert all(CAPTION.match(c) for c in captions(gallery)), captions(gallery)
    assert with_art not in [c.split(" · ")[0] for c in captions(gallery)]
    assert all(item["image"] for item in gallery)
    assert table["headers"][:3] == ["generation", "rank", "name"]
    assert table["data"] and all(1 <= r[1] <= 3 for r in table["data"])
    assert with_art in summary and mode in summary


def test_similar_accepts_loose_names(client, with_art):
    loose = "  " + with_art.upper().replace("-", " ") + " "
    _, _, summary = client.predict(loose, "text", 3, api_name="/similar")
    assert f"**{with_art}**" in summary


def test_similar_unknown_name_suggests(client, with_art):
    typo = with_art[:-1] + ("x" if with_art[-1] != "x" else "y")
    expect_error(rf"no Pokémon named '{re.escape(typo)}'; did you mean .*{re.escape(with_art)}",
                 client.predict, typo, "text", 5, api_name="/similar")
    expect_error("no Pokémon named 'not-a-pokemon-at-all'", client.predict, "not-a-pokemon-at-all", "text", 5,
                 api_name="/similar")


def test_similar_by_image_without_artwork(client, rows):
    missing = [r["name"] for r in rows if r["image_embedding"] is None]
    if not missing:
        pytest.skip("the fixture build has artwork for every Pokémon")
    expect_error(rf"{re.escape(missing[0])} has no artwork, so it has no image embedding", client.predict,
                 missing[0], "image", 5, api_name="/similar")
    gallery, _, _ = client.predict(missing[0], "text", 3, api_name="/similar")
    assert len(gallery) == 3


def test_ask(client, rows):
    gallery, status = client.predict("what looks like an ice cream cone?", 4, api_name="/ask")
    assert len(gallery) == 4 and all(CAPTION.match(c) for c in captions(gallery))
    with_images = {r["name"] for r in rows if r["image_embedding"] is not None}
    assert {c.split(" · ")[0] for c in captions(gallery)} <= with_images
    assert "ice cream cone" in status


def test_ask_bad_questions(client):
    expect_error("the question is empty", client.predict, "   ", 4, api_name="/ask")
    expect_error(r"the question is \d+ characters long; keep it under 500", client.predict, "why " * 200, 4,
                 api_name="/ask")


def test_search_by_picture(client, rows, tmp_path):
    from gradio_client import handle_file

    picture = tmp_path / "drawing.png"
    Image.new("RGBA", (300, 200), (255, 120, 0, 255)).save(picture)
    gallery, status = client.predict(handle_file(str(picture)), 3, api_name="/search_by_picture")
    assert len(gallery) == 3 and all(CAPTION.match(c) for c in captions(gallery))
    assert "300×200" in status


def test_search_by_picture_bad_files(client, tmp_path):
    from gradio_client import handle_file

    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    expect_error("that file is not a picture we can read", client.predict, handle_file(str(text)), 3,
                 api_name="/search_by_picture")

    huge = tmp_path / "huge.png"
    Image.new("1", (5000, 5000)).save(huge)  # 25 megapixels in a few kilobytes
    expect_error(r"the picture is 5000×5000 pixels; upload one under", client.predict, handle_file(str(huge)), 3,
                 api_name="/search_by_picture")

    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(b"\x89PNG" + bytes(10_600_000))
    expect_error(r"the picture is 10\.6 MB; upload one under 10 MB", client.predict, handle_file(str(heavy)), 3,
                 api_name="/search_by_picture")


def test_map(client, with_art, rows):
    plot = client.predict("type", with_art, api_name="/map")
    figure = json.loads(plot["plot"])
    traces = {trace.get("name"): trace for trace in figure["data"]}
    assert with_art in traces and "neighbours" in traces
    row = next(r for r in rows if r["name"] == with_art)
    stored = [rows[i]["name"] for i in row["neighbors"]["ids"]]  # zero-based row indices, nearest first
    assert traces["neighbours"]["text"] == stored and with_art not in stored
    plotted = sum(len(t["x"]) for t in figure["data"] if t.get("name") not in (with_art, "neighbours"))
    assert plotted == len(rows)
    plain = json.loads(client.predict("generation", None, api_name="/map")["plot"])
    assert {t["name"] for t in plain["data"]} == {r["generation"] for r in rows}


def test_map_unknown_name(client):
    expect_error("no Pokémon named 'missingno'", client.predict, "generation", "missingno", api_name="/map")


@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_oddballs(client, rows, modality):
    table = client.predict(modality, api_name="/oddballs")
    assert table["headers"] == ["generation", "name", "types", f"median {modality} cosine"]
    names = {r["name"] for r in rows}
    assert table["data"] and all(row[1] in names for row in table["data"])
    generations = [row[0] for row in table["data"]]
    assert len(generations) == len(set(generations))  # one oddball per generation


def test_oddballs_bad_modality(client):
    expect_error("not in the list of choices", client.predict, "colour", api_name="/oddballs")
