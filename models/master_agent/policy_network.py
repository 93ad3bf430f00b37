"""The master policy: a frozen symbol encoder feeding a :class:`MasterAgent`, and its action distribution.

:class:`MasterPolicyNetwork` is what a master checkpoint holds, as one safetensors state dict: the
symbol agent's :class:`FeatureEncoder` (frozen: no gradients, always in eval mode, so its dropout is
off), the :class:`MasterAgent` and the log-std of the exploration noise. The checkpoint is therefore
self-contained; its card names the symbol agent and the sha256 of the weights the encoder came from.

Action distribution (logistic-normal). The PPO action is a vector of logits ``z`` over the present
symbols and cash, ``z ~ Normal(log_weights, std^2 I)`` with ``log_weights`` the agent's log-softmax
weights and one learned ``log_std`` shared by every dimension (a per-symbol std would break the
agent's permutation symmetry and could not follow a change in ``N``). The environment trades
``softmax(z)``. Why this and not a Dirichlet:

* the log-probability and the entropy are those of a diagonal Gaussian over ``z``, exact and cheap;
  the ratio PPO needs only asks for the density of the action it sampled, and ``z`` is that action
  (the environment's ``softmax`` is a fixed function of it);
* a Dirichlet's density diverges where a weight approaches 0 (concentration < 1), which is where a
  portfolio that leaves a symbol out lives, and its gradients there are noisy;
* an absent symbol is a dropped dimension (its logit is never sampled and its weight is exactly 0);
* the deterministic action, ``softmax(log_weights)``, is exactly the agent's own ``weights``.

``softmax`` ignores a common shift of ``z``, so one direction of the Gaussian does not move the
weights; the ratio stays valid (it is a ratio of densities of the same ``z``), only that direction's
share of the entropy does not explore.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from engine.actions import TargetWeights
from engine.errors import InvalidParameterError
from models.master_agent.network import MasterAgent, MasterAgentConfig, MasterOutput, symbol_embeddings
from models.spec import MASTER_ARCHITECTURE
from models.symbol_agent.encoder import EncoderConfig, FeatureEncoder

ARCHITECTURE = MASTER_ARCHITECTURE
"""The model card's ``architecture`` of a master checkpoint."""

MASTER_PRESETS: dict[str, dict[str, int]] = {"compact": {"d_model": 64, "n_heads": 4, "hidden": 64}}
"""Sizes of the master agent per preset; its ``embed_dim`` is the symbol encoder's ``output_dim``."""

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class MasterObservation(NamedTuple):
    """What the master agent reads for ``K`` accounts.

    Attributes:
        embeddings: ``[K, N, E]`` frozen symbol embeddings.
        portfolio: ``[K, P]`` the portfolio vector of each account.
        absent: ``[K, N]`` bool, True where a symbol has no price at the bar (it gets weight 0).
    """

    embeddings: torch.Tensor
    portfolio: torch.Tensor
    absent: torch.Tensor


def master_config(preset: str, embed_dim: int) -> MasterAgentConfig:
    """The master agent's sizes for ``preset`` over embeddings of width ``embed_dim``."""
    if preset not in MASTER_PRESETS:
        raise InvalidParameterError(f"unknown master preset {preset!r} (use one of {', '.join(MASTER_PRESETS)})")
    return MasterAgentConfig(embed_dim=embed_dim, **MASTER_PRESETS[preset])


class MasterPolicyNetwork(nn.Module):
    """Frozen symbol encoder + master agent + exploration log-std (see the module docstring).

    Args:
        encoder_config: The symbol encoder's sizes (from the symbol agent's card).
        config: The master agent's sizes; its ``embed_dim`` must equal the encoder's ``output_dim``.
        init_log_std: Initial log-std of the logistic-normal noise.
    """

    def __init__(self, encoder_config: EncoderConfig, config: MasterAgentConfig, init_log_std: float = -1.0) -> None:
        super().__init__()
        if config.embed_dim != encoder_config.output_dim:
            raise InvalidParameterError(f"the master agent reads {config.embed_dim}-wide embeddings, the symbol "
                                        f"encoder makes {encoder_config.output_dim}-wide ones")
        self.encoder = FeatureEncoder(encoder_config)
        self.encoder.requires_grad_(False)
        self.master = MasterAgent(config)
        self.log_std = nn.Parameter(torch.tensor(float(init_log_std)))
        self.train()

    def train(self, mode: bool = True) -> MasterPolicyNetwork:
        """Set the master's mode; the frozen encoder stays in eval mode (no dropout) either way."""
        super().train(mode)
        self.encoder.eval()
        return self

    def observe(self, obs: Mapping[str, torch.Tensor], n_symbols: int,
                absent: torch.Tensor | None = None) -> MasterObservation:
        """The master's inputs from the engine's observation rows ``[K * N]`` (scenario-major).

        Args:
            obs: ``ObservationBuilder`` rows as tensors (``models.symbol_agent.encoder.as_tensors``).
            n_symbols: ``N``, the symbols per account.
            absent: ``[K, N]`` bool; None means every symbol is present.
        """
        embeddings = symbol_embeddings(self.encoder, obs, n_symbols)
        accounts = embeddings.shape[0]
        if absent is None:
            absent = torch.zeros(accounts, n_symbols, dtype=torch.bool, device=embeddings.device)
        return MasterObservation(embeddings, obs["portfolio"][::n_symbols], absent)

    def forward(self, observation: MasterObservation) -> MasterOutput:
        """The master agent's weights, value, attention and log-weights."""
        return self.master(observation.embeddings, observation.portfolio, observation.absent)


def present_mask(absent: torch.Tensor) -> torch.Tensor:
    """``[K, N + 1]`` bool: the symbols that are present, then cash (always present)."""
    return torch.cat([~absent, torch.ones_like(absent[:, :1])], dim=-1)


def sample_logits(log_weights: torch.Tensor, log_std: torch.Tensor, absent: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """A draw ``z ~ Normal(log_weights, exp(log_std)^2)`` over present dimensions (0 at absent ones).

    The noise is drawn on the CPU from ``generator`` and moved to the logits' device, so a seed gives
    the same draws on every device.
    """
    noise = torch.randn(log_weights.shape, generator=generator, dtype=log_weights.dtype).to(log_weights.device)
    return torch.where(present_mask(absent), log_weights + log_std.exp() * noise, torch.zeros_like(log_weights))


def logits_to_weights(logits: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """``softmax`` over present dimensions: target weights ``[K, N + 1]`` (symbols, cash), 0 where absent."""
    return torch.softmax(logits.masked_fill(~present_mask(absent), float("-inf")), dim=-1)


def log_prob(logits: torch.Tensor, log_weights: torch.Tensor, log_std: torch.Tensor,
             absent: torch.Tensor) -> torch.Tensor:
    """``[K]`` log-density of ``logits`` under ``Normal(log_weights, exp(log_std)^2)`` on present dimensions."""
    present = present_mask(absent)
    # Absent means are very negative (log-softmax of a masked score); zero them so nothing overflows.
    mean = torch.where(present, log_weights, torch.zeros_like(log_weights))
    z = (logits - mean) / log_std.exp()
    return torch.where(present, -0.5 * z * z - log_std - _HALF_LOG_2PI, torch.zeros_like(z)).sum(dim=-1)


def entropy(log_std: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    """``[K]`` entropy of the Gaussian: ``d (1/2 + log(2 pi)/2 + log_std)`` with ``d`` present dimensions."""
    dims = present_mask(absent).sum(dim=-1).to(log_std.dtype)
    return dims * (0.5 + _HALF_LOG_2PI + log_std)


def master_card_config(preset: str, encoder_config: EncoderConfig, config: MasterAgentConfig,
                       action_space: TargetWeights, symbol_agent: Mapping[str, Any],
                       training: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's ``config`` of a master checkpoint (JSON types).

    Args:
        preset: The master preset.
        encoder_config: The frozen symbol encoder's sizes.
        config: The master agent's sizes.
        action_space: The target-weight action space it was trained with.
        symbol_agent: ``name``, ``weights_sha256`` and periods of the symbol agent the encoder came from.
        training: The training settings.
    """
    return {"preset": preset, "encoder": dataclasses.asdict(encoder_config), "master": dataclasses.asdict(config),
            "action_space": {"threshold": action_space.threshold, "rebalance_every": action_space.rebalance_every},
            "symbol_agent": dict(symbol_agent), "training": dict(training)}


def build_master_network(card_config: Mapping[str, Any]) -> MasterPolicyNetwork:
    """The untrained network a card's ``config`` describes (the ``build`` of ``load_checkpoint``)."""
    return MasterPolicyNetwork(EncoderConfig(**card_config["encoder"]), MasterAgentConfig(**card_config["master"]))


def master_action_space(card_config: Mapping[str, Any]) -> TargetWeights:
    """The action space a master checkpoint was trained with.

    Raises:
        InvalidParameterError: the card's ``action_space`` is missing, or a value is of the wrong type
            or out of range.
    """
    space = card_config.get("action_space")
    if not isinstance(space, Mapping) or set(space) != {"threshold", "rebalance_every"}:
        raise InvalidParameterError(f"config action_space must be {{threshold, rebalance_every}}, got {space!r}")
    threshold, every = space["threshold"], space["rebalance_every"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise InvalidParameterError(f"config action_space.threshold must be a number in [0, 1], got {threshold!r}")
    if isinstance(every, bool) or not isinstance(every, int) or not 0 <= every <= 1_000_000:
        raise InvalidParameterError(
            f"config action_space.rebalance_every must be an integer from 0 to 1000000, got {every!r}")
    return TargetWeights(threshold=float(threshold), rebalance_every=every)
