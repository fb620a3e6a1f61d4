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


def test_read_json_object_names_the_file_and_the_fix(tmp_path):
    from pokembed.errors import BadInputError
    from pokembed.local_files import read_json_object

    good, bad, listed = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "list.json"
    good.write_text('{"a": [1, 2]}', encoding="utf-8")
    bad.write_text("{not json", encoding="utf-8")
    listed.write_text("[1, 2]", encoding="utf-8")
    assert read_json_object(good, what="thing", fix="fix it") == {"a": [1, 2]}
    with pytest.raises(BadInputError, match=r"^thing .*bad\.json is not readable JSON \(JSONDecodeError.*; fix it$"):
        read_json_object(bad, what="thing", fix="fix it")
    with pytest.raises(BadInputError, match=r"list\.json is not a JSON object; fix it$"):
        read_json_object(listed, what="thing", fix="fix it")


def test_files_digest_is_sha256_over_relative_names_and_bytes(tmp_path):
    import hashlib

    from pokembed.local_files import files_digest

    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_bytes(b"bee")
    (tmp_path / "sub" / "a.txt").write_bytes(b"ay")
    expected = hashlib.sha256(b"b.txt\0bee\0sub/a.txt\0ay\0").hexdigest()  # sorted by path, name then bytes
    assert files_digest(tmp_path, [tmp_path / "sub" / "a.txt", tmp_path / "b.txt"]) == expected
    (tmp_path / "b.txt").write_bytes(b"bees")
    assert files_digest(tmp_path, [tmp_path / "sub" / "a.txt", tmp_path / "b.txt"]) != expected


def test_name_list_shows_the_first_names_then_how_many_more():
    from pokembed.errors import name_list

    assert name_list(["a", "b"], 3) == "a, b"
    assert name_list((str(i) for i in range(1005)), 2) == "0, 1 and 1,003 more"


def test_each_reader_is_defined_once():
    """One JSON-object reader, one folder digest, one "first N and M more" (there were four, two and three)."""
    copies = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        copies += [f"{path.name}:{n}" for n in re.findall(r"^def (\w+)\(", text, re.M)
                   if n.lstrip("_") in ("read_json_object", "files_digest", "name_list", "some", "first")]
        copies += [f"{path.name}:sha256 loop" for _ in re.findall(r"digest\.update\(block\)", text)]
    assert sorted(copies) == ["errors.py:name_list", "local_files.py:files_digest", "local_files.py:read_json_object",
                              "local_files.py:sha256 loop"]
