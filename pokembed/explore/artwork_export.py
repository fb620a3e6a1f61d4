"""A built dataset's artwork back out as files: the stored PNGs, and WebP thumbnails for pages with small tiles."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pokembed.errors import BadInputError, one_line

logger = logging.getLogger(__name__)


def export_artwork(ds: Any, folder: Path) -> dict[int, Path]:
    """Write each row's stored artwork (PNG bytes as stored) to `folder/<id>.png`; rows without art are left out."""
    import datasets
    import pyarrow as pa

    if "image" not in ds.column_names:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    table: pa.Table = (ds.select_columns(["id", "image"]).cast_column("image", datasets.Image(decode=False))
                       .with_format("arrow")[:])
    paths: dict[int, Path] = {}
    for pokemon_id, image in zip(table.column("id").to_pylist(), table.column("image").to_pylist()):
        data = (image or {}).get("bytes")
        if not data and (image or {}).get("path") and Path(image["path"]).is_file():
            data = Path(image["path"]).read_bytes()
        if data:
            path = folder / f"{int(pokemon_id)}.png"
            path.write_bytes(data)
            paths[int(pokemon_id)] = path
    return paths


WEBP_QUALITY = 80


def write_thumbnails(sources: Mapping[int, Path], folder: Path, *, size: int, quality: int = WEBP_QUALITY,
                     workers: int = 4) -> dict[int, Path]:
    """WebP copies of artwork files scaled to fit `size`×`size` (LANCZOS; never enlarged) as `folder/<id>.webp`,
    for pages whose tiles are smaller than the stored 224×224 images. Unreadable sources are logged and left out.
    Pillow releases the GIL while it decodes, resizes and encodes, so `workers` threads use several cores."""
    from PIL import Image, UnidentifiedImageError

    if size < 1:
        raise BadInputError(f"thumbnail size must be at least 1 pixel, got {size}")
    folder.mkdir(parents=True, exist_ok=True)

    def one(item: tuple[int, Path]) -> tuple[int, Path | None]:
        pokemon_id, source = item
        try:
            with Image.open(source) as opened:
                image = opened.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            logger.warning("artwork %s could not be read for a thumbnail: %s", source, one_line(exc))
            return int(pokemon_id), None
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        path = folder / f"{int(pokemon_id)}.webp"
        image.save(path, "WEBP", quality=quality, method=2)  # method 2: 3 % larger files than 4, 20 % faster
        return int(pokemon_id), path

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return {pokemon_id: path for pokemon_id, path in pool.map(one, sources.items()) if path is not None}
