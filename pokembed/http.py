"""One HTTP policy for every request pokembed makes: urllib3 retries and one total deadline per request.

``make_session(policy)`` gives a requests Session whose adapter retries with urllib3's ``Retry``: connection
errors, read timeouts before the headers and the statuses in ``policy.retry_statuses`` (GET, HEAD and POST: the
GraphQL query is idempotent), waiting ``backoff * 2**n`` seconds or the server's ``Retry-After`` (capped).
``fetch(session, url, ...)`` performs one request under a **total** deadline that covers the retries, the waits,
the headers and the whole body: a per-read timeout alone lets a server that drips one byte every few seconds keep
a request alive for ever. A watchdog shuts the request's socket down when the deadline passes, so even a blocked
read returns; the body is streamed and the clock checked after every chunk. A body that breaks off half-way is
fetched again (counted against the same retries and the same deadline).

Errors: ``HttpError`` (a ``SourceUnavailableError``) for a request that got no usable answer: unreachable,
deadline passed, body cut off or too large. Any HTTP status, final 5xx included, is returned for the caller to
judge; its message says what happened, the caller adds what to do.
"""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from pokembed.errors import SourceUnavailableError, one_line

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class HttpPolicy:
    """How hard to try: retries, waits between them, per-step timeouts and the total deadline per request."""

    retries: int = 3  # after the first attempt; counts connection errors, read timeouts, retried statuses, cut bodies
    backoff: float = 0.5  # seconds; waits 0, backoff*2, backoff*4, ... (urllib3's backoff_factor)
    backoff_max: float = 10.0  # longest wait between attempts when the server gives no Retry-After
    max_retry_after: float = 30.0  # a longer Retry-After is capped to this
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)
    connect_timeout: float = 10.0  # seconds per connection attempt (never more than the time left)
    read_timeout: float = 60.0  # seconds per socket read (never more than the time left)
    deadline: float = 120.0  # seconds for the whole request: every attempt, wait, header and body byte

    def __post_init__(self) -> None:
        for name in ("backoff", "backoff_max", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"HttpPolicy.{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HttpPolicy.{name} must be more than 0, got {getattr(self, name)}")
        if self.retries < 0:
            raise ValueError(f"HttpPolicy.retries must be 0 or more, got {self.retries}")


DEFAULT_POLICY = HttpPolicy()


@dataclass(frozen=True)
class HttpResult:
    """A complete answer: status, headers and the whole body."""

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


def make_session(policy: HttpPolicy = DEFAULT_POLICY, *, pool_size: int = 10) -> requests.Session:
    """A requests Session that retries by ``policy`` and lets ``fetch`` enforce its total deadline."""
    from pokembed import __version__

    session = requests.Session()
    adapter = _DeadlineAdapter(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=_retry_for(policy))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"pokembed/{__version__}"
    return session


def fetch(
    session: requests.Session,
    url: str,
    *,
    method: str = "GET",
    policy: HttpPolicy = DEFAULT_POLICY,
    deadline: float | None = None,
    max_bytes: int | None = None,
    progress: str | None = None,
    **request_kwargs,
) -> HttpResult:
    """One request, its retries and its whole body within ``deadline`` seconds (default ``policy.deadline``).

    ``session`` should come from ``make_session`` (another session still gets the deadline, without the retries).
    ``max_bytes`` bounds the body; ``progress`` is a tqdm label for a download bar. Raises HttpError.
    """
    watch = _Watch(time.monotonic() + (policy.deadline if deadline is None else deadline))
    token = _current_watch.set(watch)
    watch.start()
    try:
        for body_attempt in range(policy.retries + 1):
            remaining = watch.remaining()
            if remaining <= 0:
                raise _deadline_error(url, watch)
            timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
            try:
                response = session.request(method, url, timeout=timeout, stream=True, **request_kwargs)
            except requests.RequestException as exc:
                if watch.expired or watch.remaining() <= 0:
                    raise _deadline_error(url, watch) from None
                raise HttpError(url, _describe(exc), attempts=watch.sent) from None
            with response:
                try:
                    content = _read_body(response, watch, max_bytes, progress)
                except HttpError:
                    raise
                except (requests.RequestException, OSError) as exc:
                    if watch.expired or watch.remaining() <= 0:
                        raise _deadline_error(url, watch) from None
                    if body_attempt == policy.retries:
                        raise HttpError(url, f"the body broke off ({_describe(exc)})", attempts=watch.sent) from None
                    _sleep_within(watch, min(policy.backoff_max, policy.backoff * 2 ** (body_attempt + 1)))
                    continue
                return HttpResult(
                    url=url,
                    status=response.status_code,
                    reason=response.reason or "",
                    headers=response.headers,  # case-insensitive
                    content=content,
                    attempts=watch.sent,
                )
        raise AssertionError("unreachable")  # the loop returns or raises
    finally:
        watch.stop()
        _current_watch.reset(token)


# --- the deadline ------------------------------------------------------------------------------------------------


class _Watch:
    """One request's deadline: a thread that shuts the request's sockets down once it has passed."""

    def __init__(self, deadline_at: float):
        self.deadline_at = deadline_at
        self.started_at = time.monotonic()
        self.expired = False
        self.sent = 0  # requests sent on a connection, urllib3's retries included
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self._thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self.sent += 1
            self._connections.append(connection)
        if self.expired:
            _shut(connection)

    def _run(self) -> None:
        if self._done.wait(max(0.0, self.remaining())):
            return
        self.expired = True
        while True:  # again and again: a connection may get its socket only after the first pass
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                _shut(connection)
            if self._done.wait(0.05):
                return


_current_watch: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("pokembed_http_watch", default=None)


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for TLS sockets: SSLSocket.shutdown would drop its SSL object under a
        # read running in another thread. The blocked read then sees end of file and fails.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _WatchedRequests:
    """Mixin for urllib3 connections: register each request's socket with the running deadline's watchdog.

    An attempt starts at ``connect`` where urllib3 opens the connection before the request (HTTPS pools do), else at
    ``request``; each attempt is counted once, so a host that never accepts a connection still counts its tries.
    """

    _attempt_registered = False

    def connect(self):  # noqa: D102 (urllib3 API)
        watch = _current_watch.get()
        if watch is not None and not self._attempt_registered:
            watch.watch(self)
            self._attempt_registered = True
        try:
            return super().connect()
        except BaseException:
            self._attempt_registered = False
            raise

    def request(self, *args, **kwargs):  # noqa: D102 (urllib3 API)
        watch = _current_watch.get()
        if watch is not None:
            if watch.expired:
                self._attempt_registered = False
                raise TimeoutError("the request's deadline passed")
            if not self._attempt_registered:
                watch.watch(self)
                self._attempt_registered = True
        try:
            return super().request(*args, **kwargs)
        finally:
            self._attempt_registered = False


class _WatchedHTTPConnection(_WatchedRequests, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedRequests, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineRetry(Retry):
    """urllib3's Retry that caps Retry-After and gives up instead of waiting past the current request's deadline."""

    max_retry_after: float = DEFAULT_POLICY.max_retry_after  # set per policy by _retry_for

    def parse_retry_after(self, retry_after: str) -> float:  # noqa: D102 (urllib3 API)
        return min(super().parse_retry_after(retry_after), self.max_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        watch = _current_watch.get()
        if watch is None:
            return new
        wait = None
        if response is not None and new.respect_retry_after_header:
            header = response.headers.get("Retry-After")
            if header is not None:
                try:
                    wait = new.parse_retry_after(header)
                except Exception:  # noqa: BLE001 (a malformed header: fall back to the backoff)
                    wait = None
        if wait is None:
            wait = new.get_backoff_time()
        if watch.expired or time.monotonic() + wait >= watch.deadline_at:
            reason = error or ResponseError(f"no time left for a retry in {wait:.1f} s before the deadline")
            raise MaxRetryError(_pool, url, reason) from reason
        return new


class _DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections register with the current request's deadline watch."""

    def init_poolmanager(self, *args, **kwargs):  # noqa: D102 (requests API)
        super().init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # noqa: D102 (requests API)
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _use_watched_pools(manager)
        return manager


def _use_watched_pools(manager) -> None:
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _retry_for(policy: HttpPolicy) -> Retry:
    # A subclass per policy carries the Retry-After cap through urllib3's Retry.new() copies (which pass only
    # urllib3's own arguments); only recent urllib3 2.x releases take retry_after_max.
    retry_class = type("PolicyRetry", (_DeadlineRetry,), {"max_retry_after": policy.max_retry_after})
    return retry_class(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        other=0,
        allowed_methods=RETRY_METHODS,
        status_forcelist=policy.retry_statuses,
        backoff_factor=policy.backoff,
        backoff_max=policy.backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer comes back to the caller, who names its status
        raise_on_redirect=False,
    )


# --- body and messages -------------------------------------------------------------------------------------------


def _read_body(response, watch: _Watch, max_bytes: int | None, progress: str | None) -> bytes:
    from tqdm.auto import tqdm

    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() and "Content-Encoding" not in response.headers else None
    if max_bytes is not None and total is not None and total > max_bytes:
        raise HttpError(response.url, f"the body of {total} bytes is larger than the {max_bytes} allowed",
                        attempts=watch.sent)
    chunks: list[bytes] = []
    size = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=progress, disable=progress is None, leave=False) as bar:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            if watch.expired or watch.remaining() <= 0:
                raise TimeoutError("the request's deadline passed during the body")
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise HttpError(response.url, f"the body is larger than the {max_bytes} bytes allowed",
                                attempts=watch.sent)
            chunks.append(chunk)
            bar.update(len(chunk))
    if watch.expired:
        raise TimeoutError("the request's deadline passed during the body")
    return b"".join(chunks)


def _deadline_error(url: str, watch: _Watch) -> HttpError:
    seconds = watch.deadline_at - watch.started_at
    attempts = max(watch.sent, 1)
    return HttpError(
        url, f"no complete answer within the {seconds:.3g} s deadline ({_plural(attempts, 'attempt')})",
        attempts=attempts, deadline_passed=True,
    )


def _sleep_within(watch: _Watch, seconds: float) -> None:
    time.sleep(max(0.0, min(seconds, watch.remaining())))


def _describe(exc: BaseException) -> str:
    reason = exc.args[0] if exc.args else exc
    inner = getattr(reason, "reason", None)  # requests wraps urllib3's MaxRetryError, which holds the last error
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        kind = "connection timed out"
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        kind = "no answer in time"
    elif isinstance(exc, requests.exceptions.RetryError):
        kind = "retries used up"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connection failed"
    else:
        kind = type(exc).__name__
    detail = one_line(inner if inner is not None else reason, 160)
    return f"{kind} ({detail})" if detail else kind


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"

