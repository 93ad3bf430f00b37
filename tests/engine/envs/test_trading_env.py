"""TradingEnvironment: API checkers, episodes, masks, rewards by hand, and parity with the rollout."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from engine.actions import SymbolAction
from engine.envs.episode import EpisodeConfig
from engine.envs.stepper import order_records
from engine.envs.trading_env import TradingEnvironment
from engine.errors import InvalidParameterError
from engine.observation import ObservationBuilder
from engine.records import STATUS_CLIPPED, OrderReason
from engine.rewards import REWARD_COMPONENTS, RewardWeights
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from tests.engine.envs.helpers import (
    ReplayPolicy,
    assert_same_records,
    hand_market,
    identity_normalizer,
    synthetic,
)


def make_env(data=None, **kwargs) -> TradingEnvironment:
    kwargs.setdefault("episode", EpisodeConfig(episode_length=20, min_start=0))
    kwargs.setdefault("normalizer", identity_normalizer())
    return TradingEnvironment(data if data is not None else synthetic(), "SYN000", **kwargs)


def test_gymnasium_and_sb3_env_checkers_pass() -> None:
    env = make_env(fit_period=(None, "2022-03-31"), normalizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3 recommends flat observations; the 24 x 23 block is by design
        check_env(env, skip_render_check=True)
        sb3_check_env(env)
    env.reset(seed=0)
    assert is_masking_supported(env) and get_action_masks(env).dtype == bool  # sb3-contrib's hooks


def test_fixed_start_and_length_bound_the_episode() -> None:
    env = make_env(episode=EpisodeConfig(episode_length=7, min_start=5, random_start=False))
    _, info = env.reset(seed=0)
    assert info["bar"] == 5
    flags = []
    for _ in range(7):
        _, _, terminated, truncated, info = env.step(SymbolAction.HOLD)
        flags.append((terminated, truncated))
    # 7 decisions at bars 5..11; the last observation is bar 12, where nothing is decided.
    assert info["bar"] == 12 and flags[-1] == (False, True) and not any(t for _, t in flags[:-1])
    with pytest.raises(InvalidParameterError, match="reset"):
        env.step(SymbolAction.HOLD)


def test_random_starts_are_seeded_and_inside_the_data() -> None:
    env = make_env(episode=EpisodeConfig(episode_length=10, min_start=3))
    starts = [env.reset(seed=s)[1]["bar"] for s in (1, 2, 1)]
    assert starts[0] == starts[2]
    last = env.batch.n_bars - 1
    assert all(3 <= s <= last - 10 for s in starts)
    assert env.reset(options={"start": 40})[1]["bar"] == 40


def test_too_short_data_names_the_fix() -> None:
    env = make_env(episode=EpisodeConfig(episode_length=10))  # default start: bar 271, past the data
    with pytest.raises(InvalidParameterError, match="min_start"):
        env.reset(seed=0)


def test_masks_follow_position_and_a_masked_action_is_a_penalized_hold() -> None:
    env = make_env(episode=EpisodeConfig(episode_length=5, min_start=60, random_start=False))
    env.reset(seed=0)
    assert env.action_masks().tolist() == [True, True, True, True, False, False, False]
    _, reward, _, _, info = env.step(SymbolAction.SELL_ALL)  # nothing to sell: executed as HOLD
    assert not info["action_allowed"] and len(info["orders"]["bar"]) == 0 and info["units"] == 0.0
    weighted = sum(getattr(RewardWeights(), k) * info[f"reward_{k}"] for k in REWARD_COMPONENTS)
    assert reward == pytest.approx(weighted - 0.05)
    _, _, _, _, info = env.step(SymbolAction.BUY_LARGE)
    assert info["action_allowed"] and info["units"] > 0.0
    assert env.action_masks().tolist() == [True, False, False, False, True, True, True]


def test_two_step_rewards_by_hand() -> None:
    # Bars: close 100 | open 100, close 102 | open 101, close 99 | open 99, close 99. Fees 0.1%.
    data = hand_market([100.0, 100.0, 101.0, 99.0], [100.0, 102.0, 99.0, 99.0])
    env = TradingEnvironment(data, params=ScenarioParams(fees=0.001), normalizer=identity_normalizer(),
                             episode=EpisodeConfig(min_start=0, random_start=False))
    env.reset(seed=0)
    _, r1, _, _, i1 = env.step(SymbolAction.BUY_LARGE)
    _, r2, _, _, i2 = env.step(SymbolAction.HOLD)
    # Step 1: buy 9% of 100,000 at bar 1's open 100 with fees: u = 9000 / (100 * 1.001);
    # fees = 0.001 * 100 u = 9000 / 1001; cash = 91,000; equity at close 102: 91,000 + 102 u.
    u = 9000.0 / 100.1
    fees = 0.1 * u
    e1 = 91_000.0 + 102.0 * u
    assert i1["equity"] == pytest.approx(e1, rel=1e-12)
    expected1 = {
        "pnl": (e1 - 100_000.0) / 100_000.0 / 0.01,    # +0.1708
        "cost": -(fees / 100_000.0) / 0.001,            # -0.0899
        "time": 1.0,                                     # 2% gain on the opening bar: 2.0, clipped to 1
        "sharpe": 0.0,                                   # one return: no estimate yet
        "drawdown": 0.0,                                 # a new peak
        "sizing": 1.0 - abs(102.0 * u / e1 - 0.06) / 0.06,  # weight 0.0916 vs target 0.06 -> 0.474
        "hold": 0.0,
    }
    # Step 2: hold through 102 -> 99: pnl = -3u; the position is -1% after 1 bar, stretched by
    # (1 + 1/20): -1.05 -> -1; Sharpe of returns (+0.00171, -0.00269) is -2.5 annualized -> -1.
    e2 = e1 - 3.0 * u
    r_a, r_b = e1 / 100_000.0 - 1.0, e2 / e1 - 1.0
    sharpe = (r_a + r_b) / 2 / (abs(r_a - r_b) / np.sqrt(2.0)) * np.sqrt(252.0)
    expected2 = {
        "pnl": (e2 - e1) / e1 / 0.01,
        "cost": 0.0,
        "time": -1.0,
        "sharpe": max(sharpe, -1.0),
        "drawdown": -(1.0 - e2 / e1) / 0.10,
        "sizing": 1.0 - abs(99.0 * u / e2 - 0.06) / 0.06,
        "hold": 0.0,
    }
    assert sharpe < -1.0
    weights = RewardWeights()
    for info, reward, expected in ((i1, r1, expected1), (i2, r2, expected2)):
        for name, value in expected.items():
            assert info[f"reward_{name}"] == pytest.approx(value, abs=1e-12), name
            assert -1.0 <= info[f"reward_{name}"] <= 1.0
        assert reward == pytest.approx(sum(getattr(weights, k) * v for k, v in expected.items()), abs=1e-12)


def test_info_carries_every_component_and_the_orders() -> None:
    env = make_env()
    env.reset(seed=3)
    _, _, _, _, info = env.step(SymbolAction.BUY_SMALL)
    assert {f"reward_{k}" for k in REWARD_COMPONENTS} <= set(info)
    records = order_records(info["orders"])
    assert len(records) == 1 and records[0]["bar"] == info["bar"] and records[0]["side"] == 1
    assert info["cash"] + info["units"] * env.stepper.close_prices()[0, 0] == pytest.approx(info["equity"])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), fees=st.sampled_from([0.0, 0.001, 0.01]),
       slippage=st.sampled_from([0.0, 0.002]), spread=st.sampled_from([0.0, 0.004]))
def test_an_agent_sampling_only_allowed_actions_never_gets_an_order_rejected(seed, fees, slippage, spread) -> None:
    env = make_env(params=ScenarioParams(fees=fees, slippage=slippage, spread=spread),
                   episode=EpisodeConfig(episode_length=60, min_start=0))
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    done, statuses = False, []
    while not done:
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        _, _, terminated, truncated, info = env.step(action)
        statuses.extend(info["orders"]["status"].tolist())
        done = terminated or truncated
    assert statuses and max(statuses) <= STATUS_CLIPPED


def test_an_episode_replays_bit_identically_through_the_rollout() -> None:
    """The ledger and equity of the env equal run_rollout's with a policy replaying the same actions."""
    data = synthetic(1, "1h", "2022-01-21", seed=5)
    params = ScenarioParams(fees=0.001, slippage=0.0005, spread=0.0002, stop_loss=0.01, take_profit=0.02,
                            max_drawdown=0.02, cooldown_bars=3, daily_loss_limit=0.01)
    period = (None, "2022-01-12")
    env = TradingEnvironment(data, params=params, fit_period=period,
                             episode=EpisodeConfig(min_start=0, random_start=False))
    observation, info = env.reset(seed=0)
    rng = np.random.default_rng(11)
    actions, records, equity, observations = [], [], [info["equity"]], [observation]
    done = False
    while not done:
        # Mostly allowed actions, some masked ones (executed as HOLD in both paths).
        allowed = np.flatnonzero(env.action_masks())
        action = int(rng.choice(allowed)) if rng.random() < 0.8 else int(rng.integers(7))
        observation, _, terminated, truncated, info = env.step(action)
        actions.append(action)
        records.append(order_records(info["orders"]))
        equity.append(info["equity"])
        observations.append(observation)
        done = terminated or truncated
    batch = from_market(data, params)
    policy = ReplayPolicy(np.array(actions)[:, None])
    result = run_rollout(batch, policy, ObservationBuilder(batch, fit_period=period))

    assert len(actions) == batch.n_bars - 1
    assert_same_records(np.concatenate(records), result.records)
    assert np.array_equal(np.array(equity), result.equity[:, 0])
    reasons = set(result.records["reason"].tolist())
    assert int(OrderReason.POLICY) in reasons and len(reasons) > 1  # the risk overlay took part
    for seen, own in zip(policy.observations, observations):
        for key, value in own.items():
            assert np.array_equal(seen[key][0], value), key


def test_a_one_scenario_batch_is_accepted_and_its_symbol_selected() -> None:
    batch = from_market(synthetic(), ScenarioParams(fees=0.002))
    env = TradingEnvironment(batch, "SYN001", normalizer=identity_normalizer(),
                             episode=EpisodeConfig(episode_length=3, min_start=0))
    assert env.batch.symbols == ("SYN001",) and env.batch.params[0].fees == 0.002
    assert np.array_equal(env.batch.close[0, :, 0], synthetic().close[:, 1])
    with pytest.raises(InvalidParameterError, match="one symbol of one scenario"):
        TradingEnvironment(from_market(synthetic(), [ScenarioParams()] * 2), "SYN000",
                           normalizer=identity_normalizer())
    with pytest.raises(InvalidParameterError, match="carries its own parameters"):
        TradingEnvironment(batch, "SYN000", params=ScenarioParams(), normalizer=identity_normalizer())
