"""One artwork image as the encoders and the dataset take it: decoded within a pixel budget, every Pillow mode
converted by its meaning, composited on white, 224x224 RGB, and encoded as deterministic PNG bytes."""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

from pokembed.errors import BadInputError, one_line

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SIZE = 224
PNG_COMPRESS_LEVEL = 6  # fixed so that encode_png gives the same bytes for the same pixels
MAX_ARTWORK_PIXELS = 4096 * 4096  # larger images are refused from their header, before any pixel is decoded


class PixelBudget:
    """Bounds the pixels being decoded at once across threads, so concurrent decodes cannot exhaust memory."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._free = limit
        self._cond = threading.Condition()

    def acquire(self, pixels: int) -> int:
        pixels = min(pixels, self._limit)  # one image larger than the budget still goes, alone
        with self._cond:
            self._cond.wait_for(lambda: self._free >= pixels)
            self._free -= pixels
        return pixels

    def release(self, pixels: int) -> None:
        with self._cond:
            self._free += pixels
            self._cond.notify_all()


def preprocess_artwork(data: bytes, *, max_pixels: int = MAX_ARTWORK_PIXELS, budget: PixelBudget | None = None
                       ) -> Image.Image:
    """Decode an image, composite it onto opaque white, resize to 224x224 (LANCZOS) and return it as RGB.

    Compositing comes before resizing so that anti-aliased edges blend towards white and the colour hidden under
    fully transparent pixels never shows. Every Pillow mode is converted by its meaning: palette with a
    transparent index, 1, L, LA, La, P, PA, RGB(A/a/X), CMYK, YCbCr, HSV, LAB, and 16/32-bit grayscale (I;16*, I,
    F, scaled to 8 bits rather than clipped to white). The header's size is checked against ``max_pixels`` before
    any pixel is decoded. Raises BadInputError if the bytes are not a decodable image or are too large.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise BadInputError(
                    f"artwork of {width}x{height} pixels is larger than the {max_pixels} pixels allowed; "
                    "replace it with a smaller image or remove it so the Pokémon counts as missing"
                )
            held = budget.acquire(width * height) if budget is not None else 0
            try:
                opened.load()
                rgba = _to_rgba(opened)
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                # Every pixel is opaque after compositing, so dropping alpha before resizing gives the same pixels
                # as resizing RGBA first (checked in the tests) and resamples three channels instead of four.
                flat = Image.alpha_composite(white, rgba).convert("RGB")
                del rgba, white
                return flat.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
            finally:
                if budget is not None:
                    budget.release(held)
    except BadInputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(
            f"artwork does not decode as an image ({type(exc).__name__}: {one_line(exc)}); "
            "replace the file with a valid PNG or remove it so the Pokémon counts as missing"
        ) from None


def _to_rgba(image: Image.Image) -> Image.Image:
    """RGBA pixels of any Pillow mode, by what the mode means (Pillow's own convert clips or misreads a few)."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _deep_grey_to_rgba(image)
    if mode == "La":  # premultiplied: divide the grey by alpha
        import numpy as np

        pixels = np.asarray(image, dtype=np.float64)
        grey, alpha = pixels[..., 0], pixels[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            straight = np.where(alpha > 0, np.clip(grey * 255.0 / alpha, 0, 255), 0)
        la = np.stack([np.rint(straight), alpha], axis=-1).astype(np.uint8)
        return Image.fromarray(la, "LA").convert("RGBA")
    if mode == "LAB":
        from PIL import ImageCms

        transform = ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
        )
        return ImageCms.applyTransform(image, transform).convert("RGBA")
    return image.convert("RGBA")


def _deep_grey_to_rgba(image: Image.Image) -> Image.Image:
    """16-bit (I;16*), 32-bit (I) or float (F) grayscale scaled to 8 bits; a tRNS grey value becomes transparent."""
    import numpy as np
    from PIL import Image

    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        scaled = values * 255.0 if values.size and np.nanmax(values) <= 1.0 else values
    elif image.mode.startswith("I;16") or (values.size and values.max() > 255):
        scaled = np.clip(values, 0, 65535) / 257.0  # 65535 -> 255
    else:
        scaled = values
    grey = np.rint(np.clip(np.nan_to_num(scaled), 0, 255)).astype(np.uint8)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and not isinstance(transparency, bool):
        alpha = np.where(values == transparency, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey, alpha], axis=-1), "LA").convert("RGBA")
    return Image.fromarray(grey, "L").convert("RGBA")


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an image's pixels, deterministic for the same pixels (fixed options, no metadata chunks)."""
    clean = image.copy()
    transparency = image.info.get("transparency")
    clean.info = {} if transparency is None else {"transparency": transparency}
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
