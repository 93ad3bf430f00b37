"""issue 19: every run command takes --device and --precision, records them, and refuses what this
machine cannot run in one line."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from workbench.cli import build_parser, main
from workbench.commands.experiment_cli import spec_from_args

RUN_COMMANDS = (["backtest"], ["stress"], ["sweep"], ["compare"], ["walkforward"], ["paper", "start"])


def options_of(argv: list[str]) -> dict[str, argparse.Action]:
    parser = build_parser(argv)
    for word in argv:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
    return {s: a for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("argv", RUN_COMMANDS, ids=" ".join)
def test_every_run_command_takes_device_and_precision(argv: list[str]) -> None:
    found = options_of(argv)
    assert found["--device"].choices == ("auto", "cpu", "cuda")
    assert found["--precision"].choices == ("fp32", "bf16", "fp16")


def test_an_experiment_spec_file_is_overridden_by_the_given_options_only(tmp_path: Path) -> None:
    spec_file = tmp_path / "run.yaml"
    spec_file.write_text("data: stocks\npolicy: symbol-agent-compact-stocks\ndevice: auto\nprecision: bf16\n")
    parser = build_parser(["stress"])
    args = parser.parse_args(["stress", "--spec", str(spec_file)])
    assert (spec_from_args(args, "stress", {}).device, spec_from_args(args, "stress", {}).precision) == ("auto", "bf16")
    args = parser.parse_args(["stress", "--spec", str(spec_file), "--precision", "fp32"])
    assert (spec_from_args(args, "stress", {}).device, spec_from_args(args, "stress", {}).precision) == ("auto", "fp32")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("argv", [
    ["backtest", "--policy", "symbol-agent-compact-stocks", "--data", "stocks", "--device", "cuda", "--no-store"],
    ["stress", "--policy", "master-agent-compact-stocks", "--data", "stocks", "--device", "cuda"],
    ["backtest", "--policy", "symbol-agent-compact-stocks", "--data", "stocks", "--precision", "fp16", "--no-store"],
], ids=["backtest cuda", "stress cuda", "backtest fp16"])
def test_what_this_machine_cannot_run_is_one_line(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("torch sees no CUDA device" in err or "runs on CUDA only" in err)


def test_a_backtest_says_where_it_decided_and_how_it_agrees(capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--policy", "master-agent-compact-stocks", "--precision", "bf16", "--data", "stocks",
                 "--symbols", "AAPL,MSFT,IBM", "--start", "2012-06-01", "--end", "2012-12-31", "--no-store"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("decided on cpu in bf16: ") and "sampled decisions agree with cpu/fp32" in line
