"""Baseline strategies by name, with typed ``KEY=VALUE`` parameters (the CLI's ``--param``)."""
from __future__ import annotations

import dataclasses

from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from strategies.baselines import BuyAndHold, EqualWeight, Momentum, RandomPolicy, SmaCross

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
        typed[key] = _convert(name, key, value, type(defaults[key]))
    return cls(**typed)


def _convert(name: str, key: str, value: object, kind: type) -> object:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} parameter {key}={value!r} is not a number") from None
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
