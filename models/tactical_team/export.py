"""The tactical team as one exportable graph: every agent's decision and what it looked at.

The three actors read the same window, so they export as one graph (one onnxruntime call per bar
instead of three): :class:`DecidingTacticalTeam` takes the window ``[B, 60, 7]`` and returns every
agent's logits ``[B, agents, 3]``, its feature attention ``[B, agents, 7]`` and the critic's values
``[B, agents]``. The torch runtime runs this module and the ONNX runtime its export
(:data:`TACTICAL_TEAM_GRAPH`); the parity report measures each agent's logits and decisions
(``strategies.families.tactical_team``). The vote that joins the agents' decisions is not in the
graph: it is the policy's rule (``engine.votes``), the same for both runtimes.
"""
from __future__ import annotations

import torch
from torch import nn

from models.onnx_export import OnnxGraph
from models.tactical_team.config import N_ACTIONS
from models.tactical_team.network import TacticalTeam

WINDOW_INPUT = "window"
TACTICAL_TEAM_GRAPH = OnnxGraph((WINDOW_INPUT,), ("logits", "attention", "values"), n_actions=N_ACTIONS)
"""Input: the window ``[B, 60, 7]``. Outputs: logits ``[B, agents, 3]``, attention ``[B, agents, 7]``,
values ``[B, agents]``."""


class DecidingTacticalTeam(nn.Module):
    """A :class:`TacticalTeam`'s forward pass as a tuple (what ONNX exports).

    Args:
        team: The team; its parameters stay its own (no copy).
    """

    def __init__(self, team: TacticalTeam) -> None:
        super().__init__()
        self.team = team

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.team(window)
        return out.logits, out.attention, out.values
