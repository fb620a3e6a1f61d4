#!/usr/bin/env python
"""End to end: build_dataset.py for the whole corpus, twice, cold cache then warm cache, with its own step timings.

Each build calls build_dataset.main([...]) (imported from the repository root with importlib), by default in a fresh
Python process per build, as a maintainer would run it; --same-process runs both builds in this process instead (the
warm build then also skips imports and numba's compilation of UMAP). Both builds share one cache folder:
  cold  empty cache: source tables read, artwork decoded and resized, every text and image embedded, UMAP, table;
  warm  the same command again: source, artwork and vectors come from the cache; UMAP and the table are redone.
Each build prints its own summary (counts, seconds per step); a side-by-side table ends the report.

Models: by default the tiny random models of `python -m pokembed.tiny_models` (written to a temp folder, with the real
bert-base-uncased tokenizer so token counts are real); --full-size writes the random full-size ones of
text_throughput.py and image_throughput.py instead (the nomic-embed-text-v1.5 and nomic-embed-vision-v1.5 architectures);
--text-model / --image-model take any registry name or folder.

Size: the whole corpus (1,351) by default; with --full-size on a CPU the default is the first 16 Pokémon (a full-size
model embeds a median document in seconds there), --all overrides; --limit N for smoke runs.

  python benchmarks/end_to_end.py                               # tiny models, whole corpus, CPU is fine
  python benchmarks/end_to_end.py --device cuda --full-size --all   # what the issue's targets are about
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_ARTWORK,
    DEFAULT_SOURCE,
    REPO,
    add_device_and_size,
    check_positive,
    write_full_size_models,
    write_tiny_models,
)

FULL_SIZE_CPU_LIMIT = 16

# Runs build_dataset.main(argv) the way this script does in-process: imported by path, from the repository root.
CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("build_dataset", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.exit(module.main(sys.argv[2:]))
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="end_to_end.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_device_and_size(parser, all_help="every Pokémon, also with --full-size on a CPU",
                        limit_help="only the first N Pokémon (smoke runs)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="build --source (default: the shared PokéAPI CSVs)")
    parser.add_argument("--artwork", default=str(DEFAULT_ARTWORK), help="build --artwork (default: the shared folder)")
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--full-size", action="store_true",
                        help="random full-size models (nomic-embed-text-v1.5 and nomic-embed-vision-v1.5 architectures)")
    models.add_argument("--tiny", action="store_true", help="the tiny models (the default)")
    parser.add_argument("--text-model", default=None, help="a text model name or folder (overrides the above)")
    parser.add_argument("--image-model", default=None, help="an image model name or folder (overrides the above)")
    parser.add_argument("--umap-epochs", type=int, default=None, help="build --umap-epochs (default: the article's 5000)")
    parser.add_argument("--same-process", action="store_true", help="run both builds in this process")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep models, cache and outputs here instead of a temporary folder")
    parser.add_argument("--progress", action="store_true", help="show the build's progress bars")
    args = parser.parse_args(argv)
    check_positive(parser, args, "limit")
    return args


def write_models(folder: Path, *, full_size: bool) -> tuple[str, str, str]:
    """(text model folder, image model folder, description) written under `folder`."""
    start = time.perf_counter()
    if full_size:
        text, image = write_full_size_models(folder)
        what = "random full-size models (nomic-embed-text-v1.5 and nomic-embed-vision-v1.5 architectures)"
    else:
        text, image = write_tiny_models(folder)
        what = "tiny models (python -m pokembed.tiny_models, bert-base-uncased tokenizer)"
    return str(text), str(image), f"{what}, written in {time.perf_counter() - start:.1f} s"


@dataclass
class BuildRun:
    name: str
    returncode: int
    wall_seconds: float
    steps: dict[str, float] = field(default_factory=dict)


STEP_LINE = re.compile(r"^\s{2}(\S.*?)\s+(-?[\d.]+) s$")


def parse_steps(output: str) -> dict[str, float]:
    """The build summary's 'Time per step:' lines as {step: seconds} (total included)."""
    steps: dict[str, float] = {}
    inside = False
    for line in output.splitlines():
        if line.startswith("Time per step:"):
            inside = True
            continue
        if inside:
            match = STEP_LINE.match(line)
            if not match:
                break
            steps[match.group(1)] = float(match.group(2))
    return steps


class Tee(io.TextIOBase):
    """Writes to the real stdout and keeps a copy."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def run_build(name: str, build_args: list[str], *, same_process: bool) -> BuildRun:
    """One build through build_dataset.main, its output shown as it comes and parsed for the step timings."""
    print(f"\n=== {name} build: build_dataset.py {' '.join(build_args)}", flush=True)
    script = REPO / "build_dataset.py"
    start = time.perf_counter()
    if same_process:
        import importlib.util

        spec = importlib.util.spec_from_file_location("build_dataset", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tee = Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            code = module.main(build_args)
        output = tee.copy.getvalue()
    else:
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(script), *build_args], cwd=REPO,
                                   stdout=subprocess.PIPE, text=True, bufsize=1)
        lines = []
        for line in process.stdout:
            sys.stdout.write(line)
            lines.append(line)
        code = process.wait()
        output = "".join(lines)
    wall = time.perf_counter() - start
    sys.stdout.flush()
    return BuildRun(name, code, wall, parse_steps(output))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    device = args.device
    on_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    limit = args.limit
    if limit is None and args.full_size and not args.all and not on_cuda:
        limit = FULL_SIZE_CPU_LIMIT
    with contextlib.ExitStack() as stack:
        if args.work_dir is not None:
            work = args.work_dir.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pokembed-bench-e2e-")))
        from hardware import describe_environment, resolve_device

        print(describe_environment(resolve_device(device)))
        if args.text_model and args.image_model:
            text_model, image_model, what = args.text_model, args.image_model, "the given models"
        else:
            text_model, image_model, what = write_models(work / "models", full_size=args.full_size)
            text_model = args.text_model or text_model
            image_model = args.image_model or image_model
        print(f"models: {what}\n  text: {text_model}\n  image: {image_model}")
        print(f"size: {'the first ' + str(limit) + ' Pokémon (--limit)' if limit else 'the whole corpus'}; "
              f"{'one process for both builds' if args.same_process else 'a fresh process per build'}")
        common = ["--source", args.source, "--artwork", args.artwork, "--text-model", text_model,
                  "--image-model", image_model, "--device", device, "--cache-dir", str(work / "cache")]
        if limit:
            common += ["--limit", str(limit)]
        if args.umap_epochs is not None:
            common += ["--umap-epochs", str(args.umap_epochs)]
        if not args.progress:
            common += ["--no-progress"]
        runs = []
        for name in ("cold", "warm"):
            out = work / f"out-{name}"
            runs.append(run_build(name, common + ["--out", str(out)], same_process=args.same_process))
            if runs[-1].returncode != 0:
                print(f"\nError: the {name} build failed (exit code {runs[-1].returncode}); see its output above",
                      file=sys.stderr)
                return 1

    print("\n=== summary: seconds per step (the build's own timings)")
    names = list(dict.fromkeys(k for run in runs for k in run.steps))
    print(f"{'step':<20}" + "".join(f"{run.name:>10}" for run in runs))
    for step in names:
        print(f"{step:<20}" + "".join(f"{run.steps.get(step, float('nan')):>10.2f}" for run in runs))
    label = "process wall" if not args.same_process else "main() wall"
    print(f"{label:<20}" + "".join(f"{run.wall_seconds:>10.2f}" for run in runs)
          + "   (includes interpreter start-up and imports)" * (not args.same_process))
    return 0


if __name__ == "__main__":
    sys.exit(main())
