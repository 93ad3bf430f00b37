"""Per-scenario parameters of the execution engine and cartesian grids of them.

A :class:`ScenarioParams` holds one value of every knob the execution kernel and the risk overlay
read per scenario (costs, limits, stops, breakers). The kernel sees them as float64 columns of length
``S`` (:meth:`engine.scenarios.ScenarioBatch.param_array`); booleans become 0/1 there.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from engine.errors import InvalidParameterError
from engine.names import did_you_mean


class _Domain(NamedTuple):
    """Allowed values of one parameter: ``kind`` is "float", "int" or "bool"; bounds are inclusive
    unless the matching ``*_open`` flag is set; ``high`` None means unbounded above."""

    kind: str
    low: float = 0.0
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    def describe(self) -> str:
        if self.kind == "bool":
            return "True or False"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high is None else "]"
        high = "inf" if self.high is None else f"{self.high:g}"
        prefix = "integers in " if self.kind == "int" else ""
        return f"{prefix}{left}{self.low:g}, {high}{right}"

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        if self.high is None:
            return above
        below = value < self.high if self.high_open else value <= self.high
        return above and below


# Field name -> domain. The order is the dataclass order and the order of ``to_dict``.
DOMAINS: dict[str, _Domain] = {
    "init_cash": _Domain("float", 0.0, low_open=True),
    "fees": _Domain("float", 0.0, high=1.0, high_open=True),
    "slippage": _Domain("float", 0.0, high=1.0, high_open=True),
    "spread": _Domain("float", 0.0, high=1.0, high_open=True),
    "position_limit": _Domain("float", 0.0, low_open=True),
    "gross_limit": _Domain("float", 0.0, low_open=True),
    "allow_short": _Domain("bool"),
    "lot_size": _Domain("float", 0.0),
    "stop_loss": _Domain("float", 0.0, high=1.0, high_open=True),
    "trailing_stop": _Domain("float", 0.0, high=1.0, high_open=True),
    "take_profit": _Domain("float", 0.0),
    "max_drawdown": _Domain("float", 0.0, high=1.0, high_open=True),
    "flatten_on_breaker": _Domain("bool"),
    "daily_loss_limit": _Domain("float", 0.0, high=1.0, high_open=True),
    "cooldown_bars": _Domain("int", 0.0, high=1e9),  # bars: beyond any data, inside int64 kernels
}
RISK_KEYS: tuple[str, ...] = tuple(k for k in DOMAINS if k not in ("init_cash", "fees", "slippage"))
"""The risk limits of a scenario (every parameter but cash and costs)."""


def _checked(name: str, value: Any, domain: _Domain) -> Any:
    """``value`` converted to the field's type, or InvalidParameterError naming field, value, range."""
    allowed = domain.describe()
    if domain.kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(
                f"ScenarioParams.{name} = {value!r} is not a boolean; allowed: {allowed}"
            )
        return bool(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InvalidParameterError(
            f"ScenarioParams.{name} = {value!r} is not a number; allowed: {allowed}"
        )
    number = float(value)
    if not domain.contains(number):
        raise InvalidParameterError(
            f"ScenarioParams.{name} = {value!r} is outside its domain; allowed: {allowed}"
        )
    if domain.kind == "int" and number != math.floor(number):
        raise InvalidParameterError(
            f"ScenarioParams.{name} = {value!r} is not a whole number; allowed: {allowed}"
        )
    return int(number) if domain.kind == "int" else number


@dataclass(frozen=True)
class ScenarioParams:
    """Execution and risk parameters of one scenario; validated on construction.

    Attributes:
        init_cash: Starting cash (account currency), > 0.
        fees: Fee as a fraction of traded notional (0.001 = 10 bp), in [0, 1).
        slippage: Fill price moves against the trader by this fraction of the open, in [0, 1).
        spread: Quoted bid-ask spread as a fraction of price; each fill pays half of it, in [0, 1).
        position_limit: Maximum |weight| of one symbol in equity (1.0 = fully invested), > 0.
        gross_limit: Maximum sum of |weights| over symbols (above 1.0 is leverage), > 0.
        allow_short: Whether negative weights are allowed (long-only when False).
        lot_size: Units are traded in multiples of this; 0 trades fractional units.
        stop_loss: Close a position that lost this fraction of its entry price; 0 is off, in [0, 1).
        trailing_stop: Close a position this fraction below its best price since entry; 0 is off.
        take_profit: Close a position that gained this fraction of its entry price; 0 is off.
        max_drawdown: Drawdown breaker: no new entries once equity is this fraction below its peak;
            0 is off, in [0, 1).
        flatten_on_breaker: Whether the breaker also closes every open position.
        daily_loss_limit: No new entries for the rest of the day once the day's loss reaches this
            fraction of the day's starting equity; 0 is off, in [0, 1).
        cooldown_bars: Bars to wait after a stop or breaker exit before a new entry, integer >= 0.
    """

    init_cash: float = 100_000.0
    fees: float = 0.0
    slippage: float = 0.0
    spread: float = 0.0
    position_limit: float = 1.0
    gross_limit: float = 1.0
    allow_short: bool = False
    lot_size: float = 0.0
    stop_loss: float = 0.0
    trailing_stop: float = 0.0
    take_profit: float = 0.0
    max_drawdown: float = 0.0
    flatten_on_breaker: bool = False
    daily_loss_limit: float = 0.0
    cooldown_bars: int = 0

    def __post_init__(self) -> None:
        for name, domain in DOMAINS.items():
            object.__setattr__(self, name, _checked(name, getattr(self, name), domain))
        # Each fill pays slippage plus half the spread; a sell at or beyond 100% would fill at <= 0.
        if self.slippage + self.spread / 2 >= 1.0:
            raise InvalidParameterError(
                f"ScenarioParams: slippage + spread/2 = {self.slippage + self.spread / 2:g} must be "
                f"< 1 (slippage={self.slippage:g}, spread={self.spread:g}); a sell would fill at a "
                "price <= 0"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ScenarioParams":
        """Build from a mapping (a spec file, a CLI override); unknown keys are an error."""
        check_param_names(values)
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain ``{name: value}`` in field order (floats, ints and bools only)."""
        return asdict(self)

    def replace(self, **changes: Any) -> "ScenarioParams":
        """A validated copy with ``changes`` applied; unknown names are an error."""
        check_param_names(changes)
        return replace(self, **changes)


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ScenarioParams))
DEFAULT_PARAMS = ScenarioParams()


def check_param_names(names: Mapping[str, Any] | Sequence[str]) -> None:
    """Raise InvalidParameterError for the first name that is not a ScenarioParams field."""
    for name in names:
        if name not in DOMAINS:
            raise InvalidParameterError(
                f"unknown scenario parameter {name!r}; known parameters are "
                f"{', '.join(PARAM_NAMES)}.{did_you_mean(str(name), PARAM_NAMES)}"
            )


def format_value(value: Any) -> str:
    """A short, stable text for a parameter value in a label (``0.0005``, ``100000``, ``True``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return format(float(value), "g")


LABEL_SEPARATOR = " "
"""Between the ``name=value`` parts of a label: never a comma, so a label is a plain CSV column name."""


def params_label(params: ScenarioParams) -> str:
    """The fields that differ from the defaults, ``"fees=0.001 slippage=0.0005"``, or ``"default"``."""
    changed = [
        f"{name}={format_value(value)}"
        for name, value in params.to_dict().items()
        if value != getattr(DEFAULT_PARAMS, name)
    ]
    return LABEL_SEPARATOR.join(changed) or "default"


def parameter_grid(
    base: ScenarioParams = DEFAULT_PARAMS, **axes: Sequence[Any]
) -> list[tuple[str, ScenarioParams]]:
    """The cartesian product of parameter values, each with a label.

    Order: the axes in the order given, the LAST axis varying fastest (``itertools.product``), so
    ``parameter_grid(fees=[0, 0.001], slippage=[0, 0.0005])`` gives ``fees=0 slippage=0``,
    ``fees=0 slippage=0.0005``, ``fees=0.001 slippage=0``, ``fees=0.001 slippage=0.0005``.
    Fields not named keep ``base``'s values. With no axes the grid is ``[("base", base)]``.

    Raises:
        InvalidParameterError: An unknown axis name (with a suggestion), an empty axis, or a value
            outside its field's domain.
    """
    check_param_names(axes)
    axes = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in axes.items()}
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise InvalidParameterError(
                f"parameter_grid axis {name!r} must be a non-empty list of values, got {values!r}"
            )
    if not axes:
        return [("base", base)]
    grid = []
    for combo in itertools.product(*axes.values()):
        changes = dict(zip(axes, combo))
        label = LABEL_SEPARATOR.join(f"{name}={format_value(value)}" for name, value in changes.items())
        grid.append((label, replace(base, **changes)))
    return grid
