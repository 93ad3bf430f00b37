"""Resume points: a run resumed from one continues bit for bit; mismatched runs are refused."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from models.splits import split_data
from models.symbol_agent.resume import resume_points
from models.symbol_agent.training import TrainingConfig, train_symbol_agent

# 2 accounts x 2 symbols x 32 steps = 128 steps per update, three updates; a validation and a
# resume point after each of the first two (none after the last: the run is done then).
CONFIG = TrainingConfig(timesteps=384, seed=5, device="cpu", accounts=2, episode_length=64, n_steps=32,
                        batch_size=64, n_epochs=2, eval_every=128, eval_episodes=2, checkpoint_every=128)


def split():
    data = load_builtin("stocks").select(["AAPL", "MSFT"])
    return split_data(data, ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"), False)


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("straight")
    result = train_symbol_agent(split(), CONFIG, log_dir=root / "log", code_version="test",
                                checkpoints=root / "resume")
    return result, root / "resume"


def same_weights(a, b) -> bool:
    a, b = a.agent.state_dict(), b.agent.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_run_keeps_its_newest_resume_points(straight) -> None:
    _, folder = straight
    assert [p.name for p in resume_points(folder)] == ["step-000000000128", "step-000000000256"]
    assert sorted(f.name for f in resume_points(folder)[0].iterdir()) == [
        "arrays.npz", "best.safetensors", "optimizer.safetensors", "policy.safetensors", "progress.csv",
        "rng.safetensors", "state.json"]


@pytest.mark.parametrize("point", ["step-000000000128", "step-000000000256"])
def test_resume_continues_bit_for_bit(straight, tmp_path: Path, point: str) -> None:
    result, folder = straight
    copy = tmp_path / "resume"
    shutil.copytree(folder / point, copy / point)  # the run "crashed" right after this point
    resumed = train_symbol_agent(split(), CONFIG, log_dir=tmp_path / "log", code_version="test", checkpoints=copy,
                                 resume=True)
    assert same_weights(resumed, result)
    # json: an undefined figure (NaN win rate without closed trades) compares equal to itself there
    assert json.dumps(resumed.history, sort_keys=True) == json.dumps(result.history, sort_keys=True)
    assert len(result.history) == 3
    assert resumed.card.validation_metrics == result.card.validation_metrics
    assert resumed.card.training_metrics["train/timesteps"] == 384.0
    assert resumed.card.warnings == result.card.warnings


def test_a_resume_with_other_settings_is_refused(straight, tmp_path: Path) -> None:
    _, folder = straight
    other = dataclasses.replace(CONFIG, seed=6)
    with pytest.raises(InvalidParameterError, match="was written by a run with other config"):
        train_symbol_agent(split(), other, log_dir=tmp_path, code_version="test", checkpoints=folder, resume=True)
    with pytest.raises(InvalidParameterError, match="holds no resume point"):
        train_symbol_agent(split(), CONFIG, log_dir=tmp_path, code_version="test", checkpoints=tmp_path / "none",
                           resume=True)
