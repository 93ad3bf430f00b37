"""``workbench train master-agent`` and running a master checkpoint with ``workbench backtest --policy``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.errors import CheckpointError
from models.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from models.master_agent.policy_network import MasterPolicyNetwork, build_master_network
from models.symbol_agent.network import SymbolAgent
from models.symbol_agent.training import TrainingConfig, agent_card_config
from strategies.master import MasterPolicy
from tests.engine.envs.helpers import identity_normalizer
from workbench.cli import main
from workbench.policies import SHIPPED_DIR, load_family_policy, load_policy

SHIPPED_MASTER = SHIPPED_DIR / "master-agent-compact-stocks"
# A symbol agent "trained" on 2005-2006 (random weights: the command only needs a verified checkpoint),
# a master trained on the same two years and validated on the next quarter, two tiny PPO updates.
TINY = ["--train", "2005-01-01:2006-12-31", "--val", "2007-01-01:2007-03-31", "--timesteps", "64",
        "--accounts", "2", "--n-steps", "16", "--episode-length", "32", "--eval-every", "32", "--seed", "1",
        "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def symbol_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("symbol") / "agent"
    card = ModelCard(architecture="symbol_agent", config=agent_card_config(TrainingConfig(device="cpu")),
                     train_period=("2005-01-03T00:00:00+00:00", "2006-12-29T00:00:00+00:00"),
                     validation_period=("2007-01-03T00:00:00+00:00", "2007-03-30T00:00:00+00:00"),
                     data_fingerprint="", seed=0, code_version="test",
                     dataset={"name": "stocks", "symbols": ["AAPL", "MSFT"]})
    save_checkpoint(folder, SymbolAgent(), card, identity_normalizer())
    return folder


@pytest.fixture(scope="module")
def master(symbol_agent: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("master") / "master"
    assert main(["train", "master-agent", "--symbol-agent", str(symbol_agent), *TINY, "--out", str(out)]) == 0
    return out


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_a_bad_symbol_agent_path_is_a_one_line_error(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    err = one_line_error(capsys, ["train", "master-agent", "--symbol-agent", str(tmp_path / "nowhere"), *TINY,
                                  "--out", str(tmp_path / "out")])
    assert "nowhere" in err and "neither a shipped policy" in err
    err = one_line_error(capsys, ["train", "master-agent", "--symbol-agent", str(tmp_path), *TINY,
                                  "--out", str(tmp_path / "out")])
    assert "model_card.json is missing; is this a checkpoint folder?" in err
    assert not (tmp_path / "out").exists()


def test_the_command_saves_a_self_contained_master_checkpoint(master: Path, symbol_agent: Path) -> None:
    network, card, _ = load_checkpoint(master, build_master_network)
    assert isinstance(network, MasterPolicyNetwork) and card.architecture == "master_agent"
    source = json.loads((symbol_agent / "model_card.json").read_text())
    assert card.config["symbol_agent"]["weights_sha256"] == source["weights_sha256"]
    assert card.config["symbol_agent"]["name"] == "agent"
    assert card.dataset == {"name": "stocks", "symbols": ["AAPL", "MSFT"]}  # the symbol agent's, by default
    assert card.seed == 1 and card.training_metrics["train/timesteps"] == 64.0
    assert (master / "progress.csv").is_file()
    assert list((master / "tensorboard").glob("events.out.tfevents.*"))
    # The frozen encoder inside is the symbol agent's, bit for bit.
    agent = load_policy(str(symbol_agent), runtime="torch").network
    assert all(torch.equal(v, network.encoder.state_dict()[k]) for k, v in agent.encoder.state_dict().items())


def test_a_master_checkpoint_runs_in_a_backtest(master: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["backtest", "--policy", str(master), "--data", "stocks", "--symbols", "AAPL,MSFT",
            "--start", "2007-04-01", "--end", "2007-06-30", "--fees", "0,0.001", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["scenarios"]) == 2
    assert all(s["total_return"] > -1.0 for s in result["scenarios"])
    loaded = load_policy(str(master))
    assert isinstance(loaded.policy, MasterPolicy) and loaded.runtime == "torch"
    assert loaded.model_sha == loaded.card.weights_sha256


def test_a_master_is_not_a_symbol_agent(master: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    err = one_line_error(capsys, ["train", "master-agent", "--symbol-agent", str(master), *TINY,
                                  "--out", str(tmp_path / "out")])
    assert "holds a master agent, not a symbol agent" in err
    with pytest.raises(CheckpointError, match="holds a master agent, not a symbol agent"):
        load_family_policy(str(master), "symbol_agent")
    err = one_line_error(capsys, ["backtest", "--policy", str(master), "--data", "stocks", "--symbols", "AAPL",
                                  "--start", "2007-04-01", "--end", "2007-06-30", "--runtime", "onnx"])
    assert "has no model.onnx; export it with `workbench export onnx" in err


def test_validation_the_frozen_encoder_has_seen_is_refused(symbol_agent: Path, capsys: pytest.CaptureFixture,
                                                           tmp_path: Path) -> None:
    argv = ["train", "master-agent", "--symbol-agent", str(symbol_agent), *TINY, "--out", str(tmp_path / "out")]
    argv[argv.index("--train") + 1] = "2005-01-01:2006-03-31"
    argv[argv.index("--val") + 1] = "2006-04-01:2006-12-31"
    err = one_line_error(capsys, argv)
    assert "symbol agent's training period ends (2006-12-29)" in err


@pytest.mark.slow
def test_the_shipped_master_agent_backtests_the_unseen_period(capsys: pytest.CaptureFixture) -> None:
    card = json.loads((SHIPPED_MASTER / "model_card.json").read_text())
    assert card["architecture"] == "master_agent"
    assert card["config"]["symbol_agent"]["name"] == "symbol-agent-compact-stocks"
    argv = ["backtest", "--policy", "master-agent-compact-stocks", "--data", "stocks", "--symbols", "AAPL,MSFT,IBM",
            "--start", "2011-01-01", "--end", "2013-03-01", "--fees", "0.001", "--slippage", "0.0005", "--json"]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)["scenarios"][0]
    assert metrics["max_drawdown"] < 1.0 and metrics["total_return"] > -1.0
