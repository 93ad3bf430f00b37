"""Sensitivity: launch a sweep over a grid of costs (and a risk limit) in the background, and read
heatmaps of its metrics over two of its axes, with the break-even contour (the cost where the excess
return over the benchmark reaches zero). Colour scales state their range and never stretch over
noise (diverging at zero for returns); a metric that moves against intuition (Sharpe rising with
fees) is explained; the break-even reads as a cost."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import plots
from apps.pages.common import (
    NONE,
    AppContext,
    alert,
    choose_run,
    controls,
    guarded,
    heading,
    note,
    run_options,
    text_table,
)
from apps.pages.launch import Launcher, RunForm, parse_numbers, parse_tags
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services

METRICS = ("sharpe", "total_return", "max_drawdown", "excess_return", "annualized_return", "n_trades", "fees_paid",
           "time_in_market", "exposure")
RESULT_KINDS = ("sweep",)
"""The kinds of run the selector offers."""
GRID_KEYS = ("none", "position_limit", "gross_limit", "stop_loss", "spread")
"""Risk limits a sweep launched here may add as a third axis."""


def surface(rows: pd.DataFrame, x: str, y: str | None, metric: str, fixed: dict[str, float]) -> np.ndarray:
    """``metric`` as a ``[len(y values), len(x values)]`` grid, other axes held at ``fixed``."""
    frame = rows
    for name, value in fixed.items():
        frame = frame[np.isclose(frame[name].astype(float), value)]
    xs = sorted(rows[x].astype(float).unique())
    ys = sorted(rows[y].astype(float).unique()) if y else [0.0]
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, row in frame.iterrows():
        i = ys.index(float(row[y])) if y else 0
        grid[i, xs.index(float(row[x]))] = pd.to_numeric(row[metric], errors="coerce")
    return grid


def contour_points(break_even: dict, x: str, y: str | None, fixed: dict[str, float]) -> list[tuple[float, float]]:
    """Break-even points ``(x, y)`` to draw when ``x`` is the break-even axis, other axes at ``fixed``."""
    if break_even.get("axis") != x:
        return []
    points = []
    for point in break_even.get("points") or []:
        at = point.get("at") or {}
        if point.get("value") is None:
            continue
        if any(not np.isclose(float(at[name]), value) for name, value in fixed.items() if name in at):
            continue
        points.append((float(point["value"]), float(at[y]) if y else 0.0))
    return sorted(points, key=lambda p: p[1])


class SensitivityPage(pn.viewable.Viewer):
    """Heatmaps over a sweep's grid."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Sweep run")
    metric = param.Selector(default="sharpe", objects=list(METRICS))
    x_axis = param.Selector(default=None, objects=[], label="Across")
    y_axis = param.Selector(default=None, objects=[], label="Down")
    grid_key = param.Selector(default="none", objects=list(GRID_KEYS), label="Also vary")
    grid_values = param.String(default="", label="its values (comma-separated)")

    url_parameters = {"run": "run_id"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        store = context.store
        self.form = RunForm(fees="0, 0.0005, 0.001, 0.002, 0.004", slippage="0, 0.001")
        self.form.follow(app_services.form_defaults(store, run_id))
        self.form.param.update(fees="0, 0.0005, 0.001, 0.002, 0.004", slippage="0, 0.001")
        choose_run(self, run_options(store, kinds=RESULT_KINDS), run_id)
        if not self.run_id and len(self.param.run_id.objects) > 1:
            self.run_id = list(self.param.run_id.objects.values())[1]
        self._fixed_widgets: dict[str, pn.widgets.Select] = {}
        self._run_changed()
        self.launcher = Launcher(context, "sweep", "Launch sweep", on_done=self._stored)
        self.launcher.button.on_click(lambda event: self.launch())

    def sweep_spec(self) -> RunSpec:
        """The sweep the form describes: the fees x slippage grid, and a risk limit's values when chosen."""
        options = {}
        if self.grid_key != "none":
            options["grid"] = {self.grid_key: list(parse_numbers(self.grid_values, self.grid_key))}
        return self.form.spec("sweep", options)

    def launch(self):
        """Validate the form and queue the sweep; returns its job (None when the form is invalid)."""
        return self.launcher.launch(self.sweep_spec, parse_tags(self.form.tags))

    def _stored(self, run_id: str) -> None:
        choose_run(self, run_options(self.context.store, kinds=RESULT_KINDS), run_id)

    def run(self):
        return self.context.store.get_run(self.run_id) if self.run_id else None

    def axes(self) -> dict[str, list[float]]:
        """The sweep's axes (name -> values), in the order of its grid."""
        return {k: [float(v) for v in values] for k, values in (self.run().summary.get("axes") or {}).items()}

    def rows(self) -> pd.DataFrame:
        return pd.DataFrame(self.run().summary.get("scenarios") or [])

    def fixed(self) -> dict[str, float]:
        """Values of the axes not shown (their first value unless chosen)."""
        out = {}
        for name, values in self.axes().items():
            if name in (self.x_axis, self.y_axis):
                continue
            widget = self._fixed_widgets.get(name)
            out[name] = float(widget.value) if widget is not None else values[0]
        return out

    @param.depends("run_id", watch=True)
    def _run_changed(self) -> None:
        if not self.run_id:
            self.param.x_axis.objects = self.param.y_axis.objects = []
            return
        axes = self.axes()
        varying = [k for k, v in axes.items() if len(v) > 1] or list(axes)
        break_axis = (self.run().summary.get("break_even") or {}).get("axis")
        x = break_axis if break_axis in varying else varying[0]
        others = [k for k in varying if k != x]
        self.param.x_axis.objects = list(axes)
        self.param.y_axis.objects = list(axes)
        self._fixed_widgets = {name: pn.widgets.Select(label=f"{name} held at", options=values, value=values[0],
                                                       width=160) for name, values in axes.items()}
        for widget in self._fixed_widgets.values():
            widget.param.watch(lambda event: self.param.trigger("metric"), "value")
        self.param.update(x_axis=x, y_axis=others[0] if others else x)

    @param.depends("run_id", "metric", "x_axis", "y_axis")
    def _view(self):
        if not self.run_id:
            return alert("No sweep run is stored: launch one above.", "info")

        def build():
            summary = self.run().summary
            axes = self.axes()
            y = self.y_axis if self.y_axis != self.x_axis else None
            fixed = self.fixed()
            grid = surface(self.rows(), self.x_axis, y, self.metric, fixed)
            break_even = summary.get("break_even") or {}
            contour = contour_points(break_even, self.x_axis, y, fixed)
            scale = app_services.colour_scale(self.metric, grid)
            figure = plots.heatmap_figure(grid, axes[self.x_axis], axes[y] if y else [0.0], self.x_axis,
                                          y or "(one row)", self.metric, contour, scale=scale)
            held = [w for name, w in self._fixed_widgets.items() if name in fixed]
            axis = str(break_even.get("axis"))
            value = break_even.get("value")
            text = (f"Break-even along **{html.escape(axis)}** (the excess return over the benchmark reaches 0): "
                    f"**{html.escape(app_services.format_value(axis, value)) if value is not None else 'none'}**"
                    f"{' - ' + html.escape(str(break_even.get('reason'))) if break_even.get('reason') else ''}")
            explain = (note("The dashed black line is the break-even contour: at lower costs (left of it) the "
                            "decider beats the benchmark after costs, at higher costs it does not.") if contour else
                       note(f"No break-even contour on this view: it is drawn when the across axis is the break-even "
                            f"axis ({axis}) and a break-even lies inside the grid."))
            parts = [pn.Row(*held) if held else pn.Spacer(height=0),
                     pn.pane.Bokeh(figure, sizing_mode="stretch_width"),
                     note(f"Colours: {html.escape(scale.text)}.")]
            intuition = app_services.against_intuition(self.rows().to_dict("records"), self.x_axis, self.metric)
            if intuition:
                parts.append(alert(intuition, "info"))
            parts += [explain, pn.pane.Markdown(text), heading("Break-even per grid point")]
            points = app_services.break_even_rows(break_even)
            parts.append(text_table(points, css_classes=["break-even-table"]) if points else note("none"))
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "sensitivity")

    def __panel__(self):
        choices = controls(pn.widgets.Select.from_param(self.param.run_id, width=520),
                          pn.widgets.Select.from_param(self.param.metric, width=180),
                          pn.widgets.Select.from_param(self.param.x_axis, width=160),
                          pn.widgets.Select.from_param(self.param.y_axis, width=160))
        launch = pn.Column(
            self.form.widgets(),
            pn.Row(pn.widgets.Select.from_param(self.param.grid_key, width=180),
                   pn.widgets.TextInput.from_param(self.param.grid_values, width=260)),
            note("Fees and slippage take comma-separated lists: every combination is one grid point of one batch."),
            self.launcher, sizing_mode="stretch_width")
        return pn.Column(heading("Sensitivity", 2),
                         pn.Accordion(("Launch a sweep", launch), active=[] if self.run_id else [0],
                                      sizing_mode="stretch_width"),
                         choices, self._view, sizing_mode="stretch_width")
