"""`engine.live`: one account stepped bar by bar equals the batched rollout, and resumes exactly."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.actions import SymbolActions
from engine.data.market import FIELDS, MarketData
from engine.data.synthetic import SyntheticConfig, generate_synthetic
from engine.errors import InvalidParameterError
from engine.live import BarHistory, LiveAccount, live_policy
from engine.live_observation import LiveObservation
from engine.observation import ObservationBuilder
from engine.policy import PolicyOutput
from engine.records import OrderReason, OrderStatus, order_dt
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from engine.state import Intents, empty_intents
from strategies.families.baseline import make_strategy

RISKY = ScenarioParams(fees=0.001, slippage=0.0005, stop_loss=0.003, max_drawdown=0.01, cooldown_bars=5,
                       daily_loss_limit=0.005)


@pytest.fixture(scope="module")
def intraday() -> MarketData:
    """Two symbols of 5-minute bars over three sessions (day rolls inside the run)."""
    return generate_synthetic(SyntheticConfig(n_symbols=2, frequency="5min", start="2024-01-02",
                                              end="2024-01-04", seed=5))


def step_live(data: MarketData, policy, params: ScenarioParams, observation=None,
              restart_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``policy`` bar by bar; at ``restart_at`` rebuild everything from a JSON snapshot.

    ``observation`` makes a fresh live observation (portfolio-scope policies).
    """
    def fresh():
        return (LiveAccount(params, data.n_symbols), live_policy(policy, observation and observation()),
                BarHistory(data.symbols, data.frequency))

    account, live, history = fresh()
    pending = empty_intents(1, data.n_symbols)
    records, equity = [], []
    for t in range(data.n_bars):
        if t == restart_at:
            saved = json.loads(json.dumps({"account": account.snapshot(), "live": live.snapshot(),
                                           "pending": [pending.kind.tolist(), pending.size.tolist(),
                                                       pending.reason.tolist()]}))
            account, live, history = fresh()
            for k in range(t):
                history.append(data.index[k], {f: getattr(data, f)[k] for f in FIELDS})
            account.restore(saved["account"])
            live.restore(saved["live"])
            pending = Intents(*(np.array(v, dtype=d) for v, d in zip(saved["pending"], (np.int8, np.float64, np.int8))))
        bar = {f: getattr(data, f)[t] for f in FIELDS}
        history.append(data.index[t], bar)
        records.append(account.open_bar(t, data.index[t], bar["open"], bar["close"], pending))
        live.track(history, t, account.state)
        equity.append(account.state.equity[0])
        if t == data.n_bars - 1:
            break
        decision = live.decide(history, account.context(bar["close"]))
        pending, blocked = account.submit(t, bar["close"], decision.kind, decision.size)
        records.append(blocked)
    return np.concatenate(records) if records else np.empty(0, order_dt), np.array(equity)


def assert_same_ledger(live: tuple[np.ndarray, np.ndarray], rollout) -> None:
    records, equity = live
    assert len(records) == len(rollout.records)
    for name in order_dt.names:
        assert np.array_equal(records[name], rollout.records[name], equal_nan=True), name
    assert np.array_equal(equity, rollout.equity[:, 0])


@pytest.mark.parametrize("name, params", [
    ("sma_cross", {"fast": 5, "slow": 20}), ("equal_weight", {"rebalance": 7}),
    ("momentum", {"lookback": 10, "rebalance": 5}), ("random", {"seed": 4, "switch_probability": 0.1}),
])
def test_market_policies_match_the_rollout_and_resume_exactly(intraday, name, params) -> None:
    policy = make_strategy(name, params)
    rollout = run_rollout(from_market(intraday, RISKY), policy)
    assert len(rollout.records) > 0
    assert_same_ledger(step_live(intraday, policy, RISKY), rollout)
    assert_same_ledger(step_live(intraday, policy, RISKY, restart_at=97), rollout)


def test_the_parity_runs_exercise_the_risk_rules(intraday) -> None:
    """The parity above is not vacuous: stops fire and halts block entries on this data."""
    rollout = run_rollout(from_market(intraday, RISKY), make_strategy("equal_weight", {"rebalance": 7}))
    assert int(OrderReason.STOP_LOSS) in set(rollout.records["reason"].tolist())
    statuses = set(rollout.records["status"].tolist())
    assert {int(OrderStatus.CLIPPED), int(OrderStatus.REJECTED_HALTED)} <= statuses


@dataclass
class ScoringPolicy:
    """Portfolio scope: buys on an up bar with positive rolling Sharpe, sells after a long hold."""

    name: str = "scoring"
    scope: str = "portfolio"
    action_space: SymbolActions = field(default_factory=SymbolActions)

    def act(self, observation: dict[str, np.ndarray]) -> PolicyOutput:
        score = observation["technical"][:, -1, 0] + 0.01 * observation["portfolio"][:, 5] - observation["position"][:, 3]
        mask = observation["action_mask"]
        actions = np.where((score > 0) & mask[:, 1], 1, np.where((score < -0.05) & mask[:, 5], 5, 0))
        return PolicyOutput(actions, {"score": score})


def test_a_portfolio_policy_matches_the_rollout_and_resumes_exactly(intraday) -> None:
    data = intraday.slice(None, intraday.index[60])
    normalizer = ObservationBuilder.from_market(data, fit_period=(None, None)).normalizer

    def observation():
        return LiveObservation(data.n_symbols, data.frequency, normalizer, action_space=SymbolActions())

    params = ScenarioParams(fees=0.001, stop_loss=0.004)
    policy = ScoringPolicy()
    batch = from_market(data, params)
    rollout = run_rollout(batch, policy,
                          observer=ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions()))
    assert len(rollout.records) >= 4
    assert_same_ledger(step_live(data, policy, params, observation), rollout)
    assert_same_ledger(step_live(data, policy, params, observation, restart_at=33), rollout)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_bars=st.integers(3, 60), n_symbols=st.integers(1, 2),
       switch=st.floats(0.05, 1.0), stop=st.sampled_from([0.0, 0.01, 0.03]),
       drawdown=st.sampled_from([0.0, 0.02]), restart=st.integers(1, 59))
def test_any_random_run_resumed_anywhere_equals_the_rollout(seed, n_bars, n_symbols, switch, stop, drawdown,
                                                           restart) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, n_symbols)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, close.shape))
    index = pd.date_range("2024-01-01", periods=n_bars, freq="D", tz="UTC", name="timestamp")
    data = MarketData("walk", index, tuple(f"S{i}" for i in range(n_symbols)), open_, np.maximum(open_, close) * 1.001,
                      np.minimum(open_, close) * 0.999, close, np.full(close.shape, 1e4), "1D")
    params = ScenarioParams(fees=0.001, stop_loss=stop, max_drawdown=drawdown, cooldown_bars=2)
    policy = make_strategy("random", {"seed": seed, "switch_probability": switch})
    rollout = run_rollout(from_market(data, params), policy)
    assert_same_ledger(step_live(data, policy, params, restart_at=min(restart, n_bars - 1)), rollout)


def test_history_pads_a_single_bar_and_refuses_bars_out_of_order(intraday) -> None:
    history = BarHistory(intraday.symbols, intraday.frequency)
    assert history.last_timestamp is None
    bar = {f: getattr(intraday, f)[0] for f in FIELDS}
    assert history.append(intraday.index[0], bar) == 0
    path = history.path()
    assert path.n_bars == 2 and np.array_equal(path.close[0], intraday.close[0])
    assert np.array_equal(path.open[1], intraday.close[0]) and path.index[1] - path.index[0] == pd.Timedelta("5min")
    with pytest.raises(InvalidParameterError, match="does not follow the previous bar"):
        history.append(intraday.index[0], bar)
    with pytest.raises(InvalidParameterError, match="has shape"):
        history.append(intraday.index[1], {**bar, "close": bar["close"][:1]})


def test_kill_switch_intents_close_every_held_position() -> None:
    account = LiveAccount(ScenarioParams(), 3)
    account.state.units[0] = [1.5, 0.0, -2.0]
    intents = account.flatten_intents()
    assert intents.kind.tolist() == [[3, 0, 3]] and intents.size.tolist() == [[0.0, 0.0, 0.0]]
    assert intents.reason.tolist() == [[int(OrderReason.KILL_SWITCH), 0, int(OrderReason.KILL_SWITCH)]]


def test_live_policy_checks_the_policy_scope() -> None:
    with pytest.raises(InvalidParameterError, match="reads the portfolio; pass its live observation"):
        live_policy(ScoringPolicy(), None)
    with pytest.raises(InvalidParameterError, match="unknown scope"):
        live_policy(ScoringPolicy(scope="galaxy"), None)
