"""ExtrasRecorder: decisions unchanged, critic values and sampled attention equal the agent's own."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.actions import SymbolActions
from models.onnx_export import PositionalActor
from models.spec import OBSERVATION_DTYPES, OBSERVATION_NAMES, OBSERVATION_SHAPES
from models.symbol_agent import SymbolAgent
from strategies.neural import TorchPolicy
from workbench import policy_extras
from workbench.policy_extras import ExtrasRecorder

N_SYMBOLS, N_SCENARIOS = 2, 3


def observation(rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows = N_SYMBOLS * N_SCENARIOS
    out = {n: rng.normal(size=(rows, *OBSERVATION_SHAPES[n])).astype(OBSERVATION_DTYPES[n])
           for n in OBSERVATION_NAMES if n != "action_mask"}
    out["action_mask"] = np.ones((rows, 7), dtype=bool)
    return out


@pytest.fixture
def agent() -> SymbolAgent:
    torch.manual_seed(0)
    return SymbolAgent().eval()


@pytest.mark.slow
def test_decisions_unchanged_values_and_attention_match_the_agent(agent: SymbolAgent, monkeypatch) -> None:
    monkeypatch.setattr(policy_extras, "FLUSH_ROWS", 10)  # flush after two bars: batches cross a flush
    policy = TorchPolicy(PositionalActor(agent), name="agent", action_space=SymbolActions())
    recorder = ExtrasRecorder(policy, agent, n_decisions=5, n_symbols=N_SYMBOLS)
    recorder.every = 2  # sample bars 0, 2, 4
    rng = np.random.default_rng(1)
    observations = [observation(rng) for _ in range(5)]
    for obs in observations:
        mine, theirs = recorder.act(obs), policy.act(obs)
        np.testing.assert_array_equal(mine.actions, theirs.actions)
        np.testing.assert_array_equal(mine.extras["probabilities"], theirs.extras["probabilities"])
    kept = recorder.finish()
    assert kept.values.shape == (5, N_SYMBOLS * N_SCENARIOS) and kept.values.dtype == np.float32
    assert list(kept.attention.bars) == [0, 2, 4]
    assert kept.attention.weights.shape == (3, 2, N_SYMBOLS, 4, 28, 28)  # compact: 2 layers, 4 heads
    assert kept.attention.tokens[:2] == ("t-23", "t-22") and kept.attention.tokens[23:] == (
        "t", "sl_probs", "position", "portfolio", "regime")
    with torch.no_grad():
        for bar, obs in enumerate(observations):
            tensors = {n: torch.from_numpy(obs[n]) for n in OBSERVATION_NAMES}
            _, values = agent(tensors)
            np.testing.assert_allclose(kept.values[bar], values.numpy(), rtol=1e-5, atol=1e-6)
            if bar % 2 == 0:
                first = {n: t[:N_SYMBOLS] for n, t in tensors.items()}
                _, _, attention = agent(first, return_attention=True)
                expected = np.stack([w.numpy() for w in attention])  # [layers, N, heads, Q, Q]
                np.testing.assert_allclose(kept.attention.weights[bar // 2], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kept.attention.weights.sum(axis=-1), 1.0, atol=1e-5)


def test_sampling_keeps_attention_within_the_budget(agent: SymbolAgent) -> None:
    policy = TorchPolicy(PositionalActor(agent))
    per_decision = 2 * 4 * 28 * 28 * N_SYMBOLS
    recorder = ExtrasRecorder(policy, agent, n_decisions=10_000, n_symbols=N_SYMBOLS)
    samples = len(range(0, 10_000, recorder.every))  # bars 0, every, 2 every, ...
    assert samples * per_decision <= policy_extras.ATTENTION_BUDGET  # 79 samples of 12,544 weights
    assert samples == policy_extras.ATTENTION_BUDGET // per_decision
    assert ExtrasRecorder(policy, agent, n_decisions=3, n_symbols=N_SYMBOLS).every == 1
    assert ExtrasRecorder(policy, agent, n_decisions=5, n_symbols=10_000).every == 5  # one sample at least


def test_baselines_get_no_recorder() -> None:
    from engine.scenarios import ScenarioParams, from_market
    from workbench.datasets import load_dataset
    from workbench.runner import resolve_decider

    data = load_dataset("stocks", symbols=["AAPL"], start="2010-01-01", end="2010-03-01")
    batch = from_market(data, [ScenarioParams()])
    assert policy_extras.extras_recorder(resolve_decider("buy_and_hold"), batch) is None
