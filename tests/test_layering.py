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


def _python_files(*packages: str):
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_isinstance_on_policy_classes_outside_strategies() -> None:
    """Only the policy families know which class a policy is (docs/architecture.md)."""
    classes = {node.name for path in _python_files("strategies")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)}
    offenders = []
    for path in _python_files("engine", "models", "workbench", "apps"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                named = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                named |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
                if named & classes:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} isinstance(..., {sorted(named & classes)})")
    assert not offenders, "\n".join(offenders)


def test_no_branch_on_run_kind_names_outside_the_runs_package() -> None:
    """Only workbench/runs knows what a kind of run does: nothing compares a kind with a kind's name."""
    from workbench.runs.registry import RUN_KINDS

    def names(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in RUN_KINDS}

    offenders = []
    for path in _python_files("engine", "models", "strategies", "workbench", "apps"):
        if (ROOT / "workbench" / "runs") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(names(s) for s in sides) and any("kind" in ast.unparse(s) for s in sides if not names(s)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, "\n".join(offenders)


def test_loading_a_policy_for_inference_imports_no_training_code() -> None:
    import subprocess
    import sys

    script = ("import sys; from workbench.policies import load_policy; "
              "[load_policy(n) for n in ('symbol-agent-compact-stocks', 'master-agent-compact-stocks')]; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('stable_baselines3', 'sb3_contrib') "
              "or m.endswith('.training') or m.endswith('.ppo')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
