"""The shared feature encoder: the symbol agent's dict observation -> one embedding per row.

Tokens (28 per row): the 24 time steps of ``technical`` (each projected from 23 features), then one
token each for ``sl_probs``, ``position``, ``portfolio`` and ``regime``. A sinusoidal position code
is added, Pre-LN transformer layers mix the tokens, a final LayerNorm, a mean over the tokens and a
linear projection give the embedding ``[B, output_dim]``.

The attention is written out here (not ``nn.TransformerEncoderLayer``) so that
``forward(obs, return_attention=True)`` can return every layer's softmax weights per head; without
that flag the fused ``scaled_dot_product_attention`` kernel runs and nothing extra is kept.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS
from engine.features.technical import TECHNICAL_COLUMNS, TECHNICAL_WINDOW
from engine.names import did_you_mean
from engine.observation import PORTFOLIO_FIELDS, POSITION_FIELDS, SL_MODELS

OBSERVATION_BLOCKS: tuple[str, ...] = ("technical", "sl_probs", "position", "portfolio", "regime")
"""Keys of the observation the encoder reads (``action_mask`` is read by the agent, not here)."""


MAX_WIDTH = 8192
"""The widest layer, block or window a network configuration may ask for (the largest preset uses 256)."""
MAX_LAYERS = 64
"""The most layers a network configuration may ask for.

Both bound what an edited model card can make ``load_checkpoint`` build: the network is built from
the card before the weights' shapes can be compared with it."""


def check_size(name: str, value: object, limit: int) -> int:
    """``value`` when it is an integer from 1 to ``limit``; else an InvalidParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidParameterError(f"{name} must be an integer from 1 to {limit}, got {value!r}")
    return value


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of the observation and size of the transformer.

    The observation's widths default to the engine's (``engine.observation``).

    Attributes:
        technical_steps: Rows of the technical window (time steps, one token each).
        technical_features: Features per technical row.
        sl_probs_dim: Width of ``sl_probs``.
        position_dim: Width of ``position``.
        portfolio_dim: Width of ``portfolio``.
        regime_dim: Width of ``regime``.
        d_model: Width of every token.
        n_heads: Attention heads per layer (must divide ``d_model``).
        n_layers: Transformer layers.
        ffn_dim: Hidden width of each layer's feed-forward block.
        output_dim: Width of the embedding.
        dropout: Dropout on attention weights and residual branches (training mode only).
    """

    technical_steps: int = TECHNICAL_WINDOW
    technical_features: int = len(TECHNICAL_COLUMNS)
    sl_probs_dim: int = len(SL_MODELS)
    position_dim: int = len(POSITION_FIELDS)
    portfolio_dim: int = len(PORTFOLIO_FIELDS)
    regime_dim: int = len(REGIME_COLUMNS)
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    ffn_dim: int = 128
    output_dim: int = 64
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "dropout":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                    raise InvalidParameterError(f"EncoderConfig.dropout must be in [0, 1), got {value!r}")
                continue
            check_size(f"EncoderConfig.{item.name}", value, MAX_LAYERS if item.name == "n_layers" else MAX_WIDTH)
        if self.d_model % self.n_heads:
            raise InvalidParameterError(
                f"EncoderConfig.n_heads ({self.n_heads}) must divide d_model ({self.d_model})")

    @property
    def n_tokens(self) -> int:
        """Tokens per row: the technical steps plus one per auxiliary block (28 for the seed)."""
        return self.technical_steps + 4

    def block_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-row shape of every block the encoder reads."""
        return {
            "technical": (self.technical_steps, self.technical_features),
            "sl_probs": (self.sl_probs_dim,),
            "position": (self.position_dim,),
            "portfolio": (self.portfolio_dim,),
            "regime": (self.regime_dim,),
        }

    @classmethod
    def preset(cls, name: str, **overrides) -> EncoderConfig:
        """A named configuration (see :data:`ENCODER_PRESETS`), optionally with fields overridden."""
        if name not in ENCODER_PRESETS:
            raise InvalidParameterError(
                f"unknown encoder preset {name!r} (use one of {', '.join(ENCODER_PRESETS)})."
                + did_you_mean(name, ENCODER_PRESETS))
        return replace(ENCODER_PRESETS[name], **overrides)


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # The symbol-agent specification's size (docs/design.md, symbol agent; "seed" is not a random seed):
    # 4 Pre-LN layers of width 256.
    "seed": EncoderConfig(d_model=256, n_heads=8, n_layers=4, ffn_dim=1024, output_dim=256, dropout=0.1),
    # Trains on two CPU cores in minutes; see docs/models.md for its measured speed.
    "compact": EncoderConfig(d_model=64, n_heads=4, n_layers=2, ffn_dim=128, output_dim=64, dropout=0.1),
}


def sinusoidal_encoding(n_positions: int, d_model: int) -> torch.Tensor:
    """The sine/cosine position code ``[n_positions, d_model]`` of "Attention Is All You Need"."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    code = torch.zeros(n_positions, d_model)
    code[:, 0::2] = torch.sin(position * frequency)
    code[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return code


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that can hand back its weights."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over the tokens of ``x`` ``[B, T, d]``.

        Returns:
            The mixed tokens ``[B, T, d]`` and, when asked, the softmax weights ``[B, heads, T, T]``
            (before dropout, so every row sums to one).
        """
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        dropout = self.dropout if self.training else 0.0
        if return_attention:
            weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
            mixed = F.dropout(weights, dropout, self.training) @ v
        else:
            weights = None
            mixed = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.out(mixed.transpose(1, 2).reshape(batch, tokens, width)), weights


class EncoderLayer(nn.Module):
    """One Pre-LN transformer layer: ``x + attn(LN(x))``, then ``x + ffn(LN(x))``."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.d_model)
        self.attention = SelfAttention(config.d_model, config.n_heads, config.dropout)
        self.ffn_norm = nn.LayerNorm(config.d_model)
        self.ffn = nn.Sequential(
            nn.Linear(config.d_model, config.ffn_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.ffn_dim, config.d_model),
        )
        self.residual_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        mixed, weights = self.attention(self.attention_norm(x), return_attention)
        x = x + self.residual_dropout(mixed)
        x = x + self.residual_dropout(self.ffn(self.ffn_norm(x)))
        return x, weights


class FeatureEncoder(nn.Module):
    """Transformer over the 28 tokens of a dict observation (see the module docstring).

    Args:
        config: Sizes; ``EncoderConfig.preset("compact")`` when omitted.
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EncoderConfig.preset("compact")
        self.projections = nn.ModuleDict({
            name: nn.Linear(shape[-1], config.d_model) for name, shape in config.block_shapes().items()
        })
        # Not persistent: it is a pure function of the config, so checkpoints need not carry it.
        self.register_buffer("position_code", sinusoidal_encoding(config.n_tokens, config.d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(config.d_model)
        self.output = nn.Linear(config.d_model, config.output_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases for every linear map; LayerNorms at (1, 0)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def tokens(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The position-coded input tokens ``[B, 28, d_model]`` of an observation."""
        check_observation(obs, self.config)
        technical = self.projections["technical"](obs["technical"])
        single = [self.projections[name](obs[name]).unsqueeze(1) for name in OBSERVATION_BLOCKS[1:]]
        return torch.cat([technical, *single], dim=1) + self.position_code

    def forward(self, obs: Mapping[str, torch.Tensor], return_attention: bool = False):
        """Encode a batch of observations.

        Args:
            obs: The dict observation as float tensors with a leading batch axis (extra keys such as
                ``action_mask`` are ignored).
            return_attention: Also return every layer's attention weights.

        Returns:
            The embedding ``[B, output_dim]``; with ``return_attention`` the pair
            ``(embedding, [weights [B, heads, 28, 28] per layer])``.
        """
        x = self.tokens(obs)
        attention = []
        for layer in self.layers:
            x, weights = layer(x, return_attention)
            attention.append(weights)
        embedding = self.output(self.final_norm(x).mean(dim=1))
        return (embedding, attention) if return_attention else embedding


def check_observation(obs: Mapping[str, torch.Tensor], config: EncoderConfig) -> None:
    """Raise :class:`InvalidParameterError` unless ``obs`` holds every block with the config's shape."""
    missing = [name for name in OBSERVATION_BLOCKS if name not in obs]
    if missing:
        raise InvalidParameterError(
            f"observation lacks {', '.join(missing)}; the encoder reads {', '.join(OBSERVATION_BLOCKS)}")
    batch = obs["technical"].shape[0] if obs["technical"].dim() else None
    for name, shape in config.block_shapes().items():
        value = obs[name]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise InvalidParameterError(
                f"observation[{name!r}] must be a float tensor (use models.symbol_agent.encoder.as_tensors on numpy arrays)")
        if tuple(value.shape[1:]) != shape or value.dim() != len(shape) + 1 or value.shape[0] != batch:
            raise InvalidParameterError(
                f"observation[{name!r}] has shape {tuple(value.shape)}; expected [{batch}, "
                f"{', '.join(map(str, shape))}] (a leading batch axis, the same for every block)")


def as_tensors(obs: Mapping[str, object], device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
    """Torch tensors of a numpy observation (float blocks as float32, ``action_mask`` as bool)."""
    out = {}
    for name, value in obs.items():
        tensor = torch.as_tensor(value, device=device)
        out[name] = tensor.to(torch.bool) if name == "action_mask" else tensor.to(torch.float32)
    return out
