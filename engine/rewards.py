"""The seven reward components of the program plan, one formula each, vectorized over any array shape.

A step is one bar: the action decided at bar ``t``'s close fills at ``t + 1``'s open and is judged at
``t + 1``'s close. :class:`StepOutcome` holds what the step did (arrays ``[S, N]`` per symbol or
``[S]`` per account; they broadcast together). Every component lies in ``[-1, 1]``:

===========  =====================================================================================
pnl          ``clip(pnl / equity_before / pnl_scale, -1, 1)``: the step's profit as a fraction of
             the equity it started with; ``pnl_scale`` (1%) of equity earns +1
cost         ``-clip(costs / equity_before / cost_scale, 0, 1)``: fees plus slippage and spread paid;
             ``cost_scale`` (0.1%) of equity costs -1
time         ``clip(ret / time_scale * (1 + hold / time_horizon) ** -sign(ret), -1, 1)`` while a
             position is open, else 0; ``ret`` is the position's return since entry (signed by side),
             ``hold`` the bars it has been held: a gain counts less the longer it took, a loss more
             the longer it is kept
sharpe       ``clip(sharpe / target_sharpe, -1, 1)``: the rolling annualized Sharpe estimate against
             its target (1.0); reaching the target earns +1
drawdown     ``-clip(drawdown / drawdown_scale, 0, 1)``: the fraction below the equity peak;
             ``drawdown_scale`` (10%) below costs -1
sizing       ``clip(1 - |weight - target_weight| / target_weight, -1, 1)`` while a position is open,
             else 0: +1 at the target size, 0 when flat-sized or twice the target, -1 at three times
hold         ``-1`` when the step ended flat without a fill (idle cash), else 0
===========  =====================================================================================

``total = clip(sum_i weight_i * component_i + failed_action_penalty * failed, -1, 1)`` where
``failed`` marks a step whose action was not allowed (masked) or whose policy order was rejected.
With the default weights the sum of weights is 0.90, so the total stays in ``[-0.95, 0.90]`` before
the final clip.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

from engine.errors import InvalidParameterError

REWARD_COMPONENTS: tuple[str, ...] = ("pnl", "cost", "time", "sharpe", "drawdown", "sizing", "hold")
"""Component names, in the order of :class:`RewardWeights`."""


@dataclass(frozen=True)
class RewardWeights:
    """Weight of each component in the total (the program plan's defaults) and the failed-action penalty.

    Attributes:
        pnl, cost, time, sharpe, drawdown, sizing, hold: Non-negative weights.
        failed_action_penalty: Added to the total on a failed action (<= 0).
    """

    pnl: float = 0.40
    cost: float = 0.15
    time: float = 0.15
    sharpe: float = 0.05
    drawdown: float = 0.10
    sizing: float = 0.05
    hold: float = 0.00
    failed_action_penalty: float = -0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidParameterError(f"RewardWeights.{f.name} = {value!r} is not a finite number")
            object.__setattr__(self, f.name, float(value))
        negative = [name for name in REWARD_COMPONENTS if getattr(self, name) < 0.0]
        if negative:
            raise InvalidParameterError(
                f"RewardWeights {', '.join(negative)} are negative; components are already signed "
                "(costs and drawdown are penalties), so weights must be >= 0")
        if self.failed_action_penalty > 0.0:
            raise InvalidParameterError(
                f"RewardWeights.failed_action_penalty = {self.failed_action_penalty} must be <= 0")


@dataclass(frozen=True)
class RewardScales:
    """What counts as a full (+-1) component.

    Attributes:
        pnl_scale: Step profit, as a fraction of equity, that earns +1.
        cost_scale: Costs, as a fraction of equity, that cost -1.
        time_scale: Position return that earns +1 on the bar it was opened.
        time_horizon: Bars after which a gain counts half and a loss double.
        target_sharpe: Annualized Sharpe ratio that earns +1.
        drawdown_scale: Drawdown that costs -1.
        target_weight: Position size (fraction of equity) that earns +1.
    """

    pnl_scale: float = 0.01
    cost_scale: float = 0.001
    time_scale: float = 0.01
    time_horizon: float = 20.0
    target_sharpe: float = 1.0
    drawdown_scale: float = 0.10
    target_weight: float = 0.06

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise InvalidParameterError(f"RewardScales.{f.name} = {value!r} must be a positive number")
            object.__setattr__(self, f.name, float(value))


class StepOutcome(NamedTuple):
    """What one step did; arrays broadcast together (``[S, N]`` per symbol, ``[S]`` or ``[S, 1]``
    per account).

    Attributes:
        pnl: Money earned over the step (equity change, or one symbol's share of it).
        equity_before: Equity at the close before the step (> 0).
        costs: Fees plus slippage and spread paid in the step's fills (money, >= 0).
        position_return: Return of the open position since entry, signed by side (0 when flat).
        hold_bars: Bars the position has been held (0 when flat).
        in_position: Whether a position is open after the step.
        sharpe: Rolling annualized Sharpe estimate after the step.
        drawdown: Fraction of equity below its peak after the step (>= 0).
        weight: |position value| / equity after the step.
        idle: The step ended flat and filled nothing.
        failed: The action was masked, or its order was rejected.
    """

    pnl: np.ndarray
    equity_before: np.ndarray
    costs: np.ndarray
    position_return: np.ndarray
    hold_bars: np.ndarray
    in_position: np.ndarray
    sharpe: np.ndarray
    drawdown: np.ndarray
    weight: np.ndarray
    idle: np.ndarray
    failed: np.ndarray


def reward_components(outcome: StepOutcome, weights: RewardWeights = RewardWeights(),
                      scales: RewardScales = RewardScales()) -> dict[str, np.ndarray]:
    """Every component of :data:`REWARD_COMPONENTS` plus ``"total"``, as float64 arrays.

    Args:
        outcome: The step's before/after quantities.
        weights: Weights of the total.
        scales: Scales of the components.

    Returns:
        ``{name: array}`` with the broadcast shape of ``outcome``'s arrays.
    """
    o = StepOutcome(*(np.asarray(x, dtype=np.float64) for x in outcome))
    shape = np.broadcast_shapes(*(x.shape for x in o))
    held = o.in_position != 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        equity = np.where(o.equity_before > 0.0, o.equity_before, np.inf)
        step_return = o.pnl / equity
        cost_fraction = o.costs / equity
    # A loss is stretched by the time held, a gain shrunk by it: (1 + h/H) ** -sign(ret).
    stretch = (1.0 + o.hold_bars / scales.time_horizon) ** -np.sign(o.position_return)
    components = {
        "pnl": np.clip(step_return / scales.pnl_scale, -1.0, 1.0),
        "cost": -np.clip(cost_fraction / scales.cost_scale, 0.0, 1.0),
        "time": np.where(held, np.clip(o.position_return / scales.time_scale * stretch, -1.0, 1.0), 0.0),
        "sharpe": np.clip(o.sharpe / scales.target_sharpe, -1.0, 1.0),
        "drawdown": -np.clip(o.drawdown / scales.drawdown_scale, 0.0, 1.0),
        "sizing": np.where(held, np.clip(1.0 - np.abs(o.weight - scales.target_weight) / scales.target_weight,
                                         -1.0, 1.0), 0.0),
        "hold": np.where(o.idle != 0.0, -1.0, 0.0),
    }
    components = {k: np.broadcast_to(v, shape).astype(np.float64) for k, v in components.items()}
    total = sum(getattr(weights, k) * components[k] for k in REWARD_COMPONENTS)
    total = total + weights.failed_action_penalty * np.broadcast_to(o.failed != 0.0, shape)
    components["total"] = np.clip(total, -1.0, 1.0)
    return components
