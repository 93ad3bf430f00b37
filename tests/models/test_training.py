"""MaskablePPO training of the symbol agent: the SB3 mapping, the CLI checkpoint, reproducibility, masks."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO

from engine.data.registry import load_builtin
from engine.envs.episode import EpisodeConfig
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.rewards import REWARD_COMPONENTS
from models.checkpoint import load_checkpoint
from models.symbol_agent.encoder import as_tensors
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig, build_symbol_agent
from models.symbol_agent.sb3_policy import agent_from_policy, copy_agent_into_policy, policy_key, policy_kwargs
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from workbench.cli import main
from workbench.commands.options import parse_period

# Two years of daily bars train (504 bars: warm-up 271 leaves room for 64-bar episodes), one
# quarter validates; 2 accounts x 2 symbols x 32 steps = 128 steps per update, two updates.
TINY = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--train", "2005-01-01:2006-12-31",
        "--val", "2007-01-01:2007-03-31", "--timesteps", "256", "--n-steps", "32", "--batch-size", "64",
        "--n-epochs", "1", "--accounts", "2", "--episode-length", "64", "--eval-every", "128", "--seed", "3",
        "--device", "cpu", "--no-progress"]
TINY_CONFIG = TrainingConfig(timesteps=256, seed=3, device="cpu", accounts=2, episode_length=64, n_steps=32,
                             batch_size=64, n_epochs=1, eval_every=0)


def stocks():
    return load_builtin("stocks").select(["AAPL", "MSFT"])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "agent"
    assert main(["train", "symbol-agent", *TINY, "--out", str(out)]) == 0
    return out


def test_the_command_writes_a_loadable_checkpoint_with_periods_seed_and_metrics(checkpoint: Path) -> None:
    agent, card, normalizer = load_checkpoint(checkpoint, build_symbol_agent)
    assert isinstance(agent, SymbolAgent) and card.architecture == "symbol_agent"
    assert card.train_period == ("2005-01-03T00:00:00+00:00", "2006-12-29T00:00:00+00:00")  # first/last trading days
    assert card.validation_period == ("2007-01-03T00:00:00+00:00", "2007-03-30T00:00:00+00:00")
    assert card.seed == 3 and card.config["preset"] == "compact" and card.config["training"]["n_steps"] == 32
    assert card.config["trained_on"] == {"device": "cpu"}  # issue 19: the card names where it trained
    assert card.training_metrics["train/timesteps"] == 256.0 and card.training_metrics["train/steps_per_second"] > 0
    # eval_every 128 of 256 steps: validations after 128 and 256 steps, the better one kept.
    assert card.validation_metrics["validation/timesteps"] in (128.0, 256.0)
    assert card.validation_metrics["validation/bars"] > 50  # one quarter of daily bars
    assert card.data_fingerprint == stocks().slice("2005-01-01", "2006-12-31").fingerprint()
    # The normalizer saw the training period only.
    assert normalizer.fit_end <= "2006-12-31T23:59:59+00:00"
    with open(checkpoint / "progress.csv") as handle:
        columns = set(next(csv.reader(handle)))
    assert {f"reward/{name}" for name in REWARD_COMPONENTS} | {"validation/sharpe", "train/value_loss"} <= columns
    assert list((checkpoint / "tensorboard").glob("events.out.tfevents.*"))  # TensorBoard logs are kept


def test_the_loaded_agent_only_chooses_allowed_actions(checkpoint: Path) -> None:
    agent, _, normalizer = load_checkpoint(checkpoint, build_symbol_agent)
    env = TradingVectorEnv(stocks(), params=None, normalizer=normalizer, episode=EpisodeConfig(episode_length=40))
    observation, _ = env.reset(seed=0)
    generator = torch.Generator().manual_seed(0)
    for step in range(40):
        masks = env.action_masks()
        actions = agent.act(as_tensors({**observation, "action_mask": masks}), generator=generator).actions.numpy()
        assert masks[np.arange(len(actions)), actions].all()
        observation, _, _, _, info = env.step(actions)
        assert info["action_allowed"].all()


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    data = stocks()
    train, history = data.slice("2005-01-01", "2006-12-31"), data.slice("2005-01-01", "2007-03-31")
    period = ("2007-01-01", "2007-03-31")
    runs = [train_symbol_agent(train, history, period, TINY_CONFIG, log_dir=tmp_path / str(i), code_version="test")
            for i in range(2)]
    first, second = (run.agent.state_dict() for run in runs)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    # Training moved the weights away from the seeded initialization.
    torch.manual_seed(3)
    initial = SymbolAgent(SymbolAgentConfig.preset("compact")).state_dict()
    assert any(not torch.equal(first[k], v) for k, v in initial.items())


def test_the_sb3_policy_is_the_agent() -> None:
    """Weights copied in and out of the SB3 policy give the same masked distribution and value."""
    config = SymbolAgentConfig.preset("compact")
    env = TradingVectorEnv(stocks(), params=None, fit_period=(None, "2006-12-31"),
                           episode=EpisodeConfig(episode_length=5))
    model = MaskablePPO("MultiInputPolicy", SB3VecEnv(env), n_steps=8, batch_size=8, seed=0,
                        policy_kwargs=policy_kwargs(config), device="cpu")
    torch.manual_seed(1)
    agent = SymbolAgent(config).eval()
    copy_agent_into_policy(agent, model.policy)
    model.policy.set_training_mode(False)
    observation, _ = env.reset(seed=2)
    masks = env.action_masks()
    tensors = as_tensors(observation)
    with torch.no_grad():
        distribution = model.policy.get_distribution(tensors, action_masks=masks)
        sb3_values = model.policy.predict_values(tensors).squeeze(-1)
        logits, values = agent(as_tensors({**observation, "action_mask": masks}))
    torch.testing.assert_close(distribution.distribution.probs, torch.softmax(logits, -1), atol=1e-6, rtol=0)
    torch.testing.assert_close(sb3_values, values, atol=1e-6, rtol=0)
    back = agent_from_policy(model.policy, config).state_dict()
    assert all(torch.equal(back[k], v) for k, v in agent.state_dict().items())
    assert policy_key("actor.output.weight") == "action_net.weight"
    assert policy_key("critic.2.bias") == "mlp_extractor.value_net.2.bias"


@pytest.mark.parametrize("text, expected", [
    ("2000-01-01:2007-12-31", ("2000-01-01", "2007-12-31")),
    (":2007-12-31", (None, "2007-12-31")),
    ("2008-01-01:", ("2008-01-01", None)),
    # Times hold colons; the split is where a date starts.
    ("2024-01-02T09:30:00:2024-02-01T16:00:00", ("2024-01-02T09:30:00", "2024-02-01T16:00:00")),
])
def test_parse_period(text: str, expected: tuple) -> None:
    assert parse_period("--train", text) == expected


@pytest.mark.parametrize("extra, message", [
    (["--train", "2005-01-01..2006-12-31"], "is not START:END"),
    (["--train", "2005-13-45:2006-12-31"], "is not a date"),
    (["--preset", "compcat"], "Did you mean 'compact'"),
    (["--val", "2006-06-01:2007-03-31"], "must start after the training period"),
])
def test_user_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture, extra, message) -> None:
    assert main(["train", "symbol-agent", *TINY, *extra, "--out", str(tmp_path / "agent")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "agent").exists()


def test_an_existing_out_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "agent").mkdir()
    assert main(["train", "symbol-agent", *TINY, "--out", str(tmp_path / "agent")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert list((tmp_path / "agent").iterdir()) == []


def test_card_config_rebuilds_the_same_shapes(checkpoint: Path) -> None:
    card = json.loads((checkpoint / "model_card.json").read_text())
    agent = build_symbol_agent(card["config"])
    assert sum(p.numel() for p in agent.parameters()) == card["parameter_counts"]["total"] == 91_848
