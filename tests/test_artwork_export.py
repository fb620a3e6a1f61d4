"""Artwork stored in a built dataset, written back out as files: as stored, and as WebP thumbnails for pages."""

from __future__ import annotations

import pytest
from PIL import Image

from pokembed.explore.artwork_export import export_artwork, write_thumbnails
from pokembed.errors import BadInputError


def test_thumbnails(tmp_path):
    art = tmp_path / "art"
    art.mkdir()
    Image.new("RGB", (224, 224), (250, 0, 0)).save(art / "1.png")
    Image.new("RGB", (64, 32), (0, 0, 250)).save(art / "2.png")
    (art / "3.png").write_text("not a picture")
    paths = write_thumbnails({1: art / "1.png", 2: art / "2.png", 3: art / "3.png"}, tmp_path / "thumb", size=96)
    assert sorted(paths) == [1, 2]  # the unreadable one is left out, not blanked
    with Image.open(paths[1]) as big, Image.open(paths[2]) as small:
        assert big.format == "WEBP" and big.size == (96, 96)
        assert small.size == (64, 32)  # never enlarged
        red = big.convert("RGB").getpixel((48, 48))
        assert red[0] > 200 and red[1] < 40 and red[2] < 40
    assert paths[1].stat().st_size < (art / "1.png").stat().st_size
    with pytest.raises(BadInputError, match="thumbnail size must be at least 1 pixel"):
        write_thumbnails({}, tmp_path / "none", size=0)


def test_export_without_an_image_column(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"id": [1, 2]})
    assert export_artwork(ds, tmp_path / "art") == {}
