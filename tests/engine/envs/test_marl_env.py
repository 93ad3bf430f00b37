"""MarlTradingEnv: PettingZoo API, the joint-decision rules and the rewards each agent gets."""
from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from engine.envs.episode import EpisodeConfig
from engine.envs.marl_env import HOLD, LONG, SHORT, MarlTradingEnv, plurality_vote, vote_probabilities
from engine.envs.stepper import order_records
from engine.errors import InvalidParameterError
from engine.records import OrderReason
from tests.engine.envs.helpers import synthetic


def intraday():
    return synthetic(1, "5min", "2022-01-07", seed=4)  # 5 sessions of 78 bars


def test_tactical_preset_passes_the_parallel_api_test() -> None:
    env = MarlTradingEnv(intraday(), episode=EpisodeConfig(episode_length=15))
    parallel_api_test(env, num_cycles=50)
    observations, _ = env.reset(seed=0)
    assert set(observations) == {"fvg", "momentum", "entry"}
    assert all(o.shape == (60, 7) and o.dtype == np.float32 and np.isfinite(o).all() for o in observations.values())
    assert env.state().shape == (420,)  # the tactical-team specification's centralized critic input


def test_strategic_preset_passes_the_parallel_api_test_and_needs_a_normalizer() -> None:
    with pytest.raises(InvalidParameterError, match="normalizer"):
        MarlTradingEnv(intraday(), preset="strategic")
    env = MarlTradingEnv(intraday(), preset="strategic", fit_period=(None, "2022-01-06"),
                         episode=EpisodeConfig(episode_length=15))
    parallel_api_test(env, num_cycles=50)
    observations, _ = env.reset(seed=0)
    assert {a: o.shape for a, o in observations.items()} == {"mlmi": (48, 4), "nwrqk": (48, 4), "regime": (48, 3)}


@pytest.mark.parametrize("votes, joint", [
    ((LONG, LONG, SHORT), LONG),
    ((SHORT, SHORT, SHORT), SHORT),
    ((LONG, HOLD, HOLD), HOLD),
    ((LONG, SHORT, HOLD), HOLD),   # three-way tie
    ((LONG, SHORT), HOLD),         # two agents split
])
def test_plurality_vote(votes, joint) -> None:
    assert plurality_vote(np.array(votes)) == joint


def test_vote_probabilities_normalize_each_agent_then_average() -> None:
    # Agent 1: (2, 1, 1) -> (0.5, 0.25, 0.25); agent 2: all zero -> neutral (0, 1, 0).
    mean = vote_probabilities(np.array([[2.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert mean == pytest.approx([0.25, 0.625, 0.125])


def test_the_joint_decision_is_traded_and_every_agent_shares_the_team_reward() -> None:
    env = MarlTradingEnv(intraday(), episode=EpisodeConfig(episode_length=5, min_start=100, random_start=False))
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({"fvg": LONG, "momentum": SHORT, "entry": HOLD})
    assert len(infos["fvg"]["orders"]["bar"]) == 0  # a tie holds: no order
    _, rewards, _, _, infos = env.step({"fvg": LONG, "momentum": LONG, "entry": SHORT})
    orders = order_records(infos["entry"]["orders"])
    # Target +100% of equity at the next open (no costs): one buy of equity / open units.
    assert len(orders) == 1 and orders[0]["side"] == 1 and orders[0]["reason"] == OrderReason.POLICY
    open_ = env.stepper.batch.open[0, orders[0]["bar"], 0]
    assert orders[0]["units"] * open_ == pytest.approx(100_000.0)
    team = infos["fvg"]["team_reward"]
    assert rewards == {"fvg": team, "momentum": team, "entry": team}


def test_vote_pnl_credits_each_agent_with_its_own_vote() -> None:
    env = MarlTradingEnv(intraday(), reward_mode="vote_pnl",
                         episode=EpisodeConfig(episode_length=5, min_start=100, random_start=False))
    env.reset(seed=0)
    before = env.stepper.close_prices()[0, 0]
    _, rewards, _, _, _ = env.step({"fvg": LONG, "momentum": SHORT, "entry": HOLD})
    move = env.stepper.close_prices()[0, 0] / before - 1.0
    # Long earns clip(move / 1%), short the opposite, hold nothing.
    assert rewards["fvg"] == pytest.approx(np.clip(move / 0.01, -1, 1))
    assert rewards["momentum"] == pytest.approx(-rewards["fvg"]) and rewards["entry"] == 0.0


def test_unknown_preset_agents_and_missing_actions_are_errors() -> None:
    with pytest.raises(InvalidParameterError, match="preset"):
        MarlTradingEnv(intraday(), preset="grand")
    with pytest.raises(InvalidParameterError, match="column set"):
        MarlTradingEnv(intraday(), preset="strategic", agents=("mlmi", "oracle"), fit_period=(None, None))
    env = MarlTradingEnv(intraday(), episode=EpisodeConfig(episode_length=5))
    env.reset(seed=0)
    with pytest.raises(InvalidParameterError, match="no action"):
        env.step({"fvg": LONG})
