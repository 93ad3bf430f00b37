"""User YAML files (run specs, gates, paper risk limits): aliases refused, size bounded, one-line errors."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from engine import yaml_files
from engine.errors import InvalidParameterError
from workbench.cli import main
from workbench.paper.config import load_risk_file
from workbench.review.gates import load_gates
from workbench.runs.spec import RunSpec


def billion_laughs() -> str:
    """Nine levels of nine aliases each: about 350 bytes that describe 9**9 (387 million) strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    lines.append("data: *i")
    return "\n".join(lines) + "\n"


LOADERS: dict[str, Callable[[Path], object]] = {
    "run spec": RunSpec.from_file, "gates": load_gates, "risk limits": load_risk_file}


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_issue16_nested_aliases_are_refused_at_once(tmp_path: Path, loader) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    started = time.perf_counter()
    with pytest.raises(InvalidParameterError, match=r"aliases such as \*a are not allowed") as caught:
        loader(path)
    assert time.perf_counter() - started < 5  # it ran for minutes
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    assert "line 2, column" in str(caught.value)


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_issue16_yaml_syntax_errors_are_one_line(tmp_path: Path, loader) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: [stocks, sp500\nstrategy: sma_cross\n")
    with pytest.raises(InvalidParameterError) as caught:
        loader(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid YAML (")
    assert "at line 2, column" in message and "while parsing a flow sequence at line 1, column 7" in message


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_issue16_oversized_yaml_files_are_refused(tmp_path: Path, loader) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * (yaml_files.MAX_YAML_BYTES // 10 + 1))
    with pytest.raises(InvalidParameterError, match="larger than 1024 KiB"):
        loader(path)


def test_issue16_cli_prints_a_yaml_error_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("kind: stress\ndata: [stocks\nstrategy: sma_cross\n")
    assert main(["stress", "--spec", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1


def test_anchors_without_aliases_and_plain_files_still_load(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("data: &d stocks\nstrategy: sma_cross\nfees: [0, 0.001]\n")
    assert RunSpec.from_file(path).fees == (0.0, 0.001)
