"""build_dataset.py --hf-job against the fake Hub's jobs API: submit, stream logs, exit status, schedules."""

from __future__ import annotations

import json

import pytest

from conftest import load_cli
from fake_hub import fake_jobs, isolated_hub
from pokembed.hub.jobs import DEFAULT_IMAGE, JOB_SCRIPT, job_arguments

TOKEN = "hf_jobsTOKEN5678901234secret"
REPO = "tester/pokemon-embeddings"
CODE = "https://github.com/pokembed/pokembed.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with isolated_hub(tmp_path, monkeypatch, TOKEN) as server:
        yield server


def job_argv(hub, *extra):
    return ["--hf-job", "l4x1", "--out", "build/dataset", "--version", "auto", "--push", REPO,
            "--hub-endpoint", hub.endpoint, "--hf-job-code", CODE, "--hf-job-revision", COMMIT, *extra]


def test_job_arguments_drop_the_job_options():
    argv = ["--hf-job", "a100-large", "--out", "o", "--schedule=@weekly", "--hf-job-image", "img", "--limit", "3",
            "--hf-job-timeout=90m", "--dry-run", "--push", "me/x"]
    assert job_arguments(argv) == ["--out", "o", "--limit", "3", "--push", "me/x", "--no-progress"]
    assert job_arguments(["--out", "o", "--no-progress"]) == ["--out", "o", "--no-progress"]


def test_a_job_is_submitted_streams_its_logs_and_completes(hub, capsys):
    fake_jobs(hub).logs = ["source: 1,351 Pokémon", f"pushed with {TOKEN}", "Built 1351 Pokémon"]
    code = load_cli().main(job_argv(hub))
    out, err = capsys.readouterr()
    assert code == 0, err
    [spec] = fake_jobs(hub).submitted
    assert spec["flavor"] == "l4x1" and spec["dockerImage"] == DEFAULT_IMAGE and spec["timeoutSeconds"] == 7200
    assert spec["command"] == ["bash", "-c", JOB_SCRIPT, "pokembed-job", "--out", "build/dataset", "--version", "auto",
                               "--push", REPO, "--hub-endpoint", hub.endpoint, "--no-progress"]
    assert spec["environment"] == {"POKEMBED_CODE": CODE, "POKEMBED_REVISION": COMMIT, "PYTHONUNBUFFERED": "1"}
    assert spec["secrets"] == {"HF_TOKEN": TOKEN}  # the token travels as the job secret, and only there
    assert TOKEN not in json.dumps({k: v for k, v in spec.items() if k != "secrets"})
    assert TOKEN not in out + err
    assert "source: 1,351 Pokémon" in out and "pushed with ***" in out and "Built 1351 Pokémon" in out
    assert "completed" in out and "hardware: 1x Nvidia L4 at $0.80/h" in out


def test_a_failing_job_exits_1_with_its_last_log_lines(hub, capsys):
    jobs = fake_jobs(hub)
    jobs.logs = [f"step {n}" for n in range(30)] + ["Error: the text model failed to load"]
    jobs.final_stage, jobs.final_message = "ERROR", "exit code 1"
    code = load_cli().main(job_argv(hub))
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("Error: Hugging Face Job ") and "ended ERROR (exit code 1)" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    tail = out.split("Last 20 log lines of job")[1]
    assert "  Error: the text model failed to load" in tail and "step 11" in tail and "step 10" not in tail


def test_an_unknown_flavor_lists_the_gpu_flavors(hub, capsys):
    argv = job_argv(hub)
    argv[1] = "a9000"
    code = load_cli().main(argv)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: --hf-job a9000: unknown job flavor; use one the Hub offers, GPU flavors:")
    assert "t4-small (Nvidia T4 - small, $0.40/h)" in err and "l4x1" in err and "a100-large" in err
    assert "cpu-basic" not in err and fake_jobs(hub).submitted == []


def test_a_schedule_is_created_then_replaced(hub, capsys):
    cli = load_cli()
    assert cli.main(job_argv(hub, "--schedule", "0 6 * * 1")) == 0
    [(first_id, first)] = fake_jobs(hub).scheduled.items()
    assert first["schedule"] == "0 6 * * 1" and first["spec"]["flavor"] == "l4x1"
    assert list(first["spec"]["secrets"]) == ["HF_TOKEN"] and "--schedule" not in first["spec"]["command"]
    assert fake_jobs(hub).submitted == []  # a schedule runs nothing now
    assert cli.main(job_argv(hub, "--schedule", "@weekly")) == 0
    [(second_id, second)] = fake_jobs(hub).scheduled.items()
    assert second_id != first_id and second["schedule"] == "@weekly"
    out = capsys.readouterr().out
    assert f"Replaced the earlier scheduled job {first_id}" in out and TOKEN not in out


@pytest.mark.parametrize("extra, message", [
    (["--source", "csv:../shared/pokeapi/csv"], "cannot read local paths: --source csv:"),
    (["--artwork", "."], "--artwork . (use a URL template)"),
    (["--text-model", "."], "--text-model . (use a registry name or Hub id)"),
])
def test_local_inputs_are_refused_before_submitting(hub, capsys, extra, message):
    code = load_cli().main(job_argv(hub, *extra))
    err = capsys.readouterr().err
    assert code == 1 and message in err and fake_jobs(hub).submitted == []


def test_a_job_must_push(hub, capsys):
    argv = job_argv(hub)
    del argv[argv.index("--push"): argv.index("--push") + 2]
    assert load_cli().main(argv) == 1
    assert "--hf-job needs --push REPO_ID" in capsys.readouterr().err


def test_dry_run_shows_the_job_and_submits_nothing(hub, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    assert load_cli().main(job_argv(hub, "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "Dry run, nothing submitted" in out and f"{CODE} @ {COMMIT}" in out and "l4x1" in out
    assert "--dry-run" not in out.split("runs:")[1].splitlines()[0]
    assert fake_jobs(hub).submitted == [] and hub.requests == [("GET", "/api/jobs/hardware")]  # the flavor check


def test_schedule_without_a_job_is_refused(capsys):
    assert load_cli().main(["--out", "x", "--schedule", "@weekly"]) == 1
    assert "--schedule only applies with --hf-job" in capsys.readouterr().err
