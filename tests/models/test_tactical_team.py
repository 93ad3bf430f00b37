"""The tactical team's networks: shapes, sizes, the attention they start from, inputs they refuse."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.errors import InvalidParameterError, ObservationError
from engine.features.matrices import TACTICAL_COLUMNS
from models.checkpoint import parameter_counts
from models.tactical_team.config import (
    AGENTS,
    ATTENTION_PRIORS,
    TacticalTeamConfig,
    initial_attention,
    team_config,
)
from models.tactical_team.network import TacticalTeam, build_tactical_team, parameter_report

SPECIFICATION_PARAMETERS = 1_560_000


@pytest.fixture(scope="module", params=["seed", "compact"])
def team(request: pytest.FixtureRequest) -> TacticalTeam:
    torch.manual_seed(0)
    return TacticalTeam(team_config(request.param))


def windows(n: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, 60, 7)).astype(np.float32))


def test_every_output_has_the_team_shape(team: TacticalTeam) -> None:
    out = team.decide(windows(5))
    assert out.logits.shape == (5, 3, 3)
    assert out.attention.shape == (5, 3, 7)
    assert out.values.shape == (5, 3)
    assert team.logits(windows(2)).shape == (2, 3, 3)
    assert team.values(windows(2).reshape(2, -1)).shape == (2, 3)


def test_parameter_counts_of_both_presets() -> None:
    seed, compact = (parameter_report(TacticalTeam(team_config(p))) for p in ("seed", "compact"))
    # Worked out in docs/models.md (tactical team): conv 7->32->32 (k 3), flatten 60 x 32 -> 128 -> 128 -> 3.
    assert seed["actor_fvg"] == (7 * 32 * 3 + 32 + 32) + (32 * 32 * 3 + 32 + 32) + (1920 * 128 + 128) \
        + (128 * 128 + 128) + (128 * 3 + 3) + (14 * 7 + 7) + 1
    assert seed == {"actor_fvg": 266_765, "actor_momentum": 266_765, "actor_entry": 266_765,
                    "critic": 788_995, "total": 1_589_290}
    assert abs(seed["total"] / SPECIFICATION_PARAMETERS - 1.0) < 0.03  # the specification's 1.56M, within 3%
    assert compact["total"] == 183_930 < seed["total"] / 8
    assert parameter_counts(TacticalTeam())["trainable"] == compact["total"]


def test_the_agents_start_from_the_specification_attention(team: TacticalTeam) -> None:
    attention = team.decide(windows(64)).attention.double().numpy()
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-6)
    for a, agent in enumerate(AGENTS):
        # The learned part starts at zero: every window reads the floored, renormalized prior.
        np.testing.assert_allclose(attention[:, a], np.broadcast_to(initial_attention(agent, 1e-3), (64, 7)),
                                   atol=1e-6)
        np.testing.assert_allclose(attention[0, a], ATTENTION_PRIORS[agent], atol=5e-3)
    fvg = dict(zip(TACTICAL_COLUMNS, attention[0, 0]))
    assert fvg["fvg_bullish"] == pytest.approx(0.4 / 1.002, abs=1e-6) and fvg["momentum"] < 1e-3 + 1e-9
    momentum = dict(zip(TACTICAL_COLUMNS, attention[0, 1]))
    assert momentum["momentum"] + momentum["volume"] == pytest.approx(1.0 / 1.005, abs=1e-6)


def test_the_attention_is_learned(team: TacticalTeam) -> None:
    parameters = dict(team.actors["fvg"].attention.named_parameters())
    assert set(parameters) == {"context.weight", "context.bias"}
    assert all(p.requires_grad for p in parameters.values())


def test_the_temperature_starts_at_the_specification_value(team: TacticalTeam) -> None:
    for agent in AGENTS:
        assert float(team.actors[agent].temperature.detach()) == pytest.approx(1.0136, rel=1e-6)
    actor = team.actors["entry"].eval()
    with torch.no_grad():
        logits, _ = actor(windows(3))
        actor.log_temperature += math.log(2.0)
        halved, _ = actor(windows(3))
        actor.log_temperature -= math.log(2.0)
    torch.testing.assert_close(halved, logits / 2.0)


def test_dropout_acts_in_training_only() -> None:
    torch.manual_seed(1)
    team = TacticalTeam(team_config("compact"))
    x = windows(8)
    team.train()
    assert not torch.equal(team(x).values, team(x).values)
    team.eval()
    assert torch.equal(team(x).values, team(x).values)


@pytest.mark.parametrize("window, message", [
    (np.zeros((2, 60, 7), np.float64), "float32"),
    (np.zeros((2, 59, 7), np.float32), r"\[batch, 60, 7\]"),
    (np.zeros((60, 7), np.float32), r"\[batch, 60, 7\]"),
    (np.where(np.arange(2 * 60 * 7).reshape(2, 60, 7) == 500, np.nan, 0.0).astype(np.float32),
     "non-finite value .* at row 1, bar 11, column 3"),
    (np.full((1, 60, 7), np.inf, np.float32), "non-finite"),
    ([[0.0] * 7] * 60, "numpy array or a tensor"),
])
def test_invalid_windows_are_refused_with_a_typed_error(window, message: str) -> None:
    team = TacticalTeam()
    with pytest.raises(ObservationError, match=message):
        team.decide(window)


def test_a_team_is_built_from_its_card_config() -> None:
    config = team_config("compact")
    team = build_tactical_team({"network": config.to_dict()})
    assert team.config == config
    with pytest.raises(InvalidParameterError, match="unknown tactical team setting"):
        build_tactical_team({"network": {**config.to_dict(), "layers": 3}})


@pytest.mark.parametrize("changes, message", [
    ({"agents": ("fvg", "fvg")}, "distinct"),
    ({"agents": ("scalper",)}, "distinct names among"),
    ({"kernel_size": 4}, "odd"),
    ({"dropout": 1.0}, "dropout"),
    ({"temperature_init": 0.0}, "temperature_init"),
    ({"critic_attention_dim": 30, "critic_heads": 4}, "multiple of critic_heads"),
    ({"attention_floor": 0.5}, "attention_floor"),
    ({"critic_patch": 7}, "divide the window"),
])
def test_bad_sizes_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        TacticalTeamConfig(**changes)
