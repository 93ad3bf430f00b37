"""``workbench train tactical-team``: a tiny MAPPO run to a verified checkpoint, its resume, and the
checkpoint run from the CLI."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
import torch

from models.checkpoint import CARD_FILE, WEIGHTS_FILE, file_sha256
from workbench.cli import build_parser, main

# Two accounts x four symbols x 16 steps = 128 decisions per update, four updates, validated twice.
TINY = ["--data", "synthetic-5min", "--train", "2024-01-02:2024-02-23", "--val", "2024-02-26:2024-03-01",
        "--test", "2024-03-25:2024-03-28", "--timesteps", "512", "--accounts", "2", "--n-steps", "16",
        "--episode-length", "16", "--eval-every", "256", "--seed", "3", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tactical")
    assert main(["train", "tactical-team", *TINY, "--run-dir", str(root / "run"), "--checkpoint-every", "1",
                 "--out", str(root / "team")]) == 0
    return root / "team", root / "run"


def test_the_command_saves_a_verified_team_checkpoint(trained, capsys: pytest.CaptureFixture) -> None:
    team, _ = trained
    card = json.loads((team / CARD_FILE).read_text())
    assert card["architecture"] == "tactical_team" and card["seed"] == 3
    assert card["dataset"] == {"name": "synthetic-5min", "symbols": ["SYN000", "SYN001", "SYN002", "SYN003"]}
    assert card["train_period"][1] < card["validation_period"][0]
    assert card["config"]["training"]["test_period"][0].startswith("2024-03-25")
    metrics = card["validation_metrics"]
    assert {"validation/sharpe", "validation/time_in_market", "validation/n_trades", "validation/max_drawdown",
            "test/sharpe", "test/time_in_market", "test/n_trades", "test/agreement", "test/fvg_focus"} <= set(metrics)
    assert metrics["validation/update"] in (2.0, 4.0)  # validated every two updates
    assert card["training_metrics"]["train/timesteps"] == 512.0
    rows = list(csv.DictReader(open(team / "progress.csv")))
    assert len(rows) == 4 and {"train/approx_kl", "team/agreement", "reward/pnl"} <= set(rows[0])
    assert list((team / "tensorboard").glob("events.out.tfevents.*"))
    assert main(["backtest", "--policy", str(team), "--data", "synthetic-5min", "--symbols", "SYN000",
                 "--start", "2024-03-25", "--json", "--no-store"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["decider"]["family"] == "tactical_team"


def test_a_finished_run_resumes_to_the_same_weights(trained, tmp_path: Path) -> None:
    team, run = trained
    assert (run / "checkpoints" / "last" / "trainer.json").is_file()
    assert main(["train", "tactical-team", *TINY, "--run-dir", str(run), "--checkpoint-every", "1", "--resume",
                 "--out", str(tmp_path / "again")]) == 0
    assert file_sha256(tmp_path / "again" / WEIGHTS_FILE) == file_sha256(team / WEIGHTS_FILE)


def test_bad_options_are_one_line_errors(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["train", "tactical-team", *TINY, "--resume", "--out", str(tmp_path / "x")]) == 2
    assert "--resume continues the run kept in --run-dir" in capsys.readouterr().err
    args = [a if a != "2024-03-25:2024-03-28" else "2024-02-27:2024-03-28" for a in TINY]
    assert main(["train", "tactical-team", *args, "--out", str(tmp_path / "y")]) == 2
    assert "test period" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_the_card_names_the_device_it_trained_on(trained) -> None:
    """issue 19: --device auto (the default) trains on CUDA where torch sees one, and the card says where."""
    card = json.loads((trained[0] / CARD_FILE).read_text())
    assert card["config"]["trained_on"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert card["config"]["mappo"]["device"] == "auto"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_one_line(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["train", "tactical-team", *TINY, "--device", "cuda", "--out", str(tmp_path / "team")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device 'cuda' was asked for but torch sees no CUDA device; use --device cpu" in err
    assert not (tmp_path / "team").exists()


def test_the_device_choices_are_the_other_trainers() -> None:
    parser = build_parser(["train"])
    kinds = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    trainers = next(a for a in kinds._actions if isinstance(a, argparse._SubParsersAction)).choices
    device = {name: next(a for a in trainers[name]._actions if "--device" in a.option_strings)
              for name in ("tactical-team", "symbol-agent", "master-agent")}
    assert {(a.choices, a.default, a.help) for a in device.values()} == {
        (("auto", "cpu", "cuda"), "auto", "torch device (default auto)")}
