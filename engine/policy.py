"""The one `Policy` protocol that baselines and neural policies (torch, ONNX, imported SB3) implement.

A policy declares its *scope*:

* ``"market"``: it reads market data only (prices, features), never the portfolio. The rollout
  calls ``act_market`` once per distinct price path with all bars, and shares its actions among
  every scenario on that path (a cost grid of 100 scenarios costs one evaluation). The action at
  bar ``t`` must depend on bars ``0..t`` only; ``engine.rollout.check_market_policy_causal``
  verifies that on any policy.
* ``"portfolio"``: its observation includes position and portfolio state, so the rollout calls
  ``act`` once per bar with a batch of ``S * N`` observations (scenario-major).

The action space (``engine.actions``) turns actions into order intents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from engine.actions import ActionSpace
from engine.scenarios.path import PricePath

Scope = Literal["market", "portfolio"]


# What a market-scope policy sees: one complete price path, every bar at once (arrays [T, N]).
MarketView = PricePath


@dataclass
class PolicyOutput:
    """Actions plus the per-decision extras of the same forward pass (probabilities, values, ...).

    For ``act_market`` arrays lead with the bar axis ``[T, N, ...]``; for ``act`` with the batch
    axis ``[S * N, ...]``. Extras are recorded by the rollout under their key at every decision;
    ``explained`` holds the detailed extras (e.g. attention maps) a policy returns only when asked
    (``act(..., explain=True)``), which the rollout keeps at the bars it asked on.
    """

    actions: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    explained: dict[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """What the engine needs from anything that decides: a name, a scope and an action space."""

    name: str
    scope: Scope
    action_space: ActionSpace


@runtime_checkable
class MarketPolicy(Policy, Protocol):
    """A policy of ``"market"`` scope."""

    def act_market(self, view: MarketView) -> PolicyOutput:
        """Actions for every bar of one path, leading axis ``T``."""
        ...


@runtime_checkable
class PortfolioPolicy(Policy, Protocol):
    """A policy of ``"portfolio"`` scope."""

    def act(self, observation: dict[str, np.ndarray]) -> PolicyOutput:
        """Actions for a batch of observations, leading axis ``S * N``.

        A policy with detailed extras also takes ``explain: bool = False`` and fills
        :attr:`PolicyOutput.explained` when it is True; the rollout passes it only when asked to
        (``explain_every``).
        """
        ...
