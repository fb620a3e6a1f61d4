"""The live source: one POST of the query to PokéAPI's GraphQL endpoint, with retries and an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from pokembed.atomic_files import write_atomic
from pokembed.errors import BadInputError, SourceUnavailableError, one_line
from pokembed.http import DEFAULT_POLICY
from pokembed.local_files import read_json_object
from pokembed.sources.records import check_records

logger = logging.getLogger(__name__)

PREFIX = "pokemon_v2_"
#: Relationship fields of the query; the old v1beta schema names them with the ``pokemon_v2_`` prefix.
RELATIONSHIPS = (
    "pokemon", "pokemontypes", "type", "pokemonstats", "stat", "pokemonabilities", "ability", "encounters",
    "locationarea", "location", "region", "pokemonspecy", "pokemonspeciesflavortexts", "version",
    "pokemonshape", "pokemonhabitat", "pokemonegggroups", "egggroup", "generation", "growthrate",
    "pokemoncolor", "pokemonevolutions", "evolutiontrigger", "pokemonmoves", "move",
    "pokemonspeciesnames", "pokemonforms", "pokemonformnames",
)
_RELATIONSHIP_RE = re.compile(r"\b(" + "|".join(RELATIONSHIPS) + r")\b(?=\s*[({])")
#: Total seconds for the POST, its retries and its whole body (the full response is tens of MB, served slowly).
GRAPHQL_DEADLINE = 300.0
MAX_RESPONSE_BYTES = 1 << 30
_FALLBACK = "retry later or use the offline source csv:PATH (a folder of PokéAPI's data/v2/csv tables)"


@dataclass(frozen=True)
class CachedResponse:
    """A GraphQL response body (``pokemon_v2_`` prefixes as served) and when it was fetched (ISO-8601 UTC)."""

    body: dict
    fetched_at: str


def query_for_url(query: str, url: str) -> str:
    """The query in the schema the endpoint speaks: prefixed names for the old ``.../v1beta`` endpoint."""
    if urlparse(url).path.rstrip("/").endswith("/v1beta"):
        return _RELATIONSHIP_RE.sub(PREFIX + r"\1", query)
    return query


def strip_prefixes(value):
    """Drop every ``pokemon_v2_`` prefix from the keys of a JSON value (old v1beta names → v1beta2 names)."""
    if isinstance(value, dict):
        return {k.removeprefix(PREFIX): strip_prefixes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_prefixes(v) for v in value]
    return value


def cache_path(cache_dir: Path, url: str) -> Path:
    """Where the raw response for ``url`` is cached."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return Path(cache_dir) / "source" / f"graphql-{digest}.json"


def fetch_cached(
    url: str,
    query: str,
    *,
    cache_dir: Path | None = None,
    refresh: bool = False,
    timeout: float = GRAPHQL_DEADLINE,
    retries: int = DEFAULT_POLICY.retries,
    backoff: float = DEFAULT_POLICY.backoff,
    progress: bool = True,
    first_byte: float | None = None,
) -> CachedResponse:
    """The response to ``query`` at ``url``: from ``cache_dir`` when cached for this URL and query, else one POST."""
    query_sha = hashlib.sha256(query.encode("utf-8")).hexdigest()
    path = cache_path(cache_dir, url) if cache_dir is not None else None
    if path is not None and not refresh:
        cached = _read_cache(path, url, query_sha)
        if cached is not None:
            try:
                records_from_response(cached.body, url)
            except SourceUnavailableError as exc:
                logger.warning("ignoring the cached GraphQL response %s, which is not usable (%s); fetching again",
                               path, exc)
                cached = None
        if cached is not None:
            logger.info("using the GraphQL response cached at %s (fetched %s)", path, cached.fetched_at)
            return cached
    body = post_query(url, query, timeout=timeout, retries=retries, backoff=backoff, progress=progress,
                      first_byte=first_byte)
    fetched = CachedResponse(body=body, fetched_at=_utc_now())
    records_from_response(body, url)  # only a usable response is cached
    if path is not None:
        write_atomic(path, json.dumps({"url": url, "query_sha256": query_sha, "fetched_at": fetched.fetched_at, "response": body}))
    return fetched


def post_query(
    url: str,
    query: str,
    *,
    timeout: float = GRAPHQL_DEADLINE,
    retries: int = DEFAULT_POLICY.retries,
    backoff: float = DEFAULT_POLICY.backoff,
    progress: bool = True,
    first_byte: float | None = None,
) -> dict:
    """POST ``query`` and return the parsed body, by pokembed's one HTTP policy (``pokembed.http``).

    Connection errors, read timeouts, 429 and 5xx are retried ``retries`` times with exponential ``backoff`` or the
    server's Retry-After; ``timeout`` is the total deadline of the whole exchange, retries and body included;
    ``first_byte`` (seconds) ends it early when the answer has not started by then.
    """
    from pokembed.http import HttpError, fetch, make_session

    policy = replace(DEFAULT_POLICY, retries=max(0, int(retries)), backoff=max(0.0, backoff), deadline=timeout,
                     first_byte_timeout=first_byte)
    headers = {"Accept": "application/json"}
    with make_session(policy, pool_size=1) as session:
        try:
            result = fetch(
                session, url, method="POST", json={"query": query}, headers=headers, policy=policy,
                max_bytes=MAX_RESPONSE_BYTES, progress="PokéAPI GraphQL" if progress else None,
            )
        except HttpError as exc:
            if exc.deadline_passed:
                waited = first_byte if first_byte is not None and first_byte < timeout and "first byte" in exc.problem \
                    else timeout
                raise SourceUnavailableError(
                    f"{url} did not answer within {waited:g} s; raise --timeout (seconds per request, now "
                    f"{timeout:g}), {_FALLBACK}"
                ) from None
            raise SourceUnavailableError(
                f"cannot reach {url} after {_attempts(exc.attempts)}, last: {exc.problem}; {_FALLBACK}"
            ) from None
    status = result.status
    if status == 429 or status >= 500:
        raise SourceUnavailableError(
            f"cannot reach {url} after {_attempts(result.attempts)}, last: HTTP {status}; {_FALLBACK}"
        )
    if status >= 400:
        raise SourceUnavailableError(
            f"{url} answered HTTP {status} ({one_line(result.content.decode('utf-8', 'replace'), 160)}); check the "
            f"URL (PokéAPI's GraphQL endpoint is graphql:https://graphql.pokeapi.co/v1beta2) or {_FALLBACK}"
        )
    return _parse_body(url, result.content)


def records_from_response(body: dict, url: str) -> tuple[list[dict], list[tuple[int, int, bool, str | None]]]:
    """The records (prefixes stripped, key order kept) and ``(id, species_id, is_default, display_name)`` rows of a
    response."""
    data = body.get("data") if isinstance(body, dict) else None
    data = strip_prefixes(data) if isinstance(data, dict) else None
    records = data.get("pokemon") if data else None
    meta = data.get("meta") if data else None
    if not isinstance(records, list) or not isinstance(meta, list):
        raise SourceUnavailableError(
            f"{url} answered without data.pokemon and data.meta lists; check that it is PokéAPI's GraphQL "
            f"endpoint or {_FALLBACK}"
        )
    meta_rows = check_records(
        records, meta, origin=url, fix=f"fix the endpoint or {_FALLBACK}", error=SourceUnavailableError
    )
    return records, meta_rows


def _parse_body(url: str, content: bytes) -> dict:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceUnavailableError(
            f"{url} answered invalid JSON ({len(content)} bytes, {one_line(exc, 120)}), a truncated or non-GraphQL "
            f"response; {_FALLBACK}"
        ) from None
    if not isinstance(body, dict):
        raise SourceUnavailableError(f"{url} answered JSON that is not a GraphQL response object; {_FALLBACK}")
    errors = body.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) else errors
        message = first.get("message", first) if isinstance(first, dict) else first
        count = len(errors) if isinstance(errors, list) else 1
        raise SourceUnavailableError(
            f"{url} answered GraphQL errors ({count}), first: {one_line(message, 200)}; check that the URL is "
            f"PokéAPI's v1beta2 endpoint (the query uses names without pokemon_v2_) or {_FALLBACK}"
        )
    return body


def _attempts(count: int) -> str:
    return f"{count} attempt{'' if count == 1 else 's'}"


def _read_cache(path: Path, url: str, query_sha: str) -> CachedResponse | None:
    if not path.is_file():
        return None
    try:
        cached = read_json_object(path, what="cached response", fix="it is fetched again")
        if cached.get("url") != url or cached.get("query_sha256") != query_sha:
            logger.info("cached response %s is for another URL or query; fetching again", path)
            return None
        return CachedResponse(body=cached["response"], fetched_at=cached["fetched_at"])
    except (BadInputError, KeyError) as exc:
        logger.warning("ignoring unreadable cached response %s (%s); fetching again", path, exc)
        return None




def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

