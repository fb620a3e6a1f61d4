"""Space deploys against the fake Hub: one commit of exactly the Space's files, the variables naming the tag, a restart
only once the tag exists, a failure that names its step and the way to finish, and no token anywhere."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from fake_hub import Commit, FakeHub
from pokembed.hub import space_deploy
from pokembed.errors import BadInputError, PublishError
from pokembed.hub.publish import push
from pokembed.hub.space_deploy import deploy_space, plan_space, space_files
from pokembed.hub.space_wheel import build_wheel
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


def expected_files(endpoint: str, dataset: str = DATASET) -> dict[str, bytes]:
    """The Space's files as the deploy must upload them: space/ from the checkout, with the card naming the dataset,
    the wheel of the checkout beside them and named as the requirements' last line."""
    files = {path: local.read_bytes() for path, local in space_files(ROOT).items()}
    files["README.md"] = space_deploy._card_naming(files["README.md"], dataset)
    wheel_name, files[wheel_name] = build_wheel(ROOT)
    files["requirements.txt"] += (f"pokembed @ {endpoint}/spaces/{SPACE}/resolve/main/{wheel_name}  "
                                  "# built from the deployed checkout\n").encode()
    return files


# ---- which files ----------------------------------------------------------------------------------------------------
def test_space_files_are_the_space_folder_and_no_module_of_the_package():
    files = space_files(ROOT)
    on_disk = {p.relative_to(ROOT / "space").as_posix() for p in (ROOT / "space").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}
    assert set(files) == on_disk and {"app.py", "page_tabs.py", "README.md", "requirements.txt"} <= set(files)
    assert files["app.py"] == ROOT / "space" / "app.py"
    assert not [p for p in files if p.startswith(("pokembed/", "tests/"))]


def write_checkout(root: Path) -> None:
    """A minimal checkout: a Space folder with run-time clutter, and a package that builds as a wheel."""
    space, package = root / "space", root / "pokembed"
    for folder in (space / "__pycache__", space / ".gradio", space / "flagged", space / "assets",
                   package / "__pycache__", package / "explore"):
        folder.mkdir(parents=True)
    (space / "app.py").write_text("from pokembed.explore import index\n")
    (space / "README.md").write_text("---\nsdk: gradio\ndatasets:\n  - someone/else\n---\n# Space\n")
    (space / "requirements.txt").write_text("numpy\n")
    (space / "assets" / "style.css").write_text("body {}\n")
    (space / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (space / ".gradio" / "certificate.pem").write_text("x")
    (space / "flagged" / "log.csv").write_text("x")
    (space / "space.log").write_text("x")
    (root / "pyproject.toml").write_text('[project]\nname = "pokembed"\nversion = "0.0.1"\n\n'
                                        '[tool.setuptools.packages.find]\ninclude = ["pokembed*"]\n')
    (package / "__init__.py").write_text("")
    (package / "explore" / "__init__.py").write_text("")
    (package / "explore" / "index.py").write_text("x = 1\n")
    (package / "__pycache__" / "index.cpython-311.pyc").write_bytes(b"\0")


def test_the_plan_ships_space_files_and_a_wheel_and_deletes_copied_modules(tmp_path):
    import io
    import zipfile

    write_checkout(tmp_path)
    assert list(space_files(tmp_path)) == ["README.md", "app.py", "assets/style.css", "requirements.txt"]
    plan = plan_space(SPACE, "me/data", "1.2.3", root=tmp_path, endpoint="https://hub.example",
                      remote_files=[".gitattributes", "LICENSE", "old.py", "pokembed/gone.py", "app.py",
                                    "pokembed-0.0.0-py3-none-any.whl", "pokembed-0.0.1-py3-none-any.whl"])
    files = dict(plan.files)
    assert list(files) == ["README.md", "app.py", "assets/style.css", "pokembed-0.0.1-py3-none-any.whl",
                           "requirements.txt"]
    assert files["requirements.txt"] == (b"numpy\npokembed @ https://hub.example/spaces/tester/pokedex/resolve/main/"
                                         b"pokembed-0.0.1-py3-none-any.whl  # built from the deployed checkout\n"), \
        "named by its URL in the Space repo: a Space's image build mounts requirements.txt alone"
    with zipfile.ZipFile(io.BytesIO(files["pokembed-0.0.1-py3-none-any.whl"])) as wheel:
        names = wheel.namelist()
    assert {"pokembed/__init__.py", "pokembed/explore/index.py"} <= set(names) and not [n for n in names if "pycache" in n]
    assert plan.deletions == ("old.py", "pokembed-0.0.0-py3-none-any.whl", "pokembed/gone.py"), \
        "stale code and wheels go; someone's LICENSE stays"
    card = files["README.md"].decode()
    assert "- me/data" in card and "someone/else" not in card and "sdk: gradio" in card
    assert plan.variables == {"POKEMBED_DATASET": "me/data", "POKEMBED_REVISION": "v1.2.3"}
    assert plan_space(SPACE, "me/data", "1.2.3", root=tmp_path, endpoint="https://hub.example").files == plan.files, "the same bytes every time"
    assert not (tmp_path / "build").exists() and not list(tmp_path.glob("*.egg-info")), "the checkout stays clean"
    (tmp_path / "space" / "README.md").unlink()
    with pytest.raises(BadInputError, match="README.md is missing"):
        space_files(tmp_path)
    with pytest.raises(BadInputError, match="has no space/app.py"):
        space_files(tmp_path / "nowhere")
    (tmp_path / "space" / "README.md").write_text("---\nsdk: gradio\n---\n")
    (tmp_path / "pyproject.toml").unlink()
    with pytest.raises(BadInputError, match="no pyproject.toml"):
        space_files(tmp_path)


def test_a_wheel_that_does_not_build_is_one_clear_error(tmp_path):
    write_checkout(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(PublishError, match=r"^the pokembed wheel for the Space could not be built \(.*\); run `pip wheel"):
        build_wheel(tmp_path)


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
    assert {k: v for k, v in repo.head.files.items() if k != ".gitattributes"} == expected_files(hub.endpoint)
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


def imported_names(path: Path) -> set[str]:
    """Every module name a Python file imports, at the top or inside a function (absolute imports only)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def space_python_files() -> list[Path]:
    """space/*.py and the pokembed modules they import, directly or through each other."""
    found, queue = [], sorted((ROOT / "space").glob("*.py"))
    while queue:
        path = queue.pop()
        if path in found:
            continue
        found.append(path)
        for name in imported_names(path):
            parts = name.split(".")
            if parts[0] == "pokembed":
                for depth in range(1, len(parts) + 1):
                    stem = ROOT.joinpath(*parts[:depth])
                    queue += [p for p in (stem / "__init__.py", stem.with_suffix(".py")) if p.is_file()]
    return found


def test_the_space_requirements_cover_every_package_its_files_import():
    """What the Space runs must be installed there: every third-party module that space/*.py and the pokembed modules
    they import use (at the top or inside a function) comes from space/requirements.txt or gradio (the SDK),
    directly or as one of their dependencies."""
    import importlib.metadata as metadata
    import sys

    build_only = {"umap"}  # imported inside projection.project_2d, which only the build calls (the Space draws PCA)
    files = space_python_files()
    assert {ROOT / "pokembed" / "explore" / "answers.py", ROOT / "pokembed" / "errors.py"} <= set(files)
    local = {path.stem for path in (ROOT / "space").glob("*.py")} | build_only
    imported = {name.split(".")[0]: path.relative_to(ROOT).as_posix() for path in files for name in imported_names(path)}
    imported = {top: path for top, path in imported.items()
                if top not in local | {"pokembed"} and top not in sys.stdlib_module_names}
    assert {"gradio", "numpy", "PIL", "datasets"} <= set(imported)

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


# ---- a deployed Space runs from its wheel -----------------------------------------------------------------------------
STARTS_FROM_THE_WHEEL = """
import json, sys
import app, pokembed
from pokembed.explore.space import SpaceConfig
from pokembed.explore.space_loading import load_space
dataset, models, workdir, name = sys.argv[1:5]
space = load_space(SpaceConfig(dataset=dataset, text_model=models + "/text", image_model=models + "/image",
                               device="cpu"), workdir=workdir)
demo = app.make_demo(space)
similar = next(f for f in demo.fns.values() if f.api_name == "similar").fn
print(json.dumps({"pokembed": pokembed.__file__, "app": app.__file__, "similar": similar(name, "text", 3)}))
"""


def test_a_space_deployed_from_a_fresh_clone_starts_from_the_wheel_it_ships(hub, tmp_path, built_dataset, tiny_models):
    """Deploy from a git clone of this checkout, download the Space's files, install the wheel they ship into a
    folder of its own and start the app from them with only that folder providing pokembed: it builds the page and
    answers /similar as numpy over the dataset's text embeddings does."""
    import json
    import shutil
    import subprocess
    import sys

    import pyarrow.parquet as pq

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    publish(hub, tmp_path, "0.1.0")
    deploy_space(SPACE, DATASET, "0.1.0", token=TOKEN, endpoint=hub.endpoint, root=clone)

    files = hub.repo(SPACE, "space").head.files
    wheels = [path for path in files if path.endswith(".whl")]
    assert len(wheels) == 1 and not [path for path in files if path.startswith("pokembed/")]
    assert {path for path in files if path.endswith(".py")} == {p.name for p in (clone / "space").glob("*.py")}
    requirement = files["requirements.txt"].decode().splitlines()[-1].split("  #")[0]
    assert requirement == f"pokembed @ {hub.endpoint}/spaces/{SPACE}/resolve/main/{wheels[0]}"
    downloaded = tmp_path / "space-repo"
    for path, data in files.items():
        (downloaded / path).parent.mkdir(parents=True, exist_ok=True)
        (downloaded / path).write_bytes(data)
    site = tmp_path / "site"
    # as the Space's image build does: the requirement line alone, the wheel fetched from the Space repo by its URL
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--target", str(site),
                    requirement], check=True, timeout=120)

    table = pq.read_table(sorted((built_dataset / "data").glob("*.parquet"))[0]).to_pylist()
    chosen = table[1]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", STARTS_FROM_THE_WHEEL, str(built_dataset), str(tiny_models),
                           str(tmp_path / "work"), chosen["name"]], cwd=downloaded, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert Path(answer["pokembed"]).is_relative_to(site) and Path(answer["app"]).is_relative_to(downloaded)
    text = np.array([row["text_embedding"] for row in table], dtype=np.float64)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    scores = text @ text[1]
    scores[1] = -np.inf  # not itself
    scores[[not row["is_default"] for row in table]] = -np.inf  # Similar ranks default forms only, by default
    best = np.lexsort(([row["id"] for row in table], -scores))[:3]
    assert [m["id"] for m in answer["similar"]["matches"]] == [table[i]["id"] for i in best]
    assert [m["score"] for m in answer["similar"]["matches"]] == pytest.approx(scores[best].tolist(), abs=1e-5)
