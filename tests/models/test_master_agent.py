"""MasterAgent: target weights over symbols and cash, attention pooling, permutation equivariance."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from models.initialization import verify_initialization
from models.master_agent.network import MasterAgent, MasterAgentConfig, symbol_embeddings
from models.symbol_agent.encoder import FeatureEncoder
from models.symbol_agent.network import count_parameters
from tests.models.observations import random_observation

N_SYMBOLS = 5


@pytest.fixture(scope="module")
def master() -> MasterAgent:
    torch.manual_seed(0)
    return MasterAgent().eval()


def inputs(batch: int = 3, n_symbols: int = N_SYMBOLS, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n_symbols, 64, generator=generator), torch.randn(batch, 8, generator=generator)


def test_weights_are_a_distribution_over_symbols_and_cash(master: MasterAgent) -> None:
    embeddings, portfolio = inputs()
    out = master(embeddings, portfolio)
    assert out.weights.shape == (3, N_SYMBOLS + 1) and out.value.shape == (3,)
    assert bool((out.weights >= 0).all())
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(3))
    assert out.attention.shape == (3, 4, N_SYMBOLS)  # one learned query, four heads
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(3, 4))


def test_parameter_count() -> None:
    # symbol_proj LayerNorm 128 + 64*64+64 = 4,288; portfolio_proj 8*64+64 = 576; query 64;
    # attention in_proj 64*192+192 + out_proj 64*64+64 = 16,640; symbol_score 128*64+64 + 64+1 = 8,321;
    # cash_score 64*64+64 + 65 = 4,225; critic 4,225. Total 38,339.
    assert count_parameters(MasterAgent()) == 38_339


@settings(max_examples=25, deadline=None)
@given(permutation=st.permutations(range(N_SYMBOLS)), seed=st.integers(0, 2**16))
def test_permuting_symbols_permutes_their_weights(master: MasterAgent, permutation: list[int], seed: int) -> None:
    embeddings, portfolio = inputs(seed=seed)
    order = torch.tensor(permutation)
    with torch.no_grad():
        out = master(embeddings, portfolio)
        permuted = master(embeddings[:, order], portfolio)
    torch.testing.assert_close(permuted.weights[:, :N_SYMBOLS], out.weights[:, order])
    torch.testing.assert_close(permuted.weights[:, N_SYMBOLS], out.weights[:, N_SYMBOLS])  # cash
    torch.testing.assert_close(permuted.value, out.value)
    torch.testing.assert_close(permuted.attention, out.attention[..., order])


def test_weights_depend_on_the_inputs(master: MasterAgent) -> None:
    embeddings, portfolio = inputs()
    with torch.no_grad():
        base = master(embeddings, portfolio)
        moved = master(embeddings + 3.0 * torch.randn_like(embeddings), portfolio)
        other_portfolio = master(embeddings, portfolio + 5.0)
    assert not torch.allclose(base.weights, moved.weights)
    assert not torch.allclose(base.attention, other_portfolio.attention)


def test_absent_symbols_get_no_weight_and_all_absent_is_all_cash(master: MasterAgent) -> None:
    embeddings, portfolio = inputs()
    absent = torch.zeros(3, N_SYMBOLS, dtype=torch.bool)
    absent[0, 1] = True
    absent[2] = True
    with torch.no_grad():
        out = master(embeddings, portfolio, absent=absent)
    assert bool(torch.isfinite(out.weights).all() and torch.isfinite(out.value).all())
    assert out.weights[0, 1] == 0.0 and out.attention[0, :, 1].abs().max() == 0.0
    torch.testing.assert_close(out.weights[2], torch.tensor([0.0] * N_SYMBOLS + [1.0]))
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(3))


def test_gradient_reaches_every_parameter() -> None:
    torch.manual_seed(1)
    model = MasterAgent()
    embeddings, portfolio = inputs(batch=8, seed=2)
    out = model(embeddings, portfolio)
    target = torch.softmax(torch.randn(8, N_SYMBOLS + 1), dim=-1)
    loss = -(target * out.weights.log()).sum(-1).mean() + out.value.pow(2).mean()
    loss.backward()
    dead = [name for name, p in model.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0.0]
    assert dead == []


def test_fresh_master_passes_verify_initialization() -> None:
    report = verify_initialization(MasterAgent())
    assert {"symbol_score.output.weight", "critic.output.weight", "attention.in_proj_weight"} <= set(report)


def test_symbol_embeddings_reshape_the_scenario_major_batch() -> None:
    torch.manual_seed(2)
    encoder = FeatureEncoder().eval()
    obs = random_observation(6, seed=3)  # 2 scenarios x 3 symbols, row s * 3 + n
    embeddings = symbol_embeddings(encoder, obs, n_symbols=3)
    assert embeddings.shape == (2, 3, 64) and not embeddings.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(embeddings[1, 2], encoder(obs)[5])
    master = MasterAgent().eval()
    assert master(embeddings, torch.zeros(2, 8)).weights.shape == (2, 4)
    with pytest.raises(InvalidParameterError, match="divisor"):
        symbol_embeddings(encoder, obs, n_symbols=4)


def test_bad_shapes_and_configs_raise(master: MasterAgent) -> None:
    embeddings, portfolio = inputs()
    with pytest.raises(InvalidParameterError, match="embeddings have shape"):
        master(embeddings[..., :32], portfolio)
    with pytest.raises(InvalidParameterError, match="portfolio has shape"):
        master(embeddings, portfolio[:, :5])
    with pytest.raises(InvalidParameterError, match="absent has shape"):
        master(embeddings, portfolio, absent=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(InvalidParameterError, match="must divide"):
        MasterAgentConfig(d_model=64, n_heads=3)
    with pytest.raises(InvalidParameterError, match="embed_dim"):
        MasterAgentConfig(embed_dim=0)
