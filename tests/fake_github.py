"""A local server playing GitHub for PokeAPI/pokeapi: the commits and contents APIs and raw files, from a folder.

``FakeGitHub(folder, refs={"main": sha})`` serves ``folder``'s files as ``data/v2/csv`` at commit ``sha``; point the
client at ``api_url`` and ``raw_url``. Faults for tests: ``truncate`` (names served cut in half), ``corrupt`` (names
served with one byte changed, same size), ``fail`` (name -> how many times to answer 502 first).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeGitHub:
    def __init__(self, folder: Path, refs: dict[str, str]):
        self.folder = Path(folder)
        self.refs = dict(refs)
        self.truncate: set[str] = set()
        self.corrupt: set[str] = set()
        self.fail: Counter = Counter()
        self.requests: list[str] = []  # paths requested, in order
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                server._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url, self.raw_url = f"{base}/api", f"{base}/raw"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "FakeGitHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoints(self):
        from pokembed.sources.github_tables import GitHubEndpoints

        return GitHubEndpoints(api=self.api_url, raw=self.raw_url)

    def raw_requests(self) -> list[str]:
        return [path.rsplit("/", 1)[-1] for path in self.requests if path.startswith("/raw/")]

    # ---- routes
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        with self._lock:
            self.requests.append(url.path)
        if m := re.fullmatch(r"/api/repos/PokeAPI/pokeapi/commits/(.+)", url.path):
            sha = self.refs.get(m.group(1)) or (m.group(1) if m.group(1) in self.refs.values() else None)
            return self._send(handler, 200, {"sha": sha}) if sha else self._send(handler, 404, {"message": "No commit"})
        if url.path == "/api/repos/PokeAPI/pokeapi/contents/data/v2/csv":
            ref = parse_qs(url.query).get("ref", [""])[0]
            if ref not in self.refs.values():
                return self._send(handler, 404, {"message": "No commit found for the ref"})
            return self._send(handler, 200, [self._entry(p) for p in sorted(self.folder.iterdir()) if p.is_file()])
        if m := re.fullmatch(r"/raw/PokeAPI/pokeapi/([0-9a-f]{40})/data/v2/csv/([^/]+)", url.path):
            sha, name = m.groups()
            path = self.folder / name
            if sha not in self.refs.values() or not path.is_file():
                return self._send(handler, 404, body=b"404: Not Found")
            with self._lock:
                if self.fail[name] > 0:
                    self.fail[name] -= 1
                    return self._send(handler, 502, body=b"bad gateway")
            data = path.read_bytes()
            if name in self.truncate:
                data = data[: len(data) // 2]
            if name in self.corrupt:
                data = data[:-2] + (b"X" if data[-2:-1] != b"X" else b"Y") + data[-1:]
            return self._send(handler, 200, body=data)
        self._send(handler, 404, {"message": "Not Found"})

    def _entry(self, path: Path) -> dict:
        data = path.read_bytes()
        return {"name": path.name, "path": f"data/v2/csv/{path.name}", "sha": blob_sha(data), "size": len(data),
                "type": "file"}

    @staticmethod
    def _send(handler, status: int, payload=None, body: bytes | None = None) -> None:
        data = body if body is not None else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json" if body is None else "text/plain")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass
