"""The look-ahead canary: peeking deciders are caught at the bar they peek, causal ones pass."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from engine.actions import SymbolActions, TargetWeights
from engine.data.market import MarketData
from engine.errors import InvalidParameterError
from engine.observation import ObservationBuilder
from engine.policy import MarketView, PolicyOutput
from strategies.baselines import SmaCross
from strategies.families.baseline import BASELINES
from strategies.family import Decider
from workbench.review.canary import default_cuts, run_canary
from workbench.runs.evaluate import spec_decider
from workbench.runs.spec import RunSpec
from workbench.services.datasets import load_dataset


def market(close: np.ndarray, name: str = "toy") -> MarketData:
    close = np.asarray(close, float)
    index = pd.date_range("2020-01-01", periods=len(close), freq="D", tz="UTC")
    return MarketData(name, index, tuple(f"S{j}" for j in range(close.shape[1])), open=close.copy(),
                      high=close * 1.01, low=close * 0.99, close=close, volume=np.ones_like(close), frequency="1D")


@dataclass(frozen=True)
class TomorrowPeeker:
    """Long when tomorrow's close is higher: the classic off-by-one look-ahead bug."""

    name: str = "tomorrow_peeker"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def act_market(self, view: MarketView) -> PolicyOutput:
        close = view.close
        tomorrow = np.vstack([close[1:], close[-1:]])  # the last bar compares with itself
        return PolicyOutput(np.where(tomorrow > close, 1.0 / close.shape[1], 0.0))


@dataclass(frozen=True)
class WholeWindowZScore:
    """Long when the close is above the mean of the whole window: statistics fitted on the future."""

    name: str = "whole_window_zscore"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def act_market(self, view: MarketView) -> PolicyOutput:
        close = view.close
        return PolicyOutput(np.where(close > close.mean(axis=0), 1.0 / close.shape[1], 0.0))


def decider(policy) -> Decider:
    return Decider(policy.name, BASELINES, policy)


RISING = market(np.column_stack([np.linspace(100, 200, 120), np.linspace(50, 80, 120)]))


def test_a_decider_that_reads_tomorrow_is_caught_at_the_last_bar_of_the_first_cut() -> None:
    result = run_canary(decider(TomorrowPeeker()), RISING)
    # Prices rise every bar: the full run is long at bar cut - 1 (it sees bar cut), the cut run is flat.
    assert result.cuts == (30, 60, 90)
    assert not result.passed and result.failed_cuts == (30, 60, 90) and result.violations == 3
    assert result.first_difference == 29
    assert result.first_difference_at == RISING.index[29].isoformat()


def test_statistics_fitted_on_the_whole_window_are_caught() -> None:
    result = run_canary(decider(WholeWindowZScore()), RISING, cuts=[60])
    # Cut at 60 bars: the mean falls, so bars 30..59 switch from flat to long; bar 30 is the first.
    assert not result.passed and result.failed_cuts == (60,)
    full_mean, cut_mean = RISING.close[:, 0].mean(), RISING.close[:60, 0].mean()
    assert result.first_difference == int(np.argmax(RISING.close[:60, 0] > cut_mean))
    assert RISING.close[result.first_difference, 0] <= full_mean


def test_sma_cross_passes_on_real_and_synthetic_data() -> None:
    stocks = load_dataset("stocks", symbols=["AAPL", "MSFT"], start="2005-01-01", end="2006-03-31")
    result = run_canary(decider(SmaCross(fast=5, slow=20)), stocks)
    assert result.passed and result.violations == 0 and result.first_difference is None
    assert result.n_bars == len(stocks.index) and len(result.cuts) == 3
    assert "stocks AAPL,MSFT 2005-01-03..2006-03-31" in result.window
    assert run_canary(decider(SmaCross(fast=5, slow=20)), RISING, cuts=[2, 25, 119]).passed


def test_default_cuts_and_bad_cuts() -> None:
    assert default_cuts(300) == (75, 150, 225)
    assert default_cuts(4) == (2, 3)
    with pytest.raises(InvalidParameterError, match="cut 120 is outside 2..119"):
        run_canary(decider(SmaCross()), RISING, cuts=[120])
    with pytest.raises(InvalidParameterError, match="at least 3"):
        run_canary(decider(SmaCross()), market(np.ones((2, 1))))


@pytest.fixture(scope="module")
def agent_and_window() -> tuple[Decider, MarketData]:
    spec = RunSpec(data="stocks", policy="symbol-agent-compact-stocks", symbols=("AAPL", "MSFT"))
    window = load_dataset("stocks", symbols=["AAPL", "MSFT"], start="2009-01-01", end="2009-09-30")
    return spec_decider(spec), window


def test_the_shipped_policy_with_its_frozen_normalizer_passes(agent_and_window) -> None:
    agent, window = agent_and_window
    result = run_canary(agent, window, cuts=[100, 150])
    assert result.passed and result.cuts == (100, 150)


def test_a_normalizer_fitted_on_the_whole_window_is_caught(agent_and_window) -> None:
    agent, window = agent_and_window

    def leaky(batch):
        return ObservationBuilder(batch, fit_period=(None, None), action_space=SymbolActions())

    result = run_canary(agent, window, cuts=[100, 150], observer_factory=leaky)
    assert not result.passed and result.first_difference is not None and result.first_difference < 150
