"""Backtests as stored runs: the same spec twice stores byte-identical tables; a policy's extras."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec
from workbench.store import RunStore

BASELINE = RunSpec(data="stocks", strategy="sma_cross", strategy_params=(("fast", "5"), ("slow", "20")),
                   symbols=("AAPL", "MSFT"), start="2010-01-01", end="2010-12-31", fees=(0.0, 0.001))
POLICY = RunSpec(data="stocks", policy="symbol-agent-compact-stocks", symbols=("AAPL", "MSFT"),
                 start="2012-09-01", fees=(0.0, 0.002))


def store_twice(spec: RunSpec, tmp_path: Path) -> tuple[Path, Path]:
    folders = []
    for name in ("first", "second"):
        with RunStore.open(tmp_path / name) as store:
            folders.append(store.save_run(run_backtest(spec).to_record()).folder)
    return folders[0], folders[1]


def assert_same_bytes(first: Path, second: Path) -> list[str]:
    assert first.name == second.name  # same run id
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    return names


@pytest.mark.slow
def test_same_baseline_spec_twice_stores_identical_bytes(tmp_path: Path) -> None:
    names = assert_same_bytes(*store_twice(BASELINE, tmp_path))
    assert names == ["actions.parquet", "baselines.parquet", "equity.parquet", "orders.parquet", "rewards.parquet"]


@pytest.mark.slow
def test_same_policy_spec_twice_stores_identical_bytes_and_its_extras(tmp_path: Path) -> None:
    first, second = store_twice(POLICY, tmp_path)
    names = assert_same_bytes(first, second)
    assert names == ["actions.parquet", "attention.parquet", "baselines.parquet", "equity.parquet", "orders.parquet",
                     "probabilities.parquet", "rewards.parquet", "values.parquet"]
    with RunStore.open(tmp_path / "first") as store:
        run = store.get_run(first.name)
        actions, probabilities = run.load_table("actions"), run.load_table("probabilities")
        values, attention = run.load_table("values"), run.load_table("attention")
        n_decisions = len(run.load_table("equity")) - 1
    keys = ["bar", "scenario", "symbol"]
    assert len(actions) == len(probabilities) == len(values) == n_decisions * 2 * 2
    assert (actions[keys] == probabilities[keys]).all().all() and (actions[keys] == values[keys]).all().all()
    columns = ["hold", "buy_small", "buy_medium", "buy_large", "sell_partial", "sell_all", "add_to_position"]
    p = probabilities[columns].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(actions["action"].to_numpy(), p.argmax(axis=1))  # deterministic policy
    # Bar 0: both scenarios are flat with the same cash, so they see the same observation.
    bar0 = values[values["bar"] == 0]
    np.testing.assert_array_equal(bar0[bar0["scenario"] == 0]["value"].to_numpy(),
                                  bar0[bar0["scenario"] == 1]["value"].to_numpy())
    sampled = sorted(set(attention["bar"]))
    step = sampled[1] - sampled[0]
    assert sampled == list(range(0, n_decisions, step)) and set(attention["scenario"]) == {0}
    weights = attention.loc[:, "t-23":"regime"].to_numpy()
    assert weights.shape[1] == 28
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert len(attention) == len(sampled) * 2 * 2 * 4 * 28  # symbols x layers x heads x query tokens


def test_storing_twice_in_one_store_keeps_the_first(tmp_path: Path) -> None:
    with RunStore.open(tmp_path) as store:
        first = store.save_run(run_backtest(BASELINE).to_record())
        again = store.save_run(run_backtest(BASELINE).to_record())
        assert again == first and len(store.list_runs()) == 1
