"""The compact symbol agent end to end: ONNX export within the parity thresholds, ONNX and torch
policies agreeing inside a batched rollout on engine observations."""
from __future__ import annotations

import numpy as np
import torch

from engine.actions import SymbolActions
from engine.observation import ObservationBuilder
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.onnx_export import PositionalActor, export_onnx
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
from strategies.neural import OnnxPolicy, TorchPolicy
from tests.engine.envs.helpers import identity_normalizer, synthetic
from tests.models.tiny_actor import random_observations


def test_compact_agent_exports_and_runs_the_same_through_onnx_and_torch(tmp_path) -> None:
    torch.manual_seed(0)
    agent = SymbolAgent(SymbolAgentConfig.preset("compact")).eval()
    actor = PositionalActor(agent)
    report = export_onnx(actor, tmp_path / "agent.onnx", random_observations(10_000), latency_runs=5)
    assert report.max_abs_logit_diff <= 1e-4 and report.action_agreement >= 0.999

    data = synthetic()
    batch = from_market(data, [ScenarioParams(fees=0.001), ScenarioParams(slippage=0.001)])
    torch_run = run_rollout(batch, TorchPolicy(actor), observer=ObservationBuilder(batch, normalizer=identity_normalizer(), action_space=SymbolActions()))
    onnx_run = run_rollout(batch, OnnxPolicy(tmp_path / "agent.onnx"),
                           observer=ObservationBuilder(batch, normalizer=identity_normalizer(), action_space=SymbolActions()))
    np.testing.assert_array_equal(torch_run.actions, onnx_run.actions)
    np.testing.assert_array_equal(torch_run.equity, onnx_run.equity)
    assert len(torch_run.records) > 0
