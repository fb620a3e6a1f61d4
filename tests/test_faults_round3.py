"""Faults and bad input, round 3 (issue 20): one section per case, numbered as in the issue. The README's
"Reliability" table points at these tests."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path

import pytest

from test_faults import graphql_body, json_answer, record
from test_http import Server, answer, drip_body, sleep_then

from pokembed.errors import BadInputError, PokembedError, SourceUnavailableError
from pokembed.sources.choice import load_source


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


FAST = {"retries": 0, "backoff": 0.0}


# --- 1. an empty answer is never cached ----------------------------------------------------------------------------


def test_empty_graphql_answer_is_refused_and_not_replayed(tmp_path):
    empty = {"data": {"pokemon": [], "meta": []}}
    good = graphql_body([record(1), record(2, "ivysaur")])
    with Server([json_answer(empty), json_answer(good)]) as server:
        with pytest.raises(SourceUnavailableError, match=r"no Pokémon records \(an empty answer\)"):
            load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False, **FAST)
        assert not list((tmp_path / "source").glob("*.json")), "the empty answer was cached"
        data = load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False, **FAST)  # no --refresh
        assert server.hits == 2
    assert [r["id"] for r in data.records] == [1, 2]


# --- 2. slow servers: --timeout, and auto's short first chance -----------------------------------------------------


def test_dripping_graphql_ends_at_timeout_and_names_the_flag():
    with Server([drip_body(0.3, size=1000)]) as server:
        started = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"did not answer within 1\.2 s; raise --timeout") as info:
            load_source(f"graphql:{server.url}", timeout=1.2, progress=False, **FAST)
    assert time.monotonic() - started < 3.0 and "\n" not in str(info.value)


def test_auto_gives_the_live_endpoint_a_short_first_chance(tmp_path, monkeypatch, caplog):
    import pokembed.sources.choice as choice
    from pokembed.sources.github_tables import GitHubEndpoints

    monkeypatch.setattr(choice, "AUTO_FIRST_BYTE", 0.5)
    dead = GitHubEndpoints(api="http://127.0.0.1:9", raw="http://127.0.0.1:9")
    with Server([sleep_then(4.0, json_answer(graphql_body([record(1)])))]) as server:
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="pokembed"):
            with pytest.raises(SourceUnavailableError, match=r"did not answer within 0\.5 s.*and so did the fallback"):
                load_source("auto", cache_dir=tmp_path, graphql_url=server.url, github=dead, timeout=30,
                            progress=False, **FAST)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"auto waited {elapsed:.1f} s for a server that sends nothing"
    said = [r.getMessage() for r in caplog.records if "to start answering" in r.getMessage()]
    assert len(said) == 1 and "0.5 s" in said[0] and "pokeapi:main" in said[0]


def test_cli_timeout_reaches_the_request(tmp_path, capsys):
    from conftest import load_cli

    with Server([drip_body(0.3, size=1000)]) as server:
        started = time.monotonic()
        code = load_cli().main(["--source", f"graphql:{server.url}", "--out", str(tmp_path / "out"),
                                "--timeout", "1", "--no-progress", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "raise --timeout" in err and time.monotonic() - started < 4.0


def test_cli_refuses_a_nonpositive_timeout(tmp_path, capsys):
    from conftest import load_cli

    assert load_cli().main(["--out", str(tmp_path / "out"), "--timeout", "0"]) == 1
    assert "--timeout 0" in capsys.readouterr().err


# --- 3. a table the query needs with only its header ---------------------------------------------------------------


@pytest.mark.parametrize("table", ["pokemon_stats", "pokemon"])
def test_header_only_table_is_refused_naming_the_file(tmp_path, csv_fixture, table):
    folder = tmp_path / "csv"
    shutil.copytree(csv_fixture, folder)
    path = folder / f"{table}.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(BadInputError, match=rf"table .*{table}\.csv has a header but no rows"):
        load_source(f"csv:{folder}", progress=False)


# --- 7. a dry run checks the job plan ------------------------------------------------------------------------------


@pytest.fixture
def jobs_hub(tmp_path, monkeypatch):
    from fake_hub import isolated_hub

    with isolated_hub(tmp_path, monkeypatch, "hf_round3TOKEN123456789") as server:
        yield server


def _job_dry_run(endpoint: str, *extra: str) -> list[str]:
    return ["--hf-job", "l4x1", "--out", "build/dataset", "--push", "me/pokemon", "--hub-endpoint", endpoint,
            "--hf-job-code", "https://github.com/pokembed/pokembed.git", "--hf-job-revision", "0" * 40, "--dry-run",
            *extra]


@pytest.mark.parametrize(("extra", "message"), [
    (["--schedule", "not cron"], "--schedule 'not cron' has 2 fields, a cron expression has 5"),
    (["--schedule", "61 * * * *"], "--schedule '61 \\* \\* \\* \\*' has '61' in its minute field"),
    (["--schedule", "0 3 * * funday"], "has 'funday' in its day of week field"),
    (["--hf-job-timeout", "forever"], "--hf-job-timeout 'forever' is not a duration"),
    (["--hf-job-timeout", "0h"], "--hf-job-timeout '0h' is not a duration"),
])
def test_dry_run_refuses_a_bad_schedule_or_duration(jobs_hub, capsys, extra, message):
    from conftest import load_cli

    assert load_cli().main(_job_dry_run(jobs_hub.endpoint, *extra)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


@pytest.mark.parametrize("schedule", ["@weekly", "0 3 * * 1", "*/15 0-6 1,15 jan-mar mon-fri", "30 4 * * 7"])
def test_dry_run_accepts_good_schedules(jobs_hub, capsys, schedule):
    from conftest import load_cli

    assert load_cli().main(_job_dry_run(jobs_hub.endpoint, "--schedule", schedule, "--hf-job-timeout", "90m")) == 0
    assert "Dry run, nothing submitted" in capsys.readouterr().out


def test_dry_run_unknown_flavor_is_an_error_when_the_hub_answers(jobs_hub, capsys):
    from conftest import load_cli

    argv = _job_dry_run(jobs_hub.endpoint)
    argv[1] = "bogus"
    assert load_cli().main(argv) == 1
    assert "--hf-job bogus: unknown job flavor" in capsys.readouterr().err


def test_dry_run_unknown_flavor_is_a_warning_when_the_hub_is_unreachable(jobs_hub, capsys, caplog):
    from conftest import load_cli

    argv = _job_dry_run("http://127.0.0.1:9")
    argv[1] = "bogus"
    with caplog.at_level(logging.WARNING):
        assert load_cli().main(argv) == 0
    assert "Dry run, nothing submitted" in capsys.readouterr().out
    assert any("could not read the Hub's job flavors to check --hf-job bogus" in r.getMessage()
               for r in caplog.records)


# --- 10. no markup from the data in the card -----------------------------------------------------------------------

XSS = '"><img src=x onerror=alert(1)>'


@pytest.mark.parametrize(("field", "value"), [
    ("name", XSS),
    ("pokemontypes", [{"type": {"name": "<b>grass</b>"}}]),
    ("pokemonspecy", {"generation": {"name": "generation-i](javascript:alert(1))"}}),
])
def test_records_with_markup_in_shown_names_are_refused(tmp_path, field, value):
    bad = {**record(2, "ivysaur"), field: value}
    with Server([json_answer(graphql_body([record(1), bad]))]) as server:
        with pytest.raises(SourceUnavailableError, match=r"Pokémon 2 has '.*' = .*expected letters, digits"):
            load_source(f"graphql:{server.url}", cache_dir=tmp_path, progress=False, **FAST)
    assert not list((tmp_path / "source").glob("*.json"))


def test_card_escapes_data_values(tmp_path):
    from pokembed.dataset.card_text import source_description
    from pokembed.dataset.facts import BuildFacts

    facts = BuildFacts(version="1.0.0", source="graphql:https://example.org", data_version=None, fetched_at=None,
                       text_model={}, image_model={}, umap={}, long_documents="truncate", counts={},
                       missing_artwork=[], truncated=[], built_at=None, extra={"source_note": XSS})
    text = source_description(facts)
    assert "<img" not in text and "&lt;img" in text
    from pokembed.dataset.card_text import markdown_text

    shown = markdown_text(XSS + " | [x](y)")
    assert "<" not in shown and ">" not in shown and '"' not in shown
    assert "\\|" in shown and "\\[x\\](y)" in shown


# --- 12. smaller ones: a full disk under the vector cache -----------------------------------------------------------


def _disk_io_error() -> Exception:
    import sqlite3

    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = sqlite3.SQLITE_IOERR | (3 << 8)  # SQLITE_IOERR_WRITE: WAL mode on a full disk says this
    return exc


@pytest.fixture
def full_disk(monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, 10 << 30, 4096))


def test_full_disk_while_writing_vectors_names_the_full_disk(tmp_path, full_disk, caplog):
    import numpy as np

    from pokembed.embedding.vector_cache import VectorCache

    class FullDatabase:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def executemany(self, *args):
            raise _disk_io_error()

    cache = VectorCache(tmp_path / "vectors.sqlite")
    real, cache._db = cache._db, FullDatabase()
    with caplog.at_level(logging.WARNING):
        cache.put_many("m", [("a" * 64, np.ones(4, np.float32), {})])
        cache.put_many("m", [("b" * 64, np.ones(4, np.float32), {})])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"the disk holding {tmp_path} is full" in warnings[0], warnings
    real.close()


def test_full_disk_when_opening_the_vector_cache_warns_once_and_goes_on(tmp_path, full_disk, monkeypatch, caplog):
    import sqlite3

    import numpy as np

    from pokembed.embedding.vector_cache import VectorCache

    real_connect = sqlite3.connect

    def connect(path, *args, **kwargs):
        if str(path) != ":memory:":
            raise _disk_io_error()
        return real_connect(path, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    with caplog.at_level(logging.WARNING):
        cache = VectorCache(tmp_path / "vectors.sqlite")
        cache.put_many("m", [("a" * 64, np.ones(4, np.float32), {})])
        assert cache.get_many("m", ["a" * 64]) == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is full" in warnings[0] and "going on without caching" in warnings[0]


# --- 4, 5. a previous output that is not a usable pokembed table ---------------------------------------------------


def _cli_build(out: Path, csv_fixture, artwork_fixture, tiny_models, *extra: str) -> int:
    from conftest import build_args, load_cli

    return load_cli().main(build_args(csv_fixture, artwork_fixture, tiny_models, out, "--cache-dir",
                                      str(out.parent / "cache"), *extra))


def _damage(parquet: Path, damage: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    if damage == "folder":
        parquet.unlink()
        parquet.mkdir()
    elif damage == "no id":
        pq.write_table(table.drop(["id"]), parquet)
    else:  # ids as strings
        ids = pa.array([str(i) for i in table.column("id").to_pylist()])
        pq.write_table(table.set_column(table.column_names.index("id"), "id", ids), parquet)


@pytest.mark.parametrize("damage", ["folder", "no id", "string ids"])
def test_unusable_previous_table_is_warned_about_before_any_work(tmp_path, built_dataset, csv_fixture,
                                                                  artwork_fixture, tiny_models, damage, caplog):
    out = tmp_path / "dataset"
    shutil.copytree(built_dataset, out)
    parquet = out / "data" / "train-00000-of-00001.parquet"
    _damage(parquet, damage)
    with caplog.at_level(logging.INFO):
        assert _cli_build(out, csv_fixture, artwork_fixture, tiny_models, "--version", "0.2.0") == 0
    messages = [r.getMessage() for r in caplog.records]
    warned = [i for i, m in enumerate(messages) if "is not a pokembed table" in m or "is damaged" in m]
    assert len(warned) == 1 and str(parquet) in messages[warned[0]], messages
    assert warned[0] < messages.index("source ..."), "the previous version must be checked before any work"
    marker = json.loads((out / ".pokembed").read_text())
    assert marker["version"] == "0.2.0"
    changelog = " ".join(marker["extra"]["changelog"]) if "extra" in marker else (out / "README.md").read_text()
    assert "Added" not in changelog and "Removed" not in changelog  # not the same Pokémon added and removed


# --- 6. the normalised version everywhere --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["v0.3.0", " 0.3.0 "])
def test_version_is_normalised_everywhere(tmp_path, csv_fixture, artwork_fixture, tiny_models, typed):
    from pokembed.dataset.table import read_table, table_metadata

    out = tmp_path / "dataset"
    assert _cli_build(out, csv_fixture, artwork_fixture, tiny_models, "--version", typed, "--quiet") == 0
    assert json.loads((out / ".pokembed").read_text())["version"] == "0.3.0"
    assert json.loads(table_metadata(read_table(out))["pokembed"])["version"] == "0.3.0"
    card = (out / "README.md").read_text()
    assert "### v0.3.0" in card and "vv0.3.0" not in card and "v 0.3.0" not in card


# --- 8. each flag's error names that flag and its value ------------------------------------------------------------


def test_a_bad_space_id_is_blamed_on_space(tmp_path, capsys):
    from conftest import load_cli

    code = load_cli().main(["--out", str(tmp_path / "out"), "--push", "me/pokemon", "--space", "not a space!"])
    err = capsys.readouterr().err
    assert code == 1 and "--space 'not a space!' is not a repo id" in err and "--push" not in err.split("(")[0]


@pytest.mark.parametrize(("argv", "shown"), [
    (["--push", "bad id", "--dry-run"], "--push 'bad id' is not a repo id"),
    (["--version", "1.2"], "--version '1.2' is not a semantic version"),
    (["--timeout", "-5"], "--timeout -5"),
])
def test_flag_errors_name_flag_and_value(tmp_path, capsys, argv, shown):
    from conftest import load_cli

    assert load_cli().main(["--out", str(tmp_path / "out"), *argv]) == 1
    err = capsys.readouterr().err
    assert shown in err and err.count("\n") == 1, err


# --- 9. every model resolved before any work, a dangling query_model blamed on its sidecar -------------------------


def test_dangling_query_model_is_found_before_any_work(tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys,
                                                       caplog):
    models = tmp_path / "models"
    shutil.copytree(tiny_models / "image", models / "image")
    shutil.copytree(tiny_models / "text", models / "text")
    sidecar = models / "image" / "pokembed.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "query_model": "../gone"}))
    with caplog.at_level(logging.INFO):
        code = _cli_build(tmp_path / "dataset", csv_fixture, artwork_fixture, models)
    err = capsys.readouterr().err
    assert code == 1 and str(sidecar) in err and "--image-model" in err and "--text-model" not in err, err
    assert err.count("\n") == 1
    assert not any(r.getMessage() == "source ..." for r in caplog.records), "the error came after work started"


# --- 12. smaller ones: --out '' and a closed pipe -------------------------------------------------------------------


def test_empty_out_is_refused_not_read_as_the_current_folder(tmp_path, csv_fixture, artwork_fixture, tiny_models,
                                                             monkeypatch, capsys):
    from conftest import build_args, load_cli

    monkeypatch.chdir(tmp_path)
    code = load_cli().main([*build_args(csv_fixture, artwork_fixture, tiny_models, Path("ignored")), "--out", ""])
    assert code == 1 and "--out '' is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stdout_ends_quietly(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    argv = [sys.executable, str(ROOT / "build_dataset.py"), *_job_dry_run("http://127.0.0.1:9"), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    process.stdout.close()  # like `| head` that has read enough
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode(), err.decode()
    assert process.returncode == 0


# --- 11. what a push publishes names no path of the machine -------------------------------------------------------


def test_pushed_files_hold_no_local_path(tmp_path, monkeypatch, csv_fixture, artwork_fixture, tiny_models):
    from conftest import ROOT, build_args, load_cli
    from fake_hub import FakeHub, isolate_hub_env

    token = "hf_round3PATHS0987654321"
    isolate_hub_env(monkeypatch, tmp_path / "hf-home")
    monkeypatch.setenv("HF_TOKEN", token)
    out = tmp_path / "out"
    with FakeHub(token=token) as hub:
        code = load_cli().main(build_args(csv_fixture, artwork_fixture, tiny_models, out, "--version", "0.1.0",
                                          "--push", "tester/pokemon", "--hub-endpoint", hub.endpoint,
                                          "--cache-dir", str(tmp_path / "cache"), "--quiet"))
        assert code == 0
        pushed = hub.repo("tester/pokemon").head.files
    assert {"README.md", ".pokembed", "data/train-00000-of-00001.parquet"} <= set(pushed)
    local = {str(p) for p in (csv_fixture, artwork_fixture, tiny_models, tmp_path, ROOT, Path.home())}
    local |= {str(Path(p).resolve()) for p in local} | {str(Path(tmp_path).parent.parent)}
    for name, data in pushed.items():
        for path in local:
            assert path.encode() not in data, f"{name} names the local path {path}"
    marker = json.loads(pushed[".pokembed"])
    text = marker["text_model"]
    assert text["model_id"] == "local:text" and len(text["files_sha256"]) == 16  # identified by its contents
    assert marker["artwork"] == f"local:{artwork_fixture.name}" and len(marker["extra"]["artwork_files_sha256"]) == 16
    assert marker["source"] == f"csv:{csv_fixture.name}" and marker["data_version"]
