"""Imports point down only: apps -> workbench -> strategies -> models -> engine (ARCHITECTURE.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("engine", "models", "strategies", "workbench", "apps")
# Which of our own top-level packages each package may import.
ALLOWED = {
    "engine": {"engine"},
    "models": {"models", "engine"},
    "strategies": {"strategies", "models", "engine"},
    "workbench": {"workbench", "strategies", "models", "engine"},
    "apps": {"apps", "workbench"},
    "assets": {"assets"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_levels(path) - ALLOWED[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "imports must point down only:\n" + "\n".join(offenders)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom workbench.cli import main\nimport apps.x as y\n")
    assert imported_top_levels(bad) == {"workbench", "apps"}


def test_distribution_packages_are_the_product_layout() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {name.rstrip("*") for name in include} == set(LAYERS) | {"tests", "assets"}
    for name in set(LAYERS) | {"tests", "assets"}:
        assert (ROOT / name / "__init__.py").is_file(), name
