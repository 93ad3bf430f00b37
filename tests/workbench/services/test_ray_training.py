"""Training's env workers on Ray: the same weights as in process; the CLI's --executor and --env-workers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from models.splits import split_data
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from workbench.cli import main
from workbench.policies import load_policy
from workbench.services.ray_training import RayShards, training_shard_runner

# As tests/models/test_training.py: 2 accounts x 2 symbols x 32 steps per update, two updates,
# validations after 128 and 256 steps; here the two accounts are two env workers.
CONFIG = TrainingConfig(timesteps=256, seed=3, device="cpu", accounts=2, episode_length=64, n_steps=32,
                        batch_size=64, n_epochs=1, eval_every=128, eval_episodes=2, checkpoint_every=0, env_workers=2)
TINY = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--train", "2005-01-01:2006-12-31",
        "--val", "2007-01-01:2007-03-31", "--timesteps", "256", "--n-steps", "32", "--batch-size", "64",
        "--n-epochs", "1", "--accounts", "2", "--episode-length", "64", "--eval-every", "128", "--eval-episodes", "2",
        "--seed", "3", "--device", "cpu", "--no-progress"]


def train(tmp_path: Path, name: str, shard_runner=None):
    data = load_builtin("stocks").select(["AAPL", "MSFT"])
    split = split_data(data, ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"), False)
    return train_symbol_agent(split, CONFIG, log_dir=tmp_path / name, code_version="test", shard_runner=shard_runner)


@pytest.mark.slow
def test_ray_env_workers_train_the_in_process_weights(local_ray, tmp_path: Path) -> None:
    here = train(tmp_path, "here")
    on_ray = train(tmp_path, "ray", RayShards)
    a, b = here.agent.state_dict(), on_ray.agent.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert on_ray.card.validation_metrics == here.card.validation_metrics
    assert on_ray.history == here.history and len(here.history) == 2
    assert on_ray.normalizer == here.normalizer
    assert on_ray.card.config == here.card.config and here.card.config["training"]["env_workers"] == 2


@pytest.mark.slow
def test_cli_trains_on_ray_and_saves_a_checkpoint_that_loads(local_ray, tmp_path: Path, capsys) -> None:
    out = tmp_path / "agent"
    assert main(["train", "symbol-agent", *TINY, "--executor", "ray", "--env-workers", "2", "--out", str(out)]) == 0
    assert "2 env worker(s) (ray)" in capsys.readouterr().out
    loaded = load_policy(str(out), runtime="torch")
    assert loaded.card.config["training"]["env_workers"] == 2
    assert loaded.card.training_metrics["train/timesteps"] == 256.0
    assert "executor" not in (out / "model_card.json").read_text()  # where it ran does not change the result
    assert json.loads((out / "model_card.json").read_text())["validation_metrics"]["validation/bars"] > 50


@pytest.mark.parametrize("workers, message", [("0", "env_workers must be a positive integer, got 0"),
                                              ("3", "env_workers 3 exceeds accounts 2")])
def test_cli_refuses_env_workers_outside_one_to_accounts(tmp_path: Path, capsys, workers: str, message: str) -> None:
    out = tmp_path / "agent"
    assert main(["train", "symbol-agent", *TINY, "--env-workers", workers, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1  # one line
    assert not out.exists()


def test_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(InvalidParameterError, match=r"pip install rl-trading-workbench\[ray\]"):
        training_shard_runner("ray")
    out = tmp_path / "agent"
    assert main(["train", "symbol-agent", *TINY, "--executor", "ray", "--env-workers", "2", "--out", str(out)]) == 2
    assert "rl-trading-workbench[ray]" in capsys.readouterr().err
    assert not out.exists()


def test_training_shard_runner_names() -> None:
    assert training_shard_runner("local") is None
    with pytest.raises(InvalidParameterError, match="executor 'spark' is unknown; use one of local, ray"):
        training_shard_runner("spark")
