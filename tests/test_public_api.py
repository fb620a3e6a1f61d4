"""The public API: `import pokembed` is instant and exports what a user scripts with; errors name parameters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, build_args


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return done.stdout


def test_import_pokembed_loads_no_heavy_module_and_every_export_resolves():
    out = _run(
        "import json, sys, pokembed\n"
        "heavy = [m for m in ('torch', 'numpy', 'requests', 'datasets', 'transformers', 'pyarrow') if m in sys.modules]\n"
        "names = {n: type(getattr(pokembed, n)).__name__ for n in pokembed.__all__}\n"
        "print(json.dumps([heavy, names]))\n"
    )
    heavy, names = json.loads(out)
    assert heavy == []
    assert {"build", "BuildConfig", "load_records", "load_text_encoder", "load_image_encoder", "get_model_spec",
            "PokedexIndex", "PokembedError", "BadInputError"} <= set(names)
    assert names["build"] == "function" and names["BuildConfig"] == "type"


def test_build_is_the_function_whichever_import_came_first():
    out = _run("from pokembed.pipeline import BuildConfig\nimport pokembed\nfrom pokembed import build\n"
               "import inspect\nprint(inspect.isfunction(pokembed.build), inspect.isfunction(build))")
    assert out.split() == ["True", "True"]


def test_library_errors_name_parameters_not_flags(tmp_path):
    from pokembed.pipeline import BuildConfig, validate_config
    from pokembed.errors import BadInputError

    with pytest.raises(BadInputError, match=r"^`neighbors` must be a positive number, got 0$"):
        validate_config(BuildConfig(out=tmp_path / "out", neighbors=0))
    with pytest.raises(BadInputError, match=r"^`limit` must be a positive number, got 0$"):
        validate_config(BuildConfig(out=tmp_path / "out", limit=0))


def test_the_cli_writes_parameters_as_its_flags(tmp_path, csv_fixture, artwork_fixture, tiny_models, capsys):
    from conftest import load_cli

    cli = load_cli()
    assert cli.flagged("choose a writable `cache_dir` or `out`; `neighbors` is not a flag") == (
        "choose a writable --cache-dir or --out; `neighbors` is not a flag")
    (tmp_path / "cachefile").write_text("x")
    code = cli.main(build_args(csv_fixture, artwork_fixture, tiny_models, tmp_path / "out",
                               "--cache-dir", str(tmp_path / "cachefile")))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("Error: --cache-dir ") and "is a file, not a folder" in err[-1]
