"""What a visitor searches with, checked before any model runs: a question, or an uploaded picture.

Each check turns bad input into one `BadInputError` line that names the problem and the fix.
"""

from __future__ import annotations

from pathlib import Path

from pokembed.errors import BadInputError

MAX_QUESTION_CHARS = 500
MAX_UPLOAD_BYTES = 10_000_000  # 10 MB
MAX_UPLOAD_PIXELS = 16_000_000  # 16 megapixels (4000×4000)


def clean_text(text: str | None, *, what: str, when_empty: str, max_chars: int) -> str:
    """`text` with its whitespace collapsed; empty or longer than `max_chars` -> BadInputError naming `what`."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise BadInputError(f"the {what} is empty; {when_empty}")
    if len(cleaned) > max_chars:
        raise BadInputError(f"the {what} is {len(cleaned)} characters long; keep it under {max_chars}")
    return cleaned


def validate_question(text: str | None, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question stripped of surrounding space; empty or longer than `max_chars` -> BadInputError."""
    return clean_text(text, what="question", max_chars=max_chars,
                      when_empty="type what you are looking for, e.g. 'what looks like an ice cream cone?'")


def validate_upload(path: str | Path | None, *, max_bytes: int = MAX_UPLOAD_BYTES,
                    max_pixels: int = MAX_UPLOAD_PIXELS) -> "PIL.Image.Image":  # noqa: F821
    """Open an uploaded picture as RGB (transparency composited on white), refusing non-images and huge files."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    if path is None or not str(path):
        raise BadInputError("no picture given; upload a PNG, JPEG or WebP image")
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise BadInputError("the uploaded file could not be read; upload it again") from None
    if size > max_bytes:
        raise BadInputError(f"the picture is {size / 1e6:.1f} MB; upload one under {max_bytes / 1e6:.0f} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise BadInputError(f"the picture is {width}×{height} pixels; upload one under "
                                        f"{max_pixels / 1e6:.0f} megapixels (e.g. resize it to 1024×1024)")
                opened.load()
                image = opened.copy()
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInputError(f"the picture has too many pixels; upload one under {max_pixels / 1e6:.0f} megapixels"
                            ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise BadInputError("that file is not a picture we can read; upload a PNG, JPEG or WebP image") from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


__all__ = ["MAX_QUESTION_CHARS", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "clean_text", "validate_question",
           "validate_upload"]
