"""Publishing: one commit + one tag per version, against a fake Hub that the real huggingface_hub client talks to."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from pathlib import Path

import pytest

from fake_hub import Commit, FakeHub, isolate_hub_env
from pokembed.hub import publish
from pokembed.errors import BadInputError, PublishError
from pokembed.dataset.versioning import validate_version
from pokembed.hub.publish import fetch_previous, plan_push, push, resolve_token
from pokembed.dataset.facts import MARKER

# huggingface_hub's own LFS PUT passes data=<file> to httpx, which warns; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TOKEN = "hf_testTOKEN1234567890secret"
REPO = "tester/pokemon-embeddings"
SHARD = "data/train-00000-of-00001.parquet"


@pytest.fixture(autouse=True)
def hub_env(tmp_path, monkeypatch):
    """No real token, no saved login, no offline mode, no Xet, no progress bars; HF_HOME inside tmp_path."""
    home = tmp_path / "hf-home"
    isolate_hub_env(monkeypatch, home)
    return home


@pytest.fixture
def hub():
    with FakeHub(token=TOKEN) as server:
        yield server
    assert not server.unhandled, f"the client called routes the fake hub lacks: {server.unhandled}"


def make_out_dir(path: Path, version: str = "0.1.0", rows: int = 200, shards: int = 1, card: str = "v1") -> Path:
    """A pokembed output folder: README.md, data/*.parquet (a few KB, made with pyarrow), .pokembed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (path / "data").mkdir(parents=True, exist_ok=True)
    (path / "README.md").write_text(f"---\nlicense: mit\npretty_name: test\n---\n# Pokémon {card}\n", encoding="utf-8")
    (path / MARKER).write_text(json.dumps({"version": version, "rows": rows}), encoding="utf-8")
    for shard in range(shards):
        ids = list(range(shard * rows, (shard + 1) * rows))
        table = pa.table({"id": pa.array(ids, pa.int32()), "name": [f"pokemon-{i}-{card}" for i in ids]})
        pq.write_table(table, path / f"data/train-{shard:05d}-of-{shards:05d}.parquet")
    return path


def local_files(out_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}


def free_port_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_validate_version():
    assert validate_version("1.2.0") == "1.2.0"
    assert validate_version("v0.10.3") == "0.10.3"
    for bad in ("1.2", "01.2.3", "1.2.3-rc1", "latest", ""):
        with pytest.raises(BadInputError, match="is not a semantic version X.Y.Z"):
            validate_version(bad)


def test_resolve_token_prefers_explicit_then_env_then_saved_login(hub_env, monkeypatch):
    assert resolve_token() is None
    hub_env.mkdir(parents=True, exist_ok=True)
    (hub_env / "token").write_text("hf_saved")
    assert resolve_token() == "hf_saved"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert resolve_token() == "hf_env"
    assert resolve_token("hf_explicit") == "hf_explicit"


def test_plan_push_lists_layout_and_stale_data_files(tmp_path):
    out = make_out_dir(tmp_path / "out")
    (out / "notes.txt").write_text("not part of the Hub layout")
    remote = [".gitattributes", "README.md", "data/train-00000-of-00002.parquet", "data/extra.csv", SHARD]
    plan = plan_push(out, REPO, "0.1.0", remote_files=remote)
    assert [path for path, _ in plan.files] == [MARKER, "README.md", SHARD]
    assert dict(plan.files)[SHARD] == (out / SHARD).stat().st_size
    assert plan.deletions == ["data/extra.csv", "data/train-00000-of-00002.parquet"]
    assert (plan.tag, plan.commit_message) == ("v0.1.0", "pokembed dataset v0.1.0")
    assert "upload data/train-00000-of-00001.parquet" in plan.describe()


def test_plan_push_refuses_folders_that_are_not_ours(tmp_path):
    (tmp_path / "plain" / "data").mkdir(parents=True)
    with pytest.raises(BadInputError, match="is not a pokembed output folder"):
        plan_push(tmp_path / "plain", REPO, "0.1.0")
    out = make_out_dir(tmp_path / "out", version="0.1.0")
    with pytest.raises(BadInputError, match="was built as version 0.1.0, not 0.2.0"):
        plan_push(out, REPO, "0.2.0")
    with pytest.raises(BadInputError, match="OWNER/NAME"):
        plan_push(out, "no-namespace", "0.1.0")
    (out / SHARD).unlink()
    with pytest.raises(BadInputError, match=r"lacks README.md or data/\*.parquet"):
        plan_push(out, REPO, "0.1.0")


def test_push_makes_one_commit_and_tags_it(hub, tmp_path):
    out = make_out_dir(tmp_path / "out")
    result = push(out, REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint, private=True)

    repo = hub.repo(REPO)
    assert repo is not None and repo.private, "the dataset repo is created (private as asked)"
    assert [c.message for c in repo.commits] == ["initial commit", "pokembed dataset v0.1.0"]  # exactly one commit
    commit = repo.head
    assert repo.tags == {"v0.1.0": commit.oid} and result.commit_oid == commit.oid
    assert result.commit_url.endswith(commit.oid) and not result.dry_run
    assert {k: v for k, v in commit.files.items() if k != ".gitattributes"} == local_files(out)  # byte for byte
    assert hashlib.sha256((out / SHARD).read_bytes()).hexdigest() in hub.lfs, "parquet goes through LFS"
    assert ("PUT", f"/lfs-upload/{hashlib.sha256((out / SHARD).read_bytes()).hexdigest()}") in hub.requests
    assert f"Bearer {TOKEN}" in hub.seen_auth


def test_second_version_adds_one_commit_and_deletes_stale_files(hub, tmp_path):
    first = make_out_dir(tmp_path / "v1", shards=2)
    push(first, REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    second = make_out_dir(tmp_path / "v2", version="0.2.0", rows=300, card="v2")
    result = push(second, REPO, "0.2.0", token=TOKEN, endpoint=hub.endpoint)

    repo = hub.repo(REPO)
    assert len(repo.commits) == 3
    v1, v2 = repo.commits[1], repo.commits[2]
    assert sorted(v2.deleted) == ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    assert result.plan.deletions == sorted(v2.deleted)
    assert {k: v for k, v in v2.files.items() if k != ".gitattributes"} == local_files(second)
    assert repo.tags == {"v0.1.0": v1.oid, "v0.2.0": v2.oid}


def test_existing_tag_is_refused_before_uploading(hub, tmp_path):
    out = make_out_dir(tmp_path / "out")
    push(out, REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    (out / "README.md").write_text("---\nlicense: mit\n---\nchanged\n")
    sent = len(hub.requests)
    for dry_run in (False, True):
        with pytest.raises(PublishError, match=f"^tag v0.1.0 already exists on {REPO}; choose a new `version`$"):
            push(out, REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint, dry_run=dry_run)
    assert len(hub.repo(REPO).commits) == 2 and list(hub.repo(REPO).tags) == ["v0.1.0"]
    assert {method for method, _ in hub.requests[sent:]} == {"GET"}, "nothing was uploaded"


def test_push_without_token_is_refused(hub, tmp_path):
    out = make_out_dir(tmp_path / "out")
    with pytest.raises(PublishError, match=r"a push \(`repo_id`\) needs a Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        push(out, REPO, "0.1.0", endpoint=hub.endpoint)
    assert hub.requests == [] and hub.repos == {}


def test_wrong_token_gives_one_line_without_the_token(hub, tmp_path):
    out = make_out_dir(tmp_path / "out")
    with pytest.raises(PublishError, match="token was rejected") as info:
        push(out, REPO, "0.1.0", token="hf_wrongSECRETvalue", endpoint=hub.endpoint)
    assert "\n" not in str(info.value) and "hf_wrongSECRETvalue" not in str(info.value)
    result = push(out, REPO, "0.1.0", token="hf_wrongSECRETvalue", endpoint=hub.endpoint, dry_run=True)
    assert any("the Hub refused" in note and "token was rejected" in note for note in result.plan.notes)
    assert hub.repos == {}


def test_commit_racing_another_push_is_refused_and_not_tagged(hub, tmp_path, monkeypatch):
    push(make_out_dir(tmp_path / "v1"), REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    read_remote = publish.read_remote

    def someone_commits_meanwhile(*args, **kwargs):
        remote = read_remote(*args, **kwargs)
        repo = hub.repo(REPO)
        repo.commits.append(Commit("f" * 40, "someone else", repo.head.oid, dict(repo.head.files)))
        return remote

    monkeypatch.setattr(publish, "read_remote", someone_commits_meanwhile)
    second = make_out_dir(tmp_path / "v2", version="0.2.0", card="v2")
    with pytest.raises(PublishError, match=f"cannot commit to {REPO} on .*: the repo changed during the push"):
        push(second, REPO, "0.2.0", token=TOKEN, endpoint=hub.endpoint)
    assert list(hub.repo(REPO).tags) == ["v0.1.0"]


def test_dry_run_plans_without_writing(hub, tmp_path, monkeypatch):
    out = make_out_dir(tmp_path / "out")
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)  # the endpoint also comes from HF_ENDPOINT
    result = push(out, REPO, "0.1.0", dry_run=True)  # no token needed to look
    assert result.dry_run and result.commit_oid is None and result.commit_url is None
    assert [path for path, _ in result.plan.files] == [MARKER, "README.md", SHARD]
    assert any("will be created" in note for note in result.plan.notes)
    assert any("no Hugging Face token" in note for note in result.plan.notes)
    assert hub.repos == {} and {method for method, _ in hub.requests} == {"GET"}


def test_dry_run_works_offline_and_says_so(tmp_path):
    out = make_out_dir(tmp_path / "out")
    endpoint = free_port_endpoint()
    result = push(out, REPO, "0.1.0", endpoint=endpoint, dry_run=True)
    assert result.dry_run and [path for path, _ in result.plan.files] == [MARKER, "README.md", SHARD]
    assert any(f"{endpoint} could not be reached" in note for note in result.plan.notes)
    assert "could not be reached" in result.plan.describe()


def test_unreachable_endpoint_is_one_line(tmp_path):
    out = make_out_dir(tmp_path / "out")
    endpoint = free_port_endpoint()
    with pytest.raises(PublishError, match=f"cannot reach {endpoint} to read the tags of {REPO}") as info:
        push(out, REPO, "0.1.0", token=TOKEN, endpoint=endpoint)
    assert "\n" not in str(info.value)
    with pytest.raises(PublishError, match=f"cannot reach {endpoint}"):
        fetch_previous(REPO, token=TOKEN, endpoint=endpoint, dest=tmp_path / "prev")


def test_fetch_previous_downloads_the_latest_tag(hub, tmp_path):
    assert fetch_previous(REPO, token=TOKEN, endpoint=hub.endpoint, dest=tmp_path / "none") is None
    hub.add_repo("tester/empty")
    assert fetch_previous("tester/empty", token=TOKEN, endpoint=hub.endpoint, dest=tmp_path / "empty") is None

    first = make_out_dir(tmp_path / "v1")
    push(first, REPO, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    second = make_out_dir(tmp_path / "v2", version="0.2.0", rows=300, card="v2")
    push(second, REPO, "0.2.0", token=TOKEN, endpoint=hub.endpoint)

    dest = fetch_previous(REPO, token=TOKEN, endpoint=hub.endpoint, dest=tmp_path / "prev")
    assert dest == tmp_path / "prev"
    for name in ("README.md", MARKER, SHARD):
        assert (dest / name).read_bytes() == (second / name).read_bytes()
    old = fetch_previous(REPO, token=TOKEN, endpoint=hub.endpoint, revision="v0.1.0", dest=tmp_path / "old")
    assert (old / "README.md").read_bytes() == (first / "README.md").read_bytes()
    with pytest.raises(PublishError, match="revision does not exist"):
        fetch_previous(REPO, token=TOKEN, endpoint=hub.endpoint, revision="v9.9.9", dest=tmp_path / "x")


def test_token_is_never_printed_logged_or_written(hub, hub_env, tmp_path, caplog, capfd, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # the env path, as the CLI would use it
    out = make_out_dir(tmp_path / "out")
    push(out, REPO, "0.1.0", endpoint=hub.endpoint, dry_run=True)
    push(out, REPO, "0.1.0", endpoint=hub.endpoint)
    prev = fetch_previous(REPO, endpoint=hub.endpoint, dest=tmp_path / "prev")
    assert f"Bearer {TOKEN}" in hub.seen_auth, "the token was used"

    captured = capfd.readouterr()
    assert TOKEN not in caplog.text and TOKEN not in captured.out and TOKEN not in captured.err
    for folder in (out, prev, hub_env):
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), f"token written to {path}"
