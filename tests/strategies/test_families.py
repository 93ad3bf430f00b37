"""The policy-family registry: loading by the card's architecture, extras from the deciding forward
pass, ONNX exports of both networks with parity, and the refusals that name the fix."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.actions import SymbolActions
from engine.data.registry import load_builtin
from engine.errors import CheckpointError, InvalidParameterError
from engine.observation import ObservationBuilder
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.master_agent.export import MASTER_AGENT_GRAPH, DecidingMasterAgent
from models.master_agent.policy_network import MasterPolicyNetwork, master_config
from models.onnx_export import export_onnx
from models.spec import OBSERVATION_NAMES
from models.symbol_agent.encoder import EncoderConfig
from models.symbol_agent.export import SYMBOL_AGENT_GRAPH, DecidingSymbolAgent
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
from strategies import families
from strategies.families.master_agent import MASTER_AGENT, group_rows
from strategies.families.symbol_agent import SYMBOL_AGENT
from strategies.family import ActionInfo, Decider
from strategies.master import MasterObserver, MasterOnnxPolicy, MasterPolicy
from strategies.neural import OnnxPolicy, TorchPolicy
from tests.engine.envs.helpers import identity_normalizer
from tests.models.tiny_actor import random_observations, tiny_actor
from workbench.policies import SHIPPED_DIR, load_policy

MASTER = SHIPPED_DIR / "master-agent-compact-stocks"


def test_the_registry_holds_each_family_once_and_refuses_clashes() -> None:
    assert list(families.FAMILIES) == ["baseline", "symbol_agent", "master_agent", "tactical_team"]
    with pytest.raises(InvalidParameterError, match="already registered"):
        families.register_family(type("Other", (), {"name": "symbol_agent", "architecture": "x"})())
    with pytest.raises(InvalidParameterError, match="already loads architecture 'master_agent'"):
        families.register_family(type("Other", (), {"name": "other", "architecture": "master_agent"})())
    assert families.family_for("symbol_agent") is SYMBOL_AGENT
    with pytest.raises(CheckpointError, match="architecture 'gpt' is not one this workbench loads"):
        families.family_for("gpt")


def test_a_checkpoint_without_a_readable_card_is_refused_with_the_cards_own_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="model_card.json is missing"):
        families.load_trained(tmp_path)
    (tmp_path / "model_card.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="model_card.json: .*Fix: restore the model card"):
        families.load_trained(tmp_path)
    with pytest.raises(InvalidParameterError, match="runtime 'tensorrt' is not one of auto, onnx, torch"):
        families.load_trained(tmp_path, runtime="tensorrt")


def test_action_info_reads_the_action_space() -> None:
    assert ActionInfo.of(SymbolActions()) == ActionInfo("discrete", ("hold", "buy_small", "buy_medium", "buy_large",
                                                                    "sell_partial", "sell_all", "add_to_position"))
    baseline = families.make_baseline("sma_cross")
    assert baseline.family.actions(baseline).to_dict() == {"kind": "weights", "names": []}
    assert not baseline.is_trained and baseline.observer(None) is None


@pytest.fixture(scope="module")
def symbol_rollout():
    torch.manual_seed(0)
    agent = SymbolAgent(SymbolAgentConfig.preset("compact")).eval()
    data = load_builtin("stocks").select(["AAPL", "MSFT"]).slice("2008-01-01", "2008-06-30")
    batch = from_market(data, [ScenarioParams(), ScenarioParams(fees=0.001)])
    observations = []

    class Recording(ObservationBuilder):
        def observe(self, bar, context):
            observation = super().observe(bar, context)
            observations.append({k: np.array(v) for k, v in observation.items()})
            return observation

    policy = TorchPolicy(DecidingSymbolAgent(agent), outputs=SYMBOL_AGENT_GRAPH.outputs)
    observer = Recording(batch, normalizer=identity_normalizer(), action_space=SymbolActions())
    rollout = run_rollout(batch, policy, observer=observer, explain_every=10)
    return agent, rollout, observations


def test_symbol_agent_extras_come_from_the_deciding_forward_pass(symbol_rollout) -> None:
    agent, rollout, observations = symbol_rollout
    assert list(rollout.explained_bars) == list(range(0, len(observations), 10))
    for bar in (0, 10, 37):
        inputs = {n: torch.from_numpy(observations[bar][n]) for n in OBSERVATION_NAMES}
        with torch.no_grad():
            logits, values, attention = agent(inputs, return_attention=True)
        np.testing.assert_array_equal(rollout.actions[bar], logits.argmax(1).numpy())
        np.testing.assert_allclose(rollout.extras["values"][bar], values.numpy(), rtol=1e-6, atol=1e-6)
        if bar % 10 == 0:
            explained = rollout.explained["attention"][bar // 10]  # [S * N, L, H, Q, Q]
            np.testing.assert_allclose(explained, torch.stack(attention, 1).numpy(), atol=1e-6)
    assert rollout.explained["attention"].shape[1:] == (4, 2, 4, 28, 28)


def test_symbol_agent_onnx_export_returns_the_same_extras(symbol_rollout, tmp_path: Path) -> None:
    agent, rollout, observations = symbol_rollout
    rows = {n: np.concatenate([o[n] for o in observations]) for n in OBSERVATION_NAMES}
    report = export_onnx(DecidingSymbolAgent(agent), tmp_path / "agent.onnx", rows, min_rows=100, latency_runs=2,
                         graph=SYMBOL_AGENT_GRAPH)
    assert report.outputs == ("logits", "value", "attention") and report.action_agreement >= 0.999
    assert max(report.output_max_abs_diff.values()) <= 1e-4
    onnx = OnnxPolicy(tmp_path / "agent.onnx")
    out = onnx.act(observations[10], explain=True)
    np.testing.assert_array_equal(out.actions, rollout.actions[10])
    np.testing.assert_allclose(out.extras["values"], rollout.extras["values"][10], atol=1e-4)
    np.testing.assert_allclose(out.explained["attention"], rollout.explained["attention"][1], atol=1e-4)
    assert "attention" not in onnx.act(observations[11]).explained  # asked for only when explaining


def tiny_master(seed: int = 0) -> MasterPolicyNetwork:
    torch.manual_seed(seed)
    config = EncoderConfig.preset("compact")
    return MasterPolicyNetwork(config, master_config("compact", config.output_dim)).eval()


def test_master_onnx_export_decides_the_same_weights(tmp_path: Path) -> None:
    network = tiny_master()
    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2007-01-01", "2007-04-30")
    batch = from_market(data, [ScenarioParams(), ScenarioParams(position_limit=0.2)])
    recorded = []

    class Recording(MasterObserver):
        def observe(self, bar, context):
            observation = super().observe(bar, context)
            recorded.append({k: np.array(v) for k, v in observation.items()})
            return observation

    torch_run = run_rollout(batch, MasterPolicy(network), observer=Recording(batch, identity_normalizer()))
    rows = {k: np.concatenate([r[k] for r in recorded]) for k in recorded[0]}
    report = export_onnx(DecidingMasterAgent(network), tmp_path / "master.onnx", group_rows(rows), min_rows=100,
                         latency_runs=2, graph=MASTER_AGENT_GRAPH)
    assert report.n_rows == 2 * (batch.n_bars - 1) and report.action_agreement == 1.0
    onnx_run = run_rollout(batch, MasterOnnxPolicy(tmp_path / "master.onnx"),
                           observer=MasterObserver(batch, identity_normalizer()))
    np.testing.assert_allclose(onnx_run.actions, torch_run.actions, atol=1e-5)
    np.testing.assert_allclose(onnx_run.equity, torch_run.equity, rtol=1e-6)
    export_onnx(tiny_actor(), tmp_path / "actor.onnx", random_observations(100), min_rows=100, latency_runs=1)
    with pytest.raises(CheckpointError, match="a master agent's export reads technical"):
        MasterOnnxPolicy(tmp_path / "actor.onnx")


@pytest.mark.slow
def test_the_shipped_master_exports_to_a_copy_and_runs_on_onnx_by_default(tmp_path: Path) -> None:
    from workbench.policies.export import export_policy

    folder = tmp_path / "master"
    shutil.copytree(MASTER, folder, ignore=shutil.ignore_patterns("model.onnx"))
    card = json.loads((folder / "model_card.json").read_text())
    (folder / "model_card.json").write_text(json.dumps({**card, "export": {}}))
    card_before = (folder / "model_card.json").read_bytes()
    elsewhere = export_policy(str(folder), tmp_path / "elsewhere.onnx", symbols=["AAPL", "MSFT", "IBM"],
                              min_rows=300, latency_runs=2)
    assert (folder / "model_card.json").read_bytes() == card_before  # an export elsewhere leaves it untouched
    assert json.loads(elsewhere.report_path.read_text())["sha256"] == elsewhere.report["sha256"]
    assert load_policy(str(folder)).runtime == "torch"
    inside = export_policy(str(folder), folder / "model.onnx", symbols=["AAPL", "MSFT", "IBM"], min_rows=300,
                           latency_runs=2)
    assert inside.report["action_agreement"] == 1.0
    assert tuple(inside.report["outputs"]) == ("weights", "value", "attention")
    decider = load_policy(str(folder))
    assert decider.runtime == "onnx" and decider.model_sha == inside.report["sha256"]
    assert decider.family is MASTER_AGENT and isinstance(decider, Decider)
