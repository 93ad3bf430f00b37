"""The symbol agent: an actor-critic over the shared feature encoder, with vectorized action masks.

``forward(obs)`` returns masked logits ``[B, 7]`` and values ``[B]``. A masked action's logit is
replaced by :data:`models.spec.MASKED_LOGIT` (-1e8, as sb3-contrib's ``MaskableCategorical``): finite, so
softmax, log-probabilities and entropy stay free of NaN, and its probability is exactly 0 in
float32 next to any ordinary logit. A row with no allowed action (our masks always allow HOLD, but
a hand-made mask may not) is treated as HOLD-only, the action the engine executes in place of a
masked one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch
from torch import nn

from engine.actions import SymbolAction
from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from models.initialization import ACTOR_OUTPUT_GAIN, CRITIC_OUTPUT_GAIN, mlp_head
from models.spec import MASKED_LOGIT
from models.symbol_agent.encoder import MAX_LAYERS, MAX_WIDTH, EncoderConfig, FeatureEncoder

N_SYMBOL_ACTIONS = len(SymbolAction)


@dataclass(frozen=True)
class SymbolAgentConfig:
    """Sizes of a symbol agent.

    Attributes:
        encoder: The feature encoder's configuration.
        actor_hidden: Hidden widths of the actor (ReLU MLP from the embedding to the logits).
        critic_hidden: Hidden widths of the critic.
        n_actions: Discrete actions (the seven of ``engine.actions.SymbolActions``).
    """

    encoder: EncoderConfig = EncoderConfig()
    actor_hidden: tuple[int, ...] = (64, 64)
    critic_hidden: tuple[int, ...] = (64, 64)
    n_actions: int = N_SYMBOL_ACTIONS

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, EncoderConfig):
            raise InvalidParameterError(f"SymbolAgentConfig.encoder must be an EncoderConfig, got {self.encoder!r}")
        for name in ("actor_hidden", "critic_hidden"):
            widths = getattr(self, name)
            if not isinstance(widths, tuple) or len(widths) > MAX_LAYERS or not all(
                    isinstance(w, int) and not isinstance(w, bool) and 0 < w <= MAX_WIDTH for w in widths):
                raise InvalidParameterError(
                    f"SymbolAgentConfig.{name} must be a tuple of at most {MAX_LAYERS} ints from 1 to {MAX_WIDTH}, "
                    f"got {widths!r}")
        if isinstance(self.n_actions, bool) or not isinstance(self.n_actions, int) \
                or not 2 <= self.n_actions <= MAX_WIDTH:
            raise InvalidParameterError(
                f"SymbolAgentConfig.n_actions must be an integer from 2 to {MAX_WIDTH}, got {self.n_actions!r}")

    @classmethod
    def preset(cls, name: str, **overrides) -> SymbolAgentConfig:
        """``"seed"`` (the symbol-agent specification's size: 256-wide encoder, heads 256 -> 256 -> 128 -> out)
        or ``"compact"``."""
        if name not in AGENT_PRESETS:
            raise InvalidParameterError(
                f"unknown agent preset {name!r} (use one of {', '.join(AGENT_PRESETS)})."
                + did_you_mean(name, AGENT_PRESETS))
        return replace(AGENT_PRESETS[name], **overrides)


AGENT_PRESETS: dict[str, SymbolAgentConfig] = {
    "seed": SymbolAgentConfig(EncoderConfig.preset("seed"), actor_hidden=(256, 128), critic_hidden=(256, 128)),
    "compact": SymbolAgentConfig(EncoderConfig.preset("compact"), actor_hidden=(64, 64), critic_hidden=(64, 64)),
}


class AgentStep(NamedTuple):
    """One batched decision: actions, their log-probabilities, and the critic's values (all ``[B]``)."""

    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor


def mask_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Logits with disallowed actions set to :data:`MASKED_LOGIT` (``mask``: ``True`` = allowed).

    A row that allows nothing is treated as allowing only HOLD. The logits are float32 (a no-op for
    float32 logits): under autocast they come out of the last linear map in bf16/fp16, where
    :data:`MASKED_LOGIT` is not exact (bf16) or overflows (fp16).
    """
    logits = logits.float()
    if mask is None:
        return logits
    if mask.shape != logits.shape:
        raise InvalidParameterError(f"action_mask has shape {tuple(mask.shape)}; expected {tuple(logits.shape)}")
    mask = mask.to(torch.bool)
    hold = torch.zeros_like(mask)
    hold[..., SymbolAction.HOLD] = True
    mask = mask | (hold & ~mask.any(dim=-1, keepdim=True))
    return logits.masked_fill(~mask, MASKED_LOGIT)


class SymbolAgent(nn.Module):
    """Actor-critic for one symbol's seven actions.

    Args:
        config: Sizes; ``SymbolAgentConfig.preset("compact")`` when omitted.
        encoder: A :class:`FeatureEncoder` to share with other agents (its config must equal
            ``config.encoder``); a fresh one when omitted.
    """

    def __init__(self, config: SymbolAgentConfig | None = None, encoder: FeatureEncoder | None = None) -> None:
        super().__init__()
        self.config = config = config or SymbolAgentConfig.preset("compact")
        if encoder is not None and encoder.config != config.encoder:
            raise InvalidParameterError(
                f"the shared encoder's config {encoder.config} differs from the agent's {config.encoder}")
        self.encoder = encoder if encoder is not None else FeatureEncoder(config.encoder)
        width = config.encoder.output_dim
        self.actor = mlp_head(width, config.actor_hidden, config.n_actions, ACTOR_OUTPUT_GAIN)
        self.critic = mlp_head(width, config.critic_hidden, 1, CRITIC_OUTPUT_GAIN)

    def forward(self, obs: Mapping[str, torch.Tensor], return_attention: bool = False):
        """Masked logits ``[B, n_actions]`` and values ``[B]`` (plus the encoder's attention if asked).

        The mask is ``obs["action_mask"]`` (``True`` = allowed) when present; without it nothing is
        masked.
        """
        if return_attention:
            embedding, attention = self.encoder(obs, return_attention=True)
        else:
            embedding = self.encoder(obs)
        logits = mask_logits(self.actor(embedding), obs.get("action_mask"))
        value = self.critic(embedding).squeeze(-1)
        return (logits, value, attention) if return_attention else (logits, value)

    @torch.no_grad()
    def act(self, obs: Mapping[str, torch.Tensor], deterministic: bool = False,
            generator: torch.Generator | None = None) -> AgentStep:
        """Choose actions for a batch (no gradients): argmax if ``deterministic``, else a sample.

        ``generator`` makes the sampling reproducible without touching torch's global seed.
        """
        logits, values = self(obs)
        log_probs = torch.log_softmax(logits, dim=-1)
        if deterministic:
            actions = logits.argmax(dim=-1)
        else:
            actions = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(-1)
        return AgentStep(actions, log_probs.gather(-1, actions[:, None]).squeeze(-1), values)

    def evaluate_actions(self, obs: Mapping[str, torch.Tensor],
                         actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies of ``actions`` ``[B]`` under the masked policy, and values (PPO)."""
        logits, values = self(obs)
        log_probs = torch.log_softmax(logits, dim=-1)
        # Masked actions have probability 0, so their (finite) log-probability adds nothing.
        entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
        return log_probs.gather(-1, actions.long()[:, None]).squeeze(-1), entropy, values


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters (a shared module counted once)."""
    return sum(p.numel() for p in module.parameters())


def parameter_sharing_report(n_agents: int, config: SymbolAgentConfig | None = None) -> dict[str, float]:
    """Parameters of ``n_agents`` symbol agents with and without one shared encoder.

    Returns:
        ``encoder``, ``heads`` (per agent), ``per_agent``, ``without_sharing``
        (``n * per_agent``), ``with_sharing`` (``encoder + n * heads``) and ``saved_fraction``.
    """
    if isinstance(n_agents, bool) or not isinstance(n_agents, int) or n_agents < 1:
        raise InvalidParameterError(f"n_agents must be a positive integer, got {n_agents!r}")
    agent = SymbolAgent(config)
    encoder = count_parameters(agent.encoder)
    heads = count_parameters(agent.actor) + count_parameters(agent.critic)
    without = n_agents * (encoder + heads)
    with_sharing = encoder + n_agents * heads
    return {
        "n_agents": n_agents,
        "encoder": encoder,
        "heads": heads,
        "per_agent": encoder + heads,
        "without_sharing": without,
        "with_sharing": with_sharing,
        "saved_fraction": 1.0 - with_sharing / without,
    }


ARCHITECTURE = "symbol_agent"
"""The model card's ``architecture`` of a symbol-agent checkpoint."""


def build_symbol_agent(card_config: Mapping[str, Any]) -> SymbolAgent:
    """The untrained agent a card's ``config`` describes (the ``build`` of ``load_checkpoint``)."""
    agent = dict(card_config["agent"])
    return SymbolAgent(SymbolAgentConfig(
        encoder=EncoderConfig(**agent["encoder"]), actor_hidden=tuple(agent["actor_hidden"]),
        critic_hidden=tuple(agent["critic_hidden"]), n_actions=agent["n_actions"]))
