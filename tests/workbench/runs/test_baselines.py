"""The baselines beside a run (issue 17): stored with a backtest at its first cost point, read back equal
to a fresh run of them, any point run alone equal to the same point run in the whole grid, matched to
the run's cost points, and the benchmark follows the execution rules."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench.runs.backtest import run_backtest
from workbench.runs.baselines import BASELINES, BENCHMARK, TABLE, Baselines, grid_point, run_baselines
from workbench.runs.evaluate import spec_data
from workbench.runs.spec import RunSpec

SPEC = RunSpec(kind="backtest", data="stocks", strategy="buy_and_hold", symbols=("AAPL",), start="2009-01-01",
               end="2009-06-30", fees=(0.0, 0.002))


@pytest.fixture(scope="module")
def fresh() -> Baselines:
    return run_baselines(SPEC)


def test_one_cost_point_per_fee_and_the_benchmark_without_costs(fresh: Baselines) -> None:
    assert fresh.labels == ("fees=0 slippage=0", "fees=0.002 slippage=0")
    assert fresh.costs == ((0.0, 0.0), (0.002, 0.0))
    for curves, metrics in zip(fresh.curves, fresh.metrics):
        assert list(curves.columns) == [*BASELINES, BENCHMARK] and set(metrics) == {*BASELINES, BENCHMARK}
    # Costs lower every traded baseline's final equity; the benchmark pays none at either point.
    cheap, dear = fresh.curves
    assert (dear[list(BASELINES)].iloc[-1] <= cheap[list(BASELINES)].iloc[-1]).all()
    assert (cheap[BENCHMARK] == dear[BENCHMARK]).all()
    data = spec_data(SPEC)
    close, open_ = np.asarray(data.close)[:, 0], np.asarray(data.open)[:, 0]
    # Buy and hold without costs: all cash buys at bar 1's open, then equity follows the close.
    assert cheap[BENCHMARK].iloc[0] == SPEC.cash
    assert np.allclose(cheap[BENCHMARK].to_numpy()[1:], SPEC.cash / open_[1] * close[1:])


def test_a_backtest_stores_its_first_cost_point_and_it_reads_back_unchanged(fresh: Baselines) -> None:
    record = run_backtest(SPEC).to_record()
    assert TABLE in record.tables and len(record.tables[TABLE]) == len(fresh.index)
    stored = Baselines.from_stored(record.summary["baselines"], record.tables[TABLE])
    assert stored.labels == fresh.labels[:1] and stored.costs == fresh.costs[:1]
    pd.testing.assert_frame_equal(stored.curves[0], fresh.curves[0], check_freq=False)
    assert stored.metrics == fresh.metrics[:1]
    assert stored.covers({"label": "fees=0 slippage=0"}) and stored.covers(None)
    assert not stored.covers({"label": "fees=0.002 slippage=0", "fees": 0.002, "slippage": 0.0})


def test_a_point_run_alone_equals_the_same_point_in_the_whole_grid(fresh: Baselines) -> None:
    alone = run_baselines(SPEC, points=(1,))
    assert alone.labels == fresh.labels[1:] and alone.costs == fresh.costs[1:]
    assert np.array_equal(alone.equity, fresh.equity[1:])
    assert alone.metrics == fresh.metrics[1:]
    with pytest.raises(IndexError):
        run_baselines(SPEC, points=(2,))


def test_a_baselines_own_backtest_is_its_own_baseline_without_running_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.runs import baselines

    spec = dataclasses.replace(SPEC, strategy="sma_cross")
    fresh = run_baselines(spec)
    ran = []
    evaluate = baselines.evaluate
    monkeypatch.setattr(baselines, "evaluate", lambda batch, decider: ran.append(decider.policy.name)
                        or evaluate(batch, decider))
    result = run_backtest(spec)
    assert ran == ["equal_weight", "momentum", "buy_and_hold"]  # sma_cross is the run itself
    pd.testing.assert_frame_equal(result.baselines.curves[0], fresh.curves[0], check_freq=False)
    assert result.baselines.metrics == fresh.metrics[:1]
    # Other parameters are another strategy: the default sma_cross runs as a baseline.
    ran.clear()
    run_backtest(dataclasses.replace(spec, strategy_params=(("fast", "10"),)))
    assert ran == ["equal_weight", "sma_cross", "momentum", "buy_and_hold"]


def test_a_scenario_finds_its_cost_point(fresh: Baselines) -> None:
    assert fresh.point({"label": "fees=0.002 slippage=0"}) == 1
    assert fresh.point({"label": "other", "fees": 0.002, "slippage": 0.0}) == 1
    assert fresh.point({"label": "base"}) == 0 and fresh.point(None) == 0
    assert not fresh.covers({"label": "base"}) and fresh.covers({}) and fresh.covers({"fees": 0.0, "slippage": 0.0})
    assert grid_point(SPEC, {"label": "fees=0.002 slippage=0"}) == 1 and grid_point(SPEC, {"label": "base"}) == 0


def test_without_baselines_a_backtest_stores_none_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.runs import backtest

    monkeypatch.setattr(backtest, "try_baselines", lambda spec, data=None, own=None, points=None: (None, "baselines could not run: too few bars"))
    result = backtest.run_backtest(SPEC)
    assert TABLE not in result.to_record().tables
    assert result.summary()["baselines_note"] == "baselines could not run: too few bars"
