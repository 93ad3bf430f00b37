"""Sweeps: a grid of costs, slippage and limits as one batch on the real market
(``workbench.experiments.sweep``), stored with its surfaces and break-even cost."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from engine.scenarios import ScenarioParams, parameter_grid
from workbench.experiments.sweep import SweepOptions, SweepResult, run_sweep, sweep_axes
from workbench.runs import report_html, report_plots
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, ScenarioRows, StoredRunLike
from workbench.runs.spec import RunSpec, parse_options

SURFACES = ("sharpe", "total_return", "max_drawdown")
"""The metrics whose surfaces the report draws."""


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
            for metric in SURFACES:
                surface = (run.summary.get("surfaces") or {}).get(metric)
                if surface is None:
                    continue
                key = f"sweep_{run.info.run_id}_{metric}"
                parts.append(_surface_plot(key, plots, np.asarray(surface, dtype=float), axes,
                                           f"{run.info.run_id}: {metric}"))
            break_even = run.summary.get("break_even") or {}
            points = break_even.get("points") if isinstance(break_even, Mapping) else None
            if points:
                parts.append(report_html.subheading(
                    f"Break-even {break_even.get('axis')} (excess return crosses 0)")
                    + report_html.table(report_html.scalars(points)))
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
                  title: str) -> str:
    """A heatmap over the first two axes with more than one value (a line when only one has),
    the other axes held at their first value."""
    if surface.ndim != len(axes):
        return report_html.note(f"{title}: {surface.ndim}-axis surface for {len(axes)} axes, not plotted")
    varying = [i for i in range(surface.ndim) if surface.shape[i] > 1][:2]
    fixed = [f"{axes[i][0]}={axes[i][1][0]}" for i in range(surface.ndim) if i not in varying and surface.shape[i] > 1]
    title += f" (at {', '.join(fixed)})" if fixed else ""
    sub = surface[tuple(slice(None) if i in varying else 0 for i in range(surface.ndim))]
    if len(varying) == 2:
        (y_name, ys), (x_name, xs) = axes[varying[0]], axes[varying[1]]
        return report_html.plot(key, plots, report_plots.heatmap_figure(sub, xs, ys, x_name, y_name, title))
    if len(varying) == 1:
        name, values = axes[varying[0]]
        return report_html.plot(key, plots, report_plots.line_figure(values, sub, name, title))
    return report_html.note(f"{title}: a single grid point ({float(sub):.4g})")


SWEEP = SweepKind()
