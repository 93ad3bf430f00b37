"""TradingVectorEnv and its SB3 adapter: shapes, autoreset, masks, and parity with the rollout."""
from __future__ import annotations

import numpy as np
import pytest
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

from engine.actions import SymbolAction
from engine.envs.episode import EpisodeConfig
from engine.envs.stepper import order_records
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.observation import ObservationBuilder
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from tests.engine.envs.helpers import ReplayPolicy, assert_same_records, identity_normalizer, synthetic

PARAMS = [ScenarioParams(fees=0.001), ScenarioParams(slippage=0.001, stop_loss=0.02, cooldown_bars=2)]


def make_vec(episode: EpisodeConfig, data=None, params=PARAMS) -> TradingVectorEnv:
    return TradingVectorEnv(data if data is not None else synthetic(), params=params,
                            normalizer=identity_normalizer(), episode=episode)


def random_allowed(env, rng: np.random.Generator) -> np.ndarray:
    # Gumbel-max over allowed actions: one vectorized draw per sub-environment.
    scores = rng.random(env.action_masks().shape) + env.action_masks()
    return scores.argmax(axis=1)


def test_batched_spaces_and_observations() -> None:
    env = make_vec(EpisodeConfig(episode_length=5, min_start=30))
    observation, info = env.reset(seed=0)
    # 2 scenarios x 2 symbols, scenario-major.
    assert env.num_envs == 4 and env.action_space.shape == (4,)
    assert env.observation_space.contains(observation)
    assert observation["technical"].shape == (4, 24, 23) and observation["portfolio"].shape == (4, 8)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in observation.values())
    assert np.array_equal(observation["portfolio"][0], observation["portfolio"][1])  # one account
    assert info["bar"][0] == info["bar"][1] and env.action_masks().shape == (4, 7)


def test_same_step_autoreset_returns_the_next_episode_and_the_final_observation() -> None:
    env = make_vec(EpisodeConfig(episode_length=3, min_start=30))
    env.reset(seed=1)
    first = env.stepper.start.copy()
    rng = np.random.default_rng(0)
    for step in range(3):
        observation, rewards, terminated, truncated, info = env.step(random_allowed(env, rng))
        assert rewards.shape == (4,) and np.all(np.abs(rewards) <= 1.0)
    assert truncated.all() and not terminated.any()
    assert info["_final_obs"].all() and info["final_obs"][2]["technical"].shape == (24, 23)
    # The returned observation opens a new episode: flat book, fresh equity.
    assert np.all(observation["position"] == 0.0) and np.all(info["equity"] == 100_000.0)
    assert np.array_equal(info["final_info"]["bar"], np.repeat(first + 3, 2))  # where the episodes ended
    assert np.array_equal(info["bar"], np.repeat(env.stepper.start, 2))  # where the new ones begin


def test_sb3_adapter_serves_masks_the_way_maskable_ppo_reads_them() -> None:
    venv = SB3VecEnv(make_vec(EpisodeConfig(episode_length=2, min_start=30)))
    venv.seed(5)
    venv.reset()
    assert is_masking_supported(venv)
    masks = get_action_masks(venv)
    assert masks.shape == (4, 7) and masks[:, SymbolAction.SELL_ALL].sum() == 0
    venv.step_async(np.full(4, int(SymbolAction.BUY_SMALL)))
    _, rewards, dones, infos = venv.step_wait()
    assert rewards.dtype == np.float32 and not dones.any() and "reward_pnl" in infos[0]
    assert get_action_masks(venv)[:, SymbolAction.SELL_ALL].all()  # every symbol now holds a position
    _, _, dones, infos = venv.step(np.zeros(4, dtype=np.int64))
    assert dones.all() and all(i["TimeLimit.truncated"] for i in infos)
    assert set(infos[0]["terminal_observation"]) == {"technical", "sl_probs", "position", "portfolio", "regime"}


def test_maskable_ppo_trains_on_the_vector_env() -> None:
    from sb3_contrib import MaskablePPO

    venv = SB3VecEnv(make_vec(EpisodeConfig(episode_length=8, min_start=30)))
    model = MaskablePPO("MultiInputPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0,
                        policy_kwargs={"net_arch": [16]})
    model.learn(16)
    assert model.num_timesteps == 32


def test_accounts_at_different_bars_match_separate_rollouts() -> None:
    """The shared kernel clock: each account's ledger equals a rollout over its own episode window."""
    data = synthetic(2, "1h", "2022-01-21", seed=9)
    params = [ScenarioParams(fees=0.001, stop_loss=0.01, cooldown_bars=2, daily_loss_limit=0.005),
              ScenarioParams(slippage=0.001, take_profit=0.01, max_drawdown=0.01, cooldown_bars=3)]
    env = make_vec(EpisodeConfig(episode_length=25, min_start=0), data=data, params=params)
    env.reset(seed=4)
    starts, ends = env.stepper.start.copy(), env.stepper.end.copy()
    assert starts[0] != starts[1]
    rng = np.random.default_rng(3)
    actions, records = [], []
    for _ in range(25):
        action = random_allowed(env, rng)
        actions.append(action)
        info = env.step(action)[4]
        records.append(order_records(info["orders"]))
    final_equity = info["final_info"]["equity"][::2]  # both episodes ended on the 25th step
    records = np.concatenate(records)
    assert len(set(records["reason"].tolist())) > 1  # stops and take-profits fired, on the clock
    actions = np.array(actions).reshape(25, 2, 2)
    for k in range(2):
        window = data.slice(data.index[starts[k]], data.index[ends[k]])
        batch = from_market(window, params[k])
        observer = ObservationBuilder(batch, normalizer=identity_normalizer())
        result = run_rollout(batch, ReplayPolicy(actions[:, k]), observer)
        own = records[records["scenario"] == k].copy()
        own["scenario"] = 0
        own["bar"] -= starts[k]
        # The vector env lists an account's records in step order, the rollout too.
        assert_same_records(own, result.records)
        assert final_equity[k] == result.equity[-1, 0] and len(own) > 0


def test_wrong_action_count_is_an_error() -> None:
    env = make_vec(EpisodeConfig(episode_length=3, min_start=30))
    env.reset(seed=0)
    with pytest.raises(Exception, match="expected 4 actions"):
        env.step(np.zeros(3, dtype=np.int64))


def test_a_snapshot_restored_into_a_new_environment_continues_bit_for_bit() -> None:
    """Issue 15: training resume points restore the environment from its snapshot."""
    episode = EpisodeConfig(episode_length=12, min_start=30)
    env, rng = make_vec(episode), np.random.default_rng(4)
    env.reset(seed=1)
    for _ in range(17):  # past an autoreset, so the episode-start generator has moved
        env.step(random_allowed(env, rng))
    snapshot = {k: v.copy() for k, v in env.snapshot().items()}
    actions = [random_allowed(env, rng) for _ in range(20)]
    again = make_vec(episode)
    again.restore(snapshot)
    for step_actions in actions:
        first, second = env.step(step_actions), again.step(step_actions)
        for key in first[0]:
            np.testing.assert_array_equal(first[0][key], second[0][key])
        np.testing.assert_array_equal(first[1], second[1])
        np.testing.assert_array_equal(first[2] | first[3], second[2] | second[3])
        np.testing.assert_array_equal(first[4]["equity"], second[4]["equity"])
    with pytest.raises(InvalidParameterError, match="taken from an environment over other scenarios"):
        make_vec(episode, params=PARAMS[:1]).restore(snapshot)


def test_each_scenario_can_start_at_its_own_bar() -> None:
    env = make_vec(EpisodeConfig(episode_length=None, random_start=False, min_start=30))
    _, info = env.reset(seed=0, options={"start": [40, 55]})
    assert info["bar"].tolist() == [40, 40, 55, 55]
    with pytest.raises(InvalidParameterError, match="one bar per scenario"):
        env.reset(options={"start": [40, 55, 60]})
