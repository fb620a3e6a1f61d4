"""Under CI=true a test that would skip for a missing browser, ../shared or tool fails with the reason; outside CI it
skips with the reason; a `cuda` test skips either way. Each case runs real test files of the suite in a pytest
subprocess, with Chromium and ../shared pointed at paths that do not exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT

BROWSER_TEST = "tests/test_space_browser.py"
SHARED_TEST = "tests/test_models.py::test_tiny_model_with_the_real_tokenizer"
CUDA_TEST = "tests/test_nomic_vision.py::test_cuda_bf16_stays_close_to_nomics_vectors"


def run_suite(tmp_path, *, ci: bool) -> tuple[int, str]:
    """Exit code and output of pytest on the three test ids, with Chromium and ../shared missing."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(POKEMBED_CHROMIUM=str(tmp_path / "no-chromium"), POKEMBED_SHARED=str(tmp_path / "no-shared"),
               PYTHONDONTWRITEBYTECODE="1", CUDA_VISIBLE_DEVICES="",
               **({"CI": "true"} if ci else {}))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-o", "addopts=",
                          "--basetemp", str(tmp_path / "basetemp"), BROWSER_TEST, SHARED_TEST, CUDA_TEST],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return run.returncode, run.stdout + run.stderr


def outcomes(output: str) -> dict[str, str]:
    """Short-summary lines by test id: {'tests/x.py::t[phone]': 'ERROR - reason', ...}."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"(PASSED|FAILED|SKIPPED|ERROR) (?:\[\d+\] )?(\S+?)(?::\d+)?(?: - (.*))?$", line)
        if match:
            found.setdefault(match[2], f"{match[1]} - {match[3] or ''}")
    return found


def collected(path: str) -> set[str]:
    """The test ids pytest collects from `path` (each viewport of a parametrized test on its own)."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", "-o",
                          "addopts=", path], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return {line.strip() for line in run.stdout.splitlines() if line.startswith(path + "::")}


def test_under_ci_a_missing_browser_or_shared_folder_fails_with_the_reason(tmp_path):
    code, output = run_suite(tmp_path, ci=True)
    assert code == 1, output[-3000:]
    browser = {test: outcome for test, outcome in outcomes(output).items() if test.startswith(BROWSER_TEST)}
    expected = collected(BROWSER_TEST)
    assert len(expected) >= 9 and set(browser) == expected, f"collected {sorted(expected)}\n{output[-3000:]}"
    assert all(o.startswith("ERROR - CI=true, so this must not skip: Chromium absent: "
                            f"{tmp_path / 'no-chromium'} not found") for o in browser.values()), output[-3000:]
    assert outcomes(output)[SHARED_TEST] == ("ERROR - CI=true, so this must not skip: real PokéAPI data absent: "
                                             f"{tmp_path / 'no-shared' / 'pokeapi'} not found"), output[-3000:]
    assert re.search(rf"SKIPPED \[1\] {re.escape(CUDA_TEST.split('::')[0])}:\d+: needs CUDA", output), output[-3000:]


def test_outside_ci_the_same_tests_skip_with_the_reason(tmp_path):
    code, output = run_suite(tmp_path, ci=False)
    assert code == 0, output[-3000:]
    assert "failed" not in output.lower(), output[-3000:]
    assert f"Chromium absent: {tmp_path / 'no-chromium'} not found" in output
    assert f"real PokéAPI data absent: {tmp_path / 'no-shared' / 'pokeapi'} not found" in output
    assert "needs CUDA" in output
