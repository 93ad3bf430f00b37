"""The review report's interactive plots (bokeh figures from plain arrays and frames).

Each builder takes data already read from the runs and returns a bokeh figure as wide as the report,
with pan, zoom, hover, axes that read as money, percentages or dates (never ``1.020e+5``) and a legend
whose entries hide their line when clicked; ``workbench.review.report`` embeds them.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    CustomJSTickFormatter,
    HoverTool,
    LinearColorMapper,
    NumeralTickFormatter,
    Span,
)
from bokeh.palettes import Category10_10, RdBu11, Viridis256
from bokeh.plotting import figure

from workbench.runs.formats import DRAWDOWN, colour_scale, format_value, metric_kind

HEIGHT = 340
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


def _money() -> NumeralTickFormatter:
    return NumeralTickFormatter(format="0,0")  # a new model per figure: a model belongs to one document


def _percent() -> NumeralTickFormatter:
    return NumeralTickFormatter(format="0%")


PERCENT_TICKS_JS = """
const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) * 100 : 1;
const digits = step > 0 ? Math.min(4, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
const shown = (tick * 100).toFixed(digits);
return (Math.abs(tick * 100) < Math.pow(10, -digits) / 2 ? (0).toFixed(digits) : shown) + '%';
"""


def percent_ticks() -> CustomJSTickFormatter:
    """Percent ticks with as many decimals as the tick spacing needs: a drawdown of 0.3% reads 0.0%,
    -0.1%, -0.2%, -0.3% rather than 0%, 0%, 0%, 0%; one of 30% reads 0%, -10%, -20%, -30%."""
    return CustomJSTickFormatter(code=PERCENT_TICKS_JS)


def _wide(**options) -> figure:
    return figure(sizing_mode="stretch_width", tools=TOOLS, **options)


def equity_figure(curves: pd.DataFrame, title: str, dashed: Sequence[str] = ()) -> figure:
    """One line per column of ``curves`` (DatetimeIndex rows, equity values); ``dashed`` columns dashed."""
    plot = _wide(title=title, x_axis_type="datetime", height=HEIGHT, y_axis_label="equity")
    plot.yaxis.formatter = _money()
    _lines(plot, curves, "@y{0,0}", dashed)
    return plot


def underwater_figure(curves: pd.DataFrame, title: str) -> figure:
    """Drawdown below the running peak (``equity / cummax - 1``), one line per column."""
    drawdown = curves / curves.cummax() - 1.0
    plot = _wide(title=title, x_axis_type="datetime", height=260, y_axis_label="drawdown")
    plot.yaxis.formatter = percent_ticks()
    _lines(plot, drawdown, "@y{0.00%}")
    return plot


def histogram_figure(values: Mapping[str, Sequence[float]], title: str, x_label: str,
                     threshold: float | None = None, percent: bool = False) -> figure:
    """Overlaid histograms (shared bins) of each named sample; a dashed line marks ``threshold``."""
    samples = {k: np.asarray([v for v in vs if v is not None], float) for k, vs in values.items()}
    pooled = np.concatenate([s for s in samples.values()] or [np.zeros(0)])
    edges = np.histogram_bin_edges(pooled if len(pooled) else np.zeros(1), bins=min(30, max(5, len(pooled) // 3)))
    plot = _wide(title=title, height=HEIGHT, x_axis_label=x_label, y_axis_label="scenarios")
    if percent:
        plot.xaxis.formatter = _percent()
    for i, (name, sample) in enumerate(samples.items()):
        counts, _ = np.histogram(sample, bins=edges)
        source = ColumnDataSource({"left": edges[:-1], "right": edges[1:], "top": counts})
        plot.quad(left="left", right="right", bottom=0, top="top", source=source, fill_alpha=0.45,
                  color=Category10_10[i % 10], legend_label=name)
    if threshold is not None:
        plot.add_layout(Span(location=threshold, dimension="height", line_dash="dashed", line_color="red",
                             line_width=2))
    value = "0.0%" if percent else "0.000"
    plot.add_tools(HoverTool(tooltips=[("from", f"@left{{{value}}}"), ("to", f"@right{{{value}}}"),
                                       ("scenarios", "@top")]))
    plot.legend.click_policy = "hide"
    return plot


def heatmap_figure(surface: np.ndarray, x_values: Sequence[object], y_values: Sequence[object],
                   x_name: str, y_name: str, title: str, metric: str = "") -> figure:
    """A heatmap of ``surface[i, j]`` at ``(x_values[j], y_values[i])``, as wide as the report, with a
    colour bar over the metric's stated range (``workbench.runs.formats.colour_scale``) and each
    cell's value written in it."""
    surface = np.asarray(surface, float)
    xs = [format_value(x_name, v) if isinstance(v, (int, float)) else str(v) for v in x_values]
    ys = [format_value(y_name, v) if isinstance(v, (int, float)) else str(v) for v in y_values]
    grid_x, grid_y = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
    scale = colour_scale(metric, surface)
    palette = RdBu11 if scale.diverging else (tuple(reversed(Viridis256)) if metric_kind(metric) == DRAWDOWN
                                              else Viridis256)
    mapper = LinearColorMapper(palette=palette, low=scale.low, high=scale.high, nan_color="lightgrey")
    source = ColumnDataSource({"x": [xs[j] for j in grid_x.ravel()], "y": [ys[i] for i in grid_y.ravel()],
                               "value": surface.ravel(),
                               "text": [format_value(metric, v) for v in surface.ravel()]})
    plot = figure(title=title, x_range=xs, y_range=ys, sizing_mode="stretch_width",
                  height=max(220, min(520, 110 + 46 * len(ys))), tools="hover,save", x_axis_label=x_name,
                  y_axis_label=y_name, tooltips=[(x_name, "@x"), (y_name, "@y"), (metric or "value", "@text")])
    plot.rect(x="x", y="y", width=1, height=1, source=source, line_color=None,
              fill_color={"field": "value", "transform": mapper})
    plot.text(x="x", y="y", text="text", source=source, text_align="center", text_baseline="middle",
              text_font_size="9pt")
    plot.add_layout(ColorBar(color_mapper=mapper, title=scale.text[:90], title_text_font_size="8pt"), "below")
    return plot


def line_figure(x_values: Sequence[object], y_values: Sequence[float], x_name: str, title: str,
                metric: str = "") -> figure:
    """A one-axis sensitivity curve (a sweep over a single parameter)."""
    xs = [format_value(x_name, v) if isinstance(v, (int, float)) else str(v) for v in x_values]
    plot = figure(title=title, x_range=xs, sizing_mode="stretch_width", height=HEIGHT, tools="hover,save",
                  x_axis_label=x_name, tooltips=[(x_name, "@x"), ("value", "@text")])
    values = np.asarray(y_values, float)
    source = ColumnDataSource({"x": xs, "y": values, "text": [format_value(metric, v) for v in values]})
    plot.line(x="x", y="y", source=source)
    plot.scatter(x="x", y="y", source=source, size=6)
    return plot


def _lines(plot: figure, curves: pd.DataFrame, value_format: str, dashed: Sequence[str] = ()) -> None:
    for i, column in enumerate(curves.columns):
        source = ColumnDataSource({"x": curves.index, "y": curves[column].to_numpy(float),
                                   "name": [str(column)] * len(curves)})
        plot.line(x="x", y="y", source=source, color=Category10_10[i % 10], line_width=1.5,
                  line_dash="dashed" if column in dashed else "solid", legend_label=str(column))
    plot.add_tools(HoverTool(tooltips=[("series", "@name"), ("date", "@x{%F}"), ("value", value_format)],
                             formatters={"@x": "datetime"}))
    plot.legend.click_policy = "hide"
    plot.legend.location = "top_left"
