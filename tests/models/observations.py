"""Random observations with the engine's shapes, shared by the model tests."""
from __future__ import annotations

import torch

from models.symbol_agent.encoder import EncoderConfig


def random_observation(batch: int, seed: int = 0, scale: float = 1.0,
                       config: EncoderConfig | None = None) -> dict[str, torch.Tensor]:
    """A batch of ``N(0, scale^2)`` blocks shaped like ``config`` (compact preset by default)."""
    generator = torch.Generator().manual_seed(seed)
    shapes = (config or EncoderConfig.preset("compact")).block_shapes()
    return {name: scale * torch.randn(batch, *shape, generator=generator) for name, shape in shapes.items()}
