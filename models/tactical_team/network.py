"""The tactical team's networks: an actor per agent over the 60 x 7 matrix and a centralised critic.

**Actor** (:class:`TacticalActor`), per agent, on a window ``[B, 60, 7]``:

1. *feature attention* (:class:`FeatureAttention`): weights ``a [B, 7]`` (softmax, sum 1) of
   ``log(prior) + W [mean over bars, last bar]``. ``W`` starts at zero, so every window starts at
   the agent's prior exactly (``models.tactical_team.config``); it is learned, and can come to
   depend on the window. The features are scaled by ``7 a`` (uniform attention leaves them as they are);
2. two Conv1D layers over the bars (features as channels) with weight normalization, ReLU;
3. an MLP on the flattened maps: two hidden layers of ``hidden`` units, ReLU and dropout;
4. three logits (short, hold, long) divided by a learned temperature (``exp`` of a learned log,
   starting at ``temperature_init``).

It returns the logits and the attention weights; the weights come with every decision.

**Critic** (:class:`CentralisedCritic`) on the joint state ``[B, 420]`` (the window flattened,
``engine.envs.marl_env.MarlTradingEnv.state``): the 60 bars become 12 tokens of 5 bars (a linear map
of their 35 values plus a learned position), one self-attention layer (residual, LayerNorm) relates them,
their mean joins the raw state, and an MLP ``critic_hidden`` with LayerNorm, ReLU and dropout gives
one value per agent (the agents share the team reward, so the values are of the same return; one
head per agent lets a per-agent reward plug in).

**Team** (:class:`TacticalTeam`): the actors in a ``ModuleDict`` and the critic. ``logits`` and
``values`` are what the MAPPO trainer (``models.mappo``) calls; :meth:`TacticalTeam.decide`
checks its input and returns every agent's logits, probabilities, attention and the values.

Initialization: linear layers orthogonal with zero biases (``models.initialization``): gain
sqrt(2) inside, 0.01 on the actors' outputs (a near-uniform first policy), 1 on the critic's.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from engine.errors import ObservationError
from models.initialization import ACTOR_OUTPUT_GAIN, CRITIC_OUTPUT_GAIN, HIDDEN_GAIN, orthogonal_linear
from models.spec import TACTICAL_ARCHITECTURE
from models.tactical_team.config import N_ACTIONS, TacticalTeamConfig, initial_attention, team_config

ARCHITECTURE = TACTICAL_ARCHITECTURE
"""The model card's ``architecture`` of a tactical team checkpoint."""


class TeamOutput(NamedTuple):
    """One forward pass of the team on ``B`` windows.

    Attributes:
        logits: ``[B, agents, 3]`` each agent's temperature-scaled logits.
        attention: ``[B, agents, 7]`` each agent's feature attention (rows sum to 1).
        values: ``[B, agents]`` the critic's values (None when not asked for).
    """

    logits: torch.Tensor
    attention: torch.Tensor
    values: torch.Tensor | None


class FeatureAttention(nn.Module):
    """Attention weights over the features of a window, starting at a prior (module docstring)."""

    def __init__(self, prior: np.ndarray) -> None:
        super().__init__()
        n = len(prior)
        self.register_buffer("log_prior", torch.as_tensor(np.log(prior), dtype=torch.float32))
        self.context = nn.Linear(2 * n, n)
        nn.init.zeros_(self.context.weight)
        nn.init.zeros_(self.context.bias)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        summary = torch.cat([window.mean(dim=1), window[:, -1]], dim=1)
        return torch.softmax(self.log_prior + self.context(summary), dim=-1)


class TacticalActor(nn.Module):
    """One agent's policy over the tactical window (module docstring)."""

    def __init__(self, config: TacticalTeamConfig, agent: str) -> None:
        super().__init__()
        c, k = config.conv_channels, config.kernel_size
        self.n_features = config.n_features
        self.attention = FeatureAttention(initial_attention(agent, config.attention_floor))
        self.conv1 = weight_norm(nn.Conv1d(config.n_features, c, k, stride=config.conv_stride, padding=k // 2))
        self.conv2 = weight_norm(nn.Conv1d(c, c, k, padding=k // 2))
        steps = (config.window + 2 * (k // 2) - k) // config.conv_stride + 1
        self.hidden1 = orthogonal_linear(c * steps, config.hidden, HIDDEN_GAIN)
        self.hidden2 = orthogonal_linear(config.hidden, config.hidden, HIDDEN_GAIN)
        self.dropout = nn.Dropout(config.dropout)
        self.output = orthogonal_linear(config.hidden, N_ACTIONS, ACTOR_OUTPUT_GAIN)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(config.temperature_init)))

    @property
    def temperature(self) -> torch.Tensor:
        """The softmax temperature (positive)."""
        return self.log_temperature.exp()

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B, 3], attention [B, 7])`` of windows ``[B, 60, 7]``."""
        weights = self.attention(window)
        x = (window * (weights * self.n_features)[:, None, :]).transpose(1, 2)  # [B, features, bars]
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = self.dropout(torch.relu(self.hidden1(x.flatten(1))))
        x = self.dropout(torch.relu(self.hidden2(x)))
        return self.output(x) / self.temperature, weights


class CentralisedCritic(nn.Module):
    """Values of the joint state ``[B, 420]``, one per agent (module docstring)."""

    def __init__(self, config: TacticalTeamConfig) -> None:
        super().__init__()
        d = config.critic_attention_dim
        self.n_tokens, self.token_size = config.window // config.critic_patch, config.critic_patch * config.n_features
        self.embed = orthogonal_linear(self.token_size, d, 1.0)
        self.position = nn.Parameter(torch.randn(self.n_tokens, d) * 0.02)
        self.attention = nn.MultiheadAttention(d, config.critic_heads, dropout=config.dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(d)
        layers: list[nn.Module] = []
        width = config.state_dim + d
        for out in config.critic_hidden:
            layers += [orthogonal_linear(width, out, HIDDEN_GAIN), nn.LayerNorm(out), nn.ReLU(),
                       nn.Dropout(config.dropout)]
            width = out
        self.mlp = nn.Sequential(*layers)
        self.output = orthogonal_linear(width, len(config.agents), CRITIC_OUTPUT_GAIN)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(state.reshape(-1, self.n_tokens, self.token_size)) + self.position
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        summary = self.attention_norm(tokens + attended).mean(dim=1)
        return self.output(self.mlp(torch.cat([state, summary], dim=1)))


class TacticalTeam(nn.Module):
    """The tactical team: one :class:`TacticalActor` per agent and a :class:`CentralisedCritic`.

    Args:
        config: Sizes (default: the ``compact`` preset).
    """

    def __init__(self, config: TacticalTeamConfig | None = None) -> None:
        super().__init__()
        self.config = config or team_config("compact")
        self.agents = self.config.agents
        self.actors = nn.ModuleDict({a: TacticalActor(self.config, a) for a in self.agents})
        self.critic = CentralisedCritic(self.config)

    def forward(self, window: torch.Tensor, with_values: bool = True) -> TeamOutput:
        """Every agent's logits and attention on windows ``[B, 60, 7]`` (and the critic's values)."""
        outputs = [self.actors[a](window) for a in self.agents]
        logits = torch.stack([o[0] for o in outputs], dim=1)
        attention = torch.stack([o[1] for o in outputs], dim=1)
        values = self.critic(window.flatten(1)) if with_values else None
        return TeamOutput(logits, attention, values)

    def logits(self, observation: torch.Tensor) -> torch.Tensor:
        """``[B, agents, 3]``: what the MAPPO trainer samples actions from."""
        return self.forward(observation, with_values=False).logits

    def values(self, state: torch.Tensor) -> torch.Tensor:
        """``[B, agents]``: the critic on joint states ``[B, 420]``."""
        return self.critic(state)

    def decide(self, window: torch.Tensor | np.ndarray) -> TeamOutput:
        """:meth:`forward` without gradients, in eval mode, on a checked window.

        Raises:
            ObservationError: the window is not ``[B, 60, 7]`` finite float32 values.
        """
        window = check_window(window, self.config)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self.forward(window)
        finally:
            self.train(was_training)


def check_window(window: torch.Tensor | np.ndarray, config: TacticalTeamConfig) -> torch.Tensor:
    """``window`` as a float32 tensor once it is ``[B, window, n_features]`` and finite.

    Raises:
        ObservationError: naming the shape, the dtype or the first non-finite value.
    """
    expected = (config.window, config.n_features)
    if isinstance(window, np.ndarray):
        if window.dtype != np.float32:
            raise ObservationError(f"a tactical window is float32 (the observer builds it so), got {window.dtype}")
        window = torch.from_numpy(np.ascontiguousarray(window))
    if not isinstance(window, torch.Tensor):
        raise ObservationError(f"a tactical window is a numpy array or a tensor, got {type(window).__name__}")
    if window.dtype != torch.float32:
        raise ObservationError(f"a tactical window is float32, got {window.dtype}")
    if window.dim() != 3 or tuple(window.shape[1:]) != expected:
        raise ObservationError(
            f"a tactical window is [batch, {expected[0]}, {expected[1]}] (bars x tactical columns), got "
            f"{list(window.shape)}; build it with the tactical team's observer")
    finite = torch.isfinite(window)
    if not bool(finite.all()):
        row, bar, column = (int(i) for i in (~finite).nonzero()[0])
        raise ObservationError(
            f"the tactical window holds a non-finite value ({float(window[row, bar, column])}) at row {row}, bar "
            f"{bar}, column {column}; the observer writes warm-up rows as 0 and clips values, so this input was "
            "not built by it (masked or missing bars must be filled before they reach the team)")
    return window


def build_tactical_team(card_config: Mapping[str, Any]) -> TacticalTeam:
    """An untrained team from a model card's ``config`` (its ``network`` entry holds the sizes)."""
    return TacticalTeam(TacticalTeamConfig.from_dict(card_config["network"]))


def parameter_report(team: TacticalTeam) -> dict[str, int]:
    """Parameters of each actor, the critic and the whole team."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return {**{f"actor_{a}": count(team.actors[a]) for a in team.agents}, "critic": count(team.critic),
            "total": count(team)}
