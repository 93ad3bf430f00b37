"""Batched rollout: hand-checked baselines, shared market paths, look-ahead canary, scope parity."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from engine.actions import TargetWeights
from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from engine.policy import MarketView, PolicyOutput
from engine.records import OrderStatus
from engine.rollout import check_market_policy_causal, path_view, run_rollout
from engine.scenarios import ScenarioParams, from_market, historical_windows, parameter_grid
from strategies.families.baseline import STRATEGIES, make_strategy


@pytest.fixture(scope="module")
def spx():
    return load_builtin("sp500").slice("2007-01-01", "2009-12-31")


def test_buy_and_hold_by_hand(spx) -> None:
    params = ScenarioParams(fees=0.001, slippage=0.0005)
    result = run_rollout(from_market(spx, params), make_strategy("buy_and_hold"))
    bars = spx.symbol_frame("SPX")
    price = bars["open"].iloc[1] * 1.0005
    units = 100_000 / (price * 1.001)
    assert len(result.records) == 1 and result.records[0]["bar"] == 1
    assert result.records[0]["units"] == pytest.approx(units, rel=1e-12)
    assert result.equity[-1, 0] == pytest.approx(units * bars["close"].iloc[-1], rel=1e-12)


def test_sma_cross_trades_only_at_crossings(spx) -> None:
    result = run_rollout(from_market(spx), make_strategy("sma_cross", {"fast": 10, "slow": 30}))
    close = spx.close[:, 0]
    fast = np.convolve(close, np.ones(10) / 10, "valid")[20:]
    slow = np.convolve(close, np.ones(30) / 30, "valid")
    long = np.r_[np.zeros(29, bool), fast > slow]
    switches = np.flatnonzero(np.diff(long.astype(int)) != 0) + 1  # decision bars where the state flips
    switches = switches[switches < len(close) - 1]
    assert list(result.records["bar"]) == list(switches + 1)
    assert (result.records["status"] == OrderStatus.FILLED).all()


@dataclass
class CountingPolicy:
    """Buy-and-hold that counts its evaluations."""

    name: str = "counting"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)
    calls: int = 0

    def act_market(self, view: MarketView) -> PolicyOutput:
        self.calls += 1
        weights = np.full(view.close.shape, np.nan)
        weights[0] = 1.0
        return PolicyOutput(weights)


def test_market_policy_is_evaluated_once_per_path_and_costs_order_results(spx) -> None:
    grid = [p for _, p in parameter_grid(fees=[0.0, 0.001, 0.01], slippage=[0.0, 0.002])]
    policy = CountingPolicy()
    result = run_rollout(from_market(spx, grid), policy)
    assert policy.calls == 1 and result.equity.shape == (spx.n_bars, 6)
    final = result.equity[-1]
    # Grid order: the last axis varies fastest -> (f0,s0), (f0,s.002), (f.001,s0), ...
    assert [result.labels[i] for i in (0, 1)] == ["default", "slippage=0.002"]
    assert final[0] > final[2] > final[4]  # higher fees, lower equity
    assert final[0] > final[1]  # slippage costs money too


class PeekingPolicy(CountingPolicy):
    def act_market(self, view: MarketView) -> PolicyOutput:
        tomorrow_up = np.r_[view.close[1:] > view.close[:-1], np.zeros((1, view.close.shape[1]), bool)]
        return PolicyOutput(np.where(tomorrow_up, 1.0, 0.0))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_baseline_passes_the_look_ahead_canary(name: str, spx) -> None:
    view = path_view(from_market(load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2001-01-01", "2003-12-31")), 0)
    check_market_policy_causal(make_strategy(name), view, cuts=[2, 40, 100, 377, 500])


def test_the_canary_catches_a_policy_that_peeks(spx) -> None:
    with pytest.raises(InvalidParameterError, match="looks ahead"):
        check_market_policy_causal(PeekingPolicy(), path_view(from_market(spx), 0), cuts=list(range(40, 60)))


@dataclass
class ReplayWeights:
    """Portfolio-scope policy replaying precomputed target weights bar by bar."""

    weights: np.ndarray  # [T, S*N]
    name: str = "replay"
    scope: str = "portfolio"
    action_space: TargetWeights = field(default_factory=TargetWeights)
    bar: int = 0

    def act(self, observation: dict) -> PolicyOutput:
        out = PolicyOutput(self.weights[self.bar])
        self.bar += 1
        return out


class NoObservation:
    def observe(self, bar, context):
        return {}


def test_portfolio_scope_rollout_matches_the_compiled_market_rollout() -> None:
    data = load_builtin("stocks").select(["AAPL", "MSFT"]).slice("2002-01-01", "2004-12-31")
    params = [ScenarioParams(fees=0.001, stop_loss=0.08, cooldown_bars=5), ScenarioParams(slippage=0.001)]
    batch = from_market(data, params)
    policy = make_strategy("momentum", {"lookback": 20, "rebalance": 10})
    market = run_rollout(batch, policy)
    weights = policy.act_market(path_view(batch, 0)).actions
    tiled = np.concatenate([weights, weights], axis=1)  # [T, S*N], scenario-major
    replay = run_rollout(batch, ReplayWeights(tiled, action_space=policy.action_space), observer=NoObservation())
    np.testing.assert_array_equal(market.equity, replay.equity)
    pd.testing.assert_frame_equal(pd.DataFrame(market.records), pd.DataFrame(replay.records))


def test_padded_windows_trade_nothing_after_their_last_real_bar() -> None:
    data = load_builtin("sp500")
    batch = historical_windows(data, [("a", "2008-09-12", "2008-10-10"), ("b", "2010-05-05", "2010-05-07")])
    result = run_rollout(batch, make_strategy("random", {"switch_probability": 0.5}))
    for s in range(batch.n_scenarios):
        rec = result.records[result.records["scenario"] == s]
        assert (rec["bar"] <= batch.n_valid[s] - 1).all()
