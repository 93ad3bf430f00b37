"""The master agent as one exportable graph: target weights, value and attention from one forward pass.

:class:`DecidingMasterAgent` takes each scenario's symbol rows stacked ``[K, N, ...]`` (the
observation blocks of the symbol agents) and ``absent`` ``[K, N]`` and returns the master's target
weights ``[K, N + 1]`` (symbols, then cash), its value ``[K]`` and its pooling query's attention
over the symbols ``[K, heads, N]``. The torch runtime runs this module and the ONNX runtime its
export (:data:`MASTER_AGENT_GRAPH`), so both return the same extras with each decision.
"""
from __future__ import annotations

import torch
from torch import nn

from models.master_agent.policy_network import MasterPolicyNetwork
from models.onnx_export import OnnxGraph
from models.symbol_agent.encoder import OBSERVATION_BLOCKS

MASTER_INPUTS: tuple[str, ...] = (*OBSERVATION_BLOCKS, "absent")
MASTER_AGENT_GRAPH = OnnxGraph(MASTER_INPUTS, ("weights", "value", "attention"), decision="weights")
"""Inputs: the five observation blocks ``[K, N, ...]`` and ``absent`` ``[K, N]``. Outputs: weights
``[K, N + 1]``, value ``[K]``, attention ``[K, heads, N]``."""


class DecidingMasterAgent(nn.Module):
    """A :class:`MasterPolicyNetwork`'s deterministic decision with positional, scenario-grouped inputs.

    Args:
        network: The network; its parameters stay its own (no copy).
    """

    def __init__(self, network: MasterPolicyNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, technical: torch.Tensor, sl_probs: torch.Tensor, position: torch.Tensor,
                portfolio: torch.Tensor, regime: torch.Tensor,
                absent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_scenarios, n_symbols = absent.shape
        blocks = (technical, sl_probs, position, portfolio, regime)
        rows = {name: block.reshape((n_scenarios * n_symbols,) + tuple(block.shape[2:]))
                for name, block in zip(OBSERVATION_BLOCKS, blocks)}
        embeddings = self.network.encoder(rows).reshape(n_scenarios, n_symbols, -1)
        # The portfolio slots are the scenario's, repeated on each of its symbol rows.
        out = self.network.master(embeddings, portfolio[:, 0], absent)
        return out.weights, out.value, out.attention
