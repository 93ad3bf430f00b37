"""`workbench backtest`: JSON shape, grid scenarios, export files, reproducible run ids, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.data.registry import load_builtin
from workbench.cli import main
from workbench.runs.tables import ORDER_COLUMNS

REQUIRED = {"final_equity", "total_return", "annualized_return", "sharpe", "sortino", "calmar",
            "max_drawdown", "win_rate", "profit_factor", "n_trades", "exposure", "turnover",
            "fees_paid", "benchmark_return"}
ARGS = ["backtest", "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=40",
        "--data", "sp500", "--start", "2006-01-01", "--end", "2009-12-31"]


def run_json(capsys, *extra: str) -> dict:
    assert main([*ARGS, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_one_scenario_per_grid_point(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, "--fees", "0,0.001", "--slippage", "0,0.0005,0.001")
    assert len(out["run_id"]) == 16 and len(out["scenarios"]) == 6
    first, last = out["scenarios"][0], out["scenarios"][-1]
    assert REQUIRED <= set(first)
    assert (first["fees"], first["slippage"]) == (0.0, 0.0) and (last["fees"], last["slippage"]) == (0.001, 0.001)
    assert first["final_equity"] > last["final_equity"]  # costs cost money
    assert first["n_trades"] == last["n_trades"]  # one market path, one set of decisions
    assert last["fees_paid"] > 0.0 == first["fees_paid"]


def test_same_spec_gives_same_run_id_and_results(capsys: pytest.CaptureFixture) -> None:
    a, b = run_json(capsys), run_json(capsys)
    assert a == b
    c = run_json(capsys, "--cash", "50000")
    assert c["run_id"] != a["run_id"]
    assert c["scenarios"][0]["total_return"] == pytest.approx(a["scenarios"][0]["total_return"], rel=1e-9)


def test_buy_and_hold_return_matches_a_hand_computation(capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--strategy", "buy_and_hold", "--data", "sp500", "--start", "2008-01-01",
                 "--end", "2008-12-31", "--fees", "0.001", "--json"]) == 0
    scenario = json.loads(capsys.readouterr().out)["scenarios"][0]
    bars = load_builtin("sp500").slice("2008-01-01", "2008-12-31").symbol_frame("SPX")
    units = 100_000 / (bars["open"].iloc[1] * 1.001)  # decided at bar 0, filled at bar 1's open
    assert scenario["final_equity"] == pytest.approx(units * bars["close"].iloc[-1], rel=1e-12)


def test_table_reads_each_figure_by_its_kind(capsys: pytest.CaptureFixture) -> None:
    """The table formats as the app does (``workbench.runs.formats``); ``--json`` keeps the raw numbers."""
    scenario = run_json(capsys, "--fees", "0.001", "--no-store")["scenarios"][0]
    assert main([*ARGS, "--fees", "0.001", "--no-store"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["SCENARIO", "FINAL", "RETURN", "SHARPE", "MAX_DD", "TRADES", "FEES", "BENCHMARK"]
    # By hand from the JSON: final equity 107,403.52 -> 107,404; total return 0.074035 -> 7.40% (two decimals
    # under 10%); Sharpe 0.20657 -> 0.21; max drawdown 0.26291, a loss -> -26.3%; 15 trades; fees paid
    # 2,900.86 -> 2,901; benchmark return -0.121138 -> -12.1%.
    assert scenario["final_equity"] == pytest.approx(107_403.52, abs=0.01)
    assert scenario["total_return"] == pytest.approx(0.074035, abs=1e-6)
    assert scenario["sharpe"] == pytest.approx(0.20657, abs=1e-5)
    assert scenario["max_drawdown"] == pytest.approx(0.26291, abs=1e-5)
    assert scenario["n_trades"] == 15 and isinstance(scenario["n_trades"], int)
    assert scenario["fees_paid"] == pytest.approx(2_900.86, abs=0.01)
    assert scenario["benchmark_return"] == pytest.approx(-0.121138, abs=1e-6)
    assert lines[2].split() == ["fees=0.001", "slippage=0", "107,404", "7.40%", "0.21", "-26.3%", "15", "2,901",
                                "-12.1%"]


def test_export_writes_equity_orders_and_metrics(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*ARGS, "--fees", "0,0.002", "--export", str(tmp_path / "out")]) == 0
    equity = pd.read_csv(tmp_path / "out" / "equity.csv", index_col="timestamp")
    orders = pd.read_csv(tmp_path / "out" / "orders.csv")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert list(equity.columns) == ["fees=0 slippage=0", "fees=0.002 slippage=0"]
    assert tuple(orders.columns) == ORDER_COLUMNS  # the schema the run store keeps
    assert set(orders["side"]) <= {"buy", "sell", "none"} and set(orders["scenario"]) == {0, 1}
    assert equity.iloc[-1, 1] == pytest.approx(metrics["scenarios"][1]["final_equity"], rel=1e-9)
    assert "run " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "fast"], "is not KEY=VALUE"),
        (["--param", "fastt=3"], "Did you mean 'fast'"),
        (["--fees", "0,abc"], "'abc' is not a number"),
        (["--fees", "-0.1"], "fees"),
    ],
)
def test_bad_options_are_one_line_errors(extra, message, capsys: pytest.CaptureFixture) -> None:
    assert main([*ARGS, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_unknown_strategy_suggests_by_prefix(capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--strategy", "sma", "--data", "sp500"]) == 2
    assert "Did you mean 'sma_cross'?" in capsys.readouterr().err
