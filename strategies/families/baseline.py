"""The baseline family: rule-based strategies by name, with typed ``KEY=VALUE`` parameters (the CLI's
``--param``).

Baselines read the market only (scope ``market``), act through target weights and have no
checkpoint, network, extras to store, explanation or export.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from strategies.baselines import (
    BuyAndHold,
    EqualWeight,
    Momentum,
    RandomPolicy,
    SmaCross,
)
from strategies.family import REFERENCE, ActionInfo, Decider, Explanation, Placement

STRATEGIES = {
    "buy_and_hold": BuyAndHold,
    "equal_weight": EqualWeight,
    "sma_cross": SmaCross,
    "momentum": Momentum,
    "random": RandomPolicy,
}
_FIXED = {"name", "scope", "action_space"}


def strategy_parameters(name: str) -> dict[str, object]:
    """The tunable parameters of strategy ``name`` with their defaults."""
    cls = _strategy_class(name)
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name not in _FIXED}


def make_strategy(name: str, params: dict[str, str | int | float] | None = None):
    """Build strategy ``name``; string values are converted to the parameter's type."""
    cls = _strategy_class(name)
    defaults = strategy_parameters(name)
    typed = {}
    for key, value in (params or {}).items():
        if key not in defaults:
            raise InvalidParameterError(
                f"strategy {name!r} has no parameter {key!r}; it takes "
                f"{', '.join(f'{k}={v}' for k, v in defaults.items()) or 'none'}.{did_you_mean(key, defaults)}"
            )
        typed[key] = parameter_value(name, key, value, type(defaults[key]))
    return cls(**typed)


def parameter_value(name: str, key: str, value: object, kind: type) -> object:
    """``value`` (text or number) as strategy ``name``'s parameter ``key`` of type ``kind`` (int or
    float); a number that is not finite, or not whole for an int, is an InvalidParameterError."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterError(f"{name} parameter {key}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name} parameter {key}={value!r} is not a finite number")
    if kind is int:
        if number != int(number):
            raise InvalidParameterError(f"{name} parameter {key}={value!r} must be a whole number")
        return int(number)
    return float(number)


def _strategy_class(name: str):
    try:
        return STRATEGIES[name]
    except KeyError:
        raise InvalidParameterError(
            f"unknown strategy {name!r}; strategies are {', '.join(STRATEGIES)}.{did_you_mean(name, STRATEGIES)}"
        ) from None


class BaselineFamily:
    """The rule-based strategies of :data:`STRATEGIES` (see the module docstring)."""

    name = "baseline"
    title = "baseline strategy"
    architecture = None

    def make(self, strategy: str, params: Mapping[str, Any] | None = None) -> Decider:
        """The decider of baseline ``strategy`` with ``params`` (strings are converted)."""
        return Decider(str(strategy), self, make_strategy(strategy, dict(params or {})))

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        raise InvalidParameterError(f"{folder}: baselines have no checkpoints; name one with --strategy")

    def observer(self, decider: Decider, batch: ScenarioBatch) -> None:
        """Baselines read the market only."""
        return None

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> None:
        """Baselines read the market only."""
        return None

    def actions(self, decider: Decider) -> ActionInfo:
        """Its action space's actions."""
        return ActionInfo.of(decider.policy.action_space)

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        """Nothing to explain."""
        return 0

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        """A rule's signals are not stored."""
        return {}

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray],
                symbols: tuple[str, ...]) -> Explanation:
        raise InvalidParameterError(
            f"strategy {decider.name!r} is a rule, not a network: it has no attention or attribution")

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        raise InvalidParameterError(f"strategy {decider.name!r} is a rule, not a network: there is nothing to export")


BASELINES = BaselineFamily()
