"""A small actor and random observations for the checkpoint, export and neural-policy tests."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.spec import MASKED_LOGIT, OBSERVATION_NAMES, OBSERVATION_SHAPES


class TinyActor(nn.Module):
    """Flatten the five float inputs, one hidden layer, seven masked logits."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        width = sum(int(np.prod(OBSERVATION_SHAPES[n])) for n in OBSERVATION_NAMES if n != "action_mask")
        self.body = nn.Sequential(nn.Linear(width, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, 7)

    def forward(self, technical, sl_probs, position, portfolio, regime, action_mask):
        features = torch.cat([technical.flatten(1), sl_probs, position, portfolio, regime], dim=1)
        logits = self.head(self.body(features))
        return torch.where(action_mask, logits, torch.full_like(logits, MASKED_LOGIT))


def tiny_actor(hidden: int = 8, seed: int = 0) -> TinyActor:
    torch.manual_seed(seed)
    return TinyActor(hidden)


def random_observations(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal floats; HOLD always allowed, every other action with probability 1/2."""
    rng = np.random.default_rng(seed)
    observations = {n: rng.standard_normal((rows, *OBSERVATION_SHAPES[n])).astype(np.float32)
                    for n in OBSERVATION_NAMES if n != "action_mask"}
    mask = rng.random((rows, 7)) < 0.5
    mask[:, 0] = True
    observations["action_mask"] = mask
    return observations
