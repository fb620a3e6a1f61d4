"""One HTTP policy for every request pokembed makes: retries, waits and one total deadline per request.

``make_session(policy)`` gives a ``Session``: a pool of kept-alive connections (httpcore's ``ConnectionPool``).
``fetch(session, url, ...)`` performs one request under a **total** deadline that covers every attempt, the waits
between them, the headers and the whole body: a per-read timeout alone lets a server that drips one byte every few
seconds keep a request alive for ever. The deadline is enforced through httpcore's public network-backend interface:
every connect, read and write gets at most the time left before the deadline, so even a server that drips its
headers is cut off on time, with no watchdog thread and no subclass of a library's connection classes.

Retried, ``policy.retries`` times: connection errors, timeouts of one step, a body that breaks off, and the statuses
in ``policy.retry_statuses`` (GET, HEAD and POST: the GraphQL query is idempotent), waiting ``0``, then
``backoff * 2**n`` seconds, or the server's ``Retry-After`` (capped); a wait that would pass the deadline ends the
retries at once.

Errors: ``HttpError`` (a ``SourceUnavailableError``) for a request that got no usable answer: unreachable,
deadline passed, body cut off or too large. Any HTTP status, final 5xx included, is returned for the caller to
judge; its message says what happened, the caller adds what to do.
"""

from __future__ import annotations

import contextvars
import email.utils
import json as jsonlib
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpcore

from pokembed.errors import SourceUnavailableError, one_line

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class HttpPolicy:
    """How hard to try: retries, waits between them, per-step timeouts and the total deadline per request."""

    retries: int = 3  # after the first attempt; counts connection errors, step timeouts, retried statuses, cut bodies
    backoff: float = 0.5  # seconds; waits 0, backoff*2, backoff*4, ...
    backoff_max: float = 10.0  # longest wait between attempts when the server gives no Retry-After
    max_retry_after: float = 30.0  # a longer Retry-After is capped to this
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)
    connect_timeout: float = 10.0  # seconds per connection attempt (never more than the time left)
    read_timeout: float = 60.0  # seconds per socket read (never more than the time left)
    deadline: float = 120.0  # seconds for the whole request: every attempt, wait, header and body byte
    first_byte_timeout: float | None = None  # seconds for an attempt's headers (a short first chance); None: no limit

    def __post_init__(self) -> None:
        for name in ("backoff", "backoff_max", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"HttpPolicy.{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HttpPolicy.{name} must be more than 0, got {getattr(self, name)}")
        if self.first_byte_timeout is not None and not self.first_byte_timeout > 0:
            raise ValueError(f"HttpPolicy.first_byte_timeout must be more than 0, got {self.first_byte_timeout}")
        if self.retries < 0:
            raise ValueError(f"HttpPolicy.retries must be 0 or more, got {self.retries}")


DEFAULT_POLICY = HttpPolicy()


@dataclass(frozen=True)
class HttpResult:
    """A complete answer: status, headers (keys in lower case) and the whole body."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes
    attempts: int  # requests sent, retries included


class HttpError(SourceUnavailableError):
    """A request that got no usable answer. ``problem`` says why in a few words (no URL, no attempt count)."""

    def __init__(self, url: str, problem: str, *, attempts: int = 1, deadline_passed: bool = False):
        tried = "" if deadline_passed else f" after {_plural(attempts, 'attempt')}"
        super().__init__(f"{url}: {problem}{tried}")
        self.url = url
        self.problem = problem
        self.attempts = attempts
        self.deadline_passed = deadline_passed


# The deadline (time.monotonic()) of the request running in this thread: read by the network backend.
_deadline_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("pokembed_http_deadline", default=None)


class Session:
    """Kept-alive connections shared by the requests of one job (thread-safe); the proxy from the environment."""

    def __init__(self, pool_size: int = 10) -> None:
        from pokembed import __version__

        self.headers = {"User-Agent": f"pokembed/{__version__}"}
        self._size = max(1, pool_size)
        self._pools: dict[str | None, httpcore.ConnectionPool] = {}
        self._lock = threading.Lock()  # download threads share the session

    def pool_for(self, url: str) -> httpcore.ConnectionPool:
        """The pool for ``url``: direct, or through the environment's proxy for its scheme (NO_PROXY respected)."""
        parts = urllib.parse.urlsplit(url)
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
        with self._lock:
            if proxy not in self._pools:
                self._pools[proxy] = httpcore.ConnectionPool(
                    proxy=httpcore.Proxy(proxy) if proxy else None, max_connections=self._size,
                    network_backend=_DeadlineBackend(httpcore.SyncBackend()),
                )
            return self._pools[proxy]

    def close(self) -> None:
        """Close every kept-alive connection."""
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_session(policy: HttpPolicy = DEFAULT_POLICY, *, pool_size: int = 10) -> Session:
    """A Session for ``fetch`` (``policy`` is passed to each ``fetch``; kept here for callers that log it)."""
    return Session(pool_size)


def fetch(
    session: Session,
    url: str,
    *,
    method: str = "GET",
    policy: HttpPolicy = DEFAULT_POLICY,
    deadline: float | None = None,
    max_bytes: int | None = None,
    progress: str | None = None,
    headers: Mapping[str, str] | None = None,
    json: object = None,
) -> HttpResult:
    """One request, its retries and its whole body within ``deadline`` seconds (default ``policy.deadline``).

    ``json`` is sent as the body; ``max_bytes`` bounds the answer's body; ``progress`` is a tqdm label for a
    download bar. Raises HttpError.
    """
    started = time.monotonic()
    ends = started + (policy.deadline if deadline is None else deadline)
    request = _Request(method.upper(), url, {**session.headers, **(headers or {})}, None)
    if json is not None:
        request = _Request(request.method, url, {**request.headers, "Content-Type": "application/json"},
                           jsonlib.dumps(json).encode())
    token = _deadline_at.set(ends)
    try:
        return _with_retries(session.pool_for(url), request, policy, started, ends, max_bytes, progress)
    finally:
        _deadline_at.reset(token)


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _with_retries(pool, request: _Request, policy: HttpPolicy, started: float, ends: float,
                  max_bytes: int | None, progress: str | None) -> HttpResult:
    retry_methods = request.method in RETRY_METHODS
    for attempt in range(1, policy.retries + 2):
        last = attempt == policy.retries + 1 or not retry_methods
        if time.monotonic() >= ends:
            raise _deadline_error(request.url, started, ends, attempt - 1)
        try:
            result = _attempt(pool, request, policy, ends, max_bytes, progress, attempt)
        except _AttemptFailed as failed:
            if time.monotonic() >= ends or (failed.timed_out and ends - time.monotonic() < 0.05):
                raise _deadline_error(request.url, started, ends, attempt) from None
            if last or not _wait_within(_backoff(policy, attempt), ends):
                raise HttpError(request.url, failed.problem, attempts=attempt) from None
            continue
        if last or result.status not in policy.retry_statuses:
            return result
        if not _wait_within(_retry_after(result, policy) or _backoff(policy, attempt), ends):
            return result
    raise AssertionError("unreachable")  # the loop returns or raises


class _AttemptFailed(Exception):
    def __init__(self, problem: str, timed_out: bool):
        super().__init__(problem)
        self.problem = problem
        self.timed_out = timed_out


def _attempt(pool, request: _Request, policy: HttpPolicy, ends: float, max_bytes: int | None,
             progress: str | None, attempt: int) -> HttpResult:
    first = policy.first_byte_timeout
    headers_by = min(ends, time.monotonic() + first) if first is not None else ends
    timeouts = {"connect": policy.connect_timeout, "read": policy.read_timeout, "write": policy.read_timeout,
                "pool": max(0.001, headers_by - time.monotonic())}  # each also capped to the time left
    in_body = False
    token = _deadline_at.set(headers_by)
    try:
        with pool.stream(request.method, request.url, headers=list(request.headers.items()), content=request.body,
                         extensions={"timeout": timeouts}) as response:
            in_body = True
            _deadline_at.reset(token)
            token = None
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
            body = _read_body(response, request.url, headers, max_bytes, progress, attempt)
            reason = response.extensions.get("reason_phrase", b"").decode("latin-1")
            return HttpResult(request.url, response.status, reason, headers, body, attempt)
    except httpcore.UnsupportedProtocol as exc:
        raise HttpError(request.url, f"not an http:// or https:// URL ({one_line(exc, 120)})") from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException, OSError) as exc:
        timed_out = isinstance(exc, (httpcore.TimeoutException, TimeoutError))
        if not in_body and timed_out and headers_by < ends and time.monotonic() >= headers_by:
            raise HttpError(request.url, f"no first byte within {first:g} s (the first-byte timeout)",
                            attempts=attempt, deadline_passed=True) from None
        problem = f"the body broke off ({_describe(exc)})" if in_body else _describe(exc)
        raise _AttemptFailed(problem, timed_out) from None
    finally:
        if token is not None:
            _deadline_at.reset(token)


def _read_body(response, url: str, headers: dict[str, str], max_bytes: int | None, progress: str | None, attempt: int) -> bytes:
    from tqdm.auto import tqdm

    length = headers.get("content-length", "")
    total = int(length) if length.isdigit() and "content-encoding" not in headers else None
    if max_bytes is not None and total is not None and total > max_bytes:
        raise HttpError(url, f"the body of {total} bytes is larger than the {max_bytes} allowed", attempts=attempt)
    chunks: list[bytes] = []
    size = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=progress, disable=progress is None, leave=False) as bar:
        for chunk in response.iter_stream():
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise HttpError(url, f"the body is larger than the {max_bytes} bytes allowed", attempts=attempt)
            chunks.append(chunk)
            bar.update(len(chunk))
    return b"".join(chunks)


# --- the deadline, through httpcore's public network-backend interface ----------------------------------------------


def _time_left(timeout: float | None) -> float | None:
    """``timeout`` capped to the time left before the current request's deadline; ReadTimeout once it has passed."""
    ends = _deadline_at.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: D102 (httpcore API)
        return self._stream.read(min(max_bytes, _CHUNK), _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: D102 (httpcore API)
        self._stream.write(buffer, _time_left(timeout))

    def close(self) -> None:  # noqa: D102 (httpcore API)
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # noqa: D102 (httpcore API)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str):  # noqa: D102 (httpcore API)
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend whose connections honour the current request's deadline."""

    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: D102
        return _DeadlineStream(self._backend.connect_tcp(host, port, _time_left(timeout), local_address,
                                                         socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: D102 (httpcore API)
        return _DeadlineStream(self._backend.connect_unix_socket(path, _time_left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:  # noqa: D102 (httpcore API)
        self._backend.sleep(seconds)


# --- waits and messages ------------------------------------------------------------------------------------------


def _backoff(policy: HttpPolicy, attempt: int) -> float:
    """The wait before retry number ``attempt``: 0 for the first, then backoff * 2**n, capped."""
    return 0.0 if attempt <= 1 else min(policy.backoff_max, policy.backoff * 2 ** (attempt - 1))


def _retry_after(result: HttpResult, policy: HttpPolicy) -> float | None:
    """The server's Retry-After in seconds (a number or an HTTP date), capped; None when absent or malformed."""
    value = result.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, policy.max_retry_after))


def _wait_within(seconds: float, ends: float) -> bool:
    """Sleep ``seconds`` and say True, or say False at once when that would pass the deadline."""
    if time.monotonic() + seconds >= ends:
        return False
    time.sleep(seconds)
    return True


def _deadline_error(url: str, started: float, ends: float, attempts: int) -> HttpError:
    attempts = max(attempts, 1)
    return HttpError(
        url, f"no complete answer within the {ends - started:.3g} s deadline ({_plural(attempts, 'attempt')})",
        attempts=attempts, deadline_passed=True,
    )


def _describe(exc: BaseException) -> str:
    kind = {
        httpcore.ConnectTimeout: "connection timed out",
        httpcore.ReadTimeout: "no answer in time",
        httpcore.WriteTimeout: "sending timed out",
        httpcore.PoolTimeout: "no free connection in time",
        httpcore.ConnectError: "connection failed",
        httpcore.RemoteProtocolError: "the server broke the protocol",
    }.get(type(exc), type(exc).__name__)
    detail = one_line(exc, 160)
    return f"{kind} ({detail})" if detail and detail != type(exc).__name__ else kind


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
