"""Hyperparameter search: reproducible with a fixed seed, recorded for the model card, mapped onto the config."""
from __future__ import annotations

import json

import pytest

from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from models.schedules import Schedule
from models.splits import split_data
from models.symbol_agent.search import SEARCH_SPACE, apply_params, search_symbol_agent
from models.symbol_agent.training import TrainingConfig

CONFIG = TrainingConfig(timesteps=128, seed=11, device="cpu", accounts=2, episode_length=64, n_steps=32,
                        batch_size=64, n_epochs=1, eval_every=64, eval_episodes=2)


def run(tmp_path, name: str):
    data = load_builtin("stocks").select(["AAPL", "MSFT"])
    split = split_data(data, ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"), ("2007-04-01", "2007-06-30"))
    # The plan's rollout lengths (512-2048 steps per sub-environment) would outgrow a 64-step trial.
    space = {**SEARCH_SPACE, "n_steps": {"choices": [16, 32]}}
    return search_symbol_agent(split, CONFIG, 3, 64, log_dir=tmp_path / name, code_version="test", space=space)


def test_three_tiny_trials_are_reproducible_with_a_fixed_seed(tmp_path) -> None:
    first, again = run(tmp_path, "a"), run(tmp_path, "b")
    assert first.to_dict() == again.to_dict()
    record = json.loads(json.dumps(first.to_dict()))  # what a model card holds
    assert record["n_trials"] == 3 and len(record["trials"]) == 3 and record["seed"] == 11
    assert record["n_complete"] + record["n_pruned"] == 3
    assert set(record["best_trial"]["params"]) == set(SEARCH_SPACE)
    assert record["best_trial"]["score"] == max(t["score"] for t in record["trials"] if t["state"] == "COMPLETE")
    assert all(set(t["intermediate"]) <= {"64", "128"} for t in record["trials"])  # validations every 64 steps
    assert record["space"]["n_steps"] == {"choices": [16, 32]}
    assert first.best_config == apply_params(CONFIG, record["best_trial"]["params"])


def test_trial_values_map_onto_the_config() -> None:
    config = apply_params(CONFIG, {"learning_rate": 5e-4, "ent_coef": 0.02, "n_steps": 512, "clip_range": 0.15,
                                   "reward_hold": 0.0, "reward_pnl": 0.5}, timesteps=1000)
    assert config.learning_rate == Schedule("cosine", 5e-4, 1e-5) and config.ent_coef == Schedule("linear", 0.02, 0.002)
    assert (config.n_steps, config.clip_range, config.timesteps) == (512, 0.15, 1000)
    assert (config.reward_weights.hold, config.reward_weights.pnl, config.reward_weights.time) == (0.0, 0.5, 0.15)
    with pytest.raises(InvalidParameterError, match="unknown search parameter"):
        apply_params(CONFIG, {"gamma": 0.9})
