"""Crash test: twenty incremental builds, each killed with SIGKILL at a random (seeded) moment, then rerun.

After every kill the previous output is intact or replaced whole, no user file in --out is lost; every rerun
finishes, and no temporary folder, old folder or lock accumulates.

Speed: a build_dataset.py process spends ~15 s importing torch/transformers and JIT-compiling UMAP before the
~1 s a small build takes. So the builds run in children forked from one warm Python process (a zygote that
imported build_dataset.py and ran the first build itself); each child runs build_dataset.py's main() with its own
arguments and dies by SIGKILL from this test, exactly as a separate process would.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, build_args, write_artwork_folder
from pokembed.dataset.facts import MARKER

ROUNDS = 20
SEED = 10

ZYGOTE = r"""
import json, os, sys
os.environ["TQDM_DISABLE"] = "1"
proto = os.fdopen(os.dup(1), "w", buffering=1)  # answers to the test; the builds' own output goes nowhere
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
sys.stdout = open(os.devnull, "w")
sys.path.insert(0, os.environ["POKEMBED_ROOT"])
import importlib.util
spec = importlib.util.spec_from_file_location("build_dataset", os.path.join(os.environ["POKEMBED_ROOT"], "build_dataset.py"))
cli = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli)
import torch
torch.set_num_threads(1)
for line in sys.stdin:
    request = json.loads(line)
    if request["fork"]:
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            proto.close()
            os._exit(cli.main(request["args"]))
        print(json.dumps({"pid": pid}), file=proto)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": status}), file=proto)
    else:  # in this process: the first build, which also warms up torch, the tokenizers and UMAP's JIT
        print(json.dumps({"status": cli.main(request["args"])}), file=proto)
"""


class Zygote:
    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)

    def send(self, request: dict) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer from the build within {timeout} s: a hang"
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def user_files(out: Path) -> dict[str, bytes]:
    from pokembed.dataset.output_folder import is_owned

    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not is_owned(p.relative_to(out).as_posix())}


def check_whole(out: Path, rows_of: dict[str, int], allowed: set[str]) -> str:
    """The output is one complete version among `allowed`: marker, card and table agree. Returns that version."""
    import pyarrow.parquet as pq

    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    version = marker["version"]
    assert version in allowed, f"version {version} is neither the previous nor the new one ({allowed})"
    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    assert table.num_rows == rows_of[version] == marker["counts"]["pokemon"], (version, table.num_rows)
    assert json.loads(table.schema.metadata[b"pokembed"])["version"] == version
    assert version in (out / "README.md").read_text(encoding="utf-8")
    return version


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name not in ("out", "cache"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_twenty_builds_killed_at_random_moments(tmp_path, csv_fixture, artwork_fixture, tiny_models):
    rng = random.Random(SEED)
    parent = tmp_path / "work"
    parent.mkdir()
    out, cache = parent / "out", parent / "cache"
    env = {**os.environ, "POKEMBED_ROOT": str(ROOT), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "NUMBA_THREADING_LAYER": "workqueue"}  # numba's GNU OpenMP layer refuses to run after a fork
    artwork = write_artwork_folder(tmp_path / "art", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], missing=0)

    def args(round_: int) -> tuple[list[str], str, int]:
        limit = 4 + round_ % 6  # incremental: the rows (and so the vectors to embed) change every build
        version = f"0.{round_}.0"
        return (build_args(csv_fixture, artwork, tiny_models, out, "--limit", str(limit), "--version", version,
                           "--cache-dir", str(cache), "--umap-epochs", "30", "--quiet"), version, limit)

    zygote = Zygote(env)
    try:
        first, version, limit = args(0)
        zygote.send({"fork": False, "args": first})
        assert zygote.read(600)["status"] == 0
        rows_of = {version: limit}
        assert check_whole(out, rows_of, {version}) == version
        (out / "notes.md").write_text("my notes\n")
        (out / "figures").mkdir()
        (out / "figures" / "map.png").write_bytes(os.urandom(300))
        subprocess.run(["git", "init", "-q", str(out)], check=True)
        kept = user_files(out)
        assert ".git/HEAD" in kept

        durations: list[float] = []
        outcomes: list[tuple[float, bool, list[str]]] = []  # (delay, new version already in place, leftovers)
        for round_ in range(1, ROUNDS + 1):
            argv, version, limit = args(round_)
            rows_of[version] = limit
            previous = json.loads((out / MARKER).read_text())["version"]
            # Killed at a random moment of a build (up to 1.5x a measured build, so some finish first).
            typical = sorted(durations)[len(durations) // 2] if durations else 1.0
            delay = rng.uniform(0.0, 1.5 * typical)
            zygote.send({"fork": True, "args": argv})
            pid = zygote.read(60)["pid"]
            time.sleep(delay)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            zygote.read(120)
            # Right after the kill: the previous version or the new one, whole; the user's files all there.
            assert out.is_dir(), f"round {round_}: no --out after a kill at {delay:.2f} s ({leftovers(parent)})"
            outcomes.append((round(delay, 2), check_whole(out, rows_of, {previous, version}) == version,
                             leftovers(parent)))
            assert user_files(out) == kept, f"round {round_}: user files changed"
            # The rerun finishes and gives the new version; nothing is left behind.
            started = time.monotonic()
            zygote.send({"fork": True, "args": argv})
            zygote.read(60)
            status = zygote.read(300)["status"]
            durations.append(time.monotonic() - started)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"round {round_}: rerun status {status}"
            assert check_whole(out, rows_of, {version}) == version
            assert user_files(out) == kept
            assert leftovers(parent) == [], f"round {round_}: {leftovers(parent)} left behind"
        print("kills (delay s, new version in place, leftovers):", outcomes)
        # The kills landed both before and after the swap: the test exercised interrupted builds, not just idle ones.
        assert any(new for _, new, _ in outcomes) and not all(new for _, new, _ in outcomes), outcomes
    finally:
        zygote.close()
