"""TorchPolicy and OnnxPolicy: same actions on the same observations, signature checks, a full rollout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from engine.actions import SymbolActions
from engine.errors import CheckpointError, InvalidParameterError
from engine.observation import ObservationBuilder
from engine.policy import PortfolioPolicy
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.onnx_export import export_onnx
from models.spec import OBSERVATION_NAMES
from strategies.neural import OnnxPolicy, TorchPolicy
from tests.engine.envs.helpers import identity_normalizer, synthetic
from tests.models.tiny_actor import random_observations, tiny_actor


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("neural") / "tiny.onnx"
    export_onnx(tiny_actor(), path, random_observations(10_000), latency_runs=5)
    return path


def test_onnx_and_torch_policies_choose_the_same_actions(onnx_path: Path) -> None:
    observations = random_observations(2_000, seed=9)
    torch_policy, onnx_policy = TorchPolicy(tiny_actor()), OnnxPolicy(onnx_path)
    assert isinstance(onnx_policy, PortfolioPolicy) and isinstance(torch_policy, PortfolioPolicy)
    assert onnx_policy.name == "tiny" and onnx_policy.scope == "portfolio"
    a, b = torch_policy.act(observations), onnx_policy.act(observations)
    assert a.actions.dtype == np.int64 and a.actions.shape == (2_000,)
    assert np.array_equal(a.actions, b.actions)
    np.testing.assert_allclose(a.extras["probabilities"], b.extras["probabilities"], atol=1e-5)
    probabilities = a.extras["probabilities"]
    assert probabilities.shape == (2_000, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(probabilities[~observations["action_mask"]] == 0.0)  # masked: exp(-1e8) underflows
    assert np.all(observations["action_mask"][np.arange(2_000), a.actions])  # never a masked action


def test_sampling_is_seeded_and_respects_the_mask() -> None:
    observations = random_observations(500, seed=4)
    first = TorchPolicy(tiny_actor(), deterministic=False, seed=1).act(observations).actions
    again = TorchPolicy(tiny_actor(), deterministic=False, seed=1).act(observations).actions
    assert np.array_equal(first, again)
    assert np.all(observations["action_mask"][np.arange(500), first])
    argmax = TorchPolicy(tiny_actor()).act(observations).actions
    assert not np.array_equal(first, argmax)  # near-uniform probabilities: samples differ from argmax


def test_observation_without_mask_is_refused(onnx_path: Path) -> None:
    observations = {k: v for k, v in random_observations(3).items() if k != "action_mask"}
    with pytest.raises(InvalidParameterError, match="needs observation entries action_mask"):
        OnnxPolicy(onnx_path).act(observations)


class NineRegimes(torch.nn.Module):
    def forward(self, technical, sl_probs, position, portfolio, regime, action_mask):
        logits = regime[:, :7] + technical.sum() + sl_probs.sum() + position.sum() + portfolio.sum()
        return torch.where(action_mask, logits, torch.full_like(logits, -1e8))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_file_with_other_inputs_is_refused(onnx_path: Path, tmp_path: Path) -> None:
    model = onnx.load(str(onnx_path))
    renamed = tmp_path / "renamed.onnx"
    for node in model.graph.node:
        node.input[:] = ["mask" if name == "action_mask" else name for name in node.input]
    next(i for i in model.graph.input if i.name == "action_mask").name = "mask"
    onnx.save(model, str(renamed))
    with pytest.raises(CheckpointError, match="renamed.onnx: the graph's inputs are .*mask"):
        OnnxPolicy(renamed)
    reshaped = tmp_path / "reshaped.onnx"
    example = {k: torch.from_numpy(v) for k, v in random_observations(2).items()}
    example["regime"] = torch.zeros(2, 9)  # an actor trained on a 9-column regime block
    torch.onnx.export(NineRegimes(), tuple(example[n] for n in OBSERVATION_NAMES), str(reshaped),
                      input_names=list(OBSERVATION_NAMES), output_names=["logits"],
                      dynamic_axes={n: {0: "batch"} for n in (*OBSERVATION_NAMES, "logits")}, dynamo=False)
    with pytest.raises(CheckpointError, match=r"input 'regime' is tensor\(float\)\['batch', 9\]"):
        OnnxPolicy(reshaped)
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="onnxruntime cannot load it"):
        OnnxPolicy(tmp_path / "junk.onnx")
    with pytest.raises(CheckpointError, match="no such ONNX file"):
        OnnxPolicy(tmp_path / "absent.onnx")


def test_rollout_with_the_onnx_policy_matches_the_torch_policy(onnx_path: Path) -> None:
    batch = from_market(synthetic(2, end="2022-03-31"), [ScenarioParams(), ScenarioParams(fees=0.01)])
    results = []
    for policy in (OnnxPolicy(onnx_path), TorchPolicy(tiny_actor())):
        builder = ObservationBuilder(batch, normalizer=identity_normalizer(), action_space=SymbolActions())
        results.append(run_rollout(batch, policy, builder))
    onnx_result, torch_result = results
    assert onnx_result.actions.shape[-1] == 4  # S * N = 2 scenarios x 2 symbols per bar
    assert np.array_equal(onnx_result.actions, torch_result.actions)
    assert np.array_equal(onnx_result.equity, torch_result.equity)
    assert np.isfinite(onnx_result.equity).all()
    assert "probabilities" in onnx_result.extras
