"""A small in-process Hugging Face Hub for tests: huggingface_hub's real client runs against it unchanged.

It plays the routes that repo creation, one-commit uploads (preupload, LFS batch + basic PUT, NDJSON commit), refs,
tags, tree listings and file downloads use, plus Spaces (sdk, variables, runtime, restart; see the block at the end),
keeps everything in memory for assertions, and can require a bearer token (for every write and for reading private
repos; a wrong token is always refused). ``hub.fail(method, path_pattern, status)`` makes matching requests fail.
Start it with ``with FakeHub(token="hf_x") as hub:`` and point the client at ``hub.endpoint``. Uploads must take the
LFS path, not Xet (the client picks Xet whenever ``hf_xet`` is importable): ``no_xet(monkeypatch)`` switches it off.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".safetensors", ".png", ".jpg")
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
_REPO = r"(?P<type>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+?)"  # as in /api/{type}s/{repo_id}/...
_GIT_REPO = r"(?:(?P<type>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+?)"  # as in /{prefix}{repo_id}.git or /resolve/


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1 the Hub reports for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def isolate_hub_env(monkeypatch, home) -> None:
    """No real token, no saved login, no offline mode, no Xet, no progress bars; HF_HOME at `home`."""
    import importlib

    from huggingface_hub import constants

    hf_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")  # the module, not the class of that name
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    no_xet(monkeypatch)


def no_xet(monkeypatch) -> None:
    """Make huggingface_hub upload through the LFS protocol this server speaks (it uses Xet when hf_xet is installed)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")


@dataclass
class Commit:
    oid: str
    message: str
    parent: str | None
    files: dict[str, bytes]  # the full tree after this commit
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class Repo:
    repo_type: str  # "dataset", "model", "space"
    repo_id: str
    private: bool = False
    commits: list[Commit] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit oid

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def commit(self, revision: str) -> Commit | None:
        oid = self.tags.get(revision, self.head.oid if revision == "main" else revision)
        return next((c for c in self.commits if c.oid == oid or (len(revision) >= 7 and c.oid.startswith(oid))), None)


class FakeHub:
    """Threaded HTTP server on 127.0.0.1 holding repos, commits, tags and LFS objects in memory."""

    def __init__(self, token: str | None = None, user: str = "tester"):
        self.token, self.user = token, user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> bytes, filled by the basic-transfer PUT
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.unhandled: list[tuple[str, str]] = []  # requests no route matched (answered 404)
        self.seen_auth: set[str] = set()  # Authorization headers received
        self.spaces: dict[str, SpaceState] = {}  # Space repo id -> its settings and (re)starts
        self.failures: list[list] = []  # [method, path pattern, status, times left] set by `fail`
        self._lock = threading.Lock()
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def add_repo(self, repo_id: str, repo_type: str = "dataset", private: bool = False) -> Repo:
        """Create a repo the way the Hub does: with an initial commit holding `.gitattributes`."""
        repo = Repo(repo_type, repo_id, private)
        files = {".gitattributes": GITATTRIBUTES}
        repo.commits.append(Commit(self._oid("init", repo_id), "initial commit", None, files, [".gitattributes"]))
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def fail(self, method: str, pattern: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` requests of `method` whose path fully matches `pattern` with `status`."""
        self.failures.append([method, pattern, status, times])

    def _oid(self, *parts: object) -> str:
        return hashlib.sha1(repr((parts, sum(len(r.commits) for r in self.repos.values()))).encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    authed: bool = False
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    # ---- plumbing -------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload=None, headers: dict | None = None, body: bytes | None = None) -> None:
        data = body if body is not None else json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message} | ({"X-Error-Code": code} if code else {})
        self._send(status, {"error": message}, headers)

    def _dispatch(self) -> None:
        hub, url = self.hub, urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        with hub._lock:
            hub.requests.append((self.command, path))
        if auth := self.headers.get("Authorization"):
            hub.seen_auth.add(auth)
        body = self._body() if self.command in ("POST", "PUT", "DELETE") else b""
        self.authed = hub.token is None or auth == f"Bearer {hub.token}"
        if hub.token and not path.startswith("/lfs-upload/"):  # the upload href is pre-signed, as on the Hub
            if auth is not None and not self.authed:
                return self._error(401, "Invalid credentials in Authorization header")
            if auth is None and self.command not in ("GET", "HEAD"):  # anonymous reads of public repos are fine
                return self._error(401, "Invalid credentials in Authorization header")
        for failure in hub.failures:
            if failure[3] > 0 and failure[0] == self.command and re.fullmatch(failure[1], path):
                failure[3] -= 1
                return self._error(failure[2], f"fake hub: injected failure of {self.command} {path}")
        for method, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and self.command in method.split("|"):
                groups = {k: v and unquote(v) for k, v in match.groupdict().items()}
                with hub._lock:
                    return handler(self, body=body, query=query, **groups)
        hub.unhandled.append((self.command, path))
        self._error(404, f"fake hub: no route for {self.command} {path}")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _repo(self, type: str | None, repo: str) -> Repo | None:
        found = self.hub.repo(repo, (type or "models")[:-1])
        if found is None or (found.private and not self.authed):
            self._error(404, "Repository not found", "RepoNotFound")
        return found

    def _revision(self, repo: Repo, revision: str) -> Commit | None:
        commit = repo.commit(revision)
        if commit is None:
            self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    # ---- routes ---------------------------------------------------------------------------------------------
    def whoami(self, **_) -> None:
        self._send(200, {"type": "user", "name": self.hub.user, "orgs": [], "auth": {"type": "access_token"}})

    def validate_yaml(self, **_) -> None:
        self._send(200, {"errors": [], "warnings": []})

    def create_repo(self, body: bytes, **_) -> None:
        data = json.loads(body)
        repo_type = data.get("type") or "model"
        repo_id = f"{data.get('organization') or self.hub.user}/{data['name']}"
        url = f"{self.hub.endpoint}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        if self.hub.repo(repo_id, repo_type):  # the Hub answers 409 with the url; exist_ok=True reads it
            return self._send(409, {"error": "You already created this repo", "url": url})
        if repo_type == "space" and not data.get("sdk"):
            return self._error(400, "sdk is required for a Space")
        self.hub.add_repo(repo_id, repo_type, private=data.get("visibility", "public") != "public")
        if repo_type == "space":
            self.hub.spaces[repo_id] = SpaceState(sdk=data["sdk"])
        self._send(200, {"url": url, "name": repo_id})

    def repo_info(self, type: str, repo: str, revision: str | None = None, **_) -> None:
        if (found := self._repo(type, repo)) and (commit := self._revision(found, revision or "main")):
            siblings = [{"rfilename": p} for p in sorted(commit.files)]
            self._send(200, {"id": found.repo_id, "sha": commit.oid, "private": found.private, "siblings": siblings,
                             "tags": [], "downloads": 0, "likes": 0})

    def refs(self, type: str, repo: str, **_) -> None:
        if found := self._repo(type, repo):
            def ref(name: str, kind: str, oid: str) -> dict:
                return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}
            self._send(200, {"branches": [ref("main", "heads", found.head.oid)], "converts": [], "pullRequests": [],
                             "tags": [ref(tag, "tags", oid) for tag, oid in sorted(found.tags.items())]})

    def preupload(self, type: str, repo: str, revision: str, body: bytes, **_) -> None:
        if (found := self._repo(type, repo)) and (commit := self._revision(found, revision)):
            answers = []
            for item in json.loads(body)["files"]:
                lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] >= 10_000_000
                old = commit.files.get(item["path"])
                oid = None if old is None else hashlib.sha256(old).hexdigest() if lfs else git_blob_oid(old)
                answers.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                                "shouldIgnore": False, "oid": oid})
            self._send(200, {"files": answers, "commitOid": commit.oid})

    def lfs_batch(self, type: str, repo: str, body: bytes, **_) -> None:
        if self._repo(type, repo):
            objects = []
            for obj in json.loads(body)["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
                if obj["oid"] not in self.hub.lfs:  # only ask for what is not stored yet
                    entry["actions"] = {"upload": {"href": f"{self.hub.endpoint}/lfs-upload/{obj['oid']}"}}
                objects.append(entry)
            self._send(200, {"transfer": "basic", "objects": objects})

    def lfs_upload(self, oid: str, body: bytes, **_) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            return self._error(400, "sha256 mismatch")
        self.hub.lfs[oid] = body
        self._send(200, {})

    def commit(self, type: str, repo: str, revision: str, body: bytes, **_) -> None:
        if not ((found := self._repo(type, repo)) and (head := self._revision(found, revision))):
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        if header.get("parentCommit") and not head.oid.startswith(header["parentCommit"]):
            return self._error(412, "A commit has happened since. Please refresh and try again.")
        files, added, deleted = dict(head.files), [], []
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if value["oid"] not in self.hub.lfs:
                    return self._error(422, f"LFS object {value['oid']} was not uploaded")
                files[value["path"]] = self.hub.lfs[value["oid"]]
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    return self._error(404, "A file with this name doesn't exist", "EntryNotFound")
            if key != "header":
                (deleted if key == "deletedFile" else added).append(value["path"])
        oid = self.hub._oid(found.repo_id, header["summary"], sorted(files))
        found.commits.append(Commit(oid, header["summary"], head.oid, files, added, deleted))
        if found.repo_type == "space":  # as on the Hub: a push to a Space rebuilds and restarts it
            self.hub.spaces.setdefault(found.repo_id, SpaceState(sdk=None)).start("commit", oid)
        url = f"{self.hub.endpoint}/{type}/{found.repo_id}/commit/{oid}"
        self._send(200, {"success": True, "commitOid": oid, "commitUrl": url, "pullRequestUrl": None})

    def tag(self, type: str, repo: str, revision: str, body: bytes, **_) -> None:
        if (found := self._repo(type, repo)) and (commit := self._revision(found, revision)):
            name = json.loads(body)["tag"]
            if name in found.tags:
                return self._error(409, f"Tag {name} already exists")
            found.tags[name] = commit.oid
            self._send(200, {})

    def tree(self, type: str, repo: str, revision: str, path: str | None = None, query=None, **_) -> None:
        if not ((found := self._repo(type, repo)) and (commit := self._revision(found, revision))):
            return
        prefix = f"{path.strip('/')}/" if path and path.strip("/") else ""
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        entries: dict[str, dict] = {}
        for name, data in sorted(commit.files.items()):
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix):].split("/")
            for depth in range(1, len(parts)):
                folder = prefix + "/".join(parts[:depth])
                entries.setdefault(folder, {"type": "directory", "path": folder, "oid": git_blob_oid(folder.encode())})
                if not recursive:
                    break
            if recursive or len(parts) == 1:
                entry = {"type": "file", "path": name, "size": len(data), "oid": git_blob_oid(data)}
                if name.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries[name] = entry
        self._send(200, list(entries.values()))

    def resolve(self, type: str | None, repo: str, revision: str, path: str, **_) -> None:
        found = self._repo(type, repo)
        if not (found and (commit := self._revision(found, revision))):
            return
        if path not in commit.files:
            return self._error(404, "Entry not found", "EntryNotFound")
        data = commit.files[path]
        etag = hashlib.sha256(data).hexdigest() if path.endswith(LFS_SUFFIXES) else git_blob_oid(data)
        self._send(200, headers={"X-Repo-Commit": commit.oid, "ETag": f'"{etag}"'}, body=data)


ROUTES = [
    ("GET", r"/api/whoami-v2", _Handler.whoami),
    ("POST", r"/api/validate-yaml", _Handler.validate_yaml),
    ("POST", r"/api/repos/create", _Handler.create_repo),
    ("GET", rf"/api/{_REPO}(?:/revision/(?P<revision>[^/]+))?", _Handler.repo_info),
    ("GET", rf"/api/{_REPO}/refs", _Handler.refs),
    ("POST", rf"/api/{_REPO}/preupload/(?P<revision>[^/]+)", _Handler.preupload),
    ("POST", rf"/{_GIT_REPO}\.git/info/lfs/objects/batch", _Handler.lfs_batch),
    ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", _Handler.lfs_upload),
    ("POST", rf"/api/{_REPO}/commit/(?P<revision>[^/]+)", _Handler.commit),
    ("POST", rf"/api/{_REPO}/tag/(?P<revision>[^/]+)", _Handler.tag),
    ("GET", rf"/api/{_REPO}/tree/(?P<revision>[^/]+)(?P<path>/.*)?", _Handler.tree),
    ("GET|HEAD", rf"/{_GIT_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", _Handler.resolve),
]


# ---- Spaces: settings, variables, runtime and restart ----------------------------------------------------------------
@dataclass
class SpaceState:
    """What the fake keeps about a Space besides its git repo: the SDK, its variables and every (re)start, each with
    the variables it started with, i.e. what the Space served from then on."""

    sdk: str | None
    variables: dict[str, dict] = field(default_factory=dict)  # key -> {"value", "description", "updatedAt"}
    stage: str = "NO_APP_FILE"
    starts: list[dict] = field(default_factory=list)  # {"cause": "commit"|"restart", "commit", "variables"}

    def start(self, cause: str, commit: str | None) -> None:
        self.stage = "BUILDING"
        self.starts.append({"cause": cause, "commit": commit,
                            "variables": {k: v["value"] for k, v in self.variables.items()}})

    @property
    def serving(self) -> dict[str, str] | None:
        """The variables of the latest start (None before the first)."""
        return self.starts[-1]["variables"] if self.starts else None


def _space(handler: _Handler, repo: str) -> SpaceState | None:
    """The Space's state, or an error answer: 404 for an unknown Space, 401 for settings read or written without
    the token (variables and restarts are the owner's)."""
    found = handler._repo("spaces", repo)
    if found is None:
        return None
    if handler.hub.token and not handler.authed:
        handler._error(401, "Invalid credentials in Authorization header")
        return None
    return handler.hub.spaces.setdefault(repo, SpaceState(sdk=None))


def _variables_payload(space: SpaceState) -> dict:
    return {key: dict(value) for key, value in sorted(space.variables.items())}


def _runtime_payload(space: SpaceState) -> dict:
    return {"stage": space.stage, "hardware": {"current": "cpu-basic", "requested": "cpu-basic"},
            "gcTimeout": 172800, "storage": None, "devMode": False}


def space_variables(handler: _Handler, repo: str, body: bytes, **_) -> None:
    if (space := _space(handler, repo)) is None:
        return
    if handler.command == "POST":
        data = json.loads(body)
        space.variables[data["key"]] = {"value": data["value"], "description": data.get("description"),
                                        "updatedAt": "2026-11-30T00:00:00.000Z"}
    elif handler.command == "DELETE":
        space.variables.pop(json.loads(body)["key"], None)
    handler._send(200, _variables_payload(space))


def space_runtime(handler: _Handler, repo: str, **_) -> None:
    if (space := _space(handler, repo)) is not None:
        handler._send(200, _runtime_payload(space))


def space_restart(handler: _Handler, repo: str, **_) -> None:
    if (space := _space(handler, repo)) is None:
        return
    found = handler.hub.repo(repo, "space")
    space.start("restart", found.head.oid)
    handler._send(200, _runtime_payload(space))


_SPACE = r"(?P<repo>[^/]+/[^/]+?)"
ROUTES += [
    ("GET|POST|DELETE", rf"/api/spaces/{_SPACE}/variables", space_variables),
    ("GET", rf"/api/spaces/{_SPACE}/runtime", space_runtime),
    ("POST", rf"/api/spaces/{_SPACE}/restart", space_restart),
]


# ==== Hugging Face Jobs (issue 11) ===================================================================================
import contextlib  # noqa: E402 (this block is kept apart from the repo routes above)

# The routes huggingface_hub's jobs API uses: hardware, run/inspect a job, its logs (server-sent events), scheduled
# jobs (create, list, delete). `fake_jobs(hub)` holds what was submitted and what the next job "does": the log lines
# it prints and the stage it ends in.

@dataclass
class FakeJobs:
    logs: list[str] = field(default_factory=lambda: ["building ...", "done"])  # what the next job prints
    final_stage: str = "COMPLETED"  # how the next job ends
    final_message: str | None = None
    submitted: list[dict] = field(default_factory=list)  # job specs as POSTed
    jobs: dict[str, dict] = field(default_factory=dict)  # id -> {"spec", "namespace", "stage", "message", "logs"}
    scheduled: dict[str, dict] = field(default_factory=dict)  # id -> {"spec", "schedule", "namespace"}
    hardware: list[dict] = field(default_factory=lambda: [
        _hardware("cpu-basic", "CPU Basic", None, 167),
        _hardware("t4-small", "Nvidia T4 - small", ("T4", "16 GB"), 6667),
        _hardware("l4x1", "1x Nvidia L4", ("L4", "24 GB"), 13333),
        _hardware("a100-large", "Nvidia A100 - large", ("A100", "80 GB"), 41667),
    ])


def _hardware(name: str, pretty: str, gpu: tuple[str, str] | None, micro_usd: int) -> dict:
    accelerator = None if gpu is None else {"type": "gpu", "model": gpu[0], "quantity": "1", "vram": gpu[1],
                                            "manufacturer": "Nvidia"}
    return {"name": name, "prettyName": pretty, "cpu": "8 vCPU", "ram": "32 GB", "ephemeralStorage": "100 GB",
            "accelerator": accelerator, "unitCostMicroUSD": micro_usd, "unitCostUSD": micro_usd / 1e6,
            "unitLabel": "minute"}


@contextlib.contextmanager
def isolated_hub(tmp_path, monkeypatch, token: str):
    """A FakeHub requiring `token`, with HF_TOKEN set to it and the client isolated from the real Hub's settings;
    fails the test if the client asked for a route the fake does not play."""
    isolate_hub_env(monkeypatch, tmp_path / "hf-home")
    monkeypatch.setenv("HF_TOKEN", token)
    with FakeHub(token=token) as server:
        yield server
    assert not server.unhandled, server.unhandled


def fake_jobs(hub: FakeHub) -> FakeJobs:
    """The jobs state of `hub` (created on first use)."""
    return hub.__dict__.setdefault("_fake_jobs", FakeJobs())


_TIME = "2026-11-30T08:00:00.000Z"


def _job_json(hub: FakeHub, job_id: str) -> dict:
    job = fake_jobs(hub).jobs[job_id]
    spec = job["spec"]
    return {"id": job_id, "createdAt": _TIME, "dockerImage": spec.get("dockerImage"), "command": spec["command"],
            "arguments": spec.get("arguments", []), "environment": spec.get("environment", {}),
            "secrets": sorted(spec.get("secrets", {})), "flavor": spec.get("flavor"), "labels": spec.get("labels"),
            "status": {"stage": job["stage"], "message": job["message"]},
            "owner": {"id": "u1", "name": job["namespace"], "type": "user"}}


def _scheduled_json(hub: FakeHub, scheduled_id: str) -> dict:
    entry = fake_jobs(hub).scheduled[scheduled_id]
    spec = {k: v for k, v in entry["spec"].items() if k != "secrets"} | {"secrets": sorted(entry["spec"].get("secrets", {}))}
    return {"id": scheduled_id, "createdAt": _TIME, "jobSpec": spec, "schedule": entry["schedule"], "suspend": False,
            "concurrency": False, "status": {"lastJob": None, "nextJobRunAt": "2026-12-07T06:00:00.000Z"},
            "owner": {"id": "u1", "name": entry["namespace"], "type": "user"}}


def _jobs_hardware(handler: _Handler, **_) -> None:
    handler._send(200, fake_jobs(handler.hub).hardware)


def _jobs_run(handler: _Handler, namespace: str, body: bytes, **_) -> None:
    jobs = fake_jobs(handler.hub)
    spec = json.loads(body)
    jobs.submitted.append(spec)
    job_id = hashlib.sha1(f"job{len(jobs.jobs)}".encode()).hexdigest()[:24]
    jobs.jobs[job_id] = {"spec": spec, "namespace": namespace, "stage": "RUNNING", "message": None,
                         "logs": list(jobs.logs), "final": (jobs.final_stage, jobs.final_message)}
    handler._send(200, _job_json(handler.hub, job_id))


def _jobs_inspect(handler: _Handler, namespace: str, job_id: str, **_) -> None:
    if job_id not in fake_jobs(handler.hub).jobs:
        return handler._error(404, "Job not found")
    handler._send(200, _job_json(handler.hub, job_id))


def _jobs_logs(handler: _Handler, namespace: str, job_id: str, **_) -> None:
    job = fake_jobs(handler.hub).jobs.get(job_id)
    if job is None:
        return handler._error(404, "Job not found")
    lines = ["===== Job started at 2026-11-30 08:00:00 =====", *job["logs"]]
    events = b"".join(b"data: " + json.dumps({"timestamp": _TIME, "data": line}).encode() + b"\n\n" for line in lines)
    job["stage"], job["message"] = job["final"]  # the job has run by the time its logs are read to the end
    handler._send(200, body=events, headers={"Cache-Control": "no-cache"})


def _scheduled_create(handler: _Handler, namespace: str, body: bytes, **_) -> None:
    jobs = fake_jobs(handler.hub)
    data = json.loads(body)
    scheduled_id = hashlib.sha1(f"scheduled{len(jobs.scheduled)}{data}".encode()).hexdigest()[:24]
    jobs.scheduled[scheduled_id] = {"spec": data["jobSpec"], "schedule": data["schedule"], "namespace": namespace}
    handler._send(200, _scheduled_json(handler.hub, scheduled_id))


def _scheduled_list(handler: _Handler, namespace: str, query=None, **_) -> None:
    wanted = (query or {}).get("label", [None])[0]
    found = []
    for scheduled_id, entry in fake_jobs(handler.hub).scheduled.items():
        labels = entry["spec"].get("labels") or {}
        if entry["namespace"] == namespace and (wanted is None or wanted in [f"{k}={v}" for k, v in labels.items()]):
            found.append(_scheduled_json(handler.hub, scheduled_id))
    handler._send(200, found)


def _scheduled_delete(handler: _Handler, namespace: str, scheduled_id: str, **_) -> None:
    if fake_jobs(handler.hub).scheduled.pop(scheduled_id, None) is None:
        return handler._error(404, "Scheduled job not found")
    handler._send(200, {})


_Handler.do_DELETE = _Handler._dispatch
ROUTES += [
    ("GET", r"/api/jobs/hardware", _jobs_hardware),
    ("POST", r"/api/jobs/(?P<namespace>[^/]+)", _jobs_run),
    ("GET", r"/api/jobs/(?P<namespace>[^/]+)/(?P<job_id>[^/]+)", _jobs_inspect),
    ("GET", r"/api/jobs/(?P<namespace>[^/]+)/(?P<job_id>[^/]+)/logs", _jobs_logs),
    ("POST", r"/api/scheduled-jobs/(?P<namespace>[^/]+)", _scheduled_create),
    ("GET", r"/api/scheduled-jobs/(?P<namespace>[^/]+)", _scheduled_list),
    ("DELETE", r"/api/scheduled-jobs/(?P<namespace>[^/]+)/(?P<scheduled_id>[^/]+)", _scheduled_delete),
]
