"""Training with env workers: the config's bounds, one normalizer for every shard, shards cover the accounts."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from models.symbol_agent.training import (
    TrainingConfig,
    agent_card_config,
    fit_training_normalizer,
    make_training_env,
    make_training_shards,
)

CONFIG = TrainingConfig(timesteps=256, seed=3, device="cpu", accounts=3, episode_length=64, n_steps=32,
                        batch_size=64, n_epochs=1, eval_every=0)


def train_data():
    return load_builtin("stocks").select(["AAPL", "MSFT"]).slice("2005-01-01", "2006-12-31")


@pytest.mark.parametrize("workers, message", [
    (0, "TrainingConfig.env_workers must be a positive integer, got 0"),
    (True, "TrainingConfig.env_workers must be a positive integer, got True"),
    (4, "TrainingConfig.env_workers 4 exceeds accounts 3: each env worker steps at least one account"),
])
def test_env_workers_must_be_between_one_and_accounts(workers, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        dataclasses.replace(CONFIG, env_workers=workers)


def test_env_workers_go_into_the_card_config() -> None:
    assert agent_card_config(dataclasses.replace(CONFIG, env_workers=3))["training"]["env_workers"] == 3
    assert TrainingConfig().env_workers == 1


def test_the_driver_fits_the_statistics_the_one_environment_fits() -> None:
    train = train_data()
    fitted = fit_training_normalizer(train, CONFIG)
    assert fitted == make_training_env(train, CONFIG).builder.normalizer
    assert fitted.n_rows > 0 and fitted.fit_end.startswith("2006-12-29")


def test_shards_cover_the_accounts_in_order_with_the_given_normalizer() -> None:
    train = train_data()
    normalizer = fit_training_normalizer(train, CONFIG)
    envs = [make() for make in make_training_shards(train, normalizer, dataclasses.replace(CONFIG, env_workers=2))]
    assert [env.n_scenarios for env in envs] == [2, 1] and all(env.n_symbols == 2 for env in envs)
    assert all(env.builder.normalizer is normalizer for env in envs)
    whole = make_training_env(train, CONFIG)
    observation, _ = whole.reset(options={"start": 300})
    parts = [env.reset(options={"start": 300})[0] for env in envs]
    # Same start bar: the shards observe exactly what the one environment's accounts observe.
    for key, value in observation.items():
        np.testing.assert_array_equal(value, np.concatenate([p[key] for p in parts]))
