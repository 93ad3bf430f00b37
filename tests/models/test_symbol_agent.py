"""SymbolAgent: shapes, masking, gradients, initialization, budgets, determinism, sharing."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.actions import SymbolAction
from engine.errors import InvalidParameterError
from models.initialization import InitializationError, verify_initialization
from models.symbol_agent.encoder import EncoderConfig, FeatureEncoder
from models.symbol_agent.network import (
    MASKED_LOGIT,
    SymbolAgent,
    SymbolAgentConfig,
    count_parameters,
    mask_logits,
    parameter_sharing_report,
)
from tests.models.observations import random_observation


@pytest.fixture(scope="module")
def agent() -> SymbolAgent:
    torch.manual_seed(0)
    return SymbolAgent(SymbolAgentConfig.preset("compact")).eval()


def test_forward_shapes_for_both_presets(agent: SymbolAgent) -> None:
    logits, value = agent(random_observation(5))
    assert logits.shape == (5, 7) and value.shape == (5,)
    config = SymbolAgentConfig.preset("seed")
    seed_agent = SymbolAgent(config).eval()
    with torch.no_grad():
        logits, value, attention = seed_agent(random_observation(2, config=config.encoder), return_attention=True)
    assert logits.shape == (2, 7) and value.shape == (2,) and len(attention) == 4


def test_parameter_budgets() -> None:
    # seed: encoder 3,239,168 (see test_encoder) + actor 256*256+256 + 256*128+128 + 128*7+7 = 99,591
    # + critic 65,792 + 32,896 + 129 = 98,817 -> 3,437,576, under the program plan's 5M.
    seed = SymbolAgent(SymbolAgentConfig.preset("seed"))
    assert (count_parameters(seed.actor), count_parameters(seed.critic)) == (99_591, 98_817)
    assert count_parameters(seed) == 3_437_576 < 5_000_000
    # compact: encoder 74,688 + actor 4,160 + 4,160 + 455 = 8,775 + critic 4,160 + 4,160 + 65 = 8,385.
    assert count_parameters(SymbolAgent(SymbolAgentConfig.preset("compact"))) == 91_848


def test_no_nan_on_extreme_inputs(agent: SymbolAgent) -> None:
    obs = random_observation(4, seed=1, scale=1e6)
    obs["action_mask"] = torch.ones(4, 7, dtype=torch.bool)
    with torch.no_grad():
        logits, value = agent(obs)
        step = agent.act(obs)
    assert bool(torch.isfinite(logits).all() and torch.isfinite(value).all())
    assert bool(torch.isfinite(step.log_probs).all())


def test_gradient_reaches_every_parameter() -> None:
    torch.manual_seed(1)
    model = SymbolAgent(SymbolAgentConfig.preset("compact")).train()
    logits, value = model(random_observation(16, seed=2))
    target_actions = torch.arange(16) % 7
    loss = torch.nn.functional.cross_entropy(logits, target_actions) + value.pow(2).mean()
    loss.backward()
    dead = [name for name, p in model.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0.0]
    assert dead == []


masks = st.lists(st.booleans(), min_size=6, max_size=6).map(lambda bits: [True] + bits)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(masks, min_size=1, max_size=8), seed=st.integers(0, 2**16))
def test_masked_actions_are_never_chosen(agent: SymbolAgent, rows: list[list[bool]], seed: int) -> None:
    mask = torch.tensor(rows)
    obs = {**random_observation(len(rows), seed=seed), "action_mask": mask}
    generator = torch.Generator().manual_seed(seed)
    for deterministic in (False, True):
        for _ in range(3 if not deterministic else 1):
            step = agent.act(obs, deterministic=deterministic, generator=generator)
            assert bool(mask.gather(1, step.actions[:, None]).all())
            assert bool(torch.isfinite(step.log_probs).all())
    probabilities = torch.softmax(agent(obs)[0], dim=-1)
    assert bool((probabilities[~mask] == 0).all())
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(len(rows)))


def test_mask_beats_a_strong_preference_for_a_masked_action() -> None:
    logits = torch.tensor([[0.0, 50.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    mask = torch.tensor([[True, False, False, False, True, True, True]])
    masked = mask_logits(logits, mask)
    assert masked[0, 1] == MASKED_LOGIT and int(masked.argmax()) == 6  # BUY_SMALL (50) is masked


def test_fully_masked_row_falls_back_to_hold(agent: SymbolAgent) -> None:
    obs = {**random_observation(2, seed=3), "action_mask": torch.zeros(2, 7, dtype=torch.bool)}
    step = agent.act(obs)
    assert step.actions.tolist() == [SymbolAction.HOLD] * 2
    torch.testing.assert_close(step.log_probs, torch.zeros(2))  # HOLD has probability 1
    log_probs, entropy, _ = agent.evaluate_actions(obs, step.actions)
    assert bool(torch.isfinite(log_probs).all()) and torch.allclose(entropy, torch.zeros(2))


def test_mask_of_wrong_shape_raises(agent: SymbolAgent) -> None:
    with pytest.raises(InvalidParameterError, match="action_mask has shape"):
        agent({**random_observation(2), "action_mask": torch.ones(2, 6, dtype=torch.bool)})


def test_act_and_evaluate_actions_agree(agent: SymbolAgent) -> None:
    mask = torch.tensor([[True, True, False, False, True, False, False]] * 3)
    obs = {**random_observation(3, seed=4), "action_mask": mask}
    greedy = agent.act(obs, deterministic=True)
    logits, values = agent(obs)
    assert torch.equal(greedy.actions, logits.argmax(-1))
    sampled = agent.act(obs, generator=torch.Generator().manual_seed(7))
    again = agent.act(obs, generator=torch.Generator().manual_seed(7))
    assert torch.equal(sampled.actions, again.actions)
    log_probs, entropy, eval_values = agent.evaluate_actions(obs, sampled.actions)
    torch.testing.assert_close(log_probs, sampled.log_probs)
    torch.testing.assert_close(eval_values, values)
    # Three allowed actions: 0 <= entropy <= ln 3.
    assert bool((entropy >= 0).all() and (entropy <= math.log(3) + 1e-6).all())


def test_same_seed_gives_identical_agents() -> None:
    obs = random_observation(3, seed=5)
    torch.manual_seed(11)
    first = SymbolAgent().eval()
    torch.manual_seed(11)
    second = SymbolAgent().eval()
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(first(obs), second(obs)))


def test_verify_initialization_reports_groups_and_passes_fresh_agents(agent: SymbolAgent) -> None:
    report = verify_initialization(SymbolAgent())
    assert {"encoder.layers.*.attention.qkv.weight", "actor.*.weight", "actor.output.weight",
            "critic.output.weight"} <= set(report)
    # Orthogonal 7 x 64 rows of norm 0.01: sum of squares 7 * 0.01^2 over 448 entries -> std ~ 0.01/8.
    assert report["actor.output.weight"]["std"] == pytest.approx(0.01 / 8, rel=0.1)
    assert report["actor.output.bias"]["max"] == 0.0
    assert report["encoder.final_norm.weight"]["mean"] == 1.0


@pytest.mark.parametrize("breakage, message", [
    (lambda m: m.encoder.output.weight.data.__setitem__((0, 0), float("nan")), "NaN or Inf"),
    (lambda m: m.encoder.layers[0].ffn[0].weight.data.zero_(), "constant"),
    (lambda m: m.actor.output.weight.data.mul_(10.0), "not orthogonal"),
])
def test_verify_initialization_raises_on_broken_weights(breakage, message: str) -> None:
    model = SymbolAgent()
    breakage(model)
    with pytest.raises(InitializationError, match=message):
        verify_initialization(model)


def test_agents_share_one_encoder() -> None:
    config = SymbolAgentConfig.preset("compact")
    shared = FeatureEncoder(config.encoder)
    first, second = SymbolAgent(config, encoder=shared), SymbolAgent(config, encoder=shared)
    assert first.encoder is second.encoder
    # parameters() deduplicates: one encoder + two pairs of heads.
    assert count_parameters(torch.nn.ModuleList([first, second])) == 74_688 + 2 * 17_160
    first.encoder.output.bias.data.add_(1.0)
    assert torch.equal(second.encoder.output.bias, torch.ones(64))
    with pytest.raises(InvalidParameterError, match="shared encoder's config"):
        SymbolAgent(config, encoder=FeatureEncoder(EncoderConfig.preset("compact", d_model=32, output_dim=32)))


def test_parameter_sharing_report() -> None:
    report = parameter_sharing_report(143, SymbolAgentConfig.preset("compact"))
    # heads 8,775 + 8,385 = 17,160; without 143 * 91,848 = 13,134,264; with 74,688 + 143 * 17,160 = 2,528,568.
    assert (report["heads"], report["without_sharing"], report["with_sharing"]) == (17_160, 13_134_264, 2_528_568)
    assert report["saved_fraction"] == pytest.approx(1 - 2_528_568 / 13_134_264)
    seed = parameter_sharing_report(143, SymbolAgentConfig.preset("seed"))
    # 3,239,168 + 143 * 198,408 = 31,611,512 vs 143 * 3,437,576 = 491,573,368: 93.6% saved.
    assert seed["with_sharing"] == 31_611_512 and seed["saved_fraction"] == pytest.approx(0.93569, abs=1e-5)
    assert parameter_sharing_report(1)["saved_fraction"] == 0.0
    with pytest.raises(InvalidParameterError, match="n_agents"):
        parameter_sharing_report(0)


def test_agent_config_validation() -> None:
    with pytest.raises(InvalidParameterError, match="Did you mean 'seed'"):
        SymbolAgentConfig.preset("sead")
    with pytest.raises(InvalidParameterError, match="actor_hidden"):
        SymbolAgentConfig(actor_hidden=[64])
    assert SymbolAgentConfig.preset("seed").actor_hidden == (256, 128)
