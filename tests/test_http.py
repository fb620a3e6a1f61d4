"""The one HTTP policy: retries, Retry-After, and a total deadline per request, against 127.0.0.1 servers."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pokembed.errors import SourceUnavailableError
from pokembed.http import HttpError, HttpPolicy, fetch, make_session

FAST = HttpPolicy(retries=3, backoff=0.01, connect_timeout=2.0, read_timeout=2.0, deadline=10.0)


class Server:
    """A local HTTP server answering each request with the next step; a step is a function(handler)."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.hits = 0
        self.bodies: list[bytes] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    owner.bodies.append(body)
                    step = owner.steps[min(owner.hits, len(owner.steps) - 1)]
                    owner.hits += 1
                try:
                    step(self)
                except OSError:
                    pass  # the client gave up

            do_GET = do_POST = _serve  # noqa: N815 (http.server API)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/thing"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def answer(status: int, body: bytes = b"ok", headers: dict | None = None):
    def step(handler):
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    return step


def drip_body(every: float, size: int = 100):
    """Headers at once, then one body byte every ``every`` seconds: each read succeeds well within its timeout."""

    def step(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(size):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(every)

    return step


def drip_headers(every: float):
    """The status line, then one header byte every ``every`` seconds, never finishing the headers."""

    def step(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        for _ in range(1000):
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(every)

    return step


def cut_body(handler):
    """Promise 100 bytes, send 10, close."""
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    handler.wfile.write(b"0123456789")
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def sleep_then(seconds: float, then):
    def step(handler):
        time.sleep(seconds)
        then(handler)

    return step


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_plain_get():
    with Server([answer(200, b"hello")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, policy=FAST)
    assert (result.status, result.content, result.attempts) == (200, b"hello", 1)


def test_dripping_body_stops_at_the_total_deadline():
    # Each byte arrives in 0.3 s, well within the 2 s read timeout: only a total deadline ends this.
    with Server([drip_body(0.3)]) as server, make_session(FAST) as session:
        started = time.monotonic()
        with pytest.raises(HttpError, match=r"no complete answer within the 1\.5 s deadline") as info:
            fetch(session, server.url, policy=FAST, deadline=1.5)
        elapsed = time.monotonic() - started
    assert info.value.deadline_passed and isinstance(info.value, SourceUnavailableError)
    assert 1.4 < elapsed < 2.5
    assert "\n" not in str(info.value) and server.url in str(info.value)


def test_dripping_headers_stop_at_the_total_deadline():
    # The response never gets past its headers; the watchdog shuts the socket so the blocked read returns.
    with Server([drip_headers(0.2)]) as server, make_session(FAST) as session:
        started = time.monotonic()
        with pytest.raises(HttpError, match=r"deadline") as info:
            fetch(session, server.url, policy=FAST, deadline=1.0)
        elapsed = time.monotonic() - started
    assert info.value.deadline_passed and elapsed < 2.0


def test_503_with_retry_after_then_200():
    with Server([answer(503, b"busy", {"Retry-After": "1"}), answer(200, b"done")]) as server:
        with make_session(FAST) as session:
            started = time.monotonic()
            result = fetch(session, server.url, policy=FAST)
            elapsed = time.monotonic() - started
    assert (result.status, result.content, result.attempts) == (200, b"done", 2)
    assert server.hits == 2
    assert elapsed >= 0.95, "Retry-After: 1 must be waited for"


def test_retry_after_past_the_deadline_gives_up_at_once():
    with Server([answer(503, b"busy", {"Retry-After": "20"})]) as server, make_session(FAST) as session:
        started = time.monotonic()
        result = fetch(session, server.url, policy=FAST, deadline=3.0)
        elapsed = time.monotonic() - started
    assert result.status == 503 and result.attempts == 1 and server.hits == 1
    assert elapsed < 1.0


def test_retry_after_is_capped():
    policy = HttpPolicy(retries=1, backoff=0.0, max_retry_after=0.2, deadline=5.0)
    with Server([answer(429, b"slow down", {"Retry-After": "3600"}), answer(200)]) as server:
        with make_session(policy) as session:
            started = time.monotonic()
            result = fetch(session, server.url, policy=policy)
    assert result.status == 200 and time.monotonic() - started < 1.5


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retried_statuses(status):
    with Server([answer(status), answer(status), answer(200, b"fine")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, policy=FAST)
    assert result.status == 200 and result.attempts == 3 and server.hits == 3


def test_final_status_is_returned_after_the_retries():
    with Server([answer(502, b"bad gateway")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, policy=FAST)
    assert result.status == 502 and result.content == b"bad gateway"
    assert result.attempts == 4 and server.hits == 4  # 1 + 3 retries


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(status):
    with Server([answer(status, b"no")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, policy=FAST)
    assert result.status == status and server.hits == 1


def test_post_is_retried_with_its_body():
    with Server([answer(503), answer(200, b"{}")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, method="POST", json={"query": "q"}, policy=FAST)
    assert result.status == 200 and server.bodies == [b'{"query": "q"}'] * 2


def test_read_timeout_before_headers_is_retried():
    policy = HttpPolicy(retries=2, backoff=0.0, read_timeout=0.3, deadline=5.0)
    with Server([sleep_then(1.0, answer(200, b"late")), answer(200, b"quick")]) as server:
        with make_session(policy) as session:
            result = fetch(session, server.url, policy=policy)
    assert result.content == b"quick" and server.hits == 2


def test_body_cut_off_is_fetched_again():
    with Server([cut_body, answer(200, b"whole")]) as server, make_session(FAST) as session:
        result = fetch(session, server.url, policy=FAST)
    assert result.content == b"whole" and server.hits == 2


def test_body_always_cut_off_names_the_problem():
    policy = HttpPolicy(retries=1, backoff=0.0, deadline=5.0)
    with Server([cut_body]) as server, make_session(policy) as session:
        with pytest.raises(HttpError, match=r"the body broke off .* after 2 attempts") as info:
            fetch(session, server.url, policy=policy)
    assert not info.value.deadline_passed and server.hits == 2


@pytest.mark.parametrize("scheme", ["http", "https"])  # an HTTPS pool connects before the request is sent
def test_unreachable_after_retries(scheme):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"{scheme}://127.0.0.1:{port}/x"
    with make_session(FAST) as session:
        with pytest.raises(HttpError, match=r"connection failed .* after 4 attempts") as info:
            fetch(session, url, policy=FAST)
    assert info.value.attempts == 4 and "\n" not in str(info.value)


def test_body_larger_than_allowed():
    with Server([answer(200, b"x" * 5000)]) as server, make_session(FAST) as session:
        with pytest.raises(HttpError, match=r"larger than the 1000 .*allowed"):
            fetch(session, server.url, policy=FAST, max_bytes=1000)


def test_deadline_covers_the_waits_between_retries():
    # Backoff alone would wait 0 + 2 + 4 s; the deadline of 1.5 s ends it early, with the last status.
    policy = HttpPolicy(retries=3, backoff=1.0, deadline=1.5)
    with Server([answer(500)]) as server, make_session(policy) as session:
        started = time.monotonic()
        result = fetch(session, server.url, policy=policy)
    assert result.status == 500 and time.monotonic() - started < 1.5
    assert server.hits == 2  # the first retry is immediate; the next wait (2 s) would pass the deadline


def test_concurrent_requests_have_their_own_deadlines():
    # One dripping request must not cut short another one running on the same session.
    steps = {"/slow": drip_body(0.3), "/fast": answer(200, b"fast")}

    def route(handler):
        steps[handler.path](handler)

    with Server([route]) as server, make_session(FAST) as session:
        base = server.url.rsplit("/", 1)[0]
        errors: list[BaseException] = []

        def slow():
            try:
                fetch(session, base + "/slow", policy=FAST, deadline=1.0)
            except HttpError as exc:
                errors.append(exc)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)
        results = [fetch(session, base + "/fast", policy=FAST, deadline=5.0) for _ in range(5)]
        thread.join()
    assert [r.content for r in results] == [b"fast"] * 5
    assert len(errors) == 1 and errors[0].deadline_passed


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="deadline"):
        HttpPolicy(deadline=0)
    with pytest.raises(ValueError, match="retries"):
        HttpPolicy(retries=-1)


def test_the_environment_proxy_is_used_and_no_proxy_respected(monkeypatch):
    with Server([answer(200, b"via proxy")]) as proxy, make_session(FAST) as session:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.rsplit("/", 1)[0])
        monkeypatch.setenv("http_proxy", proxy.url.rsplit("/", 1)[0])
        monkeypatch.setenv("NO_PROXY", "localhost")
        monkeypatch.setenv("no_proxy", "localhost")
        result = fetch(session, "http://pokeapi.invalid/thing", policy=FAST)
    assert result.content == b"via proxy" and proxy.hits == 1


def test_first_byte_timeout_ends_a_silent_server_early():
    policy = HttpPolicy(retries=3, backoff=0.0, deadline=10.0, first_byte_timeout=0.5)
    with Server([sleep_then(3.0, answer(200, b"late"))]) as server, make_session(policy) as session:
        started = time.monotonic()
        with pytest.raises(HttpError, match=r"no first byte within 0\.5 s") as info:
            fetch(session, server.url, policy=policy)
    assert time.monotonic() - started < 1.5 and server.hits == 1 and info.value.deadline_passed


def test_a_url_that_is_not_http_is_one_line():
    with make_session(FAST) as session, pytest.raises(HttpError, match=r"not an http:// or https:// URL"):
        fetch(session, "ftp://127.0.0.1/x", policy=FAST)
