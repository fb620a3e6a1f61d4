"""build_dataset.py: user mistakes end in one `Error: …` line and exit code 1, never a traceback."""

from __future__ import annotations

import pytest

from conftest import build_args, load_cli


@pytest.fixture(scope="module")
def cli():
    return load_cli()


def run_cli(cli, argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(code: int, err: str, pattern: str) -> None:
    import re

    assert code == 1
    lines = [line for line in err.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]


def test_unknown_text_model(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out")
    argv[argv.index("--text-model") + 1] = "no-such-model"
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"unknown text model 'no-such-model'.*nomic-embed-text-v1\.5")


def test_model_that_fails_to_load(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "vit", "hidden_size": "not a number"', encoding="utf-8")
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out")
    argv[argv.index("--image-model") + 1] = str(broken)
    code, err = run_cli(cli, argv, capsys)
    assert code == 1 and "Traceback" not in err and err.startswith("Error: ")
    assert not (tmp_path / "out").exists()


def test_unknown_source_scheme(cli, tmp_path, artwork_fixture, tiny_models, capsys):
    argv = build_args(tmp_path, artwork_fixture, tiny_models, tmp_path / "out")
    argv[argv.index("--source") + 1] = "ftp://example"
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"graphql.*csv:")


def test_csv_folder_without_a_table_names_it(cli, tmp_path, artwork_fixture, tiny_models, capsys):
    (tmp_path / "empty").mkdir()
    argv = build_args(tmp_path / "empty", artwork_fixture, tiny_models, tmp_path / "out")
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"pokemon[a-z_]*\.csv")


def test_output_folder_that_is_not_ours(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious", encoding="utf-8")
    code, err = run_cli(cli, build_args(csv_fixture, artwork_fixture, tiny_models, foreign), capsys)
    assert_one_line_error(code, err, r"not a pokembed output folder")
    assert (foreign / "thesis.tex").read_text(encoding="utf-8") == "precious"


def test_bad_version(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out", "--version", "one")
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"version")


def test_push_without_a_token(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out", "--push", "me/pokembed")
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"HF_TOKEN")
    assert not (tmp_path / "out").exists()


def test_debug_switch_lets_the_traceback_through(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, monkeypatch):
    from pokembed.errors import PokembedError

    monkeypatch.setenv("POKEMBED_DEBUG", "1")
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out", "--version", "one")
    with pytest.raises(PokembedError):
        cli.main(argv)


def test_bad_umap_epochs_fail_before_any_work(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out")
    argv[argv.index("--umap-epochs") + 1] = "0"
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"--umap-epochs must be an integer >= 1")
    assert not (tmp_path / ".pokembed-cache").exists()


def test_missing_previous_folder_fails_before_any_work(cli, tmp_path, csv_fixture, artwork_fixture, tiny_models,
                                                       capsys):
    argv = build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out") + [
        "--previous", str(tmp_path / "no-such-build")]
    code, err = run_cli(cli, argv, capsys)
    assert_one_line_error(code, err, r"--previous .*no-such-build is not a folder")
    assert not (tmp_path / ".pokembed-cache").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", [["--hf-job-code", "https://example.org/x.git"], ["--hf-job-revision", "abc"],
                                    ["--hf-job-image", "python:3.11"], ["--hf-job-timeout", "5x"]])
def test_job_options_without_a_job_are_refused(cli, tmp_path, option, capsys):
    code, err = run_cli(cli, ["--out", str(tmp_path / "out"), *option], capsys)
    assert_one_line_error(code, err, rf"{option[0]} only applies with --hf-job FLAVOR")
