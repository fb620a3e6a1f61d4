"""Shared fixtures: the real data beside the project, tiny models, and a small offline build; under CI=true a skip
is a failure (see pytest_runtest_makereport)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The one path to ../shared (tests import it from here); POKEMBED_SHARED points the tests elsewhere.
SHARED = Path(os.environ.get("POKEMBED_SHARED") or ROOT.parent / "shared")
# Debian's Chromium, which the browser test drives; POKEMBED_CHROMIUM names another binary.
CHROMIUM = Path(os.environ.get("POKEMBED_CHROMIUM") or "/usr/bin/chromium")

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


def ci_is_strict() -> bool:
    """Whether this run is CI's (CI=true, as CI services set it), where ../shared, Chromium and git always exist."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI=true a test that skips fails with the skip's reason (a missing browser, ../shared or tool), so CI
    cannot pass by skipping; tests marked `cuda` may still skip, as a CPU runner has no GPU. Outside CI, skips stay."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and ci_is_strict() and not item.get_closest_marker("cuda"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true, so this must not skip: {reason.removeprefix('Skipped: ')}"
    return report


def load_cli():
    """Import build_dataset.py (the CLI at the repo root) as a module."""
    spec = importlib.util.spec_from_file_location("build_dataset", ROOT / "build_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", autouse=True)
def private_datasets_cache(tmp_path_factory):
    """Every `load_dataset` in the tests, and in the servers they start, caches under pytest's temporary folder,
    never in the user's ~/.cache/huggingface/datasets (the Space loads its dataset without a cache_dir)."""
    import datasets.config

    folder = tmp_path_factory.mktemp("hf-datasets-cache")
    saved = os.environ.get("HF_DATASETS_CACHE"), datasets.config.HF_DATASETS_CACHE
    os.environ["HF_DATASETS_CACHE"] = str(folder)
    datasets.config.HF_DATASETS_CACHE = folder
    yield folder
    datasets.config.HF_DATASETS_CACHE = saved[1]
    if saved[0] is None:
        os.environ.pop("HF_DATASETS_CACHE", None)
    else:
        os.environ["HF_DATASETS_CACHE"] = saved[0]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared, or skip: real PokéAPI data is read there, never copied into the project."""
    if not (SHARED / "pokeapi" / "csv").is_dir():
        pytest.skip(f"real PokéAPI data absent: {SHARED / 'pokeapi'} not found")
    return SHARED


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """DIR with DIR/text and DIR/image: tiny random-weight models written by `python -m pokembed.tiny_models`."""
    out = tmp_path_factory.mktemp("tiny-models")
    subprocess.run([sys.executable, "-m", "pokembed.tiny_models", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def csv_fixture(tmp_path_factory) -> Path:
    """A folder of small PokéAPI CSV tables for about 20 Pokémon."""
    from pokeapi_fixture import write_csv_fixture

    return write_csv_fixture(tmp_path_factory.mktemp("csv"), n_pokemon=20)


def fixture_ids(csv_folder: Path) -> list[int]:
    """Pokémon ids of a CSV fixture folder, in file order."""
    import csv

    with open(csv_folder / "pokemon.csv", newline="", encoding="utf-8") as f:
        return [int(row["id"]) for row in csv.DictReader(f)]


def write_artwork_folder(folder: Path, ids: list[int], *, missing: int = 2) -> Path:
    """Generated RGBA artwork `{id}.png` for all ids but the last `missing` ones."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for n, pokemon_id in enumerate(ids[: len(ids) - missing]):
        image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        colour = ((pokemon_id * 67) % 256, (pokemon_id * 151) % 256, (pokemon_id * 29 + n * 40) % 256, 255)
        draw.ellipse((10 + n % 20, 12, 70 + n % 20, 88), fill=colour)
        image.save(folder / f"{pokemon_id}.png")
    return folder


@pytest.fixture(scope="session")
def artwork_fixture(tmp_path_factory, csv_fixture) -> Path:
    """Artwork for the CSV fixture, with the last two Pokémon missing."""
    return write_artwork_folder(tmp_path_factory.mktemp("artwork"), fixture_ids(csv_fixture))


def build_args(csv_folder: Path, artwork: Path, models: Path, out: Path, *extra: str) -> list[str]:
    """Arguments of an offline build_dataset.py run with the tiny models (fast UMAP)."""
    return [
        "--source", f"csv:{csv_folder}",
        "--artwork", str(artwork),
        "--text-model", str(models / "text"),
        "--image-model", str(models / "image"),
        "--out", str(out),
        "--device", "cpu",
        "--umap-epochs", "200",
        "--no-progress",
        *extra,
    ]


@pytest.fixture(scope="session")
def built_dataset(tmp_path_factory, csv_fixture, artwork_fixture, tiny_models) -> Path:
    """An output folder built by build_dataset.py from the CSV fixture and the tiny models."""
    out = tmp_path_factory.mktemp("build") / "dataset"
    cli = load_cli()
    code = cli.main(build_args(csv_fixture, artwork_fixture, tiny_models, out, "--version", "0.1.0"))
    assert code == 0
    return out
