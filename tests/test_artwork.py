"""Artwork: compositing on white, folder and URL sources, retries, missing/corrupt files, the cache."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pokembed.sources.artwork import (
    DEFAULT_ARTWORK_URL,
    IMAGE_SIZE,
    ArtworkSet,
    artwork_cache_dir,
    encode_png,
    load_artwork,
    preprocess_artwork,
)
from pokembed.errors import BadInputError, SourceUnavailableError
from conftest import SHARED

SHARED_ARTWORK = SHARED / "pokeapi" / "official-artwork"
WHITE = (255, 255, 255)


def png_bytes(image: Image.Image, **save_options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save_options)
    return buffer.getvalue()


def sprite(colour: tuple[int, int, int], size: int = 300) -> Image.Image:
    """A transparent square canvas (hidden colour green) with an opaque `colour` disc-ish square in the middle."""
    image = Image.new("RGBA", (size, size), (0, 255, 0, 0))
    inner = Image.new("RGBA", (size // 2, size // 2), (*colour, 255))
    image.paste(inner, (size // 4, size // 4))
    return image


# --- preprocess_artwork ------------------------------------------------------------------------------------------


def test_rgba_transparent_becomes_white_opaque_keeps_colour():
    image = Image.new("RGBA", (448, 448), (0, 0, 0, 0))  # left half fully transparent (hidden colour black)
    image.paste(Image.new("RGBA", (224, 448), (10, 200, 30, 255)), (224, 0))  # right half opaque
    out = preprocess_artwork(png_bytes(image))
    assert out.mode == "RGB"
    assert out.size == (IMAGE_SIZE, IMAGE_SIZE)
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((50, 100)) == WHITE
    assert out.getpixel((200, 100)) == (10, 200, 30)
    assert out.getpixel((IMAGE_SIZE - 1, IMAGE_SIZE - 1)) == (10, 200, 30)


def test_edges_blend_to_white_and_hidden_colour_never_bleeds():
    out = preprocess_artwork(png_bytes(sprite((255, 0, 0), size=301)))  # odd size: the edge falls between pixels
    pixels = np.asarray(out).reshape(-1, 3).astype(int)
    r, g, b = pixels.T
    # Every pixel is a mix of red (255,0,0) and white: R stays 255, G == B; the green under alpha 0 never shows.
    assert (r >= 254).all() and (abs(g - b) <= 1).all()
    assert ((g > 20) & (g < 235)).any(), "expected anti-aliased pink edge pixels"


def test_semi_transparent_pixel_is_mixed_with_white():
    image = Image.new("RGBA", (224, 224), (0, 0, 255, 128))
    out = preprocess_artwork(png_bytes(image))
    r, g, b = out.getpixel((112, 112))
    assert b == 255 and abs(r - 127) <= 1 and r == g


def test_composite_before_resize_matches_rgba_pipeline():
    # The module drops alpha before resizing (fewer channels); after compositing that must not change a pixel.
    image = sprite((200, 30, 90), size=475)
    expected = (
        Image.alpha_composite(Image.new("RGBA", image.size, (*WHITE, 255)), image)
        .resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
        .convert("RGB")
    )
    assert preprocess_artwork(png_bytes(image)).tobytes() == expected.tobytes()


def test_palette_png_with_transparent_index():
    image = Image.new("P", (120, 120), 0)
    image.putpalette([0, 255, 0, 255, 0, 0] + [0, 0, 0] * 254)  # index 0 green (transparent), index 1 red
    image.paste(1, (30, 30, 90, 90))
    data = png_bytes(image, transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    out = preprocess_artwork(data)
    assert (out.mode, out.size) == ("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((112, 112)) == (255, 0, 0)


def test_la_and_l_images():
    la = Image.new("LA", (100, 100), (0, 0))
    la.paste(Image.new("LA", (50, 50), (60, 255)), (25, 25))
    out = preprocess_artwork(png_bytes(la))
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((112, 112)) == (60, 60, 60)

    grey = preprocess_artwork(png_bytes(Image.new("L", (64, 64), 90)))
    assert (grey.mode, grey.size) == ("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    assert grey.getpixel((0, 0)) == (90, 90, 90)


def test_rgb_without_alpha_is_only_resized():
    out = preprocess_artwork(png_bytes(Image.new("RGB", (500, 300), (1, 2, 3))))
    assert out.size == (IMAGE_SIZE, IMAGE_SIZE)
    assert out.getpixel((5, 5)) == (1, 2, 3)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", png_bytes(sprite((1, 2, 3)))[:200]],
    ids=["empty", "text", "truncated-png"],
)
def test_undecodable_bytes_raise_bad_input(data):
    with pytest.raises(BadInputError, match="does not decode as an image"):
        preprocess_artwork(data)


def test_encode_png_is_deterministic_and_lossless():
    image = preprocess_artwork(png_bytes(sprite((12, 34, 56))))
    image.info["icc_profile"] = b"not a real profile"
    first, second = encode_png(image), encode_png(image.copy())
    assert first == second
    assert b"iCCP" not in first
    decoded = Image.open(io.BytesIO(first))
    assert decoded.mode == "RGB" and decoded.tobytes() == image.tobytes()


# --- folder source -----------------------------------------------------------------------------------------------


@pytest.fixture
def art_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "1.png").write_bytes(png_bytes(sprite((255, 0, 0))))
    (folder / "2.png").write_bytes(png_bytes(sprite((0, 0, 255))))
    (folder / "4.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")  # corrupt
    return folder  # 3 is absent


def test_folder_source_missing_and_corrupt(art_folder: Path, caplog):
    with caplog.at_level(logging.WARNING, logger="pokembed.sources.artwork"):
        result = load_artwork([4, 3, 2, 1, 2], str(art_folder), cache_dir=None, workers=2, progress=False)
    assert isinstance(result, ArtworkSet)
    assert list(result.images) == [1, 2]
    assert result.missing == [3, 4]
    assert result.corrupt == [4]
    assert result.images[1].getpixel((112, 112)) == (255, 0, 0)
    assert result.images[2].getpixel((0, 0)) == WHITE
    assert all(im.size == (IMAGE_SIZE, IMAGE_SIZE) and im.mode == "RGB" for im in result.images.values())
    assert any("4.png" in r.getMessage() and "missing" in r.getMessage() for r in caplog.records)


def test_folder_cache_reused_and_refreshed_when_source_changes(art_folder: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = load_artwork([1, 2, 3], str(art_folder), cache_dir=cache, progress=False)
    cached = artwork_cache_dir(cache, str(art_folder)) / "1.png"
    assert cached.parent.parent == cache / "artwork"
    assert sorted(p.name for p in cached.parent.iterdir()) == ["1.png", "2.png"]  # no temp files left behind

    # A cached file newer than its source is reused without decoding the source: prove it with a sentinel.
    sentinel = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (7, 7, 7))
    cached.write_bytes(encode_png(sentinel))
    assert load_artwork([1], str(art_folder), cache_dir=cache, progress=False).images[1].getpixel((0, 0)) == (7, 7, 7)

    # A source newer than the cache is preprocessed again; a source that disappeared is missing.
    (art_folder / "1.png").write_bytes(png_bytes(sprite((0, 128, 0))))
    later = cached.stat().st_mtime_ns + 10**9
    os.utime(art_folder / "1.png", ns=(later, later))
    (art_folder / "2.png").unlink()
    again = load_artwork([1, 2, 3], str(art_folder), cache_dir=cache, progress=False)
    assert again.images[1].getpixel((112, 112)) == (0, 128, 0)
    assert again.missing == [2, 3]
    assert first.images[2] is not None


def test_cached_images_equal_fresh_ones(art_folder: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    fresh = load_artwork([1, 2], str(art_folder), cache_dir=cache, progress=False)
    reused = load_artwork([1, 2], str(art_folder), cache_dir=cache, progress=False)
    for i in (1, 2):
        assert reused.images[i].mode == "RGB"
        assert reused.images[i].tobytes() == fresh.images[i].tobytes()


# --- bad arguments -----------------------------------------------------------------------------------------------


def test_folder_that_does_not_exist(tmp_path: Path):
    with pytest.raises(BadInputError, match=r"artwork folder .*nope does not exist; pass an existing folder"):
        load_artwork([1], str(tmp_path / "nope"), progress=False)


def test_file_instead_of_folder(tmp_path: Path):
    (tmp_path / "one.png").write_bytes(b"x")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        load_artwork([1], str(tmp_path / "one.png"), progress=False)


def test_url_template_without_placeholder():
    with pytest.raises(BadInputError, match=r"has no \{id\} placeholder; add one"):
        load_artwork([1], "https://example.invalid/artwork/1.png", progress=False)


@pytest.mark.parametrize(
    ("artwork", "message"),
    [
        ("ftp://example.invalid/{id}.png", "is not http"),
        ("/no/such/place/{id}.png", "is not an http"),
        ("", "is empty"),
    ],
)
def test_other_bad_sources(artwork: str, message: str):
    with pytest.raises(BadInputError, match=message):
        load_artwork([1], artwork, progress=False)


def test_bad_ids_and_workers(art_folder: Path):
    with pytest.raises(BadInputError, match="ids must be integers"):
        load_artwork(["1"], str(art_folder), progress=False)
    with pytest.raises(BadInputError, match="workers must be at least 1"):
        load_artwork([1], str(art_folder), workers=0, progress=False)


def test_default_template_is_the_sprites_repository():
    assert "{id}" in DEFAULT_ARTWORK_URL and DEFAULT_ARTWORK_URL.startswith("https://raw.githubusercontent.com/")


# --- URL source against a local server ---------------------------------------------------------------------------


class ArtServer:
    """Serves /art/<id>.png on 127.0.0.1 from a table of scripted responses; counts requests per id."""

    def __init__(self, responses: dict[int, list[tuple[int, bytes]]]):
        self.responses = responses  # id -> [(status, body), ...]; the last entry repeats
        self.hits: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                name = self.path.rsplit("/", 1)[-1]
                pokemon_id = int(name.removesuffix(".png"))
                with server.lock:
                    script = server.responses.get(pokemon_id, [(404, b"not found")])
                    status, body = script[min(server.hits[pokemon_id], len(script) - 1)]
                    server.hits[pokemon_id] += 1
                if server.delay:
                    time.sleep(server.delay)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/art/{{id}}.png"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


RED = png_bytes(sprite((255, 0, 0)))
BLUE = png_bytes(sprite((0, 0, 255)))


def scripted() -> dict[int, list[tuple[int, bytes]]]:
    return {
        1: [(200, RED)],
        2: [(500, b"oops"), (200, BLUE)],  # retried
        3: [(429, b"slow down"), (503, b"busy"), (200, RED)],  # retried twice
        5: [(200, b"<html>not an image</html>")],  # corrupt
        # 4: 404
    }


def test_url_source_retries_404_and_corrupt(tmp_path: Path, caplog):
    with ArtServer(scripted()) as server, caplog.at_level(logging.WARNING, logger="pokembed.sources.artwork"):
        result = load_artwork(
            [5, 4, 3, 2, 1], server.template, cache_dir=None, workers=4, retries=3, backoff=0.0, progress=False
        )
    assert list(result.images) == [1, 2, 3]
    assert result.missing == [4, 5]
    assert result.corrupt == [5]
    assert result.images[2].getpixel((112, 112)) == (0, 0, 255)
    assert result.images[1].getpixel((0, 0)) == WHITE
    assert server.hits == {1: 1, 2: 2, 3: 3, 4: 1, 5: 1}
    assert any("/art/5.png" in r.getMessage() for r in caplog.records)


def test_url_cache_second_run_asks_only_for_what_failed(tmp_path: Path):
    cache = tmp_path / "cache"
    with ArtServer(scripted()) as server:
        first = load_artwork([1, 2, 3, 4, 5], server.template, cache_dir=cache, backoff=0.0, progress=False)
        hits = dict(server.hits)
        second = load_artwork([1, 2, 3, 4, 5], server.template, cache_dir=cache, backoff=0.0, progress=False)
        # Images and the 404 come from the cache; the answer that did not decode is asked for again.
        assert {i: server.hits[i] - hits.get(i, 0) for i in server.hits} == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}
    folder = artwork_cache_dir(cache, server.template)
    assert sorted(p.name for p in folder.iterdir()) == ["1.png", "2.png", "3.png", "4.missing"]
    assert (second.missing, second.corrupt) == (first.missing, first.corrupt) == ([4, 5], [5])
    assert list(second.images) == list(first.images) == [1, 2, 3]
    for i in first.images:
        assert second.images[i].tobytes() == first.images[i].tobytes()
    assert (folder / "1.png").read_bytes() == encode_png(first.images[1])


def test_persistent_500_is_one_clear_error():
    with ArtServer({1: [(200, RED)], 2: [(500, b"down")]}) as server:
        with pytest.raises(SourceUnavailableError, match=r"cannot download artwork http://127\.0\.0\.1:\d+/art/2\.png: "
                           r"HTTP 500 .*after 3 attempts; check the network") as caught:
            load_artwork([1, 2], server.template, retries=2, backoff=0.0, progress=False)
        assert server.hits[2] == 3
    assert "\n" not in str(caught.value)


def test_403_is_not_retried():
    with ArtServer({1: [(403, b"forbidden")]}) as server:
        with pytest.raises(SourceUnavailableError, match=r"HTTP 403 .*after 1 attempt;"):
            load_artwork([1], server.template, retries=3, backoff=0.0, progress=False)
        assert server.hits[1] == 1


def test_timeout_and_refused_connection():
    with ArtServer({1: [(200, RED)]}) as server:
        server.delay = 1.0
        with pytest.raises(SourceUnavailableError, match=r"/art/1\.png: no complete answer within the 0\.2 s deadline"):
            load_artwork([1], server.template, retries=1, timeout=0.2, backoff=0.0, progress=False)
        template = server.template
    # The server is closed now: nothing listens on that port.
    with pytest.raises(SourceUnavailableError, match=r"cannot download artwork .*connection failed .*after 2 attempts"):
        load_artwork([1], template, retries=1, timeout=2.0, backoff=0.0, progress=False)


def test_result_order_does_not_depend_on_completion_order():
    responses = {i: [(200, RED if i % 2 else BLUE)] for i in range(1, 13)}
    del responses[7]
    with ArtServer(responses) as server:
        server.delay = 0.01
        result = load_artwork(list(range(12, 0, -1)), server.template, workers=6, backoff=0.0, progress=False)
    assert list(result.images) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    assert result.missing == [7] and result.corrupt == []


# --- real artwork ------------------------------------------------------------------------------------------------


@pytest.mark.shared
def test_shared_official_artwork(tmp_path: Path):
    if not SHARED_ARTWORK.is_dir():
        pytest.skip(f"shared artwork folder {SHARED_ARTWORK} absent")
    for pokemon_id in (1, 25, 10001):
        out = preprocess_artwork((SHARED_ARTWORK / f"{pokemon_id}.png").read_bytes())
        assert (out.mode, out.size) == ("RGB", (IMAGE_SIZE, IMAGE_SIZE))
        assert out.getpixel((0, 0)) == WHITE
        assert out.getpixel((IMAGE_SIZE - 1, IMAGE_SIZE - 1)) == WHITE
        assert len(np.unique(np.asarray(out).reshape(-1, 3), axis=0)) > 100  # real artwork, not a blank
    result = load_artwork([25, 1, 99999], str(SHARED_ARTWORK), cache_dir=tmp_path, workers=2, progress=False)
    assert list(result.images) == [1, 25]
    assert result.missing == [99999] and result.corrupt == []


def test_png_bytes_are_those_of_the_image_fresh_or_cached(tmp_path):
    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "7.png").write_bytes(png_bytes(sprite((200, 30, 90))))
    fresh = load_artwork([7], str(folder), cache_dir=tmp_path / "cache", progress=False)
    cached = load_artwork([7], str(folder), cache_dir=tmp_path / "cache", progress=False)
    assert fresh.png[7] == encode_png(fresh.images[7]) == cached.png[7]
    assert load_artwork([7], str(folder), cache_dir=None, progress=False).png[7] == fresh.png[7]
