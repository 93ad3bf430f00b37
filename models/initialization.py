"""Initialization of the heads and a check that a fresh network is initialized as intended.

Encoder projections are Xavier-uniform (``FeatureEncoder.reset_parameters``). Heads are orthogonal
(CleanRL / SB3 practice for PPO): hidden layers with gain sqrt(2) for their ReLU, the actor's
output layer with gain 0.01 (near-uniform first policy), the critic's with gain 1. Biases start at 0.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch
from torch import nn

from engine.errors import WorkbenchError

HIDDEN_GAIN = math.sqrt(2.0)
ACTOR_OUTPUT_GAIN = 0.01
CRITIC_OUTPUT_GAIN = 1.0


class InitializationError(WorkbenchError):
    """A network's parameters are not initialized as intended (non-finite, constant, not orthogonal)."""


def mlp_head(in_dim: int, hidden: tuple[int, ...], out_dim: int, output_gain: float) -> nn.Sequential:
    """ReLU MLP ``in -> hidden... -> out`` (layers ``0, 2, ...`` and ``output``), orthogonal, zero biases."""
    layers: dict[str, nn.Module] = {}
    for width in hidden:
        layers[str(len(layers))] = orthogonal_linear(in_dim, width, HIDDEN_GAIN)
        layers[str(len(layers))] = nn.ReLU()
        in_dim = width
    # Named apart from the hidden layers so that reports and checkpoints tell the output layer apart.
    layers["output"] = orthogonal_linear(in_dim, out_dim, output_gain)
    return nn.Sequential(OrderedDict(layers))


def orthogonal_linear(in_dim: int, out_dim: int, gain: float) -> nn.Linear:
    """A linear map with an orthogonal weight scaled by ``gain`` and a zero bias."""
    layer = nn.Linear(in_dim, out_dim)
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    layer.init_gain = gain  # read by verify_initialization
    return layer


def verify_initialization(model: nn.Module, atol: float = 1e-4) -> dict[str, dict[str, float]]:
    """Statistics of every parameter group of a freshly initialized network, raising if one is off.

    Groups fold layer indices (``encoder.layers.*.ffn.*.weight``). Checks: every value finite; every
    weight matrix has a nonzero spread; every layer built by :func:`orthogonal_linear` still satisfies
    ``W W^T = gain^2 I`` (or ``W^T W`` for tall matrices) within ``atol`` per unit gain squared.

    Returns:
        ``{group: {"numel", "mean", "std", "min", "max"}}``.

    Raises:
        InitializationError: naming the parameter and the broken rule.
    """
    values: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not torch.isfinite(parameter).all():
                raise InitializationError(f"parameter {name} holds NaN or Inf")
            if parameter.dim() >= 2 and parameter.numel() > 1 and float(parameter.std()) == 0.0:
                raise InitializationError(f"weight {name} is constant ({float(parameter.flatten()[0])}); "
                                          "it was never initialized or was overwritten")
            values.setdefault(re.sub(r"\.\d+(?=\.)", ".*", name), []).append(parameter.detach().flatten())
        for name, module in model.named_modules():
            gain = getattr(module, "init_gain", None)
            if gain is None:
                continue
            weight = module.weight.detach().double()
            gram = weight @ weight.T if weight.shape[0] <= weight.shape[1] else weight.T @ weight
            error = float((gram - gain**2 * torch.eye(gram.shape[0], dtype=gram.dtype)).abs().max())
            if error > atol * max(gain**2, 1.0):
                raise InitializationError(
                    f"{name}.weight is not orthogonal with gain {gain} (max |W W^T - g^2 I| = {error:.3g})")
    report = {}
    for group, parts in values.items():
        flat = torch.cat(parts).double()
        report[group] = {
            "numel": float(flat.numel()),
            "mean": float(flat.mean()),
            "std": float(flat.std()) if flat.numel() > 1 else 0.0,
            "min": float(flat.min()),
            "max": float(flat.max()),
        }
    return report
