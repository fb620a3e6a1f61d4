"""Same inputs, models and seed give the same parquet bytes across processes: two builds of the ~20-Pokémon fixture
with the tiny models, each in a fresh interpreter with its own hash seed and BLAS/OpenMP thread count, and the
session's in-process build, all byte-identical."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, build_args

PARQUET = "data/train-00000-of-00001.parquet"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def test_builds_in_fresh_processes_with_other_hash_seeds_and_thread_counts_give_the_same_parquet_bytes(
        tmp_path, csv_fixture, artwork_fixture, tiny_models, built_dataset):
    runs = []
    for hash_seed, threads in (("1", "1"), ("2024", "2")):
        out = tmp_path / f"threads-{threads}" / "dataset"
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
        env.update({"PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT), **{k: threads for k in THREAD_VARIABLES}})
        args = build_args(csv_fixture, artwork_fixture, tiny_models, out, "--version", "0.1.0")
        process = subprocess.Popen([sys.executable, str(ROOT / "build_dataset.py"), *args], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        runs.append((process, out))
    for process, out in runs:  # both run at once: the test takes about one build's time
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-2000:]
    first, second = ((out / PARQUET).read_bytes() for _, out in runs)
    assert first == second
    assert first == (built_dataset / PARQUET).read_bytes()
    assert (runs[0][1] / "README.md").read_bytes() == (built_dataset / "README.md").read_bytes()
