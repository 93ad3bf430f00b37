"""MaskablePPO training of the symbol agent: the SB3 mapping, the CLI checkpoint, reproducibility, masks."""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO

from engine.data.registry import load_builtin
from engine.envs.episode import EpisodeConfig
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.rewards import REWARD_COMPONENTS, RewardWeights
from models.checkpoint import load_checkpoint
from models.splits import split_data
from models.symbol_agent.encoder import as_tensors
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig, build_symbol_agent
from models.symbol_agent.sb3_policy import agent_from_policy, copy_agent_into_policy, policy_key, policy_kwargs
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from workbench.cli import main
from workbench.commands.options import parse_period

# Two years of daily bars train (504 bars: warm-up 271 leaves room for 64-bar episodes), one
# quarter validates, the next one tests; 2 accounts x 2 symbols x 32 steps = 128 steps per update,
# two updates.
TINY = ["--data", "stocks", "--symbols", "AAPL,MSFT", "--train", "2005-01-01:2006-12-31",
        "--val", "2007-01-01:2007-03-31", "--test", "2007-04-01:2007-06-30", "--timesteps", "256", "--n-steps", "32",
        "--batch-size", "64", "--n-epochs", "1", "--accounts", "2", "--episode-length", "64", "--eval-every", "128",
        "--eval-episodes", "2", "--seed", "3", "--device", "cpu", "--no-progress"]
TINY_CONFIG = TrainingConfig(timesteps=256, seed=3, device="cpu", accounts=2, episode_length=64, n_steps=32,
                             batch_size=64, n_epochs=1, eval_every=0, eval_episodes=2)


def stocks():
    return load_builtin("stocks").select(["AAPL", "MSFT"])


def tiny_split(test: bool = False):
    return split_data(stocks(), ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"),
                      ("2007-04-01", "2007-06-30") if test else False)


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
    assert card.test_period == ("2007-04-02T00:00:00+00:00", "2007-06-29T00:00:00+00:00")
    assert card.seed == 3 and card.config["preset"] == "compact" and card.config["training"]["n_steps"] == 32
    assert card.config["training"]["learning_rate"] == {"kind": "cosine", "start": 3e-4, "end": 1e-5}
    assert card.config["trained_on"] == {"device": "cpu"}  # issue 19: the card names where it trained
    assert card.training_metrics["train/timesteps"] == 256.0 and card.training_metrics["train/steps_per_second"] > 0
    # eval_every 128 of 256 steps: validations after 128 and 256 steps, the better one kept.
    assert card.validation_metrics["validation/timesteps"] in (128.0, 256.0)
    assert card.validation_metrics["validation/bars"] > 50  # one quarter of daily bars
    for figure in ("sharpe", "max_drawdown", "time_in_market", "trades", "trades_per_year", "mean_reward",
                   "hold_share", "episodes"):
        assert f"validation/{figure}" in card.validation_metrics and f"test/{figure}" in card.test_metrics
    assert card.validation_metrics["validation/episodes"] == card.test_metrics["test/episodes"] == 2.0
    assert card.data_fingerprint == stocks().slice("2005-01-01", "2006-12-31").fingerprint()
    # The normalizer saw the training period only.
    assert normalizer.fit_end <= "2006-12-31T23:59:59+00:00"
    # The final weights against every baseline on the test period, each warmed up first.
    rows = {row["name"]: row for row in card.baselines["rows"]}
    assert set(rows) == {"agent", "buy_and_hold", "equal_weight", "sma_cross", "momentum", "random"}
    assert rows["agent"]["role"] == "policy" and card.baselines["warmup_bars"] == 271
    assert card.baselines["period"][0].startswith("2007-04-02")
    assert rows["buy_and_hold"]["time_in_market"] == 1.0 and rows["buy_and_hold"]["n_trades"] == 2  # open at the end
    assert isinstance(card.warnings, tuple) and card.search == {}
    with open(checkpoint / "progress.csv") as handle:
        columns = set(next(csv.reader(handle)))
    assert {f"reward/{name}" for name in REWARD_COMPONENTS} | {"validation/sharpe", "train/value_loss",
                                                               "train/ent_coef", "rollout/action_hold"} <= columns
    assert list((checkpoint / "tensorboard").glob("events.out.tfevents.*"))  # TensorBoard logs are kept
    assert not checkpoint.with_name("agent.checkpoints").exists()  # resume points go once the run is saved


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
    runs = [train_symbol_agent(tiny_split(), TINY_CONFIG, log_dir=tmp_path / str(i), code_version="test")
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
    (["--test", "2007-03-01:2007-06-30"], "test period (2007-03-01) must start after the validation period"),
    (["--learning-rate", "fast"], "--learning-rate 'fast' is not VALUE or START:END"),
    (["--reward-weights", "hodl=0.1"], "'hodl' is not a reward weight"),
    (["--resume"], "holds no resume points"),
])
def test_user_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture, extra, message) -> None:
    assert main(["train", "symbol-agent", *TINY, *extra, "--out", str(tmp_path / "agent")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "agent").exists()


def test_an_earlier_run_s_resume_points_are_not_mixed_in(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "agent.checkpoints" / "step-000000000128").mkdir(parents=True)
    assert main(["train", "symbol-agent", *TINY, "--out", str(tmp_path / "agent")]) == 2
    assert "holds the resume points of an earlier run; continue it with --resume" in capsys.readouterr().err


def test_an_existing_out_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "agent").mkdir()
    assert main(["train", "symbol-agent", *TINY, "--out", str(tmp_path / "agent")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert list((tmp_path / "agent").iterdir()) == []


def test_card_config_rebuilds_the_same_shapes(checkpoint: Path) -> None:
    card = json.loads((checkpoint / "model_card.json").read_text())
    agent = build_symbol_agent(card["config"])
    assert sum(p.numel() for p in agent.parameters()) == card["parameter_counts"]["total"] == 91_848


def test_the_run_follows_the_plan_s_schedules(checkpoint: Path) -> None:
    """Two updates of 128 of 256 steps: after 50% and 100% of the run."""
    import pandas as pd

    from models.schedules import Schedule

    log = pd.read_csv(checkpoint / "progress.csv")
    rates = log["train/learning_rate"].dropna().tolist()
    entropies = log["train/ent_coef"].dropna().tolist()
    cosine, linear = Schedule("cosine", 3e-4, 1e-5), Schedule("linear", 0.01, 0.001)
    assert rates == pytest.approx([cosine.value(0.5), cosine.value(1.0)]) == [1.55e-4, 1e-5]
    assert entropies == pytest.approx([linear.value(0.5), linear.value(1.0)]) == [0.0055, 0.001]


def test_the_defaults_are_the_plan_s_ppo_configuration() -> None:
    from models.schedules import Schedule

    config = TrainingConfig()
    assert (config.n_steps, config.batch_size, config.n_epochs, config.eval_every, config.eval_episodes,
            config.checkpoint_every) == (2048, 64, 10, 5_000, 10, 10_000)
    assert config.learning_rate == Schedule("cosine", 3e-4, 1e-5) and config.ent_coef == Schedule("linear", 0.01, 0.001)
    assert config.accounts * 3 == 9  # three stocks: the closest to the plan's 8 parallel environments


def test_a_card_s_training_config_reads_back_and_older_cards_still_read() -> None:
    from models.schedules import Schedule

    config = dataclasses.replace(TINY_CONFIG, reward_weights=RewardWeights(hold=0.05))
    assert TrainingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    before_issue_15 = {"accounts": 4, "batch_size": 256, "clip_range": 0.2, "device": "cpu", "ent_coef": 0.01,
                       "episode_length": 256, "eval_every": 10000, "fees": 0.001, "gae_lambda": 0.95, "gamma": 0.99,
                       "learning_rate": 0.0003, "n_epochs": 4, "n_steps": 128, "preset": "compact", "seed": 7,
                       "slippage": 0.0005, "timesteps": 50000}
    old = TrainingConfig.from_dict(before_issue_15)
    assert old.learning_rate == Schedule.constant(3e-4) and old.ent_coef == Schedule.constant(0.01)
    assert (old.n_steps, old.reward_weights, old.eval_episodes) == (128, RewardWeights(), 10)
    with pytest.raises(InvalidParameterError, match="unknown training setting"):
        TrainingConfig.from_dict({**before_issue_15, "n_envs": 8})


def test_the_command_records_its_search_in_the_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    from models.symbol_agent import search

    monkeypatch.setitem(search.SEARCH_SPACE, "n_steps", {"choices": [16]})  # rollouts that fit a tiny trial
    out = tmp_path / "agent"
    argv = [*TINY, "--test", "none", "--timesteps", "128", "--search", "2", "--search-timesteps", "64"]
    assert main(["train", "symbol-agent", *argv, "--out", str(out)]) == 0
    assert "search: best trial" in capsys.readouterr().out
    card = json.loads((out / "model_card.json").read_text())
    assert card["search"]["n_trials"] == 2 and len(card["search"]["trials"]) == 2
    best = card["search"]["best_trial"]["params"]
    assert card["config"]["training"]["n_steps"] == best["n_steps"] == 16
    assert card["config"]["training"]["clip_range"] == best["clip_range"]
    assert card["test_period"] is None and card["test_metrics"] == {} and card["baselines"] == {}
