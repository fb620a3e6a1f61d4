"""space/app.py as a real server on 127.0.0.1, every endpoint called with gradio_client (valid and bad inputs): JSON
results with ids, names and scores, plain-string names, integer k, optional parameters, a small documented schema."""

from __future__ import annotations

import re
import urllib.request

import pytest
from PIL import Image

from space_server import running_space

EXPECTED_ENDPOINTS = {"/similar", "/ask", "/ask_records", "/arithmetic", "/search_by_picture", "/map", "/oddballs",
                      "/pair"}
MATCH_KEYS = {"rank", "id", "name", "display_name", "score"}


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
def with_art(rows) -> dict:
    return next(r for r in rows if r["image_embedding"] is not None)


def expect_error(match: str, call, *args, api_name: str):
    """The call fails with a Gradio app error whose message matches (and is a short message, not a traceback)."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=match) as caught:
        call(*args, api_name=api_name)
    message = str(caught.value)
    assert "Traceback" not in message and "File \"" not in message and len(message) < 300
    return message


def check_matches(matches: list[dict], rows: list[dict], k: int, *, descending: bool = True) -> None:
    by_id = {r["id"]: r["name"] for r in rows}
    # closer_than (the share of the ranking's candidates it beats, how the page reads a score) where the ranking has one
    assert len(matches) == k and all(set(m) - {"closer_than"} == MATCH_KEYS for m in matches)
    assert [m["rank"] for m in matches] == list(range(1, k + 1))
    assert all(by_id[m["id"]] == m["name"] for m in matches)
    scores = [m["score"] for m in matches]
    assert scores == sorted(scores, reverse=descending) and all(isinstance(s, float) for s in scores)


def test_schema_is_small_and_documented(server, client):
    with urllib.request.urlopen(server + "gradio_api/info", timeout=30) as response:
        size = len(response.read())
    assert size < 30_000, f"/gradio_api/info is {size} bytes"
    info = client.view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == EXPECTED_ENDPOINTS and not info["unnamed_endpoints"]
    for name, endpoint in info["named_endpoints"].items():
        assert endpoint["description"], name
        for parameter in endpoint["parameters"]:
            assert parameter["python_type"]["description"], (name, parameter["parameter_name"])
            if parameter["parameter_name"] == "k":
                assert parameter["type"]["type"] == "integer"
            if parameter["parameter_name"] == "name":
                assert parameter["type"].get("enum") is None  # a plain string, checked by the handler


def test_page_is_light(server):
    request = urllib.request.Request(server, headers={"Accept-Encoding": "gzip, br"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        assert response.headers.get("Content-Encoding") in ("br", "gzip")
    assert len(body) < 60_000, f"the first page's HTML is {len(body)} bytes compressed"


@pytest.mark.parametrize("mode", ["text", "image", "umap", "combined"])
def test_similar(client, rows, with_art, mode):
    result = client.predict(with_art["name"], mode, 5, api_name="/similar")
    assert result["pokemon"]["id"] == with_art["id"] and result["pokemon"]["name"] == with_art["name"]
    assert result["mode"] == mode
    check_matches(result["matches"], rows, 5, descending=mode != "umap")
    assert with_art["id"] not in [m["id"] for m in result["matches"]]
    per_generation = result["per_generation"]
    assert per_generation and all(1 <= g["rank"] <= 3 for g in per_generation)
    assert {g["generation"] for g in per_generation} <= {r["generation"] for r in rows}


def test_similar_defaults_and_loose_names(client, with_art):
    loose = "  " + with_art["name"].upper().replace("-", " ") + " "
    result = client.predict(loose, api_name="/similar")  # mode and k left out
    assert result["pokemon"]["name"] == with_art["name"] and result["mode"] == "text"
    assert len(result["matches"]) == 12


def test_similar_unknown_name_suggests(client, with_art):
    name = with_art["name"]
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    expect_error(rf"no Pokémon named '{re.escape(typo)}'; did you mean .*{re.escape(name)}",
                 client.predict, typo, "text", 5, api_name="/similar")
    expect_error("no Pokémon named 'not-a-pokemon-at-all'", client.predict, "not-a-pokemon-at-all", "text", 5,
                 api_name="/similar")
    expect_error("k must be between 1 and 1000", client.predict, name, "text", 0, api_name="/similar")
    expect_error("unknown ranking mode 'colour'", client.predict, name, "colour", 5, api_name="/similar")


def test_similar_by_image_without_artwork(client, rows):
    missing = [r["name"] for r in rows if r["image_embedding"] is None]
    if not missing:
        pytest.skip("the fixture build has artwork for every Pokémon")
    expect_error(rf"{re.escape(missing[0])} has no artwork, so it has no image embedding", client.predict,
                 missing[0], "image", 5, api_name="/similar")
    assert len(client.predict(missing[0], "text", 3, api_name="/similar")["matches"]) == 3


def test_ask(client, rows):
    result = client.predict("what looks like an ice cream cone?", 4, api_name="/ask")
    with_images = [r for r in rows if r["image_embedding"] is not None]
    check_matches(result["matches"], rows, 4)
    assert {m["id"] for m in result["matches"]} <= {r["id"] for r in with_images}
    assert result["question"] == "what looks like an ice cream cone?" and result["searched"] == len(with_images)


def test_ask_bad_questions(client):
    expect_error("the question is empty", client.predict, "   ", 4, api_name="/ask")
    expect_error(r"the question is \d+ characters long; keep it under 500", client.predict, "why " * 200, 4,
                 api_name="/ask")


def test_search_by_picture(client, rows, tmp_path):
    from gradio_client import handle_file

    picture = tmp_path / "drawing.png"
    Image.new("RGBA", (300, 200), (255, 120, 0, 255)).save(picture)
    result = client.predict(handle_file(str(picture)), 3, api_name="/search_by_picture")
    check_matches(result["matches"], rows, 3)
    assert (result["width"], result["height"]) == (300, 200)


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


def test_search_by_picture_refuses_server_paths(server):
    """A caller naming a file on the server instead of uploading one gets an error, never a ranking of that file."""
    import httpx

    with httpx.Client(base_url=server, timeout=30) as rest:
        data = [{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}, 3]
        event = rest.post("/gradio_api/call/search_by_picture", json={"data": data}).raise_for_status().json()
        body = rest.get(f"/gradio_api/call/search_by_picture/{event['event_id']}").text
    assert "event: error" in body and "event: complete" not in body


def test_map(client, rows):
    plain = client.predict(api_name="/map")  # the name is optional
    assert plain["pokemon"] is None and plain["neighbors"] == []
    assert sorted(p["id"] for p in plain["points"]) == sorted(r["id"] for r in rows)
    chosen = next(r for r in rows if r["neighbors"]["ids"])
    result = client.predict(chosen["name"], 5, api_name="/map")
    stored = [rows[i]["id"] for i in chosen["neighbors"]["ids"]][:5]  # zero-based row indices, nearest first
    assert result["pokemon"]["id"] == chosen["id"]
    assert [n["id"] for n in result["neighbors"]] == stored and chosen["id"] not in stored
    point = {p["id"]: p for p in result["points"]}
    first = result["neighbors"][0]
    distance = ((point[first["id"]]["x"] - point[chosen["id"]]["x"]) ** 2 +
                (point[first["id"]]["y"] - point[chosen["id"]]["y"]) ** 2) ** 0.5
    assert first["score"] == pytest.approx(distance, abs=1e-3)


def test_map_unknown_name(client):
    expect_error("no Pokémon named 'missingno'", client.predict, "missingno", api_name="/map")


@pytest.mark.parametrize("modality", ["text", "image", "combined"])
def test_oddballs(client, rows, modality):
    result = client.predict(modality, api_name="/oddballs")
    names = {r["id"]: r["name"] for r in rows}
    oddballs = result["oddballs"]
    assert oddballs and all(names[o["id"]] == o["name"] for o in oddballs)
    assert all(-1.0 <= o["median_similarity"] <= 1.0 for o in oddballs)
    generations = [o["generation"] for o in oddballs]
    assert len(generations) == len(set(generations))  # one oddball per generation


def test_oddballs_bad_modality(client):
    expect_error("unknown modality 'colour'", client.predict, "colour", api_name="/oddballs")


# ---- beyond the article: asking the records, embedding arithmetic, the PCA layout ----------------------------------
def test_ask_records(client, rows):
    result = client.predict("a ghost type that evolves by trading", 4, api_name="/ask_records")
    check_matches(result["matches"], rows, 4)
    assert result["question"] == "a ghost type that evolves by trading" and result["searched"] == len(rows)
    everyone = client.predict("learns surf and fly", len(rows) - 1, api_name="/ask_records")["matches"]
    without_art = {r["id"] for r in rows if r["image_embedding"] is None}
    assert without_art & {m["id"] for m in everyone}  # the records reach Pokémon without artwork
    assert len(client.predict("learns surf and fly", api_name="/ask_records")["matches"]) == 12  # k optional
    expect_error("the question is empty", client.predict, " ", 4, api_name="/ask_records")


def test_arithmetic(client, rows):
    a, b, c = (r["name"] for r in rows[:3])
    result = client.predict(f"{a} + ({b} - {c})", "text", 5, api_name="/arithmetic")
    check_matches(result["matches"], rows, 5)
    assert not {a, b, c} & {m["name"] for m in result["matches"]}  # the inputs are left out
    assert result["expression"] == f"{a} + {b} − {c}" and result["space"] == "text"
    assert [t["sign"] for t in result["terms"]] == ["+", "+", "-"]
    typed = next(r for r in rows if r["image_embedding"] is not None)
    image = client.predict(f"{typed['name']} + generation:i", "image", 3, api_name="/arithmetic")
    with_art = {r["id"] for r in rows if r["image_embedding"] is not None}
    assert {m["id"] for m in image["matches"]} <= with_art and typed["id"] not in [m["id"] for m in image["matches"]]
    assert client.predict(a, api_name="/arithmetic")["space"] == "text"  # space and k optional


def test_arithmetic_bad_expressions(client, rows):
    a = rows[0]["name"]
    expect_error("the terms cancel out", client.predict, f"{a} - {a}", "text", 3, api_name="/arithmetic")
    expect_error("no type 'lava'", client.predict, f"{a} + type:lava", "text", 3, api_name="/arithmetic")
    expect_error("is never closed", client.predict, f"({a}", "text", 3, api_name="/arithmetic")
    expect_error("unknown space 'audio'", client.predict, a, "audio", 3, api_name="/arithmetic")
    missing = [r["name"] for r in rows if r["image_embedding"] is None]
    if missing:
        expect_error("has no artwork", client.predict, missing[0], "image", 3, api_name="/arithmetic")


def test_map_pca(client, rows, built_dataset):
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    published = pq.read_table(parquet, columns=["id", "pca_2d_x", "pca_2d_y"]).to_pylist()
    result = client.predict(None, 10, "pca", api_name="/map")
    assert result["projection"] == "pca"
    points = {p["id"]: (p["x"], p["y"]) for p in result["points"]}
    for row in published:
        assert points[row["id"]] == (pytest.approx(row["pca_2d_x"], abs=1e-3), pytest.approx(row["pca_2d_y"], abs=1e-3))
    ratios = result["explained_variance_ratio"]
    assert len(ratios) == 2 and 1 >= ratios[0] >= ratios[1] > 0
    expect_error("unknown projection 'tsne'", client.predict, None, 10, "tsne", api_name="/map")
