"""The package's plan holds: stages are subpackages, imports point one way, and no module or function outgrows a
screen. These read the source with `ast`; nothing is imported or run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pokembed"
STAGES = ("sources", "embedding", "dataset", "hub", "explore")
BASICS = {"errors", "http", "atomic_files", "local_files", "projection", "pairwise"}  # top-level modules any stage may use
# which stages each stage may import (beyond the basics): the DESIGN's arrows
ALLOWED = {
    "sources": set(),
    "embedding": set(),
    "dataset": set(),
    "hub": {"dataset", "sources"},
    "explore": {"dataset", "embedding", "hub"},
}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "pokembed" or name.startswith("pokembed.")}


def _part(module: str) -> str:
    """`pokembed.explore.index.X` -> `explore`; `pokembed.errors` -> `errors`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_ls_pokembed_shows_the_stages():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == set(STAGES)


def test_imports_point_down_the_pipeline():
    """No stage imports the pipeline, the CLI or another stage against the DESIGN's arrows; space/ only explore."""
    wrong = []
    for stage in STAGES:
        for path in _modules(PACKAGE / stage):
            for module in _imports(path):
                part = _part(module)
                if part in {"", stage} or part in BASICS or part in ALLOWED[stage] or part[:1].isupper():
                    continue
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    for path in _modules(ROOT / "space"):
        for module in _imports(path):
            if _part(module) not in {"explore", "errors", ""}:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_no_module_or_function_outgrows_a_screen():
    too_long = []
    for path in _modules(PACKAGE) + _modules(ROOT / "space") + [ROOT / "build_dataset.py"]:
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
