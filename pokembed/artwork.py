"""Official artwork per Pokémon: fetched or read, composited on white, 224x224 RGB, cached on disk.

The source is either a URL template containing ``{id}`` (PokéAPI's sprites repository by default) or a local folder
of ``{id}.png`` files. A missing artwork (HTTP 404, absent file) is reported as missing, never replaced by a blank
image; a file that does not decode is logged, counted in ``corrupt`` and also treated as missing.

Cache layout (``cache_dir/artwork/<key>/``, ``<key>`` = short sha256 of the template or the absolute folder):
``<id>.png`` the preprocessed image, ``<id>.missing`` / ``<id>.corrupt`` markers for URL sources so that a rebuild
makes no request at all. For folder sources the file system is cheap to ask, so only images are cached and a cached
image is reused only while it is newer than its source file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import operator
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

from pokembed.errors import BadInputError, SourceUnavailableError

if TYPE_CHECKING:
    import requests
    from PIL import Image

logger = logging.getLogger(__name__)

DEFAULT_ARTWORK_URL = (
    "https://raw.githubusercontent.com/PokeAPI/sprites/master/sprites/pokemon/other/official-artwork/{id}.png"
)
IMAGE_SIZE = 224
PNG_COMPRESS_LEVEL = 6  # fixed so that encode_png gives the same bytes for the same pixels

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After is capped


@dataclass(frozen=True)
class ArtworkSet:
    """Preprocessed artwork for a list of Pokémon ids."""

    images: dict[int, Image.Image]  # id -> 224x224 RGB, only ids that have artwork, ordered by id
    png: dict[int, bytes]  # id -> encode_png(images[id]): the bytes the dataset stores, encoded once and cached
    missing: list[int]  # ids with no artwork (404 / absent file, and the corrupt ones), sorted
    corrupt: list[int]  # ids whose file did not decode (warned, counted, also in missing), sorted
    # images and missing partition the requested ids; corrupt is a subset of missing.


@dataclass(frozen=True)
class _Source:
    kind: str  # "url" | "folder"
    location: str  # the URL template, or the absolute folder
    cache_key: str  # short sha256 of location


@dataclass(frozen=True)
class _Outcome:
    status: str  # "image" | "missing" | "corrupt"
    image: Image.Image | None = None
    png: bytes | None = None


def preprocess_artwork(data: bytes) -> Image.Image:
    """Decode an image, composite it onto opaque white, resize to 224x224 (LANCZOS) and return it as RGB.

    Compositing comes before resizing so that anti-aliased edges blend towards white and the colour hidden under
    fully transparent pixels never shows. Palette images with a transparent index, LA, L and RGB all work.
    Raises BadInputError if the bytes are not a decodable image.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            rgba = opened.convert("RGBA")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(
            f"artwork does not decode as an image ({type(exc).__name__}: {_one_line(exc)}); "
            "replace the file with a valid PNG or remove it so the Pokémon counts as missing"
        ) from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    # Every pixel is opaque after compositing, so dropping alpha before resizing gives the same pixels as
    # resizing RGBA first (checked in the tests) and resamples three channels instead of four.
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    return flat.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an image's pixels, deterministic for the same pixels (fixed options, no metadata chunks)."""
    clean = image.copy()
    transparency = image.info.get("transparency")
    clean.info = {} if transparency is None else {"transparency": transparency}
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def artwork_cache_dir(cache_dir: Path, artwork: str = DEFAULT_ARTWORK_URL) -> Path:
    """The folder under ``cache_dir`` that holds the preprocessed artwork of one source."""
    return Path(cache_dir) / "artwork" / _parse_source(artwork).cache_key


def load_artwork(
    ids: Sequence[int],
    artwork: str = DEFAULT_ARTWORK_URL,
    *,
    cache_dir: Path | None = None,
    workers: int = 8,
    retries: int = 3,
    timeout: float = 30.0,
    progress: bool = True,
    backoff: float = 0.5,
) -> ArtworkSet:
    """Fetch (or read) and preprocess the artwork of every id, concurrently, reusing the cache.

    ``artwork`` is a URL template containing ``{id}`` or a local folder of ``{id}.png`` files. Downloads share one
    pooled HTTP session and run on at most ``workers`` threads; connection errors, timeouts, 429 and 5xx are retried
    up to ``retries`` times after the first attempt, waiting ``backoff * 2**attempt`` seconds (or the server's
    Retry-After). A 404 is missing artwork; any other persistent failure raises SourceUnavailableError naming the
    URL. ``cache_dir=None`` disables the cache. Results are ordered by id whatever order the work completes in.
    """
    source = _parse_source(artwork)
    wanted = _check_ids(ids)
    if workers < 1:
        raise BadInputError(f"workers must be at least 1, got {workers}; pass workers=1 or more")
    if retries < 0:
        raise BadInputError(f"retries must be 0 or more, got {retries}; pass retries=0 to disable retrying")
    target = None if cache_dir is None else Path(cache_dir) / "artwork" / source.cache_key
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)

    session = _make_session(workers) if source.kind == "url" else None
    stop = threading.Event()

    def one(pokemon_id: int) -> _Outcome:
        if source.kind == "folder":
            return _load_from_folder(pokemon_id, Path(source.location), target)
        assert session is not None
        return _load_from_url(
            pokemon_id, source.location, target, session, retries=retries, timeout=timeout, backoff=backoff, stop=stop
        )

    from tqdm.auto import tqdm

    outcomes: dict[int, _Outcome] = {}
    try:
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artwork") as pool,
            tqdm(total=len(wanted), desc="artwork", unit="img", disable=not progress) as bar,
        ):
            pending = {pool.submit(one, pokemon_id): pokemon_id for pokemon_id in wanted}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        pokemon_id = pending.pop(future)
                        outcomes[pokemon_id] = future.result()  # re-raises a worker's error
                        bar.update(1)
            except BaseException:
                stop.set()
                for future in pending:
                    future.cancel()
                raise
    finally:
        if session is not None:
            session.close()

    images = {i: outcomes[i].image for i in wanted if outcomes[i].status == "image"}
    png = {i: outcomes[i].png for i in images}
    missing = [i for i in wanted if outcomes[i].status != "image"]
    corrupt = [i for i in wanted if outcomes[i].status == "corrupt"]
    if corrupt:
        logger.warning("%d artwork file(s) did not decode and count as missing: ids %s", len(corrupt), corrupt)
    return ArtworkSet(images=images, png=png, missing=missing, corrupt=corrupt)


# --- sources -----------------------------------------------------------------------------------------------------


def _parse_source(artwork: str) -> _Source:
    if not isinstance(artwork, str) or not artwork.strip():
        raise BadInputError(
            f"artwork source {artwork!r} is empty; pass a URL template containing {{id}} "
            "or a folder of {id}.png files"
        )
    if "://" in artwork:
        scheme = urlsplit(artwork).scheme.lower()
        if scheme not in ("http", "https"):
            raise BadInputError(
                f"artwork URL {artwork!r} is not http(s); pass an http(s) URL template containing {{id}} "
                "or a local folder of {id}.png files"
            )
        if "{id}" not in artwork:
            raise BadInputError(
                f"artwork URL template {artwork!r} has no {{id}} placeholder; add one, e.g. {DEFAULT_ARTWORK_URL}"
            )
        return _Source("url", artwork, _short_sha(artwork))
    folder = Path(artwork).expanduser()
    if folder.is_dir():
        location = str(folder.resolve())
        return _Source("folder", location, _short_sha(location))
    if "{id}" in artwork:
        raise BadInputError(
            f"artwork template {artwork!r} is not an http(s) URL; pass an http(s) URL template "
            "or the folder that holds the {id}.png files"
        )
    if folder.exists():
        raise BadInputError(
            f"artwork {folder} is a file, not a folder; pass the folder that holds the {{id}}.png files"
        )
    raise BadInputError(
        f"artwork folder {folder} does not exist; pass an existing folder of {{id}}.png files "
        "or a URL template containing {id}"
    )


def _check_ids(ids: Sequence[int]) -> list[int]:
    try:
        return sorted({operator.index(i) for i in ids})
    except TypeError:
        raise BadInputError("artwork ids must be integers (Pokémon ids); pass a sequence of ints") from None


def _load_from_folder(pokemon_id: int, folder: Path, target: Path | None) -> _Outcome:
    path = folder / f"{pokemon_id}.png"
    try:
        source_mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _Outcome("missing")
    if target is not None:
        cached = target / f"{pokemon_id}.png"
        try:
            fresh = cached.stat().st_mtime_ns >= source_mtime
        except FileNotFoundError:
            fresh = False
        if fresh and (outcome := _read_cached(cached)) is not None:
            return outcome
    return _decode(pokemon_id, path.read_bytes(), str(path), target, cache_corrupt=False)


def _load_from_url(
    pokemon_id: int,
    template: str,
    target: Path | None,
    session: requests.Session,
    *,
    retries: int,
    timeout: float,
    backoff: float,
    stop: threading.Event,
) -> _Outcome:
    if target is not None:
        cached = target / f"{pokemon_id}.png"
        if cached.exists() and (outcome := _read_cached(cached)) is not None:
            return outcome
        if (target / f"{pokemon_id}.missing").exists():
            return _Outcome("missing")
        if (target / f"{pokemon_id}.corrupt").exists():
            logger.warning(
                "artwork for id %d did not decode on an earlier run (cached); treating it as missing", pokemon_id
            )
            return _Outcome("corrupt")
    url = template.replace("{id}", str(pokemon_id))
    body = _download(url, session, retries=retries, timeout=timeout, backoff=backoff, stop=stop)
    if body is None:
        if target is not None:
            _write_atomic(target / f"{pokemon_id}.missing", b"")
        return _Outcome("missing")
    return _decode(pokemon_id, body, url, target, cache_corrupt=True)


def _decode(pokemon_id: int, data: bytes, origin: str, target: Path | None, *, cache_corrupt: bool) -> _Outcome:
    try:
        image = preprocess_artwork(data)
    except BadInputError as exc:
        logger.warning("artwork %s for id %d: %s; treating it as missing", origin, pokemon_id, exc)
        if target is not None and cache_corrupt:
            _write_atomic(target / f"{pokemon_id}.corrupt", f"{origin}\n".encode())
        return _Outcome("corrupt")
    png = encode_png(image)
    if target is not None:
        _write_atomic(target / f"{pokemon_id}.png", png)
    return _Outcome("image", image, png)


def _read_cached(path: Path) -> _Outcome | None:
    """A cached preprocessed image with its PNG bytes, or None when the file is unusable."""
    import io

    from PIL import Image

    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        logger.warning("ignoring unreadable cached artwork %s (%s); preprocessing it again", path, _one_line(exc))
        return None
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        logger.warning("ignoring cached artwork %s of size %s; preprocessing it again", path, image.size)
        return None
    return _Outcome("image", image, data)


# --- HTTP --------------------------------------------------------------------------------------------------------


def _make_session(workers: int) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    from pokembed import __version__

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=workers, max_retries=0)  # we retry ourselves
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"pokembed/{__version__}"
    return session


def _download(
    url: str,
    session: requests.Session,
    *,
    retries: int,
    timeout: float,
    backoff: float,
    stop: threading.Event,
) -> bytes | None:
    """The body of a 200 response, or None on 404; retries transient failures, raises SourceUnavailableError."""
    import requests

    transient = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    attempts = retries + 1
    problem = ""
    tried = 0
    for attempt in range(attempts):
        if stop.is_set():
            raise SourceUnavailableError(f"artwork download of {url} cancelled after another download failed")
        wait_s = backoff * 2**attempt
        tried += 1
        try:
            response = session.get(url, timeout=timeout)
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {_one_line(exc)}"
            if not isinstance(exc, transient):
                break
        else:
            with response:
                if response.status_code == 200:
                    return response.content
                if response.status_code == 404:
                    return None
                problem = f"HTTP {response.status_code} {response.reason or ''}".strip()
                if response.status_code not in _RETRY_STATUS:
                    break
                wait_s = _retry_after(response.headers.get("Retry-After"), wait_s)
        if attempt + 1 < attempts:
            logger.info("artwork %s: %s; retrying in %.2fs (%d/%d)", url, problem, wait_s, attempt + 1, retries)
            if stop.wait(wait_s):
                raise SourceUnavailableError(f"artwork download of {url} cancelled after another download failed")
    plural = "s" if tried != 1 else ""
    raise SourceUnavailableError(
        f"cannot download artwork {url}: {problem} after {tried} attempt{plural}; check the network or the URL "
        "template, or pass a local folder of {id}.png files as the artwork source"
    )


def _retry_after(header: str | None, default: float) -> float:
    if header is None:
        return default
    try:
        seconds = float(header)
    except ValueError:
        return default
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


# --- small helpers -----------------------------------------------------------------------------------------------


def _short_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- artwork stored in a built dataset ------------------------------------------------------------------------
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


def write_thumbnails(sources: Mapping[int, Path], folder: Path, *, size: int, quality: int = WEBP_QUALITY
                     ) -> dict[int, Path]:
    """WebP copies of artwork files scaled to fit `size`×`size` (LANCZOS; never enlarged) as `folder/<id>.webp`,
    for pages whose tiles are smaller than the stored 224×224 images. Unreadable sources are logged and left out."""
    from PIL import Image, UnidentifiedImageError

    if size < 1:
        raise BadInputError(f"thumbnail size must be at least 1 pixel, got {size}")
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[int, Path] = {}
    for pokemon_id, source in sources.items():
        try:
            with Image.open(source) as opened:
                image = opened.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            logger.warning("artwork %s could not be read for a thumbnail: %s", source, _one_line(exc))
            continue
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        path = folder / f"{int(pokemon_id)}.webp"
        image.save(path, "WEBP", quality=quality, method=4)
        paths[int(pokemon_id)] = path
    return paths

