"""Package metadata as tools expect it: every import declared, the same floors for the Space, the card template at
the top and its bytes in the wheel, and the `pokembed` console script."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "pokembed/dataset/templates/dataset_card.md"


def pyproject_requirements(*extras: str) -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def space_requirements() -> dict[str, Requirement]:
    found = {}
    for line in (ROOT / "space" / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-") or line.endswith(".whl"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # a path or URL (the wheel the deploy ships)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def imported_distributions(paths: list[Path]) -> dict[str, str]:
    """distribution -> a file importing it, for every third-party top-level import in `paths`."""
    owners = packages_distributions()
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "pokembed":
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(canonicalize_name(dist), str(path.relative_to(ROOT)))
    return found


def test_every_package_the_code_imports_is_declared():
    declared = pyproject_requirements("space")
    imported = imported_distributions(sorted((ROOT / "pokembed").rglob("*.py")) + [ROOT / "build_dataset.py"])
    assert {"httpx", "tokenizers", "torch"} <= set(imported)  # the scan sees lazy imports inside functions too
    missing = {dist: where for dist, where in imported.items() if dist not in declared}
    assert not missing, f"imported but not in pyproject.toml: {missing}"


def test_the_space_asks_for_the_same_floors_as_the_package():
    package, space = pyproject_requirements("space"), space_requirements()
    assert len(space) > 5
    for name, wanted in space.items():
        if name not in package:
            continue
        pins = [s.version for s in wanted.specifier if s.operator == "=="]
        if pins:  # torch: the Space pins the CPU build; the pin must satisfy the package's range
            assert package[name].specifier.contains(pins[0]), name
        else:
            assert str(wanted.specifier) == str(package[name].specifier), name


def test_the_package_template_is_the_top_level_template():
    assert (ROOT / TEMPLATE).read_bytes() == (ROOT / "dataset_card.md").read_bytes()


def test_a_wheel_carries_the_template_bytes_and_renders_a_card(tmp_path):
    """Built from a copy of the checkout (links kept as links), installed with --target, imported from there."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "pokembed", source / "pokembed", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "MANIFEST.in", "dataset_card.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "wheel"), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("pokembed-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(TEMPLATE) == (ROOT / "dataset_card.md").read_bytes()
        entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt"))).decode()
    assert "pokembed = pokembed.cli:main" in entry_points
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    script = (
        "import pokembed, test_card\n"
        f"assert pokembed.__file__.startswith({str(site)!r}), pokembed.__file__\n"
        "from pokembed.dataset.card import read_template, render_card\n"
        "card = render_card(read_template(), test_card.make_table(), test_card.make_facts(), ['Initial release.'])\n"
        "print(card)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("---\n") and "- Initial release." in done.stdout
    first_heading = next(line for line in (ROOT / "dataset_card.md").read_text(encoding="utf-8").splitlines()
                         if line.startswith("# "))
    assert first_heading in done.stdout  # the template's own text, through the installed package's copy


def test_the_console_script_runs_the_same_build_cli():
    done = subprocess.run([sys.executable, "-c", "import sys; from pokembed.cli import main; sys.exit(main(['build', '--help']))"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.startswith("usage: pokembed build"), done.stderr
    assert "--hf-job-timeout" in done.stdout and "--push REPO_ID" in done.stdout


def test_the_cli_defaults_are_the_librarys(tmp_path):
    """No default typed twice: arguments left out give exactly BuildConfig() and JobOptions' defaults."""
    from pokembed import cli
    from pokembed.hub.jobs import JobOptions
    from pokembed.pipeline import BuildConfig

    args = cli.parse_args(["--out", str(tmp_path / "out")])
    assert cli.build_config(args) == BuildConfig(out=tmp_path / "out")
    assert args.hf_job_timeout == JobOptions(flavor="x").timeout
