"""`workbench stress` and `workbench sweep`: JSON with run_id, stored runs, export, spec files, errors."""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main
from workbench.commands.experiment_cli import progress_bar
from workbench.store import RunStore

DATA = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--start", "2005-01-01", "--end", "2005-12-31"]
STRESS = ["stress", "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30", *DATA,
          "--bootstrap", "2", "--garch", "0", "--shocks", "gap:-0.1,liquidity:2", "--fees", "0.001"]
SWEEP = ["sweep", "--strategy", "buy_and_hold", *DATA, "--fees", "0,0.001", "--position-limit", "0.5,1",
         "--grid", "stop_loss=0,0.1"]


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_stress_json_has_run_id_and_is_stored(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, *STRESS, "--tag", "smoke")
    assert len(out["run_id"]) == 16 and out["kind"] == "stress"
    assert [r["family"] for r in out["scenarios"]] == ["base", "shock", "shock", "bootstrap", "bootstrap"]
    assert out["spec"]["strategy_params"] == {"fast": "10", "slow": "30"}
    assert out["spec"]["options"]["n_bootstrap"] == 2 and out["spec"]["fees"] == [0.001]
    with RunStore.open() as store:
        stored = store.get_run(out["run_id"])
    assert stored.summary["run_id"] == out["run_id"] and stored.info.tags == ("smoke",)
    assert stored.load_table("scenario_metrics").shape[0] == 5


def test_sweep_json_has_axes_surfaces_and_break_even(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, *SWEEP)
    assert out["kind"] == "sweep" and len(out["run_id"]) == 16
    assert out["axes"] == {"fees": [0.0, 0.001], "slippage": [0.0], "position_limit": [0.5, 1.0],
                           "stop_loss": [0.0, 0.1]}
    assert len(out["scenarios"]) == 8 and len(out["surfaces"]["sharpe"][0][0]) == 2
    assert out["break_even"]["axis"] == "fees" and len(out["break_even"]["points"]) == 4


def test_table_output_export_and_stored_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*SWEEP, "--export", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    lines = text.strip().splitlines()
    assert lines[0].startswith("run ") and lines[-1].startswith("stored run ")
    assert "break-even fees" in text and "base run by regime:" in text
    assert lines[1].split()[:2] == ["FEES", "SLIPPAGE"]  # the grid's cost axes read in basis points
    assert [line.split()[:4] for line in (lines[2], lines[6])] == [["0", "bp", "0", "bp"], ["10", "bp", "0", "bp"]]
    assert "break-even fees at slippage=0 bp, position_limit=0.5, stop_loss=0: " in text
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    metrics = pd.read_csv(tmp_path / "out" / "scenario_metrics.csv")
    equity = pd.read_csv(tmp_path / "out" / "equity.csv")
    assert lines[-1] == f"stored run {summary['run_id']}"
    assert len(metrics) == 8 and list(equity.columns) == ["timestamp", *metrics["label"]]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["equity.csv", "scenario_metrics.csv",
                                                                   "summary.json"]


def test_spec_file_with_command_line_overrides(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "stress.yaml"
    spec.write_text("kind: stress\ndata: stocks\nstrategy: buy_and_hold\nsymbols: [AAPL]\n"
                    "start: '2005-01-01'\nend: '2005-06-30'\nseed: 3\n"
                    "options:\n  n_bootstrap: 2\n  n_garch: 0\n  shocks: [reversal]\n")
    out = run_json(capsys, "stress", "--spec", str(spec), "--bootstrap", "0", "--end", "2005-03-31")
    assert out["spec"]["options"] == {"n_bootstrap": 0, "n_garch": 0, "shocks": ["reversal"]}
    assert (out["spec"]["seed"], out["spec"]["end"], out["data"]["symbols"]) == (3, "2005-03-31", ["AAPL"])
    assert [r["family"] for r in out["scenarios"]] == ["base", "shock"]


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "--strategy", "buy_and_hold", *DATA, "--grid", "stop_los=0,0.1"], "Did you mean 'stop_loss'"),
    (["sweep", "--strategy", "buy_and_hold", *DATA, "--grid", "stop_loss"], "is not KEY=VALUE"),
    (["sweep", "--strategy", "buy_and_hold", *DATA, "--grid", "stop_loss="], "empty list"),
    (["sweep", "--strategy", "buy_and_hold", *DATA, "--fees", "0,x"], "'x' is not a number"),
    (["stress", "--strategy", "buy_and_hold"], "give --data"),
    (["stress", *DATA], "exactly one of a strategy"),
    (["stress", "--strategy", "buy_and_hold", *DATA, "--shocks", "gap:-2"], "out of range"),
    (["stress", "--strategy", "buy_and_hold", *DATA, "--periods", "gfc_2007_09"], "not inside the data"),
])
def test_bad_input_is_a_one_line_error(argv, message, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_spec_file_of_another_kind_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("kind: sweep\ndata: stocks\nstrategy: buy_and_hold\n")
    assert main(["stress", "--spec", str(spec)]) == 2
    assert "kind 'sweep' is not 'stress'" in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal_without_json(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(argparse.Namespace(json=True), "stress") as progress:
        assert progress is None
    with progress_bar(argparse.Namespace(json=False), "stress") as progress:
        progress(5, 10)
        progress(10, 10)
    assert terminal.getvalue().startswith("\rstress:")  # drawn on stderr (tqdm rate-limits redraws)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    with progress_bar(argparse.Namespace(json=False), "stress") as progress:
        assert progress is None


@pytest.mark.slow
def test_stress_of_the_shipped_policy_counts_its_actions(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, "stress", "--policy", "symbol-agent-compact-stocks", "--data", "stocks",
                   "--symbols", "AAPL,MSFT", "--start", "2010-01-01", "--end", "2010-06-30",
                   "--bootstrap", "1", "--garch", "0", "--shocks", "gap:-0.1")
    assert [r["family"] for r in out["scenarios"]] == ["base", "shock", "bootstrap", "historical"]
    labelled = [r for r in out["regimes"] if r["bars"] and r["actions"] is not None]
    assert labelled and set(labelled[0]["actions"]) >= {"hold", "buy_small", "sell_all"}
    assert all(sum(r["actions"].values()) == pytest.approx(1.0) for r in labelled)
