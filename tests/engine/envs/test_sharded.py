"""ShardedVecEnv: K shards step their accounts exactly as K separate environments, concatenated in order."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

from engine.envs.episode import EpisodeConfig
from engine.envs.sharded import InProcessShards, ShardedVecEnv, account_shards
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.observation import ObservationConfig
from engine.scenarios import ScenarioParams
from tests.engine.envs.helpers import identity_normalizer, synthetic

# Five accounts that trade differently, so a shard that stepped the wrong accounts would show.
PARAMS = [ScenarioParams(fees=0.001), ScenarioParams(slippage=0.002), ScenarioParams(fees=0.0),
          ScenarioParams(stop_loss=0.02, cooldown_bars=2), ScenarioParams(fees=0.003, slippage=0.001)]
EPISODE = EpisodeConfig(episode_length=4, min_start=30)  # several autoresets in a dozen steps


def make_env(params, observation: ObservationConfig = ObservationConfig()) -> TradingVectorEnv:
    return TradingVectorEnv(synthetic(), params=list(params), normalizer=identity_normalizer(), episode=EPISODE,
                            observation=observation)


def shard_factories(n_shards: int) -> list:
    return [lambda part=PARAMS[a:b]: make_env(part) for a, b in account_shards(len(PARAMS), n_shards)]


def assert_same_infos(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.keys() == b.keys()
        for key in a:
            if key == "terminal_observation":
                assert a[key].keys() == b[key].keys()
                assert all(np.array_equal(a[key][k], b[key][k]) for k in a[key])
            else:
                assert a[key] == b[key]


def test_account_shards_by_hand() -> None:
    assert account_shards(5, 2) == [(0, 2), (2, 5)]
    assert account_shards(4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert account_shards(3, 1) == [(0, 3)]


@given(st.integers(1, 100), st.data())
def test_account_shards_cover_every_account_once_in_even_runs(n_accounts: int, data: st.DataObject) -> None:
    n_shards = data.draw(st.integers(1, n_accounts))
    bounds = account_shards(n_accounts, n_shards)
    assert len(bounds) == n_shards and bounds[0][0] == 0 and bounds[-1][1] == n_accounts
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", [0, -1, 6, True, 2.0])
def test_bad_shard_counts_are_refused(bad) -> None:
    with pytest.raises(InvalidParameterError, match=r"cannot cut 5 account\(s\) into .* shards; use 1 to 5 shards"):
        account_shards(5, bad)


@pytest.mark.parametrize("n_shards", [2, 3])
def test_shards_step_like_separate_environments_concatenated(n_shards: int) -> None:
    bounds = account_shards(len(PARAMS), n_shards)
    venv = ShardedVecEnv(InProcessShards(shard_factories(n_shards)))
    # Shard k is seeded with the seed SB3 gives its first sub-environment: seed + 2 symbols * first account.
    references = [SB3VecEnv(make_env(PARAMS[a:b])) for a, b in bounds]
    venv.seed(7)
    for reference, (start, _) in zip(references, bounds):
        reference.seed(7 + 2 * start)
    assert venv.num_envs == 10 and venv.offsets == tuple(2 * a for a, _ in bounds)
    observation = venv.reset()
    parts = [reference.reset() for reference in references]
    for key in observation:
        np.testing.assert_array_equal(observation[key], np.concatenate([p[key] for p in parts]))
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(12):
        masks = get_action_masks(venv)
        np.testing.assert_array_equal(masks, np.concatenate([get_action_masks(r) for r in references]))
        actions = (rng.random(masks.shape) + masks).argmax(axis=1)  # a random allowed action each
        observation, rewards, dones, infos = venv.step(actions)
        steps = [r.step(part) for r, part in zip(references, np.split(actions, venv.offsets[1:]))]
        for key in observation:
            np.testing.assert_array_equal(observation[key], np.concatenate([s[0][key] for s in steps]))
        assert rewards.dtype == np.float32
        np.testing.assert_array_equal(rewards, np.concatenate([s[1] for s in steps]))
        np.testing.assert_array_equal(dones, np.concatenate([s[2] for s in steps]))
        assert_same_infos(infos, [info for s in steps for info in s[3]])
        finished += int(dones.sum())
    assert finished >= 20  # every account went through autoresets (episodes of 4 steps)
    assert any(rewards != 0.0)


def test_shards_draw_different_episode_starts() -> None:
    venv = ShardedVecEnv(InProcessShards([lambda: make_env(PARAMS[:1]), lambda: make_env(PARAMS[:1])]))
    venv.seed(0)
    venv.reset()
    starts = [shard.env.stepper.start[0] for shard in venv.runner.shards]
    assert starts[0] != starts[1]  # same data and params, seeds 0 and 2


def test_one_shard_is_the_sb3_adapter() -> None:
    venv = ShardedVecEnv(InProcessShards([lambda: make_env(PARAMS)]))
    reference = SB3VecEnv(make_env(PARAMS))
    venv.seed(3)
    reference.seed(3)
    first, expected = venv.reset(), reference.reset()
    assert all(np.array_equal(first[k], expected[k]) for k in first)
    for step in range(6):
        actions = get_action_masks(venv).argmax(axis=1) if step % 2 else np.zeros(venv.num_envs, dtype=int)
        got, want = venv.step(actions), reference.step(actions)
        assert all(np.array_equal(got[0][k], want[0][k]) for k in got[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert_same_infos(got[3], want[3])


def test_masking_support_and_errors() -> None:
    venv = ShardedVecEnv(InProcessShards(shard_factories(2)))
    assert is_masking_supported(venv) and venv.render_mode is None
    with pytest.raises(InvalidParameterError, match=r"call reset\(\) before action_masks\(\)"):
        venv.action_masks()
    with pytest.raises(InvalidParameterError, match=r"call step_async\(\) before step_wait\(\)"):
        venv.step_wait()
    venv.reset()
    assert venv.env_method("action_masks", indices=[1, 9])[1].shape == (7,)
    venv.close()


def test_shards_with_different_spaces_are_refused() -> None:
    other = ObservationConfig(feature_clip=3.0)
    runner = InProcessShards([lambda: make_env(PARAMS[:2]), lambda: make_env(PARAMS[2:], other)])
    with pytest.raises(InvalidParameterError, match="the shards' observation or action spaces differ"):
        ShardedVecEnv(runner)
