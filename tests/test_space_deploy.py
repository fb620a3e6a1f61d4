"""Space deploys against the fake Hub: one commit of exactly the Space's files, the variables naming the tag, a restart
only once the tag exists, a failure that names its step and the way to finish, and no token anywhere."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from fake_hub import Commit, FakeHub
from pokembed.hub import space_deploy
from pokembed.errors import BadInputError, PublishError
from pokembed.hub.publish import push
from pokembed.hub.space_deploy import deploy_space, plan_space, space_files
from test_publish import TOKEN, free_port_endpoint, hub, hub_env, make_out_dir  # noqa: F401 - hub, hub_env: fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

DATASET = "tester/pokemon-embeddings"
SPACE = "tester/pokedex"
ROOT = Path(__file__).resolve().parents[1]


def publish(hub: FakeHub, tmp_path: Path, version: str) -> None:
    """Push and tag a small dataset version, as build_dataset.py --push does."""
    push(make_out_dir(tmp_path / version, version=version, card=version), DATASET, version, token=TOKEN,
         endpoint=hub.endpoint)


def space_writes(hub: FakeHub, since: int = 0) -> list[tuple[str, str]]:
    return [(m, p) for m, p in hub.requests[since:] if m != "GET" and ("/spaces/" in p or p == "/api/repos/create")]


def first_index(requests: list[tuple[str, str]], method: str, pattern: str) -> int:
    return next(i for i, (m, p) in enumerate(requests) if m == method and re.fullmatch(pattern, p))


def expected_files(dataset: str = DATASET) -> dict[str, bytes]:
    """The Space's files as the deploy must upload them: from the checkout, with the card naming the dataset."""
    files = {path: local.read_bytes() for path, local in space_files(ROOT).items()}
    files["README.md"] = space_deploy._card_naming(files["README.md"], dataset)
    return files


# ---- which files ----------------------------------------------------------------------------------------------------
def test_space_files_are_the_app_and_the_modules_it_imports():
    files = space_files(ROOT)
    assert {"app.py", "README.md", "requirements.txt"} <= set(files)
    assert files["app.py"] == ROOT / "space" / "app.py"
    modules = {p for p in files if p.startswith("pokembed/")}
    assert {"pokembed/__init__.py", "pokembed/explore/index.py", "pokembed/errors.py"} <= modules
    assert "pokembed/embedding/tiny_models.py" not in modules and "pokembed/hub/space_deploy.py" not in modules  # not imported
    assert not [p for p in files if p.startswith("tests/") or "__pycache__" in p or p.endswith(".pyc")]
    assert all(local.is_file() for local in files.values()), "files only, no folders"


def test_space_files_follow_lazy_imports_into_subpackages_and_skip_caches(tmp_path):
    space, package = tmp_path / "space", tmp_path / "pokembed"
    for folder in (space / "__pycache__", space / ".gradio", space / "flagged", space / "assets",
                   package / "__pycache__", package / "explore", package / "embedding"):
        folder.mkdir(parents=True)
    (space / "app.py").write_text("import os\nfrom pokembed.explore import index\n\ndef f():\n    import pokembed.lazy\n")
    (space / "README.md").write_text("---\nsdk: gradio\ndatasets:\n  - someone/else\n---\n# Space\n")
    (space / "requirements.txt").write_text("numpy\n")
    (space / "assets" / "style.css").write_text("body {}\n")
    (space / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (space / ".gradio" / "certificate.pem").write_text("x")
    (space / "flagged" / "log.csv").write_text("x")
    (space / "space.log").write_text("x")
    (package / "__init__.py").write_text("")
    (package / "explore" / "__init__.py").write_text("")
    (package / "explore" / "index.py").write_text("from pokembed.errors import BadInputError\n")
    (package / "errors.py").write_text("class BadInputError(Exception): ...\n")
    (package / "lazy.py").write_text("def g():\n    from pokembed.embedding.registry import x\n")
    (package / "embedding" / "__init__.py").write_text("")
    (package / "embedding" / "registry.py").write_text("x = 1\n")
    (package / "unused.py").write_text("import pokembed.embedding\n")
    (package / "__pycache__" / "search.cpython-311.pyc").write_bytes(b"\0")
    assert list(space_files(tmp_path)) == ["README.md", "app.py", "assets/style.css", "pokembed/__init__.py",
                                           "pokembed/embedding/__init__.py", "pokembed/embedding/registry.py",
                                           "pokembed/errors.py", "pokembed/explore/__init__.py",
                                           "pokembed/explore/index.py", "pokembed/lazy.py", "requirements.txt"]
    plan = plan_space(SPACE, "me/data", "1.2.3", root=tmp_path,
                      remote_files=[".gitattributes", "LICENSE", "old.py", "pokembed/gone.py", "app.py"])
    assert plan.deletions == ("old.py", "pokembed/gone.py"), "stale code goes; someone's LICENSE stays"
    card = dict(plan.files)["README.md"].decode()
    assert "- me/data" in card and "someone/else" not in card and "sdk: gradio" in card
    assert plan.variables == {"POKEMBED_DATASET": "me/data", "POKEMBED_REVISION": "v1.2.3"}
    (space / "README.md").unlink()
    with pytest.raises(BadInputError, match="README.md is missing"):
        space_files(tmp_path)
    with pytest.raises(BadInputError, match="has no space/app.py"):
        space_files(tmp_path / "nowhere")


def test_plan_refuses_bad_ids_and_versions():
    with pytest.raises(BadInputError, match="OWNER/NAME"):
        plan_space("no-namespace", DATASET, "0.1.0")
    with pytest.raises(BadInputError, match="is not a semantic version"):
        plan_space(SPACE, DATASET, "latest")


# ---- deploying ----------------------------------------------------------------------------------------------------
def test_deploy_commits_the_space_sets_the_tag_and_restarts_after_the_tag_exists(hub, tmp_path):
    publish(hub, tmp_path, "0.1.0")
    result = deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint)

    repo, state = hub.repo(SPACE, "space"), hub.spaces[SPACE]
    assert state.sdk == "gradio"
    assert [c.message for c in repo.commits] == ["initial commit", f"pokembed Space serving {DATASET} v0.1.0"]
    assert {k: v for k, v in repo.head.files.items() if k != ".gitattributes"} == expected_files()
    assert result.commit_oid == repo.head.oid and result.stage == "BUILDING" and not result.dry_run
    assert {k: v["value"] for k, v in state.variables.items()} == {"POKEMBED_DATASET": DATASET,
                                                                  "POKEMBED_REVISION": "v0.1.0"}
    assert all(v["description"] for v in state.variables.values())
    tagged = first_index(hub.requests, "POST", rf"/api/datasets/{DATASET}/tag/.*")
    created = [i for i, request in enumerate(hub.requests) if request == ("POST", "/api/repos/create")]
    assert len(created) == 2 and tagged < created[1], "the Space is created after the dataset is tagged"
    assert tagged < first_index(hub.requests, "POST", rf"/api/spaces/{SPACE}/commit/main")
    assert tagged < first_index(hub.requests, "POST", rf"/api/spaces/{SPACE}/restart")
    assert state.starts[-1]["cause"] == "restart" and state.serving == {"POKEMBED_DATASET": DATASET,
                                                                       "POKEMBED_REVISION": "v0.1.0"}


def test_a_space_serving_n_keeps_serving_n_until_n_plus_1_is_tagged(hub, tmp_path):
    publish(hub, tmp_path, "0.1.0")
    deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    repo, state = hub.repo(SPACE, "space"), hub.spaces[SPACE]
    files = dict(repo.head.files) | {"pokembed/retired.py": b"x = 1\n", "LICENSE": b"MIT\n"}
    repo.commits.append(Commit("e" * 40, "someone adds files", repo.head.oid, files))

    hub.fail("POST", rf"/api/datasets/{DATASET}/tag/.*")  # v0.2.0's files land but its tag does not
    with pytest.raises(PublishError, match="cannot tag"):
        publish(hub, tmp_path, "0.2.0")
    sent = len(hub.requests)
    with pytest.raises(PublishError, match=f"^dataset {DATASET} has no tag v0.2.0 yet, so the Space keeps serving"):
        deploy_space(SPACE, DATASET, "0.2.0", token=TOKEN, endpoint=hub.endpoint)
    assert space_writes(hub, sent) == [] and state.serving["POKEMBED_REVISION"] == "v0.1.0"

    hub.repos[("dataset", DATASET)].tags["v0.2.0"] = hub.repo(DATASET).head.oid  # the tag lands after all
    result = deploy_space(SPACE, DATASET, "0.2.0", token=TOKEN, endpoint=hub.endpoint)
    assert state.serving["POKEMBED_REVISION"] == "v0.2.0"
    assert result.plan.deletions == ("pokembed/retired.py",)
    assert "pokembed/retired.py" not in repo.head.files and repo.head.files["LICENSE"] == b"MIT\n"
    assert len(repo.commits) == 4, "one commit per deploy"


@pytest.mark.parametrize("failing, step, done", [
    ("variables", "step 3 of 4 (set the Space variables)", "committed the files"),
    ("restart", "step 4 of 4 (restart the Space)", "set POKEMBED_DATASET="),
])
def test_a_failure_between_steps_names_the_step_and_how_to_finish(hub, tmp_path, capsys, failing, step, done):
    publish(hub, tmp_path, "0.1.0")
    hub.fail("POST", rf"/api/spaces/{SPACE}/{failing}", status=500)
    with pytest.raises(PublishError) as info:
        deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    message = str(info.value)
    assert message.startswith(f"the Space deploy stopped at {step}: cannot ") and done in message
    finish = f"python -m pokembed.hub.space_deploy {SPACE} --dataset {DATASET} --version 0.1.0"
    assert f"to finish, fix that and run `{finish}`" in message and "\n" not in message
    state = hub.spaces[SPACE]
    assert not any(start["cause"] == "restart" for start in state.starts), "no restart after a failed step"
    revision = state.variables.get("POKEMBED_REVISION", {}).get("value")
    assert revision == ("v0.1.0" if failing == "restart" else None)


def test_finish_command_completes_a_stopped_deploy(hub, tmp_path, capsys, monkeypatch):
    publish(hub, tmp_path, "0.1.0")
    hub.fail("POST", rf"/api/spaces/{SPACE}/variables", status=503)
    with pytest.raises(PublishError, match="step 3 of 4"):
        deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    commits = len(hub.repo(SPACE, "space").commits)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code = space_deploy.main([SPACE, "--dataset", DATASET, "--version", "0.1.0", "--hub-endpoint", hub.endpoint])
    out = capsys.readouterr().out
    assert code == 0 and "Deployed the Space:" in out and "stage BUILDING" in out
    assert len(hub.repo(SPACE, "space").commits) == commits, "unchanged files make no second commit"
    assert hub.spaces[SPACE].serving == {"POKEMBED_DATASET": DATASET, "POKEMBED_REVISION": "v0.1.0"}


def test_dry_run_writes_nothing_and_says_what_it_cannot_know(hub, tmp_path):
    result = deploy_space(SPACE, DATASET, "0.1.0", endpoint=hub.endpoint, dry_run=True)  # no token, no tag yet
    assert result.dry_run and result.commit_oid is None and space_writes(hub) == []
    notes = " | ".join(result.plan.notes)
    assert "has no tag v0.1.0 yet" in notes and "does not exist yet" in notes and "no Hugging Face token" in notes
    text = result.plan.describe()
    assert "upload app.py" in text and "set variable POKEMBED_REVISION=v0.1.0" in text and f"restart {SPACE}" in text

    publish(hub, tmp_path, "0.1.0")
    deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint)
    publish(hub, tmp_path, "0.2.0")
    sent = len(hub.requests)
    result = deploy_space(SPACE, DATASET, "0.2.0", token=TOKEN, endpoint=hub.endpoint, dry_run=True)
    assert space_writes(hub, sent) == [] and hub.spaces[SPACE].serving["POKEMBED_REVISION"] == "v0.1.0"
    assert "POKEMBED_REVISION is now v0.1.0" in result.plan.notes
    assert "the Space is now BUILDING" in result.plan.notes

    hub.fail("GET", f"/api/spaces/{SPACE}", status=500)
    unreadable = deploy_space(SPACE, DATASET, "0.2.0", token=TOKEN, endpoint=hub.endpoint, dry_run=True)
    assert any(note.startswith("the Space could not be read (cannot read") for note in unreadable.plan.notes)

    offline = deploy_space(SPACE, DATASET, "0.1.0", endpoint=free_port_endpoint(), dry_run=True)
    assert any("could not be reached" in note for note in offline.plan.notes)


def test_no_token_is_refused_and_a_wrong_one_is_never_shown(hub, tmp_path):
    with pytest.raises(PublishError, match=r"needs a Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        deploy_space(SPACE, DATASET, "0.1.0", endpoint=hub.endpoint)
    assert hub.requests == []
    publish(hub, tmp_path, "0.1.0")
    with pytest.raises(PublishError, match="token was rejected") as info:
        deploy_space(SPACE, DATASET, "0.1.0", token="hf_wrongSECRETvalue", endpoint=hub.endpoint)
    assert "hf_wrongSECRETvalue" not in str(info.value) and hub.repo(SPACE, "space") is None


def test_token_is_never_printed_logged_written_or_sent_to_the_space(hub, hub_env, tmp_path, caplog, capfd,
                                                                   monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    publish(hub, tmp_path, "0.1.0")
    assert space_deploy.main([SPACE, "--dataset", DATASET, "--version", "0.1.0", "--dry-run",
                              "--hub-endpoint", hub.endpoint]) == 0
    assert space_deploy.main([SPACE, "--dataset", DATASET, "--version", "0.1.0", "--hub-endpoint", hub.endpoint]) == 0
    hub.fail("POST", rf"/api/spaces/{SPACE}/restart", status=401)
    assert space_deploy.main([SPACE, "--dataset", DATASET, "--version", "0.1.0", "--hub-endpoint", hub.endpoint]) == 1
    assert f"Bearer {TOKEN}" in hub.seen_auth, "the token was used"

    captured = capfd.readouterr()
    assert "Error: the Space deploy stopped at step 4 of 4" in captured.err
    assert TOKEN not in caplog.text + captured.out + captured.err
    space = hub.repo(SPACE, "space")
    assert not [path for path, data in space.head.files.items() if TOKEN.encode() in data]
    assert TOKEN not in repr(hub.spaces[SPACE].variables)
    for path in hub_env.rglob("*") if hub_env.exists() else []:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"token written to {path}"


def test_the_space_requirements_cover_every_package_its_files_import():
    """What the deploy ships must run there: every third-party module its Python files import (at the top or inside a
    function) comes from space/requirements.txt or gradio (the SDK), directly or as one of their dependencies."""
    import ast
    import importlib.metadata as metadata
    import sys

    build_only = {"umap"}  # imported inside projection.project_2d, which only the build calls (the Space draws PCA)
    files = space_files(ROOT)
    local = {Path(path).stem for path in files if path.endswith(".py") and "/" not in path} | build_only
    imported: dict[str, str] = {}
    for path, source in files.items():
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))) if path.endswith(".py") else ():
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for top in {name.split(".")[0] for name in names} - local - {"pokembed"}:
                if top not in sys.stdlib_module_names:
                    imported.setdefault(top, path)

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    wanted = {"gradio"}
    for line in (ROOT / "space" / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            wanted.add(canonical(re.split(r"[<>=!~\[ ;]", line)[0]))
    installed, queue = set(), list(wanted)  # the requirements and what they pull in, as installed here
    while queue:
        name = queue.pop()
        if name in installed:
            continue
        installed.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        queue += [canonical(re.split(r"[<>=!~\[ ;(]", r)[0]) for r in requires if "extra ==" not in r]
    providers = metadata.packages_distributions()
    missing = {module: path for module, path in imported.items()
               if not {canonical(d) for d in providers.get(module, [module])} & installed}
    assert not missing, f"space/requirements.txt lacks the packages of these imports: {missing}"
