"""Compare: identical data and fills for every decider, roles, statistics recomputed, errors."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from strategies.families.baseline import STRATEGIES
from workbench.experiments.compare import run_compare
from workbench.experiments.statistics import deflated_sharpe_ratio, probability_of_backtest_overfitting
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec

BASE = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2010-01-01", end="2011-06-30")


def spec(**changes) -> RunSpec:
    options = {"n_boot": 200, "pbo_blocks": 8, **changes.pop("options", {})}
    values = {"kind": "compare", "strategy": "sma_cross", "fees": (0.001,), **BASE, **changes}
    return RunSpec(options=tuple(options.items()), **values)


@pytest.fixture(scope="module")
def tuned():
    """sma_cross with two variants of ``fast``."""
    return run_compare(spec(options={"variants": {"fast": [5, 10]}}))


def test_every_decider_runs_on_the_backtests_data_fills_and_cash(tuned) -> None:
    summary = tuned.summary()
    direct = run_backtest(spec().replace(kind="backtest", options=())).summary()["scenarios"][0]
    for key in ("final_equity", "sharpe", "n_orders", "fees_paid", "benchmark_return"):
        assert summary["candidate"][key] == pytest.approx(direct[key], rel=1e-12)
    momentum = next(b for b in summary["baselines"] if b["name"] == "momentum")
    alone = run_backtest(spec(strategy="momentum").replace(kind="backtest", options=())).summary()["scenarios"][0]
    assert momentum["final_equity"] == pytest.approx(alone["final_equity"], rel=1e-12)
    assert summary["benchmark"]["total_return"] == pytest.approx(direct["benchmark_return"])


def test_roles_and_the_baseline_identical_to_the_candidate_is_left_out(tuned) -> None:
    summary = tuned.summary()
    assert summary["candidate"]["name"] == "sma_cross"
    assert [v["name"] for v in summary["variants"]] == ["sma_cross(fast=5)", "sma_cross(fast=10)"]
    assert [b["name"] for b in summary["baselines"]] == [s for s in STRATEGIES if s != "sma_cross"]
    other = run_compare(spec(strategy_params=(("fast", "10"),))).summary()
    assert "sma_cross" in [b["name"] for b in other["baselines"]]
    assert next(b for b in other["baselines"] if b["name"] == "random")["params"] == {"seed": "0"}


def test_sharpe_differences_are_point_estimates_inside_their_intervals(tuned) -> None:
    summary = tuned.summary()
    for baseline in summary["baselines"]:
        diff = baseline["sharpe_diff"]
        assert diff["estimate"] == pytest.approx(summary["candidate"]["sharpe"] - baseline["sharpe"], abs=1e-9)
        assert diff["low"] <= diff["estimate"] <= diff["high"]


def test_deflated_sharpe_and_pbo_recomputed_from_the_equity_table(tuned) -> None:
    summary = tuned.summary()
    equity = tuned.tables()["equity"]
    returns = equity.pct_change().fillna(equity.iloc[0] / 100_000 - 1).to_numpy()
    names = list(equity.columns)
    assert summary["trials"] == names and summary["n_trials"] == 7  # candidate, 2 variants, 4 baselines
    expected = deflated_sharpe_ratio(returns[:, 0], [sharpe_ratio(returns[:, i], 1.0) for i in range(len(names))])
    assert summary["deflated_sharpe"] == pytest.approx(expected.value, rel=1e-9)
    pbo = probability_of_backtest_overfitting(returns[:, :3], n_blocks=8)
    assert summary["pbo"] == pytest.approx(pbo.pbo) and summary["pbo_detail"]["n_variants"] == 3
    assert summary["pbo_reason"] is None


def test_pbo_is_none_with_a_reason_for_a_single_variant() -> None:
    summary = run_compare(spec(strategy="momentum")).summary()
    assert summary["pbo"] is None and "--variants" in summary["pbo_reason"]
    assert summary["n_trials"] == 5  # momentum and the four other baselines
    assert 0.0 <= summary["deflated_sharpe"] <= 1.0


def test_a_variant_equal_to_a_baseline_is_one_trial() -> None:
    summary = run_compare(spec(strategy_params=(("fast", "10"),), options={"variants": {"fast": [20]}})).summary()
    assert [v["name"] for v in summary["variants"]] == ["sma_cross(fast=20)"]
    assert "sma_cross" in [b["name"] for b in summary["baselines"]]
    assert summary["n_trials"] == 6  # the default sma_cross counted once


def test_first_cost_point_and_default_universe_are_noted() -> None:
    result = run_compare(RunSpec(kind="compare", strategy="buy_and_hold", data="stocks", start="2004-01-01",
                                 end="2004-12-31", fees=(0.001, 0.002), options=(("n_boot", 50),)))
    summary = result.summary()
    assert summary["data"]["symbols"] == ["AAPL", "MSFT", "IBM"]
    assert summary["costs"]["fees"] == 0.001
    assert any("GOOG, FB left out" in n for n in summary["notes"])
    assert any("uses the first: fees 0.001" in n for n in summary["notes"])


def test_same_spec_same_summary_and_the_record(tuned) -> None:
    again = run_compare(spec(options={"variants": {"fast": [5, 10]}}))
    assert again.summary() == tuned.summary()
    record = tuned.to_record(["x"])
    assert record.kind == "compare" and record.run_id == tuned.run_id and record.tags == ("x",)
    assert list(record.tables["comparison"]["role"]) == ["candidate", "variant", "variant"] + ["baseline"] * 4
    assert record.tables["equity"].shape[1] == 7 and np.isfinite(record.tables["equity"].to_numpy()).all()
    assert record.spec["options"]["n_boot"] == 200 and record.spec["options"]["confidence"] == 0.95


@pytest.mark.parametrize("changes, match", [
    ({"options": {"variants": {"fsat": [5]}}}, r"--variants fsat: .*Did you mean 'fast'"),
    ({"options": {"variants": {"fast": ["x"]}}}, r"--variants fast='x' is not a number"),
    ({"options": {"variants": {"fast": [5]}}, "strategy": None, "policy": "symbol-agent-compact-stocks"},
     "varies a strategy's parameters"),
    ({"options": {"pbo_blocks": 7}}, r"pbo_blocks \(--pbo-blocks\) 7 must be an even integer"),
    ({"options": {"boot": 10}}, "option 'boot' is unknown"),
])
def test_bad_input_is_a_typed_error(changes: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        run_compare(spec(**changes))
