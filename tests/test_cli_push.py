"""build_dataset.py --push against the fake Hub: one commit and a tag per version, a changelog across versions."""

from __future__ import annotations

import csv
import re
import shutil

import pytest

from conftest import build_args, load_cli
from fake_hub import FakeHub, isolate_hub_env

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

TOKEN = "hf_cliTOKEN0987654321secret"
REPO = "tester/pokemon-embeddings"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    isolate_hub_env(monkeypatch, tmp_path / "hf-home")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with FakeHub(token=TOKEN) as server:
        yield server
    assert not server.unhandled, server.unhandled


def push_args(csv_folder, artwork, models, out, version, hub, *extra):
    return build_args(csv_folder, artwork, models, out, "--version", version, "--push", REPO,
                      "--hub-endpoint", hub.endpoint, "--cache-dir", str(out.parent / "cache"), *extra)


def test_two_versions_publish_two_commits_two_tags_and_a_changelog(
    hub, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys
):
    cli = load_cli()
    out = tmp_path / "out"
    assert cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, out, "0.1.0", hub)) == 0
    repo = hub.repo(REPO)
    first = repo.head
    assert repo.tags == {"v0.1.0": first.oid}
    assert first.files["README.md"] == (out / "README.md").read_bytes()
    assert first.files["data/train-00000-of-00001.parquet"] == (out / "data/train-00000-of-00001.parquet").read_bytes()
    assert f"load_dataset(\"{REPO}\"" in (out / "README.md").read_text(encoding="utf-8")

    changed = tmp_path / "csv"
    shutil.copytree(csv_fixture, changed)
    with open(changed / "pokemon.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    dropped = rows.pop()[1]  # the last Pokémon leaves the data
    with open(changed / "pokemon.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    fresh = tmp_path / "fresh"  # a new machine: the previous version comes from the Hub
    assert cli.main(push_args(changed, artwork_fixture, tiny_models, fresh, "0.2.0", hub)) == 0
    assert len(repo.commits) == 3 and set(repo.tags) == {"v0.1.0", "v0.2.0"}
    card = (fresh / "README.md").read_text(encoding="utf-8")
    assert f"Removed 1 Pokémon: {dropped}" in card
    assert "### v0.1.0" in card and "### v0.2.0" in card
    output = capsys.readouterr()
    assert TOKEN not in output.out + output.err


def test_an_existing_tag_is_refused_before_building(hub, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    cli = load_cli()
    assert cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "a", "0.1.0", hub)) == 0
    capsys.readouterr()
    commits = len(hub.repo(REPO).commits)
    code = cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "b", "0.1.0", hub))
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: tag v0.1.0 already exists") and "Traceback" not in err
    assert not (tmp_path / "b").exists() and len(hub.repo(REPO).commits) == commits


def test_dry_run_pushes_nothing(hub, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    cli = load_cli()
    code = cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out", "0.1.0", hub, "--dry-run"))
    out = capsys.readouterr().out
    assert code == 0 and hub.repo(REPO) is None
    assert "Dry run, nothing pushed" in out and "upload data/train-00000-of-00001.parquet" in out


SPACE = "tester/pokedex"


def test_push_with_space_deploys_the_tag_just_pushed(hub, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    cli = load_cli()
    out = tmp_path / "out"
    args = push_args(csv_fixture, artwork_fixture, tiny_models, out, "auto", hub, "--space", SPACE)
    assert cli.main(args) == 0  # auto: the first version, 0.1.0; the Space gets the version the build chose
    output = capsys.readouterr().out
    assert "Pushed:" in output and "Deployed the Space:" in output
    state, space = hub.spaces[SPACE], hub.repo(SPACE, "space")
    assert state.serving == {"POKEMBED_DATASET": REPO, "POKEMBED_REVISION": "v0.1.0"}
    assert {"app.py", "README.md", "requirements.txt"} <= set(space.head.files)
    assert [path for path in space.head.files if re.fullmatch(r"pokembed-[^/]+-py3-none-any\.whl", path)]
    assert not [path for path in space.head.files if path.startswith(("tests/", "build", ".pokembed-cache", "pokembed/"))]
    tagged = hub.requests.index(("POST", f"/api/datasets/{REPO}/tag/{hub.repo(REPO).tags['v0.1.0']}"))
    assert tagged < hub.requests.index(("POST", f"/api/spaces/{SPACE}/restart"))

    # v0.2.0's tag fails to land: the build exits 1 and the Space keeps serving v0.1.0, untouched
    hub.fail("POST", rf"/api/datasets/{REPO}/tag/.*")
    sent = len(hub.requests)
    code = cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "v2", "0.2.0", hub,
                              "--space", SPACE))
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: the commit ") and "Traceback" not in err
    assert f"the Space {SPACE} was not touched" in err
    assert f"deploy it with `python -m pokembed.hub.space_deploy {SPACE} --dataset {REPO} --version 0.2.0`" in err
    assert not [p for m, p in hub.requests[sent:] if m != "GET" and "/spaces/" in p]
    assert state.serving["POKEMBED_REVISION"] == "v0.1.0" and len(space.commits) == 2


def test_space_needs_push_and_dry_run_shows_both_plans(hub, tmp_path, csv_fixture, artwork_fixture, tiny_models,
                                                       capsys):
    cli = load_cli()
    code = cli.main(build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "a", "--space", SPACE))
    assert code == 1 and capsys.readouterr().err.startswith("Error: --space deploys the version --push")
    code = cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "b", "0.1.0", hub,
                              "--space", "not-a-space-id", "--dry-run"))
    assert code == 1 and "OWNER/NAME" in capsys.readouterr().err and not (tmp_path / "b").exists()
    code = cli.main(push_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "c", "0.1.0", hub,
                              "--space", SPACE, "--dry-run"))
    out = capsys.readouterr().out
    assert code == 0 and "Dry run, nothing pushed" in out and "Dry run, Space not deployed" in out
    assert "set variable POKEMBED_REVISION=v0.1.0" in out and "has no tag v0.1.0 yet" in out
    assert hub.repos == {} and hub.spaces == {}
