"""PokéAPI's own CSV tables at a commit of PokeAPI/pokeapi, downloaded from GitHub into the build cache.

``pokeapi:REF`` names a commit (full or short sha), a branch or a tag of https://github.com/PokeAPI/pokeapi. A full
sha is used as given; anything else is resolved to its commit through GitHub's commits API, so a build always
records the exact commit it read (``pokeapi:main`` today and in a year name two different, reproducible commits).

Only the tables the records need (:data:`pokembed.sources.csv_tables.TABLES`) are fetched, concurrently, each retried,
then checked against the size and git blob sha1 that GitHub's contents API reports for that commit; a table that
does not match is refused by name. Verified tables live in ``cache/source/pokeapi-<commit>/`` with the listing they
were checked against, so a later build at the same commit needs no network; a cached table is re-checked each time,
and nothing is cached before it passes. The records are then built by the CSV source, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pokembed.atomic_files import write_atomic
from pokembed.errors import BadInputError, SourceUnavailableError
from pokembed.local_files import read_json_object

logger = logging.getLogger(__name__)

REPO = "PokeAPI/pokeapi"
CSV_DIR = "data/v2/csv"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_RAW_URL = "https://raw.githubusercontent.com"
#: Environment variables that point the source at a mirror (or, in tests, at a local server).
API_URL_ENV = "POKEMBED_GITHUB_API_URL"
RAW_URL_ENV = "POKEMBED_GITHUB_RAW_URL"
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"[A-Za-z0-9._/-]+")
_LISTING = "listing.json"  # in the cache folder: what GitHub reported for each table at that commit
_HINT = "retry later, pass another commit as pokeapi:SHA, or use csv:PATH with a clone of PokeAPI/pokeapi"


@dataclass(frozen=True)
class TableFile:
    """One CSV table as GitHub's contents API lists it at a commit."""

    name: str  # e.g. "pokemon.csv"
    size: int | None
    blob_sha: str | None  # git blob sha1 of the file's bytes


@dataclass(frozen=True)
class GitHubEndpoints:
    """Where the API and the raw files are served: GitHub, a mirror, or a test server."""

    api: str = DEFAULT_API_URL
    raw: str = DEFAULT_RAW_URL

    @classmethod
    def from_env(cls) -> "GitHubEndpoints":
        """GitHub's own URLs unless POKEMBED_GITHUB_API_URL / POKEMBED_GITHUB_RAW_URL name others (read now)."""
        return cls(
            api=(os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/"),
            raw=(os.environ.get(RAW_URL_ENV) or DEFAULT_RAW_URL).rstrip("/"),
        )


def validate_ref(ref: str) -> str:
    """The ref of ``pokeapi:REF`` stripped; BadInputError when it cannot be a git ref."""
    ref = (ref or "").strip()
    if not ref or not _REF.fullmatch(ref) or ".." in ref or ref.startswith(("/", "-")):
        raise BadInputError(
            f"pokeapi:{ref} does not name a commit, branch or tag of {REPO}; use e.g. pokeapi:main or pokeapi:<commit sha>"
        )
    return ref


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data`` (what GitHub's contents API reports as ``sha``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fetch_tables(
    ref: str,
    *,
    cache_dir: Path,
    tables: list[str],
    endpoints: GitHubEndpoints | None = None,
    timeout: float = 60.0,
    retries: int = 4,
    backoff: float = 1.0,
    workers: int = 8,
    progress: bool = True,
) -> tuple[str, Path]:
    """Download ``tables`` (names without ``.csv``) of PokeAPI/pokeapi at ``ref`` into the cache; (commit, folder).

    ``timeout`` is the deadline of each request as a whole (connect, headers and body), ``retries`` how often a
    failed request or a table that fails its check is tried again (``backoff`` seconds before the first retry,
    doubling). SourceUnavailableError names what could not be fetched or which table did not match.
    """
    ref = validate_ref(ref)
    endpoints = endpoints or GitHubEndpoints.from_env()
    client = _Client(timeout=timeout, retries=retries, backoff=backoff)
    try:
        commit = ref if _FULL_SHA.fullmatch(ref) else resolve_commit(ref, endpoints, client)
        folder = Path(cache_dir) / "source" / f"pokeapi-{commit}"
        wanted = [f"{name}.csv" for name in tables]
        listing = _read_listing(folder)
        if listing is None or any(name not in listing for name in wanted):  # a commit's listing never changes
            listing = list_tables(commit, endpoints, client)
        missing = [name for name in wanted if name not in listing]
        if missing:
            raise SourceUnavailableError(
                f"{REPO} at {commit[:12]} has no {', '.join(missing)} in {CSV_DIR}; it predates or postdates the "
                f"tables pokembed reads: pass another commit as pokeapi:SHA"
            )
        folder.mkdir(parents=True, exist_ok=True)
        _write_listing(folder, {name: listing[name] for name in wanted})
        todo = [listing[name] for name in wanted if not _verified(folder / name, listing[name])]
        if todo:
            logger.info("downloading %d of %d PokéAPI tables at %s", len(todo), len(wanted), commit[:12])
            _download_all(todo, commit, folder, endpoints, client, workers=workers, progress=progress)
        else:
            logger.info("using the %d PokéAPI tables at %s cached in %s", len(wanted), commit[:12], folder)
    finally:
        client.close()
    return commit, folder


def resolve_commit(ref: str, endpoints: GitHubEndpoints, client: "_Client") -> str:
    """The full sha of ``ref`` (branch, tag or short sha) through ``GET /repos/{repo}/commits/{ref}``."""
    url = f"{endpoints.api}/repos/{REPO}/commits/{ref}"
    status, body = client.get(url, headers={"Accept": "application/vnd.github+json"})
    if status in (404, 422):
        raise SourceUnavailableError(f"{REPO} has no commit, branch or tag {ref!r} ({url} answered {status}); "
                                     "use pokeapi:main or a commit sha")
    _raise_for_status(status, url)
    answer = _json(body, url)
    sha = answer.get("sha") if isinstance(answer, dict) else None
    if not isinstance(sha, str) or not _FULL_SHA.fullmatch(sha):
        raise SourceUnavailableError(f"{url} answered without a commit sha; {_HINT}")
    logger.info("pokeapi:%s is commit %s", ref, sha)
    return sha


def list_tables(commit: str, endpoints: GitHubEndpoints, client: "_Client") -> dict[str, TableFile]:
    """The files of ``data/v2/csv`` at ``commit`` with their sizes and blob shas (GitHub's contents API)."""
    url = f"{endpoints.api}/repos/{REPO}/contents/{CSV_DIR}?ref={commit}"
    status, body = client.get(url, headers={"Accept": "application/vnd.github+json"})
    if status == 404:
        raise SourceUnavailableError(f"{REPO} has no {CSV_DIR} at commit {commit} ({url} answered 404); "
                                     "pass an existing commit as pokeapi:SHA")
    _raise_for_status(status, url)
    entries = _json(body, url)
    if not isinstance(entries, list):
        raise SourceUnavailableError(f"{url} did not answer with a folder listing; {_HINT}")
    listing = {}
    for entry in entries:
        if isinstance(entry, dict) and entry.get("type") == "file" and isinstance(entry.get("name"), str):
            size = entry.get("size")
            sha = entry.get("sha")
            listing[entry["name"]] = TableFile(
                name=entry["name"],
                size=size if isinstance(size, int) else None,
                blob_sha=sha if isinstance(sha, str) and _FULL_SHA.fullmatch(sha) else None,
            )
    return listing


# ---- downloads ------------------------------------------------------------------------------------------------------
def _download_all(files: list[TableFile], commit: str, folder: Path, endpoints: GitHubEndpoints, client: "_Client",
                  *, workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    total = sum(f.size or 0 for f in files) or None
    with tqdm(total=total, desc="PokéAPI tables", unit="B", unit_scale=True, disable=not progress, leave=False) as bar:
        lock = threading.Lock()

        def advance(n: int) -> None:
            with lock:
                bar.update(n)

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(files)))) as pool:
            futures = [pool.submit(_download_one, f, commit, folder, endpoints, client, advance) for f in files]
            errors = [future.exception() for future in futures]
    failed = [error for error in errors if error is not None]
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise SourceUnavailableError(f"{len(failed)} of {len(files)} PokéAPI tables failed, first: {failed[0]}") \
            from None


def _download_one(table: TableFile, commit: str, folder: Path, endpoints: GitHubEndpoints, client: "_Client",
                  advance: Callable[[int], None]) -> None:
    """Download one table, check it, then move it into place (a failed table never lands in the cache)."""
    url = f"{endpoints.raw}/{REPO}/{commit}/{CSV_DIR}/{table.name}"
    problem = ""
    for attempt in range(client.retries + 1):
        if attempt:
            delay = client.backoff * 2 ** (attempt - 1)
            logger.warning("%s: %s; retry %d/%d in %.1f s", table.name, problem, attempt, client.retries, delay)
            time.sleep(delay)
        status, data = client.get(url)
        if status != 200:
            if status == 404:
                raise SourceUnavailableError(f"table {table.name} is missing at {url} (404); {_HINT}")
            _raise_for_status(status, url)
        problem = _mismatch(table, data)
        if not problem:
            break
    else:
        raise SourceUnavailableError(f"table {table.name} from {url} {problem} after {client.retries + 1} tries; "
                                     f"{_HINT}")
    write_atomic(folder / table.name, data)
    advance(len(data))


def _mismatch(table: TableFile, data: bytes) -> str:
    """Why ``data`` is not the table GitHub listed ("" when it is)."""
    if table.size is not None and len(data) != table.size:
        return f"has {len(data):,} bytes, not the {table.size:,} GitHub lists (truncated or changed)"
    if table.blob_sha is not None and git_blob_sha1(data) != table.blob_sha:
        return f"does not match its git blob sha1 {table.blob_sha[:12]} (corrupted or changed)"
    return ""


def _verified(path: Path, table: TableFile) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    problem = _mismatch(table, data)
    if problem:
        logger.warning("cached %s %s; downloading it again", path.name, problem)
    return not problem


def _read_listing(folder: Path) -> dict[str, TableFile] | None:
    try:
        data = read_json_object(folder / _LISTING, what="table listing", fix="it is listed again")
        return {name: TableFile(name=name, size=entry["size"], blob_sha=entry["sha"]) for name, entry in data.items()}
    except (BadInputError, KeyError, TypeError):
        return None


def _write_listing(folder: Path, listing: dict[str, TableFile]) -> None:
    data = {name: {"size": t.size, "sha": t.blob_sha} for name, t in sorted(listing.items())}
    write_atomic(folder / _LISTING, json.dumps(data, indent=1, sort_keys=True))


# ---- HTTP -----------------------------------------------------------------------------------------------------------
class _Client:
    """GETs through pokembed.http (retries, one total deadline per request), shared by the download threads."""

    def __init__(self, *, timeout: float, retries: int, backoff: float) -> None:
        from pokembed.http import HttpPolicy, make_session

        self.timeout, self.retries, self.backoff = float(timeout), max(0, int(retries)), max(0.0, float(backoff))
        self._policy = HttpPolicy(retries=self.retries, backoff=self.backoff, deadline=self.timeout,
                                  connect_timeout=min(10.0, self.timeout), read_timeout=min(60.0, self.timeout))
        self._session = make_session(self._policy, pool_size=16)

    def get(self, url: str, headers: dict | None = None) -> tuple[int, bytes]:
        """(status, body) of ``url``; SourceUnavailableError when it cannot be reached in time."""
        from pokembed.http import HttpError, fetch

        try:
            result = fetch(self._session, url, policy=self._policy, headers=headers)
        except HttpError as exc:
            raise SourceUnavailableError(f"cannot fetch {exc.url} ({exc.problem}); {_HINT}") from None
        return result.status, result.content

    def close(self) -> None:
        self._session.close()


def _raise_for_status(status: int, url: str) -> None:
    if status == 403 or status == 429:
        raise SourceUnavailableError(f"{url} answered {status} (GitHub's rate limit for anonymous requests?); "
                                     f"{_HINT}")
    if status >= 400:
        raise SourceUnavailableError(f"{url} answered HTTP {status}; {_HINT}")


def _json(body: bytes, url: str):
    try:
        return json.loads(body)
    except ValueError:
        raise SourceUnavailableError(f"{url} did not answer with JSON; {_HINT}") from None
