"""The review report's interactive plots (bokeh figures from plain arrays and frames).

Each builder takes data already read from the runs and returns a bokeh figure with pan, zoom,
hover and a legend whose entries hide their line when clicked; ``workbench.review.report`` embeds them.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure

WIDTH, HEIGHT = 900, 320
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


def equity_figure(curves: pd.DataFrame, title: str) -> figure:
    """One line per column of ``curves`` (DatetimeIndex rows, equity values)."""
    plot = figure(title=title, x_axis_type="datetime", width=WIDTH, height=HEIGHT, tools=TOOLS,
                  y_axis_label="equity")
    _lines(plot, curves, "@y{0,0.00}")
    return plot


def underwater_figure(curves: pd.DataFrame, title: str) -> figure:
    """Drawdown below the running peak (``equity / cummax - 1``), one line per column."""
    drawdown = curves / curves.cummax() - 1.0
    plot = figure(title=title, x_axis_type="datetime", width=WIDTH, height=HEIGHT, tools=TOOLS,
                  y_axis_label="drawdown (fraction of peak)")
    _lines(plot, drawdown, "@y{0.00%}")
    return plot


def histogram_figure(values: Mapping[str, Sequence[float]], title: str, x_label: str,
                     threshold: float | None = None) -> figure:
    """Overlaid histograms (shared bins) of each named sample; a dashed line marks ``threshold``."""
    samples = {k: np.asarray([v for v in vs if v is not None], float) for k, vs in values.items()}
    pooled = np.concatenate([s for s in samples.values()] or [np.zeros(0)])
    edges = np.histogram_bin_edges(pooled if len(pooled) else np.zeros(1), bins=min(30, max(5, len(pooled) // 3)))
    plot = figure(title=title, width=WIDTH, height=HEIGHT, tools=TOOLS, x_axis_label=x_label,
                  y_axis_label="scenarios")
    for i, (name, sample) in enumerate(samples.items()):
        counts, _ = np.histogram(sample, bins=edges)
        source = ColumnDataSource({"left": edges[:-1], "right": edges[1:], "top": counts})
        plot.quad(left="left", right="right", bottom=0, top="top", source=source, fill_alpha=0.45,
                  color=Category10_10[i % 10], legend_label=name)
    if threshold is not None:
        plot.ray(x=[threshold], y=[0], length=0, angle=np.pi / 2, line_dash="dashed", color="red")
    plot.add_tools(HoverTool(tooltips=[("from", "@left{0.000}"), ("to", "@right{0.000}"), ("scenarios", "@top")]))
    plot.legend.click_policy = "hide"
    return plot


def heatmap_figure(surface: np.ndarray, x_values: Sequence[object], y_values: Sequence[object],
                   x_name: str, y_name: str, title: str) -> figure:
    """A heatmap of ``surface[i, j]`` at ``(x_values[j], y_values[i])`` with a colour bar."""
    surface = np.asarray(surface, float)
    xs, ys = [str(v) for v in x_values], [str(v) for v in y_values]
    grid_x, grid_y = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
    source = ColumnDataSource({"x": [xs[j] for j in grid_x.ravel()], "y": [ys[i] for i in grid_y.ravel()],
                               "value": surface.ravel()})
    finite = surface[np.isfinite(surface)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    mapper = LinearColorMapper(palette=Viridis256, low=low, high=high if high > low else low + 1e-12,
                               nan_color="lightgrey")
    plot = figure(title=title, x_range=xs, y_range=ys, width=min(WIDTH, 140 + 60 * len(xs)),
                  height=min(480, 120 + 40 * len(ys)), tools="hover,save", x_axis_label=x_name, y_axis_label=y_name,
                  tooltips=[(x_name, "@x"), (y_name, "@y"), ("value", "@value{0.000}")])
    plot.rect(x="x", y="y", width=1, height=1, source=source, line_color=None,
              fill_color={"field": "value", "transform": mapper})
    plot.add_layout(ColorBar(color_mapper=mapper), "right")
    return plot


def line_figure(x_values: Sequence[object], y_values: Sequence[float], x_name: str, title: str) -> figure:
    """A one-axis sensitivity curve (a sweep over a single parameter)."""
    xs = [str(v) for v in x_values]
    plot = figure(title=title, x_range=xs, width=WIDTH, height=HEIGHT, tools="hover,save", x_axis_label=x_name,
                  tooltips=[(x_name, "@x"), ("value", "@y{0.000}")])
    source = ColumnDataSource({"x": xs, "y": np.asarray(y_values, float)})
    plot.line(x="x", y="y", source=source)
    plot.scatter(x="x", y="y", source=source, size=6)
    return plot


def _lines(plot: figure, curves: pd.DataFrame, value_format: str) -> None:
    for i, column in enumerate(curves.columns):
        source = ColumnDataSource({"x": curves.index, "y": curves[column].to_numpy(float),
                                   "name": [str(column)] * len(curves)})
        plot.line(x="x", y="y", source=source, color=Category10_10[i % 10], line_width=1.5,
                  legend_label=str(column))
    plot.add_tools(HoverTool(tooltips=[("series", "@name"), ("date", "@x{%F}"), ("value", value_format)],
                             formatters={"@x": "datetime"}))
    plot.legend.click_policy = "hide"
    plot.legend.location = "top_left"
