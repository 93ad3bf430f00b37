"""Sensitivity sweep: the decider over a grid of costs and risk limits, one batch on one market path.

The axes are, in order: ``fees`` and ``slippage`` (the spec's lists) and each key of the ``grid``
option (any numeric risk parameter of ``engine.scenarios.ScenarioParams``), sorted by name. The
scenarios are their cartesian product with the last axis varying fastest
(``engine.scenarios.parameter_grid``), so each metric's surface is the scenarios' values reshaped to
the axes' lengths.

Break-even cost: along the fee axis (the slippage axis when only one fee is given), for every
combination of the other axes, the cost where the excess return over the benchmark (``excess_return``
of ``engine.metrics``: annualized return minus that of an equal-weight buy-and-hold) first reaches
zero, linearly interpolated between the two grid values around the crossing. None, with the
reason, when the excess return is already negative at the lowest cost or stays positive over the
whole grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from engine.rollout import ProgressCallback
from engine.scenarios import from_market, parameter_grid
from engine.scenarios.params import DOMAINS, format_value
from workbench.experiments.common import ScenarioRun, load_universe, regime_history
from workbench.experiments.executors import Executor, evaluate_with
from workbench.experiments.regimes import regime_breakdown
from workbench.runs.evaluate import decider_run_id, spec_decider
from workbench.runs.spec import RunSpec, parse_options
from workbench.store.record import RunRecord

# Numeric risk parameters a grid may vary; fees and slippage have their own axes, cash is not a risk.
SWEEP_KEYS: tuple[str, ...] = tuple(
    name for name, domain in DOMAINS.items()
    if domain.kind != "bool" and name not in ("init_cash", "fees", "slippage"))
SURFACE_METRICS = ("sharpe", "total_return", "max_drawdown")
COST_AXES = ("fees", "slippage")


@dataclass(frozen=True)
class SweepOptions:
    """Options of a sweep run (``RunSpec.options`` of kind ``sweep``).

    Attributes:
        grid: Parameter name (one of :data:`SWEEP_KEYS`) -> list of values, e.g.
            ``{"position_limit": [0.25, 0.5, 1.0]}``. Fees and slippage are the spec's own lists.
        worst: How many worst scenarios the summary lists.
    """

    grid: Any = ()
    worst: int = 5

    def __post_init__(self) -> None:
        try:
            grid = dict(self.grid) if isinstance(self.grid, (Mapping, tuple, list)) else None
        except (TypeError, ValueError):
            grid = None
        if grid is None:
            raise InvalidParameterError(
                f"sweep option grid must map parameter names to lists, e.g. position_limit: [0.5, 1]; "
                f"got {self.grid!r}")
        checked = []
        for key in sorted(grid):
            checked.append((key, axis_values(key, grid[key])))
        object.__setattr__(self, "grid", tuple(checked))
        if isinstance(self.worst, bool) or not isinstance(self.worst, int) or not 1 <= self.worst <= 10_000:
            raise InvalidParameterError(f"sweep option worst {self.worst!r} must be an integer in 1..10000")


def axis_values(key: str, values: Any) -> tuple[float, ...]:
    """The values of grid axis ``key``, checked: a known key, a non-empty list of distinct numbers."""
    if key in COST_AXES:
        raise InvalidParameterError(
            f"sweep grid key {key!r}: fees and slippage have their own lists (--{key} LIST, spec key {key!r})")
    if key not in SWEEP_KEYS:
        raise InvalidParameterError(
            f"sweep grid key {key!r} is unknown; sweepable parameters: {', '.join(SWEEP_KEYS)}."
            + did_you_mean(str(key), SWEEP_KEYS))
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        values = [values]
    if not values:
        raise InvalidParameterError(
            f"sweep grid {key} is an empty list; give at least one value, e.g. {key}=0.5,1")
    numbers = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidParameterError(f"sweep grid {key}: {value!r} is not a finite number")
        numbers.append(float(value))
    check_distinct(key, numbers)
    return tuple(numbers)


def check_distinct(name: str, values: Sequence[float]) -> None:
    """Raise when an axis lists a value twice (the surface would have two cells for one point)."""
    seen = set()
    for value in values:
        if value in seen:
            raise InvalidParameterError(f"sweep axis {name} lists {format_value(value)} twice; list each value once")
        seen.add(value)


def break_even(costs: Sequence[float], excess: Sequence[float | None]) -> tuple[float | None, str | None]:
    """The cost where ``excess`` first reaches zero, interpolated linearly (module docstring).

    Args:
        costs: Distinct cost values of the axis (any order; sorted here).
        excess: Excess return at each cost (None where undefined).

    Returns:
        ``(cost, None)`` or ``(None, reason)``.
    """
    if len(costs) != len(excess) or len(costs) < 2:
        return None, "a break-even needs a cost axis with at least two values"
    order = np.argsort(np.asarray(costs, dtype=np.float64), kind="stable")
    xs = [float(costs[i]) for i in order]
    ys = [excess[i] for i in order]
    for x, y in zip(xs, ys):
        if y is None or not math.isfinite(y):
            return None, f"the excess return is undefined at cost {format_value(x)}"
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y > 0:
            continue
        if i == 0:
            if y == 0:
                return x, None
            return None, (f"the excess return is already negative ({y:+.2%}) at the lowest cost "
                          f"{format_value(x)} ({x * 1e4:g} bp); the break-even lies below the grid")
        x0, y0 = xs[i - 1], ys[i - 1]
        return x0 + y0 * (x - x0) / (y0 - y), None
    return None, (f"the excess return stays positive up to the highest cost {format_value(xs[-1])} "
                  f"({xs[-1] * 1e4:g} bp); the break-even lies above the grid")


@dataclass
class SweepResult(ScenarioRun):
    """A finished sweep; :meth:`summary` is the ``--json`` object."""

    axes: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def summary(self) -> dict[str, Any]:
        """The shared keys plus ``axes`` (name -> values), ``surfaces`` (Sharpe, total return and max
        drawdown as nested lists over the axes) and ``break_even``."""
        base = self.summary_base()
        rows = base["scenarios"]
        shape = tuple(len(values) for _, values in self.axes)
        surfaces = {}
        for metric in SURFACE_METRICS:
            cells = np.empty(len(rows), dtype=object)
            cells[:] = [row[metric] for row in rows]
            surfaces[metric] = cells.reshape(shape).tolist()
        return {**base, "axes": {name: list(values) for name, values in self.axes},
                "surfaces": surfaces, "break_even": self.break_even(rows)}

    def break_even(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Break-even cost per combination of the non-cost axes (first combination also at the top)."""
        axis = next((name for name, values in self.axes if name in COST_AXES and len(values) > 1), None)
        if axis is None:
            return {"axis": None, "metric": "excess_return", "value": None, "points": [],
                    "reason": "one fee and one slippage value: give --fees (or --slippage) with at least two values"}
        names = [name for name, _ in self.axes]
        shape = tuple(len(values) for _, values in self.axes)
        excess = np.empty(len(rows), dtype=object)
        excess[:] = [row["excess_return"] for row in rows]
        excess = excess.reshape(shape)
        k = names.index(axis)
        costs = self.axes[k][1]
        points = []
        for other in np.ndindex(*(n for i, n in enumerate(shape) if i != k)):
            where = list(other)
            where.insert(k, slice(None))
            value, reason = break_even(costs, list(excess[tuple(where)]))
            at = {name: self.axes[i][1][where[i]] for i, name in enumerate(names) if i != k}
            points.append({"at": at, "value": value, "reason": reason})
        return {"axis": axis, "metric": "excess_return", "value": points[0]["value"],
                "reason": points[0]["reason"], "points": points}

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The run for ``RunStore.save_run``."""
        return self.record(self.summary(), tags)


def sweep_axes(spec: RunSpec, options: SweepOptions) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """``(name, values)`` of every axis: fees, slippage, then the grid's keys by name."""
    check_distinct("fees", spec.fees)
    check_distinct("slippage", spec.slippage)
    return (("fees", tuple(spec.fees)), ("slippage", tuple(spec.slippage)), *options.grid)


def run_sweep(spec: RunSpec, progress: ProgressCallback | None = None, executor: Executor | None = None,
              n_chunks: int | None = None) -> SweepResult:
    """Run every grid point of ``spec`` as one batch on the spec's data and measure it.

    With an ``executor`` the scenarios run in ``n_chunks`` chunks there
    (``workbench.experiments.executors.evaluate_with``), with the same results and run id.

    Raises:
        InvalidParameterError: Bad options (unknown grid key, empty or repeated values, a value
            outside its parameter's domain).
    """
    options = parse_options(spec, SweepOptions)
    axes = sweep_axes(spec, options)
    grid = parameter_grid(spec.base_params(), **dict(axes))
    decider = spec_decider(spec)  # before the data, so a bad name fails fast
    data, notes = load_universe(spec)
    batch = from_market(data, [params for _, params in grid], labels=[label for label, _ in grid])
    evaluation = evaluate_with(batch, decider, spec, progress, executor, n_chunks)
    regimes = regime_breakdown(evaluation, data, policy=decider.policy, history=regime_history(spec, data))
    columns = tuple({name: getattr(params, name) for name, _ in axes} for _, params in grid)
    return SweepResult(decider_run_id(spec, data.fingerprint(), decider), spec, data, decider,
                       evaluation, ("grid",) * len(grid), regimes, tuple(notes), options.worst, columns,
                       axes=axes)
