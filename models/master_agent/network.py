"""The master (portfolio) agent: target weights over N symbols and cash from per-symbol embeddings.

Inputs are the embeddings ``[B, N, E]`` that frozen symbol agents' encoders give for each symbol
(:func:`symbol_embeddings`) and the scenario's portfolio vector ``[B, 8]``. A learned query, shifted
by the projected portfolio, attends over the symbol tokens (multi-head attention); the pooled context
feeds the critic and the cash score, and each symbol's score reads its own token next to the context.
A softmax over the N symbol scores and the cash score gives weights that sum to 1.

Every per-symbol computation is the same function of the symbol's token and a permutation-invariant
context, so permuting the symbols permutes their weights and leaves cash and the value unchanged.
Absent symbols (``absent[b, n] = True``) are left out of the attention and get weight 0.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
from torch import nn

from engine.errors import InvalidParameterError
from engine.observation import PORTFOLIO_FIELDS
from models.initialization import ACTOR_OUTPUT_GAIN, CRITIC_OUTPUT_GAIN, mlp_head
from models.symbol_agent.encoder import MAX_WIDTH, FeatureEncoder, check_size


@dataclass(frozen=True)
class MasterAgentConfig:
    """Sizes of the master agent.

    Attributes:
        embed_dim: Width of a symbol embedding (the symbol encoder's ``output_dim``).
        portfolio_dim: Width of the portfolio vector.
        d_model: Width of the symbol tokens and the attention.
        n_heads: Attention heads (must divide ``d_model``).
        hidden: Hidden width of the score and value heads.
    """

    embed_dim: int = 64
    portfolio_dim: int = len(PORTFOLIO_FIELDS)
    d_model: int = 64
    n_heads: int = 4
    hidden: int = 64

    def __post_init__(self) -> None:
        for item in fields(self):
            check_size(f"MasterAgentConfig.{item.name}", getattr(self, item.name), MAX_WIDTH)
        if self.d_model % self.n_heads:
            raise InvalidParameterError(
                f"MasterAgentConfig.n_heads ({self.n_heads}) must divide d_model ({self.d_model})")


class MasterOutput(NamedTuple):
    """The master agent's decision for a batch."""

    weights: torch.Tensor  # [B, N + 1]: symbols in input order, then cash; rows sum to 1
    value: torch.Tensor  # [B]
    attention: torch.Tensor  # [B, heads, N]: the query's attention over symbols per head
    log_weights: torch.Tensor  # [B, N + 1]: log-softmax of the scores (very negative for absent symbols)


class MasterAgent(nn.Module):
    """Attention-pooling portfolio agent (see the module docstring).

    Args:
        config: Sizes; defaults fit the compact symbol encoder (64-wide embeddings).
    """

    def __init__(self, config: MasterAgentConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MasterAgentConfig()
        self.symbol_proj = nn.Sequential(nn.LayerNorm(config.embed_dim), nn.Linear(config.embed_dim, config.d_model))
        self.portfolio_proj = nn.Linear(config.portfolio_dim, config.d_model)
        self.query = nn.Parameter(torch.randn(1, 1, config.d_model) / config.d_model**0.5)
        self.attention = nn.MultiheadAttention(config.d_model, config.n_heads, batch_first=True)
        self.symbol_score = mlp_head(2 * config.d_model, (config.hidden,), 1, ACTOR_OUTPUT_GAIN)
        self.cash_score = mlp_head(config.d_model, (config.hidden,), 1, ACTOR_OUTPUT_GAIN)
        self.critic = mlp_head(config.d_model, (config.hidden,), 1, CRITIC_OUTPUT_GAIN)
        for layer in (self.symbol_proj[1], self.portfolio_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, embeddings: torch.Tensor, portfolio: torch.Tensor,
                absent: torch.Tensor | None = None) -> MasterOutput:
        """Target weights, value and attention for symbol embeddings ``[B, N, E]`` and portfolios ``[B, P]``.

        Args:
            embeddings: Per-symbol embeddings.
            portfolio: The portfolio vector of each row.
            absent: Optional ``[B, N]`` bool, ``True`` where a symbol is not tradable (weight 0).
        """
        batch, n_symbols = self._check(embeddings, portfolio, absent)
        tokens = self.symbol_proj(embeddings)
        query = self.query.expand(batch, 1, -1) + self.portfolio_proj(portfolio).unsqueeze(1)
        if absent is None:
            absent = torch.zeros(batch, n_symbols, dtype=torch.bool, device=embeddings.device)
        # A row with every symbol absent would make the attention softmax 0/0; let it attend to all
        # (its symbols still get weight 0 below, so it holds cash only).
        attend_mask = absent & ~absent.all(dim=-1, keepdim=True)
        pooled, attention = self.attention(query, tokens, tokens, key_padding_mask=attend_mask,
                                           need_weights=True, average_attn_weights=False)
        context = pooled.squeeze(1)
        pair = torch.cat([tokens, context.unsqueeze(1).expand(-1, n_symbols, -1)], dim=-1)
        scores = self.symbol_score(pair).squeeze(-1).masked_fill(absent, torch.finfo(tokens.dtype).min)
        logits = torch.cat([scores, self.cash_score(context)], dim=-1)
        # log_weights is what a stochastic policy centres its noise on (models.master_agent.policy_network); the
        # log-softmax keeps it accurate where a weight is tiny, unlike log(weights).
        return MasterOutput(torch.softmax(logits, dim=-1), self.critic(context).squeeze(-1), attention.squeeze(2),
                            torch.log_softmax(logits, dim=-1))

    def _check(self, embeddings: torch.Tensor, portfolio: torch.Tensor,
               absent: torch.Tensor | None) -> tuple[int, int]:
        if embeddings.dim() != 3 or embeddings.shape[-1] != self.config.embed_dim or embeddings.shape[1] < 1:
            raise InvalidParameterError(
                f"embeddings have shape {tuple(embeddings.shape)}; expected [B, N >= 1, {self.config.embed_dim}]")
        batch, n_symbols = embeddings.shape[:2]
        if tuple(portfolio.shape) != (batch, self.config.portfolio_dim):
            raise InvalidParameterError(
                f"portfolio has shape {tuple(portfolio.shape)}; expected [{batch}, {self.config.portfolio_dim}]")
        if absent is not None and tuple(absent.shape) != (batch, n_symbols):
            raise InvalidParameterError(f"absent has shape {tuple(absent.shape)}; expected [{batch}, {n_symbols}]")
        return batch, n_symbols


@torch.no_grad()
def symbol_embeddings(encoder: FeatureEncoder, obs: Mapping[str, torch.Tensor], n_symbols: int) -> torch.Tensor:
    """Embeddings ``[S, N, E]`` of the engine's scenario-major batch (row ``s * N + n``) from a frozen encoder.

    Runs without gradients; the caller puts the encoder in eval mode.
    """
    rows = obs["technical"].shape[0]
    if isinstance(n_symbols, bool) or not isinstance(n_symbols, int) or n_symbols < 1 or rows % n_symbols:
        raise InvalidParameterError(
            f"n_symbols must be a positive divisor of the batch ({rows} rows), got {n_symbols!r}")
    embedding = encoder(obs)
    return embedding.view(rows // n_symbols, n_symbols, -1)
