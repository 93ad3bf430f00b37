"""Paper trading a replay produces exactly the backtest's orders, fills and equity (issue 7, parity)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.records import OrderReason, OrderStatus, order_dt
from tests.workbench.paper.helpers import options
from workbench.paper import ledger_arrays, start_paper
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec

RISK = {"stop_loss": 0.05, "max_drawdown": 0.08, "cooldown_bars": 3}


def backtest_and_paper(tmp_path: Path, decider: dict, symbols: tuple[str, ...], start: str, end: str,
                       risk: dict[str, float]):
    spec = RunSpec(data="stocks", symbols=symbols, start=start, end=end, fees=(0.001,), slippage=(0.0005,),
                   risk=tuple(risk.items()), **decider)
    rollout = run_backtest(spec).rollout
    risk_file = tmp_path / "risk.yaml"
    risk_file.write_text(yaml.safe_dump(risk))
    decided_by = {"strategy": None, "strategy_params": (), **decider}
    result = start_paper(options(tmp_path / "state", feed=f"replay:stocks:{','.join(symbols)}", start=start, end=end,
                                 risk_file=risk_file, **decided_by))
    assert result.status == "finished" and result.last_bar == len(rollout.index) - 1
    records, equity = ledger_arrays(tmp_path / "state")
    return rollout, records, equity


def assert_parity(rollout, records: np.ndarray, equity: np.ndarray) -> None:
    assert len(records) == len(rollout.records)
    for name in order_dt.names:
        assert np.array_equal(records[name], rollout.records[name], equal_nan=True), name
    assert np.array_equal(equity, rollout.equity[:, 0])


@pytest.mark.parametrize("strategy, params", [
    ("sma_cross", (("fast", "5"), ("slow", "20"))),
    ("equal_weight", (("rebalance", "5"),)),
    ("random", (("seed", "3"), ("switch_probability", "0.2"))),
])
def test_a_replayed_baseline_trades_exactly_as_its_backtest(tmp_path: Path, strategy: str, params) -> None:
    rollout, records, equity = backtest_and_paper(
        tmp_path, {"strategy": strategy, "strategy_params": params}, ("AAPL", "MSFT"), "2010-01-01", "2010-06-30", RISK)
    assert_parity(rollout, records, equity)


def test_the_baseline_parity_covers_clips_stops_and_halts(tmp_path: Path) -> None:
    rollout, records, equity = backtest_and_paper(
        tmp_path, {"strategy": "equal_weight", "strategy_params": (("rebalance", "5"),)}, ("AAPL", "MSFT"),
        "2010-01-01", "2010-06-30", RISK)
    assert {int(OrderStatus.FILLED), int(OrderStatus.CLIPPED), int(OrderStatus.REJECTED_HALTED)} <= set(records["status"].tolist())
    assert int(OrderReason.STOP_LOSS) in set(records["reason"].tolist())


@pytest.mark.slow
def test_the_shipped_onnx_policy_paper_trades_exactly_as_its_backtest(tmp_path: Path) -> None:
    rollout, records, equity = backtest_and_paper(
        tmp_path, {"policy": "symbol-agent-compact-stocks", "runtime": "onnx"}, ("AAPL", "MSFT"),
        "2011-01-01", "2012-04-30", {"stop_loss": 0.03})
    assert len(rollout.index) > 271 + 50  # well past the observation's warm-up: every feature is live
    assert_parity(rollout, records, equity)
    assert len(records) >= 4 and int(OrderReason.STOP_LOSS) in set(records["reason"].tolist())


@pytest.mark.slow
def test_the_shipped_master_agent_paper_trades_exactly_as_its_backtest(tmp_path: Path) -> None:
    rollout, records, equity = backtest_and_paper(
        tmp_path, {"policy": "master-agent-compact-stocks", "runtime": "torch"}, ("AAPL", "MSFT", "IBM", "GOOG"),
        "2012-01-01", "2012-03-31", {"max_drawdown": 0.2})
    assert_parity(rollout, records, equity)
    assert len(records) >= 4  # the first allocation of every symbol at least
