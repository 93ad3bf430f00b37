"""FeatureEncoder: presets, shapes, attention weights, numerical safety, batch independence."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.errors import InvalidParameterError
from models.symbol_agent.encoder import EncoderConfig, FeatureEncoder, as_tensors, sinusoidal_encoding
from models.symbol_agent.network import count_parameters
from tests.models.observations import random_observation


@pytest.fixture(scope="module")
def encoder() -> FeatureEncoder:
    torch.manual_seed(0)
    return FeatureEncoder(EncoderConfig.preset("compact")).eval()


def test_presets_match_the_brief() -> None:
    seed = EncoderConfig.preset("seed")
    assert (seed.n_layers, seed.d_model, seed.n_heads, seed.ffn_dim, seed.output_dim, seed.dropout) == (
        4, 256, 8, 1024, 256, 0.1)
    compact = EncoderConfig.preset("compact")
    assert (compact.n_layers, compact.d_model, compact.n_heads, compact.ffn_dim, compact.output_dim) == (
        2, 64, 4, 128, 64)
    assert seed.n_tokens == 28  # 24 technical steps + sl_probs, position, portfolio, regime
    assert EncoderConfig.preset("compact", dropout=0.0).dropout == 0.0


def test_unknown_preset_and_bad_sizes_raise() -> None:
    with pytest.raises(InvalidParameterError, match="Did you mean 'compact'"):
        EncoderConfig.preset("compakt")
    with pytest.raises(InvalidParameterError, match="must divide"):
        EncoderConfig(d_model=64, n_heads=5)
    with pytest.raises(InvalidParameterError, match="dropout"):
        EncoderConfig(dropout=1.0)
    with pytest.raises(InvalidParameterError, match="n_layers"):
        EncoderConfig(n_layers=0)


def test_parameter_counts_per_preset() -> None:
    # compact: projections (23+3+5+8+10)*64 + 5*64 = 3,456; per layer 2 LayerNorms 256 + qkv 64*192+192
    # = 12,480 + out 4,160 + ffn 64*128+128 + 128*64+64 = 16,576 -> 33,472, two layers 66,944;
    # final LayerNorm 128; output 64*64+64 = 4,160. Total 74,688.
    assert count_parameters(FeatureEncoder(EncoderConfig.preset("compact"))) == 74_688
    # seed: projections 49*256 + 5*256 = 13,824; per layer 1,024 + 197,376 + 65,792 + 263,168 + 262,400
    # = 789,760, four layers 3,159,040; final LayerNorm 512; output 65,792. Total 3,239,168.
    assert count_parameters(FeatureEncoder(EncoderConfig.preset("seed"))) == 3_239_168


def test_sinusoidal_encoding_by_hand() -> None:
    code = sinusoidal_encoding(3, 4)
    # frequencies 10000^(-0/4) = 1 and 10000^(-2/4) = 0.01; even slots sin, odd slots cos.
    expected = [[0, 1, 0, 1],
                [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
                [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)]]
    np.testing.assert_allclose(code.numpy(), expected, atol=1e-6)


def test_output_shapes_for_both_presets(encoder: FeatureEncoder) -> None:
    assert encoder(random_observation(5)).shape == (5, 64)
    seed_config = EncoderConfig.preset("seed")
    seed = FeatureEncoder(seed_config).eval()
    with torch.no_grad():
        embedding, attention = seed(random_observation(2, config=seed_config), return_attention=True)
    assert embedding.shape == (2, 256)
    assert [tuple(a.shape) for a in attention] == [(2, 8, 28, 28)] * 4


def test_attention_weights_sum_to_one_and_match_the_fused_path(encoder: FeatureEncoder) -> None:
    obs = random_observation(4, seed=1)
    with torch.no_grad():
        fused = encoder(obs)
        embedding, attention = encoder(obs, return_attention=True)
    assert len(attention) == 2
    for weights in attention:
        assert weights.shape == (4, 4, 28, 28)
        assert bool((weights >= 0).all())
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 4, 28))
    # The explicit softmax path and scaled_dot_product_attention compute the same function.
    torch.testing.assert_close(embedding, fused, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6])
def test_no_nan_or_inf_on_random_and_extreme_inputs(encoder: FeatureEncoder, scale: float) -> None:
    obs = random_observation(8, seed=2, scale=scale)
    obs["technical"][0] = scale  # a constant row: LayerNorm's variance is 0 there
    with torch.no_grad():
        embedding, attention = encoder(obs, return_attention=True)
    assert bool(torch.isfinite(embedding).all())
    assert all(bool(torch.isfinite(a).all()) for a in attention)


def test_zero_observation_is_finite(encoder: FeatureEncoder) -> None:
    obs = {name: torch.zeros_like(value) for name, value in random_observation(2).items()}
    assert bool(torch.isfinite(encoder(obs)).all())


def test_batch_independence(encoder: FeatureEncoder) -> None:
    obs = random_observation(6, seed=3)
    other = random_observation(6, seed=4)
    mixed = {name: torch.where(torch.arange(6).view(-1, *[1] * (v.dim() - 1)) == 2, v, other[name])
             for name, v in obs.items()}
    with torch.no_grad():
        row = encoder(obs)[2]
        row_mixed = encoder(mixed)[2]
        alone = encoder({name: v[2:3] for name, v in obs.items()})[0]
        others_changed = encoder(mixed)[[0, 1, 3, 4, 5]]
        others_before = encoder(obs)[[0, 1, 3, 4, 5]]
    torch.testing.assert_close(row_mixed, row, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(alone, row, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(others_changed, others_before)  # the other rows did change


def test_same_seed_gives_identical_weights_and_outputs() -> None:
    obs = random_observation(3, seed=5)
    outputs, states = [], []
    for _ in range(2):
        torch.manual_seed(42)
        model = FeatureEncoder().eval()
        states.append(model.state_dict())
        outputs.append(model(obs))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert torch.equal(outputs[0], outputs[1])
    torch.manual_seed(43)
    assert not torch.equal(FeatureEncoder().eval()(obs), outputs[0])


def test_bad_observations_raise(encoder: FeatureEncoder) -> None:
    obs = random_observation(2)
    with pytest.raises(InvalidParameterError, match="lacks regime"):
        encoder({k: v for k, v in obs.items() if k != "regime"})
    with pytest.raises(InvalidParameterError, match=r"observation\['technical'\] has shape \(2, 23, 24\)"):
        encoder({**obs, "technical": obs["technical"].transpose(1, 2)})
    with pytest.raises(InvalidParameterError, match="same for every block"):
        encoder({**obs, "position": torch.zeros(3, 5)})
    with pytest.raises(InvalidParameterError, match="float tensor"):
        encoder({**obs, "regime": torch.zeros(2, 10, dtype=torch.int64)})


def test_as_tensors_converts_numpy_observations(encoder: FeatureEncoder) -> None:
    obs = {name: value.double().numpy() for name, value in random_observation(2).items()}
    obs["action_mask"] = np.array([[True] + [False] * 6] * 2)
    tensors = as_tensors(obs)
    assert tensors["technical"].dtype == torch.float32 and tensors["action_mask"].dtype == torch.bool
    assert encoder(tensors).shape == (2, 64)
