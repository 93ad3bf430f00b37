"""BacktestResult.to_record: the stored tables of a baseline, worked out by hand from prices and equity."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.records import OrderReason, OrderStatus
from workbench.runs.backtest import BacktestResult, run_backtest
from workbench.runs.spec import RunSpec

SPEC = RunSpec(data="stocks", strategy="buy_and_hold", symbols=("AAPL", "MSFT"), start="2010-01-01",
               end="2010-12-31", fees=(0.0, 0.001))


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(SPEC)


@pytest.fixture(scope="module")
def tables(result: BacktestResult) -> dict[str, pd.DataFrame]:
    return result.to_record().tables


def test_record_row_fields(result: BacktestResult) -> None:
    record = result.to_record()
    assert (record.run_id, record.kind, record.dataset, record.decider, record.model_sha) == (
        result.run_id, "backtest", "stocks", "buy_and_hold", "")
    assert record.spec == SPEC.to_dict() and record.summary == result.summary()
    assert record.start.startswith("2010-01-04") and record.end.startswith("2010-12-31")
    assert record.data_fingerprint == result.data.fingerprint()
    # No neural extras; the baselines and the benchmark are stored with the run (issue 17).
    assert sorted(record.tables) == ["actions", "baselines", "equity", "orders", "rewards"]


def test_equity_table_is_the_rollout_equity(result: BacktestResult, tables: dict) -> None:
    equity = tables["equity"]
    assert list(equity.columns) == ["timestamp", "fees=0 slippage=0", "fees=0.001 slippage=0"]
    assert (equity["timestamp"] == result.rollout.index).all()
    np.testing.assert_array_equal(equity.iloc[:, 1:].to_numpy(), result.rollout.equity)


def test_orders_of_buy_and_hold_by_hand(result: BacktestResult, tables: dict) -> None:
    orders = tables["orders"]
    bars = result.data
    assert len(orders) == len(result.rollout.records) == 4  # two buys per scenario, nothing after
    assert list(orders["symbol"]) == ["AAPL", "MSFT", "AAPL", "MSFT"]
    assert set(orders["side"]) == {"buy"} and set(orders["status"]) == {OrderStatus.FILLED.name.lower()}
    assert set(orders["reason"]) == {OrderReason.POLICY.name.lower()} and set(orders["bar"]) == {1}
    assert (orders["timestamp"] == bars.index[1]).all()
    for row in orders.itertuples():
        fees = result.params[row.scenario].fees
        open_1 = bars.symbol_frame(row.symbol)["open"].iloc[1]
        assert row.units == pytest.approx(50_000 / (open_1 * (1 + fees)), rel=1e-12)  # half of cash each
        assert row.fees == pytest.approx(50_000 * fees / (1 + fees), rel=1e-12)


def test_actions_table_is_long_format(result: BacktestResult, tables: dict) -> None:
    actions = tables["actions"]
    n_bars = len(result.data.index)
    assert list(actions.columns) == ["bar", "timestamp", "scenario", "symbol", "action"]
    assert len(actions) == (n_bars - 1) * 2 * 2  # decisions on every bar but the last
    first = actions[actions["bar"] == 0]
    assert list(first["scenario"]) == [0, 0, 1, 1] and list(first["symbol"]) == ["AAPL", "MSFT"] * 2
    assert first["action"].to_list() == [0.5, 0.5, 0.5, 0.5]  # 1/N of equity each


def test_rewards_by_hand(result: BacktestResult, tables: dict) -> None:
    rewards = tables["rewards"]
    assert list(rewards.columns) == ["bar", "timestamp", "scenario", "symbol", "pnl", "cost", "time", "sharpe",
                                     "drawdown", "sizing", "hold", "total"]
    assert rewards[["pnl", "cost", "time", "sharpe", "drawdown", "sizing", "hold", "total"]].abs().max().max() <= 1.0
    aapl = result.data.symbol_frame("AAPL")
    step0 = rewards[(rewards["bar"] == 0) & (rewards["scenario"] == 1) & (rewards["symbol"] == "AAPL")].iloc[0]
    fees = 50_000 * 0.001 / 1.001
    units = 50_000 / (aapl["open"].iloc[1] * 1.001)
    assert step0["cost"] == pytest.approx(-fees / 100_000 / 0.001)  # -0.4995
    pnl = units * (aapl["close"].iloc[1] - aapl["open"].iloc[1]) - fees  # bought at bar 1's open, marked at its close
    assert step0["pnl"] == pytest.approx(np.clip(pnl / 100_000 / 0.01, -1, 1))
    assert step0["hold"] == 0.0  # it traded
    assert step0["sizing"] == -1.0  # about 0.5 of equity against a 0.06 target
    # Position return since entry, stretched by the bars held (entry at bar 1, so t bars at step t).
    zero_fee = rewards[(rewards["scenario"] == 0) & (rewards["symbol"] == "AAPL")].set_index("bar")
    for t in (10, 100, 200):
        ret = aapl["close"].iloc[t + 1] / aapl["open"].iloc[1] - 1
        expected = np.clip(ret / 0.01 * (1 + t / 20) ** -np.sign(ret), -1, 1)
        assert zero_fee.loc[t, "time"] == pytest.approx(expected, rel=1e-9)
    # Drawdown from the equity table: 1 - E / running peak, scaled by 10%.
    equity = tables["equity"]["fees=0 slippage=0"].to_numpy()
    drawdown = 1 - equity[1:] / np.maximum.accumulate(equity)[1:]
    np.testing.assert_allclose(zero_fee["drawdown"].to_numpy(), -np.clip(drawdown / 0.1, 0, 1), rtol=0, atol=1e-12)


def test_portfolio_scope_tables_follow_scenario_major_rows(tmp_path) -> None:
    from engine.decision_tables import decisions

    # [T - 1 = 2, S * N = 4] portfolio layout -> [2, S = 2, N = 2]
    rollout = type("R", (), {"path_ids": np.array([0, 0]), "symbols": ("A", "B"),
                             "index": pd.date_range("2020", periods=3)})()
    values = np.arange(8).reshape(2, 4)
    out = decisions(rollout, values, "portfolio")
    assert out[1, 1, 0] == 6 and out.shape == (2, 2, 2)
    market = np.arange(6).reshape(1, 3, 2)  # one path [P = 1, T = 3, N = 2], shared by both scenarios
    out = decisions(rollout, market, "market")
    assert out.shape == (2, 2, 2) and out[1, 1, 1] == 3 and out[1, 0, 1] == 3
