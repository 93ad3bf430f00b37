"""Per-regime analysis: bars add up, returns chain back to the run's, actions are counted per label."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from engine.actions import TacticalActions
from engine.errors import InvalidParameterError
from engine.policy import MarketView, PolicyOutput
from engine.regimes import REGIME_LABELS, regime_labels
from engine.scenarios import from_market
from strategies.families.baseline import BASELINES
from strategies.family import Decider
from workbench.experiments.regimes import UNLABELLED, market_regimes, regime_breakdown
from workbench.policies import resolve_decider
from workbench.runs.evaluate import evaluate
from workbench.services.datasets import load_dataset


@dataclass
class AlternatingTactical:
    """Long on even bars, hold on odd bars: a discrete policy whose action shares are known."""

    name: str = "alternating"
    scope: str = "market"
    action_space: TacticalActions = field(default_factory=TacticalActions)

    def act_market(self, view: MarketView) -> PolicyOutput:
        actions = np.where(np.arange(len(view.index)) % 2 == 0, 2, 1)
        return PolicyOutput(np.repeat(actions[:, None], len(view.symbols), axis=1))


@pytest.fixture(scope="module")
def two_symbols():
    return load_dataset("stocks", symbols=["AAPL", "MSFT"], start="2006-01-01", end="2007-06-30")


@pytest.fixture(scope="module")
def buy_and_hold_run(two_symbols):
    decider = resolve_decider("buy_and_hold")
    return evaluate(from_market(two_symbols), decider)


def test_bars_of_each_column_add_up_to_the_run(buy_and_hold_run, two_symbols) -> None:
    rows = regime_breakdown(buy_and_hold_run, two_symbols)
    for column in REGIME_LABELS:
        mine = [r for r in rows if r["column"] == column]
        assert sum(r["bars"] for r in mine) == two_symbols.n_bars
        assert sum(r["share"] for r in mine) == pytest.approx(1.0)
        assert [r["label"] for r in mine][:3] == list(REGIME_LABELS[column])


def test_warm_up_bars_are_unlabelled_without_history(buy_and_hold_run, two_symbols) -> None:
    rows = {(r["column"], r["label"]): r for r in regime_breakdown(buy_and_hold_run, two_symbols)}
    # Trend labels start at bar 60; volatility labels at bar 20 + 252 - 1 = 271 (engine.regimes).
    assert rows[("trend_regime", UNLABELLED)]["bars"] == 60
    assert rows[("vol_regime", UNLABELLED)]["bars"] == 271


def test_history_labels_the_first_bars(buy_and_hold_run, two_symbols) -> None:
    history = load_dataset("stocks", symbols=["AAPL", "MSFT"], end="2007-06-30")
    rows = regime_breakdown(buy_and_hold_run, two_symbols, history=history)
    assert not any(r["label"] == UNLABELLED for r in rows)
    labels = market_regimes(two_symbols, history)
    assert labels.index.equals(two_symbols.index)
    for column, categories in REGIME_LABELS.items():
        counts = labels[column].value_counts()
        assert [r["bars"] for r in rows if r["column"] == column] == [int(counts[c]) for c in categories]


def test_regime_returns_chain_back_to_the_run_return(buy_and_hold_run, two_symbols) -> None:
    equity = buy_and_hold_run.rollout.equity[:, 0]
    for column in REGIME_LABELS:
        rows = [r for r in regime_breakdown(buy_and_hold_run, two_symbols) if r["column"] == column]
        growth = np.prod([1 + r["total_return"] for r in rows if r["total_return"] is not None])
        # Bar t carries close t -> close t + 1, so the labels together cover close 0 -> last close.
        assert growth == pytest.approx(equity[-1] / equity[0], rel=1e-12)


def test_buy_and_hold_is_long_from_the_first_fill(buy_and_hold_run, two_symbols) -> None:
    rows = regime_breakdown(buy_and_hold_run, two_symbols)
    trend = {r["label"]: r for r in rows if r["column"] == "trend_regime"}
    # Flat only at bar 0's close (the buy fills at bar 1's open); bar 0 is in the warm-up.
    warm = trend[UNLABELLED]
    assert warm["positions"]["flat"] == pytest.approx(1 / 60)
    assert warm["positions"]["long"] == pytest.approx(59 / 60)
    for label in ("bull", "bear", "sideways"):
        if trend[label]["bars"]:
            assert trend[label]["positions"] == {"long": 1.0, "flat": 0.0, "short": 0.0}
            assert 0.9 < trend[label]["exposure"] <= 1.0
    assert all(r["actions"] is None for r in rows)  # target weights are no discrete actions


def test_market_labels_are_the_equal_weight_index(two_symbols) -> None:
    close = two_symbols.close
    level = np.concatenate([[1.0], np.cumprod(1 + (close[1:] / close[:-1] - 1).mean(axis=1))])
    bars = pd.DataFrame({"open": level, "high": level, "low": level, "close": level,
                         "volume": 0.0}, index=two_symbols.index)
    expected = regime_labels(bars)
    pd.testing.assert_frame_equal(market_regimes(two_symbols), expected)
    one = two_symbols.select(["AAPL"])
    pd.testing.assert_frame_equal(market_regimes(one), regime_labels(one.symbol_frame("AAPL")))


def test_discrete_actions_are_counted_per_label(two_symbols) -> None:
    policy = AlternatingTactical()
    evaluation = evaluate(from_market(two_symbols), Decider(policy.name, BASELINES, policy))
    rows = regime_breakdown(evaluation, two_symbols, policy=policy)
    labels = market_regimes(two_symbols)["trend_regime"].astype(object).fillna(UNLABELLED).to_numpy()
    decided = np.arange(two_symbols.n_bars - 1)  # nothing is decided at the last bar
    for row in (r for r in rows if r["column"] == "trend_regime" and r["bars"]):
        bars = decided[labels[:-1] == row["label"]]
        assert set(row["actions"]) == {"short", "hold", "long"}
        assert row["actions"]["long"] == pytest.approx(np.mean(bars % 2 == 0))
        assert row["actions"]["hold"] == pytest.approx(np.mean(bars % 2 == 1))
        assert row["actions"]["short"] == 0.0


def test_bad_scenario_or_data_is_an_error(buy_and_hold_run, two_symbols) -> None:
    with pytest.raises(InvalidParameterError, match="outside the batch"):
        regime_breakdown(buy_and_hold_run, two_symbols, scenario=3)
    other = load_dataset("stocks", symbols=["AAPL", "MSFT"], start="2006-01-01", end="2006-12-31")
    with pytest.raises(InvalidParameterError, match="did not run on the bars"):
        regime_breakdown(buy_and_hold_run, other)
    with pytest.raises(InvalidParameterError, match="lacks"):
        market_regimes(two_symbols, history=other)
    with pytest.raises(InvalidParameterError, match="symbols"):
        market_regimes(two_symbols, history=load_dataset("stocks", symbols=["AAPL"], end="2007-06-30"))
