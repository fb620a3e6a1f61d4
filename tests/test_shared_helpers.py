"""The small helpers every module shares: one atomic write, one one-line message, each defined once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pokembed.atomic_files import atomic_path, write_atomic
from pokembed.errors import one_line

PACKAGE = Path(__file__).resolve().parents[1] / "pokembed"


def test_write_atomic_replaces_whole_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "file.json"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_one_line_collapses_cuts_and_masks():
    assert one_line(ValueError("bad\n  thing\there")) == "bad thing here"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("")) == "RuntimeError"
    assert one_line("x" * 300, 10) == "x" * 9 + "…"
    assert one_line(OSError("401 for hf_secret123 at url"), secret="hf_secret123") == "401 for *** at url"


def test_each_helper_is_defined_once():
    """No module keeps a private copy of write_atomic or one_line (there were five of one, three of the other)."""
    copies = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in re.findall(r"^def (_?(?:one_line|first_line|write_atomic|write_cache))\(",
                               path.read_text(encoding="utf-8"), re.M):
            copies.append(f"{path.name}:{name}")
    assert copies == ["atomic_files.py:write_atomic", "errors.py:one_line"]


def test_the_shared_data_path_is_spelled_once_for_tests_and_once_for_benchmarks():
    """tests/ take SHARED from conftest.py and benchmarks/ from benchmarks/common.py, instead of re-typing it."""
    root = PACKAGE.parent
    NEEDLE = "/ " + '"shared"'  # noqa: N806 - built here so this file does not match itself
    spelled = sorted(str(path.relative_to(root)) for folder in ("tests", "benchmarks")
                     for path in (root / folder).glob("*.py") if NEEDLE in path.read_text(encoding="utf-8"))
    assert spelled == ["benchmarks/common.py", "tests/conftest.py"]
