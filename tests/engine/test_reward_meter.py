"""The rollout measures its decisions' rewards as the training stepper does, from the same bar loop.

A stored backtest's reward components come from the rollout itself (``engine.reward_meter``); the
training environments' stepper computes them for the same actions through the same two halves of
``engine.bar_loop``. Both must agree exactly, and the rollout must not change a single fill by
measuring them (the compiled market path and the measured Python path give the same ledger).
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.actions import SymbolActions, TargetWeights
from engine.data.market import bars_per_year
from engine.envs.stepper import KernelStepper
from engine.errors import InvalidParameterError
from engine.observation import ObservationBuilder
from engine.reward_meter import RewardMeter, RewardSettings
from engine.rewards import REWARD_COMPONENTS
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market, historical_windows
from engine.tracking import AccountTracker
from strategies.families.baseline import make_strategy
from tests.engine.envs.helpers import ReplayPolicy, assert_same_records, identity_normalizer, synthetic

COSTS = [ScenarioParams(fees=0.001, slippage=0.0005), ScenarioParams(fees=0.0, stop_loss=0.03)]
NAMES = [*REWARD_COMPONENTS, "total"]


def stepper_rewards(batch, action_space, actions: np.ndarray) -> dict[str, np.ndarray]:
    """Rewards ``[T - 1, S, N]`` of ``actions`` ``[T - 1, S, N]`` stepped through the training stepper."""
    settings = RewardSettings()
    tracker = AccountTracker(batch.n_scenarios, batch.n_symbols, settings.stats_window,
                             bars_per_year(batch.frequency), settings.ratio_clip)
    stepper = KernelStepper(batch, action_space, tracker, settings.weights, settings.scales)
    stepper.reset(np.arange(batch.n_scenarios), np.zeros(batch.n_scenarios, dtype=np.int64), batch.n_valid - 1)
    out = {name: np.empty((batch.n_bars - 1, batch.n_scenarios, batch.n_symbols)) for name in NAMES}
    for t in range(batch.n_bars - 1):
        step = stepper.step(actions[t])
        for name in NAMES:
            out[name][t] = np.broadcast_to(step.rewards[name], (batch.n_scenarios, batch.n_symbols))
    return out


def test_portfolio_rollout_rewards_equal_the_training_stepper() -> None:
    data = synthetic(n_symbols=2)
    batch = from_market(data, COSTS)
    rng = np.random.default_rng(3)
    actions = rng.integers(0, 7, size=(batch.n_bars - 1, batch.n_scenarios * batch.n_symbols))
    policy = ReplayPolicy(actions)
    observer = ObservationBuilder(batch, normalizer=identity_normalizer(), action_space=SymbolActions())
    rollout = run_rollout(batch, policy, observer=observer, rewards=RewardSettings())
    expected = stepper_rewards(batch, SymbolActions(),
                               actions.reshape(batch.n_bars - 1, batch.n_scenarios, batch.n_symbols))
    for name in NAMES:
        np.testing.assert_array_equal(rollout.rewards[name], expected[name], err_msg=name)
    # Some actions were masked (random choices of sells while flat): the failed penalty shows.
    assert (rollout.rewards["total"] < expected["total"].max()).any()
    unmeasured = run_rollout(batch, ReplayPolicy(actions), observer=ObservationBuilder(
        batch, normalizer=identity_normalizer(), action_space=SymbolActions()))
    assert unmeasured.rewards == {}
    assert_same_records(unmeasured.records, rollout.records)
    np.testing.assert_array_equal(unmeasured.equity, rollout.equity)


def test_market_rollout_with_rewards_keeps_the_compiled_ledger() -> None:
    data = synthetic(n_symbols=2)
    batch = from_market(data, COSTS)
    policy = make_strategy("sma_cross", {"fast": 5, "slow": 15})
    compiled = run_rollout(batch, policy)
    measured = run_rollout(batch, policy, rewards=RewardSettings())
    assert_same_records(compiled.records, measured.records)
    np.testing.assert_array_equal(compiled.equity, measured.equity)
    assert len(compiled.records) > 4
    targets = np.moveaxis(compiled.actions[np.zeros(batch.n_scenarios, dtype=int)], 0, 1)[:-1]
    expected = stepper_rewards(batch, TargetWeights(), targets)
    for name in NAMES:
        np.testing.assert_array_equal(measured.rewards[name], expected[name], err_msg=name)


def test_rewards_are_refused_for_padded_windows_and_meter_order_is_checked() -> None:
    data = synthetic(n_symbols=1)
    padded = historical_windows(data, [("long", "2022-01-03", "2022-03-31"), ("short", "2022-02-01", "2022-02-15")])
    assert padded.n_valid.min() < padded.n_bars
    with pytest.raises(InvalidParameterError, match="padded windows"):
        run_rollout(padded, make_strategy("buy_and_hold"), rewards=RewardSettings())
    meter = RewardMeter(1, 1, 3, 252.0)
    with pytest.raises(InvalidParameterError, match="judged before decided"):
        meter.judged(0, np.empty(0), np.ones((1, 1)), np.ones((1, 1)), None)
