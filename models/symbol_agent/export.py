"""The symbol agent as one exportable graph: what decides and what it saw, from one forward pass.

:class:`DecidingSymbolAgent` takes the six observation entries positionally (the ONNX graph's
inputs) and returns the masked logits that decide, the critic's value and every layer's attention
weights. The torch runtime runs this module and the ONNX runtime its export
(:data:`SYMBOL_AGENT_GRAPH`), so both return the same extras with each decision.
"""
from __future__ import annotations

import torch
from torch import nn

from models.onnx_export import OnnxGraph
from models.spec import OBSERVATION_NAMES
from models.symbol_agent.network import SymbolAgent

SYMBOL_AGENT_GRAPH = OnnxGraph(OBSERVATION_NAMES, ("logits", "value", "attention"))
"""Inputs: the observation entries. Outputs: logits ``[B, 7]``, value ``[B]``, attention
``[B, layers, heads, tokens, tokens]``."""


class DecidingSymbolAgent(nn.Module):
    """A :class:`SymbolAgent` with positional inputs and its value and attention as outputs.

    Args:
        agent: The network; its parameters stay its own (no copy).
    """

    def __init__(self, agent: SymbolAgent) -> None:
        super().__init__()
        self.agent = agent

    def forward(self, technical: torch.Tensor, sl_probs: torch.Tensor, position: torch.Tensor,
                portfolio: torch.Tensor, regime: torch.Tensor,
                action_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, value, attention = self.agent(
            {"technical": technical, "sl_probs": sl_probs, "position": position, "portfolio": portfolio,
             "regime": regime, "action_mask": action_mask}, return_attention=True)
        return logits, value, torch.stack(attention, dim=1)
