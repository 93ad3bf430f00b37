"""Sweeps: a grid of costs, slippage and limits as one batch on the real market
(``workbench.experiments.sweep``), stored with its surfaces and break-even cost."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from engine.scenarios import ScenarioParams, parameter_grid
from workbench.experiments.sweep import SWEEP_KEYS, SweepOptions, SweepResult, run_sweep, sweep_axes
from workbench.runs import report_html, report_plots
from workbench.runs.formats import MIN_SPAN, format_value, metric_kind, metric_title
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, ScenarioRows, StoredRunLike, as_number
from workbench.runs.spec import RunSpec, parse_options

SURFACES = ("sharpe", "total_return", "max_drawdown")
"""The metrics whose surfaces the report draws."""
COST_AXES = ("fees", "slippage", "spread")
"""Grid axes that are costs: raising one should not improve a result."""
HIGHER_IS_BETTER = ("sharpe", "sortino", "calmar", "total_return", "annualized_return", "excess_return")


class SweepKind(ScenarioRows):
    """A decider over a grid of market parameters, every grid point one scenario of one batch."""

    name = "sweep"
    title = "Sensitivity sweep"
    options = SweepOptions

    def run(self, spec: RunSpec, progress: Progress | None = None) -> SweepResult:
        return run_sweep(spec, progress)

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """Sweeps feed the report only: no gate tests a grid point."""
        return []

    def report_curves(self, run: StoredRunLike) -> None:
        return None

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """Heatmaps (or lines) of each surface and the break-even cost."""
        if not runs:
            return report_html.section("sensitivity", "Sensitivity",
                                       report_html.note("No sweep run among the reviewed runs."))
        parts = []
        for run in runs:
            axes = _axes(run.summary)
            rows = run.summary.get("scenarios") or []
            break_even = run.summary.get("break_even") or {}
            for metric in SURFACES:
                surface = (run.summary.get("surfaces") or {}).get(metric)
                if surface is None:
                    continue
                key = f"sweep_{run.info.run_id}_{metric}"
                parts.append(_surface_plot(key, plots, np.asarray(surface, dtype=float), axes,
                                           f"{run.info.run_id[:8]}: {metric_title(metric)}", metric))
                explanation = against_intuition(rows, str(break_even.get("axis") or "fees"), metric)
                if explanation:
                    parts.append(report_html.note(explanation))
            points = break_even.get("points") if isinstance(break_even, Mapping) else None
            if points:
                parts.append(report_html.subheading(
                    f"Break-even {break_even.get('axis')} (excess return crosses 0)")
                    + report_html.table(break_even_rows(break_even)))
            elif isinstance(break_even, Mapping) and break_even.get("reason"):
                parts.append(report_html.note(f"Break-even cost: {break_even['reason']}"))
        return report_html.section("sensitivity", "Sensitivity", *parts)

    def view(self) -> RunView:
        return RunView(pages=("sensitivity", "attention"))

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """None beyond the metrics rows."""
        return []

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """Every grid point (all on the real market)."""
        axes = sweep_axes(spec, parse_options(spec, SweepOptions))
        return parameter_grid(spec.base_params(), **{name: list(values) for name, values in axes})


def _axes(summary: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """Sweep axes as ``(name, values)``: from a list of ``{name, values}`` or a name -> values mapping."""
    axes = summary.get("axes") or []
    if isinstance(axes, Mapping):
        return [(str(k), list(v)) for k, v in axes.items()]
    return [(str(a.get("name")), list(a.get("values") or [])) for a in axes if isinstance(a, Mapping)]


def _surface_plot(key: str, plots: dict[str, Any], surface: np.ndarray, axes: list[tuple[str, list[Any]]],
                  title: str, metric: str) -> str:
    """A heatmap over the first two axes with more than one value (a line when only one has),
    the other axes held at their first value."""
    if surface.ndim != len(axes):
        return report_html.note(f"{title}: {surface.ndim}-axis surface for {len(axes)} axes, not plotted")
    varying = [i for i in range(surface.ndim) if surface.shape[i] > 1][:2]
    fixed = [f"{axes[i][0]}={format_value(axes[i][0], axes[i][1][0])}" for i in range(surface.ndim)
             if i not in varying and surface.shape[i] > 1]
    title += f" (at {', '.join(fixed)})" if fixed else ""
    sub = surface[tuple(slice(None) if i in varying else 0 for i in range(surface.ndim))]
    if len(varying) == 2:
        (y_name, ys), (x_name, xs) = axes[varying[0]], axes[varying[1]]
        return report_html.plot(key, plots, report_plots.heatmap_figure(sub, xs, ys, x_name, y_name, title, metric))
    if len(varying) == 1:
        name, values = axes[varying[0]]
        return report_html.plot(key, plots, report_plots.line_figure(values, sub, name, title, metric))
    return report_html.note(f"{title}: a single grid point ({format_value(metric, float(sub))})")


def break_even_rows(break_even: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The break-even per grid point: the other axes' values, the break-even (a cost, in basis points
    when the axis is one) and the reason when there is none."""
    axis = str(break_even.get("axis") or "break_even")
    rows = []
    for point in break_even.get("points") or []:
        at = {name: value for name, value in (point.get("at") or {}).items()}
        rows.append({**at, f"break-even {axis}": format_value(axis, point.get("value"))
                     if point.get("value") is not None else "none", "reason": point.get("reason") or ""})
    return rows


def against_intuition(rows: Sequence[Mapping[str, Any]], axis: str, metric: str) -> str | None:
    """Why ``metric`` rises with the cost ``axis`` across a sweep, when it does (costs should lower it).

    Costs change what a decider does, not only what it pays: its decisions see its own account, so a
    costlier grid point is another path. The sentence names what changed between the cheapest and the
    costliest point of the grid line where the metric rose most: trades, exposure, volatility.
    """
    if axis not in COST_AXES or metric not in HIGHER_IS_BETTER or not rows:
        return None
    others = [k for k in rows[0] if k in (*SWEEP_KEYS, "fees", "slippage") and k != axis]
    lines: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        if axis in row and as_number(row.get(metric)) is not None:
            lines.setdefault(tuple(row.get(k) for k in others), []).append(row)
    best = None
    for line in lines.values():
        line = sorted(line, key=lambda r: float(r[axis]))
        if len(line) < 2:
            continue
        rise = float(line[-1][metric]) - float(line[0][metric])
        if rise > 0 and (best is None or rise > best[0]):
            best = (rise, line[0], line[-1])
    if best is None:
        return None
    rise, cheap, dear = best
    text = (f"{metric_title(metric)} rises with {axis} here, from {format_value(metric, cheap[metric])} at "
            f"{axis} {format_value(axis, cheap[axis])} to {format_value(metric, dear[metric])} at "
            f"{format_value(axis, dear[axis])}. Costs change what the decider does, not only what it pays")
    reasons = []
    for key, what in (("n_trades", "trades"), ("exposure", "mean exposure"),
                      ("annualized_volatility", "volatility")):
        low, high = as_number(cheap.get(key)), as_number(dear.get(key))
        if low is not None and high is not None and high != low:
            reasons.append(f"{what} {format_value(key, low)} -> {format_value(key, high)}")
    text += f" ({'; '.join(reasons)})" if reasons else ""
    text += ": the costlier grid point is another path, not the same path with fees deducted."
    if rise < MIN_SPAN.get(metric_kind(metric) or "", 0.0):
        text += f" The rise ({format_value(metric, rise)}) is within the noise of a single path."
    return text


SWEEP = SweepKind()
