"""Official artwork per Pokémon: fetched or read, composited on white, 224x224 RGB, cached on disk.

The source is either a URL template containing ``{id}`` (PokéAPI's sprites repository by default) or a local folder
of ``{id}.png`` files. A missing artwork (HTTP 404, absent file, anything in the folder that is not a regular file)
is reported as missing, never replaced by a blank image; a file that does not decode, or whose header claims more
than ``MAX_ARTWORK_PIXELS``, is logged, counted in ``corrupt`` and also treated as missing. Downloads follow
pokembed's one HTTP policy (``pokembed.http``): retries, Retry-After and a total deadline per image.

Cache layout (``cache_dir/artwork/<key>/``, ``<key>`` = short sha256 of the template or the absolute folder):
``<id>.png`` the preprocessed image; for URL sources ``<id>.missing`` marks a 404 for ``MISSING_TTL_S`` seconds
(``refresh=True`` asks again at once). A failure is never remembered: an answer that does not decode is asked for
again on the next run. For folder sources the file system is cheap to ask, so only images are cached and a cached
image is reused only while it is newer than its source file. A cache that cannot be written (full disk, read-only)
is warned about once and the build goes on without it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import operator
import os
import stat
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pokembed.sources.artwork_images import (  # noqa: F401 - IMAGE_SIZE, encode_png: part of this module's API
    IMAGE_SIZE,
    MAX_ARTWORK_PIXELS,
    PixelBudget,
    encode_png,
    preprocess_artwork,
)
from pokembed.atomic_files import write_atomic
from pokembed.errors import BadInputError, SourceUnavailableError, one_line
from pokembed.errors import describe_os_error as _os_problem
from pokembed import http as pokembed_http
from pokembed.http import DEFAULT_POLICY, HttpError, HttpPolicy

if TYPE_CHECKING:
    from pokembed.http import Session
    from PIL import Image

logger = logging.getLogger(__name__)

DEFAULT_ARTWORK_URL = (
    "https://raw.githubusercontent.com/PokeAPI/sprites/master/sprites/pokemon/other/official-artwork/{id}.png"
)

DECODE_PIXEL_BUDGET = 2 * MAX_ARTWORK_PIXELS  # pixels decoded at once by all workers together (~20 bytes each)
MAX_ARTWORK_BYTES = 64 << 20  # a larger file or download is refused
MISSING_TTL_S = 24 * 3600  # how long a 404 is remembered for a URL source
ARTWORK_DEADLINE = 60.0  # seconds per image: the request, its retries and the whole body


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
    not_found: bool = False  # missing because the URL answered 404 (now or within MISSING_TTL_S)


class _CacheWriter:
    """Writes cache files; after the first failure (full disk, read-only folder) it warns once and stops."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._failed = False
        self._lock = threading.Lock()

    def write(self, name: str, data: bytes) -> None:
        if self.folder is None or self._failed:
            return
        try:
            write_atomic(self.folder / name, data)
        except OSError as exc:
            with self._lock:
                if not self._failed:
                    self._failed = True
                    logger.warning(
                        "cannot write the artwork cache %s (%s); going on without caching artwork, so the next "
                        "build fetches it again: free space or pass a writable `cache_dir`",
                        self.folder, _os_problem(exc),
                    )


def artwork_cache_dir(cache_dir: Path, artwork: str = DEFAULT_ARTWORK_URL) -> Path:
    """The folder under ``cache_dir`` that holds the preprocessed artwork of one source."""
    return Path(cache_dir) / "artwork" / _parse_source(artwork).cache_key


def load_artwork(
    ids: Sequence[int],
    artwork: str = DEFAULT_ARTWORK_URL,
    *,
    cache_dir: Path | None = None,
    workers: int = 8,
    retries: int = DEFAULT_POLICY.retries,
    timeout: float = ARTWORK_DEADLINE,
    progress: bool = True,
    backoff: float = DEFAULT_POLICY.backoff,
    refresh: bool = False,
) -> ArtworkSet:
    """Fetch (or read) and preprocess the artwork of every id, concurrently, reusing the cache.

    ``artwork`` is a URL template containing ``{id}`` or a local folder of ``{id}.png`` files. Downloads share one
    pooled session from ``pokembed.http`` and run on at most ``workers`` threads; connection errors, timeouts, 429
    and 5xx are retried up to ``retries`` times with exponential ``backoff`` (or the server's Retry-After), all
    within ``timeout`` seconds per image. A 404 is missing artwork (warned, remembered for ``MISSING_TTL_S``, asked
    again with ``refresh``); any other persistent failure raises SourceUnavailableError naming the URL.
    ``cache_dir=None`` disables the cache. Results are ordered by id whatever order the work completes in.
    """
    source = _parse_source(artwork)
    wanted = _check_ids(ids)
    _check_options(workers=workers, retries=retries, timeout=timeout)
    cache = _open_cache(cache_dir, source)
    budget = PixelBudget(DECODE_PIXEL_BUDGET)
    policy = HttpPolicy(
        retries=retries, backoff=max(0.0, backoff), deadline=timeout,
        connect_timeout=min(DEFAULT_POLICY.connect_timeout, timeout),
        read_timeout=min(DEFAULT_POLICY.read_timeout, timeout),
    )
    session = pokembed_http.make_session(policy, pool_size=workers) if source.kind == "url" else None
    stop = threading.Event()

    def one(pokemon_id: int) -> _Outcome:
        if source.kind == "folder":
            return _load_from_folder(pokemon_id, Path(source.location), cache, budget)
        assert session is not None
        if stop.is_set():
            raise SourceUnavailableError("artwork download cancelled after another download failed")
        return _load_from_url(pokemon_id, source.location, cache, session, policy, budget, refresh=refresh)

    try:
        outcomes = _run_all(wanted, one, workers=workers, progress=progress, stop=stop)
    finally:
        if session is not None:
            session.close()
    return _artwork_set(wanted, outcomes)


def _check_options(*, workers: int, retries: int, timeout: float) -> None:
    if workers < 1:
        raise BadInputError(f"workers must be at least 1, got {workers}; pass workers=1 or more")
    if retries < 0:
        raise BadInputError(f"retries must be 0 or more, got {retries}; pass retries=0 to disable retrying")
    if not timeout > 0:
        raise BadInputError(f"timeout must be more than 0 seconds, got {timeout}")


def _open_cache(cache_dir: Path | None, source: "_Source") -> "_CacheWriter":
    """The cache writer of this source's folder; without a cache when there is none or it cannot be created."""
    target = None if cache_dir is None else Path(cache_dir) / "artwork" / source.cache_key
    if target is not None:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logger.warning("cannot create the artwork cache %s (%s); going on without it", target, _os_problem(exc))
            target = None
    return _CacheWriter(target)


def _run_all(wanted: list[int], one, *, workers: int, progress: bool, stop: threading.Event) -> dict[int, "_Outcome"]:
    """``one(id)`` for every id on ``workers`` threads, with a progress bar; the first error cancels the rest."""
    from tqdm.auto import tqdm

    outcomes: dict[int, _Outcome] = {}
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
    return outcomes


def _artwork_set(wanted: list[int], outcomes: dict[int, "_Outcome"]) -> ArtworkSet:
    """The images in id order, what is missing, corrupt or not found (warned about)."""
    images = {i: outcomes[i].image for i in wanted if outcomes[i].status == "image"}
    png = {i: outcomes[i].png for i in images}
    missing = [i for i in wanted if outcomes[i].status != "image"]
    corrupt = [i for i in wanted if outcomes[i].status == "corrupt"]
    not_found = [i for i in wanted if outcomes[i].not_found]
    if corrupt:
        logger.warning("%d artwork file(s) did not decode and count as missing: ids %s", len(corrupt), corrupt)
    if not_found:
        logger.warning(
            "%d artwork URL(s) answered 404 Not Found and count as missing: ids %s (a 404 is remembered for %d h; "
            "`refresh` asks again)", len(not_found), _id_list(not_found), MISSING_TTL_S // 3600,
        )
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


def _load_from_folder(pokemon_id: int, folder: Path, cache: _CacheWriter, budget: PixelBudget) -> _Outcome:
    path = folder / f"{pokemon_id}.png"
    data = _read_regular_file(path)
    if data is None:
        return _Outcome("missing")
    source_mtime, body = data
    if cache.folder is not None:
        cached = cache.folder / f"{pokemon_id}.png"
        try:
            fresh = cached.stat().st_mtime_ns >= source_mtime
        except OSError:
            fresh = False
        if fresh and (outcome := _read_cached(cached)) is not None:
            return outcome
    return _decode(pokemon_id, body, str(path), cache, budget)


def _read_regular_file(path: Path) -> tuple[int, bytes] | None:
    """``(mtime_ns, bytes)`` of a regular file; None (with a warning unless it is simply absent) for anything else.

    Opened non-blocking and checked on the open descriptor, so a FIFO never blocks and nothing can be swapped
    between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None  # absent, or a symlink to nothing
    except OSError as exc:
        logger.warning("artwork %s cannot be opened (%s); treating it as missing", path, _os_problem(exc))
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            logger.warning("artwork %s is not a regular file (%s); treating it as missing", path, _file_kind(info))
            return None
        if info.st_size > MAX_ARTWORK_BYTES:
            logger.warning("artwork %s is %d bytes, more than the %d allowed; treating it as missing", path,
                           info.st_size, MAX_ARTWORK_BYTES)
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return info.st_mtime_ns, handle.read(MAX_ARTWORK_BYTES + 1)
    except OSError as exc:
        logger.warning("artwork %s cannot be read (%s); treating it as missing", path, _os_problem(exc))
        return None
    finally:
        os.close(fd)


def _load_from_url(
    pokemon_id: int,
    template: str,
    cache: _CacheWriter,
    session: Session,
    policy: HttpPolicy,
    budget: PixelBudget,
    *,
    refresh: bool,
) -> _Outcome:
    target = cache.folder
    if target is not None:
        cached = target / f"{pokemon_id}.png"
        if cached.exists() and (outcome := _read_cached(cached)) is not None:
            return outcome
        marker = target / f"{pokemon_id}.missing"
        if not refresh and _younger_than(marker, MISSING_TTL_S):
            return _Outcome("missing", not_found=True)
        (target / f"{pokemon_id}.corrupt").unlink(missing_ok=True)  # left by pokembed < 0.2: never trusted
    url = template.replace("{id}", str(pokemon_id))
    body = _download(url, session, policy)
    if body is None:
        cache.write(f"{pokemon_id}.missing", b"")
        return _Outcome("missing", not_found=True)
    if target is not None:
        (target / f"{pokemon_id}.missing").unlink(missing_ok=True)
    return _decode(pokemon_id, body, url, cache, budget)


def _decode(pokemon_id: int, data: bytes, origin: str, cache: _CacheWriter, budget: PixelBudget) -> _Outcome:
    try:
        image = preprocess_artwork(data, budget=budget)
    except BadInputError as exc:
        # Never cached: a server that answered an HTML page today may answer the PNG tomorrow.
        logger.warning("artwork %s for id %d: %s; treating it as missing", origin, pokemon_id, exc)
        return _Outcome("corrupt")
    png = encode_png(image)
    cache.write(f"{pokemon_id}.png", png)
    return _Outcome("image", image, png)


def _read_cached(path: Path) -> _Outcome | None:
    """A cached preprocessed image with its PNG bytes, or None when the file is unusable."""
    from PIL import Image

    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as opened:
            if opened.size != (IMAGE_SIZE, IMAGE_SIZE):
                logger.warning("ignoring cached artwork %s of size %s; preprocessing it again", path, opened.size)
                return None
            image = opened.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        logger.warning("ignoring unreadable cached artwork %s (%s); preprocessing it again", path, one_line(exc))
        return None
    return _Outcome("image", image, data)


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


# --- HTTP --------------------------------------------------------------------------------------------------------


def _download(url: str, session: Session, policy: HttpPolicy) -> bytes | None:
    """The body of a 200 response, or None on 404; raises SourceUnavailableError for anything else."""
    try:
        result = pokembed_http.fetch(session, url, policy=policy, max_bytes=MAX_ARTWORK_BYTES)
    except HttpError as exc:
        tried = "" if exc.deadline_passed else f" after {exc.attempts} attempt{'s' if exc.attempts != 1 else ''}"
        slow = "raise --timeout (seconds per request), " if exc.deadline_passed else ""
        raise SourceUnavailableError(
            f"cannot download artwork {url}: {exc.problem}{tried}; {slow}check the network or the URL template, or "
            "pass a local folder of {id}.png files as the artwork source"
        ) from None
    if result.status == 200:
        return result.content
    if result.status == 404:
        return None
    attempts = f"{result.attempts} attempt{'s' if result.attempts != 1 else ''}"
    raise SourceUnavailableError(
        f"cannot download artwork {url}: HTTP {result.status} {result.reason}".rstrip()
        + f" after {attempts}; check the network or the URL template, or pass a local folder of {{id}}.png files "
        "as the artwork source"
    )


# --- small helpers -----------------------------------------------------------------------------------------------


def _short_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _file_kind(info: os.stat_result) -> str:
    mode = info.st_mode
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a regular file"


def _id_list(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return shown + (f", … ({len(ids) - limit} more)" if len(ids) > limit else "")

