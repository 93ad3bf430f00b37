"""The tactical team's sizes: presets, the agents and the feature attention each one starts from.

``seed`` takes the tactical-team specification's numbers (docs/design.md, tactical team): actors
with hidden width 128, dropout 0.2286 and a temperature starting at 1.0136; a critic MLP
[512, 256, 128] with LayerNorm, dropout and a self-attention layer over the 420-value joint state.
``compact`` is a smaller team for CPU training and tests. The specification gives no convolution
sizes; ours are in :data:`TEAM_PRESETS`.

Feature attention priors (over ``engine.features.matrices.TACTICAL_COLUMNS``: fvg_bullish,
fvg_bearish, fvg_level, fvg_age, fvg_mitigation, momentum, volume), from the specification:

* ``fvg``: 0.4 / 0.4 / 0.1 / 0.05 / 0.05 on the five FVG columns, nothing on momentum and volume;
* ``momentum``: 0.8 on momentum, 0.2 on volume, nothing on the FVG columns;
* ``entry``: balanced, 0.2 / 0.2 / 0.1 / 0.1 / 0.1 / 0.2 / 0.1 (the specification's listing).

A prior of 0 would be a logit of minus infinity, which no gradient could ever move, so every
weight starts at least at ``attention_floor`` (1e-3) and the priors are renormalized: the FVG agent
starts at 0.3992 / 0.3992 / 0.0998 / 0.0499 / 0.0499 / 0.0010 / 0.0010.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from engine.errors import InvalidParameterError
from engine.features.matrices import TACTICAL_COLUMNS, TACTICAL_WINDOW

AGENTS: tuple[str, ...] = ("fvg", "momentum", "entry")
"""The team's agents, in the order of every ``[..., agents, ...]`` axis."""

ATTENTION_PRIORS: dict[str, tuple[float, ...]] = {
    "fvg": (0.4, 0.4, 0.1, 0.05, 0.05, 0.0, 0.0),
    "momentum": (0.0, 0.0, 0.0, 0.0, 0.0, 0.8, 0.2),
    "entry": (0.2, 0.2, 0.1, 0.1, 0.1, 0.2, 0.1),
}
"""The specification's attention of each agent over the seven tactical columns."""

AGENT_FOCUS: dict[str, tuple[int, ...]] = {
    "fvg": (0, 1, 2, 3, 4),
    "momentum": (5, 6),
    "entry": (0, 1, 2, 3, 4, 5, 6),
}
"""The columns each agent specialises in (where its prior puts its weight): the measure of whether it
still looks there after training is its attention's share on them (:func:`specialisation`)."""

N_ACTIONS = 3
ACTION_NAMES: tuple[str, ...] = ("short", "hold", "long")


@dataclass(frozen=True)
class TacticalTeamConfig:
    """Sizes of the tactical team.

    Attributes:
        preset: Name of the preset these sizes come from (recorded in model cards).
        agents: Agent names; each needs a prior in :data:`ATTENTION_PRIORS`.
        window: Bars per observation (60).
        n_features: Columns per bar (7).
        conv_channels: Channels of the actors' two weight-normalized Conv1D layers.
        kernel_size: Their kernel size (odd: the output keeps the window's length unless strided).
        conv_stride: Stride of the first Conv1D.
        hidden: Width of the actors' two hidden layers.
        dropout: Dropout of the actors' and the critic's hidden layers.
        temperature_init: The actors' learned softmax temperature at initialization.
        attention_floor: Smallest initial attention weight (see the module docstring).
        critic_hidden: Widths of the critic's MLP.
        critic_attention_dim: Width of the critic's tokens in its self-attention layer.
        critic_heads: Heads of that layer.
        critic_patch: Bars per critic token (the 60 bars become ``60 / critic_patch`` tokens of
            ``critic_patch x 7`` values: attention over 12 tokens costs 25 times less than over 60).
    """

    preset: str = "compact"
    agents: tuple[str, ...] = AGENTS
    window: int = TACTICAL_WINDOW
    n_features: int = len(TACTICAL_COLUMNS)
    conv_channels: int = 16
    kernel_size: int = 3
    conv_stride: int = 2
    hidden: int = 64
    dropout: float = 0.2286
    temperature_init: float = 1.0136
    attention_floor: float = 1e-3
    critic_hidden: tuple[int, ...] = (128, 64, 32)
    critic_attention_dim: int = 32
    critic_heads: int = 2
    critic_patch: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "agents", tuple(self.agents))
        object.__setattr__(self, "critic_hidden", tuple(int(w) for w in self.critic_hidden))
        unknown = [a for a in self.agents if a not in ATTENTION_PRIORS]
        if not self.agents or unknown or len(set(self.agents)) != len(self.agents):
            raise InvalidParameterError(
                f"team agents must be distinct names among {', '.join(ATTENTION_PRIORS)}, got {self.agents!r}")
        for name in ("window", "n_features", "conv_channels", "kernel_size", "conv_stride", "hidden",
                     "critic_attention_dim", "critic_heads", "critic_patch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"TacticalTeamConfig.{name} must be a positive integer, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise InvalidParameterError(f"TacticalTeamConfig.kernel_size must be odd, got {self.kernel_size}")
        if self.critic_attention_dim % self.critic_heads:
            raise InvalidParameterError(
                f"critic_attention_dim {self.critic_attention_dim} must be a multiple of critic_heads "
                f"{self.critic_heads}")
        if self.window % self.critic_patch:
            raise InvalidParameterError(f"critic_patch {self.critic_patch} must divide the window ({self.window} bars)")
        if self.n_features != len(TACTICAL_COLUMNS):
            raise InvalidParameterError(f"the tactical matrix has {len(TACTICAL_COLUMNS)} columns, not "
                                        f"{self.n_features}")
        if not self.critic_hidden or min(self.critic_hidden) < 1:
            raise InvalidParameterError(f"critic_hidden must be positive widths, got {self.critic_hidden!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidParameterError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not (math.isfinite(self.temperature_init) and self.temperature_init > 0):
            raise InvalidParameterError(f"temperature_init must be > 0, got {self.temperature_init!r}")
        if not 0.0 < self.attention_floor < 1.0 / self.n_features:
            raise InvalidParameterError(f"attention_floor must be in (0, 1/{self.n_features}), got "
                                        f"{self.attention_floor!r}")

    @property
    def state_dim(self) -> int:
        """Length of the critic's joint state (the window flattened: 420)."""
        return self.window * self.n_features

    def to_dict(self) -> dict[str, Any]:
        """JSON types, for the model card."""
        data = dataclasses.asdict(self)
        return {**data, "agents": list(self.agents), "critic_hidden": list(self.critic_hidden)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TacticalTeamConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidParameterError: an unknown key.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidParameterError(f"unknown tactical team setting(s) {', '.join(unknown)}; known: "
                                        f"{', '.join(sorted(names))}")
        return cls(**values)


TEAM_PRESETS: dict[str, TacticalTeamConfig] = {
    "seed": TacticalTeamConfig(preset="seed", conv_channels=32, kernel_size=3, conv_stride=1, hidden=128,
                               critic_hidden=(512, 256, 128), critic_attention_dim=256, critic_heads=4),
    "compact": TacticalTeamConfig(),
}
"""``seed``: the specification's sizes; ``compact``: for CPU training and tests."""


def team_config(preset: str) -> TacticalTeamConfig:
    """The sizes of ``preset``.

    Raises:
        InvalidParameterError: an unknown preset.
    """
    if preset not in TEAM_PRESETS:
        raise InvalidParameterError(f"unknown tactical team preset {preset!r}; use one of {', '.join(TEAM_PRESETS)}")
    return TEAM_PRESETS[preset]


def initial_attention(agent: str, floor: float) -> np.ndarray:
    """The agent's prior with every weight at least ``floor``, renormalized to sum to 1 (float64)."""
    prior = np.maximum(np.asarray(ATTENTION_PRIORS[agent], dtype=np.float64), floor)
    return prior / prior.sum()


def specialisation(attention: np.ndarray, agents: tuple[str, ...]) -> dict[str, float]:
    """How specialised the agents' attention ``[..., agents, 7]`` is, averaged over decisions.

    ``<agent>_focus``: share of the agent's attention on its :data:`AGENT_FOCUS` columns (1.0 for the
    entry agent, whose focus is every column); ``<agent>_balance``: entropy of its mean attention over
    ``ln 7`` (1 = uniform, 0 = one column); ``<agent>_prior_distance``: half the L1 distance between its
    mean attention and its initial one (0 = unchanged, 1 = disjoint).
    """
    mean = np.asarray(attention, dtype=np.float64).reshape(-1, len(agents), attention.shape[-1]).mean(axis=0)
    out = {}
    for a, agent in enumerate(agents):
        weights = mean[a] / mean[a].sum()
        out[f"{agent}_focus"] = float(weights[list(AGENT_FOCUS[agent])].sum())
        out[f"{agent}_balance"] = float(-(weights * np.log(np.maximum(weights, 1e-12))).sum() / np.log(len(weights)))
        out[f"{agent}_prior_distance"] = float(0.5 * np.abs(weights - initial_attention(agent, 1e-3)).sum())
    return out
