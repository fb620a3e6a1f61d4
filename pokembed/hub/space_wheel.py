"""The pokembed wheel a Space installs: built from a checkout the way pip builds it, offline, with the same bytes for
the same sources (a redeploy of unchanged code makes no new commit).

The checkout's top-level files (pyproject.toml, README.md...) and its `pokembed/` package are copied to a temporary
folder and built there with `pip wheel --no-index --no-deps --no-build-isolation` (setuptools from the environment
that deploys), so the checkout gets no build/ or egg-info folder. SOURCE_DATE_EPOCH fixes the archive's timestamps.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pokembed.errors import BadInputError, PublishError

logger = logging.getLogger(__name__)

PACKAGE = "pokembed"
BUILD_TIMEOUT = 300.0  # seconds; a wheel of pure Python builds in about one
FIXED_TIMESTAMP = "315532800"  # 1980-01-01, the earliest time a zip archive can hold
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info")


def check_buildable(root: Path) -> None:
    """BadInputError unless `root` holds what the wheel is built from: pyproject.toml and the package."""
    if not (root / "pyproject.toml").is_file() or not (root / PACKAGE / "__init__.py").is_file():
        raise BadInputError(f"{root} has no pyproject.toml or {PACKAGE}/__init__.py to build the Space's wheel from; "
                            "deploy from a pokembed checkout")


def build_wheel(root: Path, timeout: float = BUILD_TIMEOUT) -> tuple[str, bytes]:
    """(file name, bytes) of the pokembed wheel built from the checkout at `root`; PublishError when it fails."""
    root = Path(root)
    check_buildable(root)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pokembed-wheel-") as scratch:
        source, out = Path(scratch) / "source", Path(scratch) / "wheel"
        _copy_sources(root, source)
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
                   "--no-cache-dir", "--wheel-dir", str(out), str(source)]
        env = {**os.environ, "SOURCE_DATE_EPOCH": FIXED_TIMESTAMP, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PublishError(f"building the pokembed wheel took over {timeout:.0f} s; run `pip wheel --no-deps "
                               f"{root}` to see why") from None
        wheels = sorted(out.glob(f"{PACKAGE}-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel written"]
            raise PublishError(f"the pokembed wheel for the Space could not be built ({reason[0]}); run `pip wheel "
                               f"--no-deps --no-build-isolation {root}` to see why (it needs setuptools)")
        wheel = wheels[0]
        logger.info("built %s (%d bytes) in %.1f s", wheel.name, wheel.stat().st_size, time.perf_counter() - started)
        return wheel.name, wheel.read_bytes()


def _copy_sources(root: Path, target: Path) -> None:
    """The checkout's top-level files and its package, without caches; links are followed (package data)."""
    target.mkdir(parents=True)
    for path in sorted(root.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, target / path.name)
    shutil.copytree(root / PACKAGE, target / PACKAGE, ignore=_SKIPPED)
