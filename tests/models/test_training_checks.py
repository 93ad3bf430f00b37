"""The plan's training warning signs: each fires on what it is about and stays quiet otherwise."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.actions import SymbolAction
from engine.data.registry import load_builtin
from engine.scenarios import ScenarioParams
from models.symbol_agent.evaluation import episode_starts, make_evaluation_env, run_episodes, summarize_episodes
from models.training_checks import TrainingDiverged, WarningMonitor, WarningThresholds
from tests.engine.envs.helpers import identity_normalizer

COSTS = ScenarioParams(fees=0.001, slippage=0.0005)


@pytest.fixture(scope="module")
def validation_env():
    history = load_builtin("stocks").select(["AAPL", "MSFT"]).slice("2005-06-01", "2007-06-30")
    return make_evaluation_env(history, "2007-01-01", identity_normalizer(), COSTS, n_episodes=3)


def figures(decide, validation_env) -> dict[str, float]:
    env, starts = validation_env
    return summarize_episodes(run_episodes(decide, env, starts))


def test_a_constructed_all_hold_policy_fires_the_all_hold_sign(validation_env) -> None:
    hold = figures(lambda observation, masks: np.zeros(len(masks), dtype=np.int64), validation_env)
    assert (hold["hold_share"], hold["time_in_market"], hold["trades"], hold["trades_per_year"]) == (1.0, 0.0, 0.0, 0.0)
    monitor = WarningMonitor(total_timesteps=1000)
    reason = monitor.after_validation(500, hold)
    assert "100.0% of decisions are HOLD" in reason and "in the market 0.0% of the time" in reason
    assert [w["sign"] for w in monitor.warnings()] == ["all_hold"] and monitor.warnings()[0]["timesteps"] == 500


def test_buying_once_and_holding_forever_is_caught_too(validation_env) -> None:
    """The shipped policy of issue 15: in the market most of the time, but it never trades again."""
    def buy_once(observation, masks):
        return np.where(masks[:, SymbolAction.BUY_SMALL], SymbolAction.BUY_SMALL, SymbolAction.HOLD)

    held = figures(buy_once, validation_env)
    assert held["time_in_market"] > 0.9 and held["hold_share"] > 0.98
    assert "of decisions are HOLD" in WarningThresholds().inactive(held)


def test_an_active_policy_raises_no_sign(validation_env) -> None:
    def alternate(observation, masks):  # buy when flat, sell everything when holding
        return np.where(masks[:, SymbolAction.BUY_MEDIUM], SymbolAction.BUY_MEDIUM, SymbolAction.SELL_ALL)

    active = figures(alternate, validation_env)
    assert active["time_in_market"] > 0.45 and active["trades_per_year"] > 50 and active["hold_share"] == 0.0
    assert WarningThresholds().inactive(active) == ""


def test_nan_losses_fire_and_stop_training() -> None:
    monitor = WarningMonitor(total_timesteps=1000)
    monitor.after_update(100, {"loss": 0.3, "policy_loss": -0.01, "value_loss": 0.5, "entropy": 1.3})
    with pytest.raises(TrainingDiverged, match="loss, value_loss not finite"):
        monitor.after_update(200, {"loss": math.nan, "policy_loss": -0.01, "value_loss": math.inf, "entropy": 1.3})
    assert monitor.warnings() == [{"sign": "nan_loss", "timesteps": 200, "count": 1,
                                   "message": "loss, value_loss not finite after the update"}]


def test_entropy_collapsing_early_fires_but_late_decay_does_not() -> None:
    monitor = WarningMonitor(total_timesteps=1000)
    monitor.after_update(100, {"entropy": 1.2})
    monitor.after_update(800, {"entropy": 0.1})  # late in the run: the schedule's decay, not a collapse
    assert monitor.warnings() == []
    monitor.after_update(300, {"entropy": 0.2})
    assert monitor.warnings()[0]["sign"] == "entropy_collapse" and "after 30% of the run" in monitor.warnings()[0]["message"]


def test_negative_explained_variance_fires_after_three_updates_in_a_row() -> None:
    monitor = WarningMonitor(total_timesteps=1000)
    for step, variance in enumerate([-0.5, -0.2, 0.1, -0.3, -0.1]):
        monitor.after_update(step, {"explained_variance": variance})
    assert monitor.warnings() == []
    monitor.after_update(5, {"explained_variance": -0.05})
    assert monitor.warnings()[0]["sign"] == "value_collapse" and monitor.warnings()[0]["timesteps"] == 5


def test_a_rollout_of_holds_fires_and_repeats_are_counted() -> None:
    monitor = WarningMonitor(total_timesteps=1000)
    monitor.after_rollout(10, 0.5)
    assert monitor.warnings() == []
    monitor.after_rollout(20, 0.99)
    monitor.after_rollout(30, 1.0)
    state = monitor.state()
    assert state["found"] == [{"sign": "all_hold", "timesteps": 20, "count": 2,
                               "message": "99.0% of the actions sampled in training are HOLD"}]
    again = WarningMonitor(total_timesteps=1000)
    again.restore(state)
    assert again.warnings() == monitor.warnings()


def test_episode_starts_cover_the_first_half() -> None:
    assert episode_starts(100, 200, 5).tolist() == [100, 110, 120, 130, 140]
    with pytest.raises(Exception, match="at least 2 bars"):
        episode_starts(5, 5, 3)
