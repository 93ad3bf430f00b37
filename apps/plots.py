"""Bokeh figures of the app's pages. Each builder takes plain pandas/NumPy data and returns a figure;
long series are downsampled (:mod:`apps.downsample`) before they reach the browser."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from bokeh.models import (
    BoxAnnotation,
    ColorBar,
    ColumnDataSource,
    HoverTool,
    Label,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
    Span,
)
from bokeh.palettes import Category10_10, RdBu11, Viridis256
from bokeh.plotting import figure

from apps.downsample import downsample_index
from workbench.services import app as app_services

POINTS = 2000
HEIGHT = 320
PALETTE = Category10_10
POSITIVE, NEGATIVE = "#2ca02c", "#d62728"


def _naive(index: pd.Index) -> pd.DatetimeIndex:
    """UTC timestamps without a zone (Bokeh draws datetimes as UTC milliseconds)."""
    index = pd.DatetimeIndex(index)
    return index.tz_convert(None) if index.tz is not None else index


def _time_figure(title: str, y_label: str, height: int = HEIGHT, x_range=None, **kwargs) -> figure:
    # A fixed left border lines up the plot areas of figures stacked on one time axis.
    options = dict(title=title, x_axis_type="datetime", height=height, sizing_mode="stretch_width",
                   tools="pan,xwheel_zoom,box_zoom,reset,save", toolbar_location="above", min_border_left=80,
                   **kwargs)
    if x_range is not None:
        options["x_range"] = x_range
    plot = figure(**options)
    plot.yaxis.axis_label = y_label
    return plot


def _points(index: pd.DatetimeIndex, values: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    keep = downsample_index(index.asi8, values, POINTS)
    return index[keep], np.asarray(values)[keep]


def equity_figure(curves: pd.DataFrame, title: str = "Equity", highlight: str | None = None,
                  dashed: Sequence[str] = (), normalize: bool = False, x_range=None) -> figure:
    """One line per column of ``curves`` (timestamp index); ``highlight`` drawn thick, ``dashed`` dashed.

    With ``normalize`` each curve is divided by its first finite value (growth of 1).
    """
    plot = _time_figure(title, "growth of 1" if normalize else "equity", x_range=x_range)
    plot.yaxis.formatter = NumeralTickFormatter(format="0.00" if normalize else "0,0")
    index = _naive(curves.index)
    for i, column in enumerate(curves.columns):
        values = curves[column].to_numpy(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        if normalize:
            values = values / finite[0]
        x, y = _points(index, values)
        width = 3 if column == highlight else 1.5
        source = ColumnDataSource({"x": x, "y": y, "name": [str(column)] * len(x)})
        plot.line("x", "y", source=source, line_width=width, color=PALETTE[i % len(PALETTE)],
                  legend_label=str(column)[:40], line_dash="dashed" if column in dashed else "solid")
    plot.add_tools(HoverTool(tooltips=[("curve", "@name"), ("date", "@x{%F}"), ("value", "@y{0,0.00}")],
                             formatters={"@x": "datetime"}))
    if plot.legend and len(curves.columns) > 1:
        plot.legend.click_policy = "hide"
        _legend_above(plot)
    elif plot.legend:
        plot.legend.visible = False
    return plot


def fan_figure(curves: pd.DataFrame, title: str, x_range=None) -> figure:
    """Percentile bands (5-95, 25-75) and the median of many equity curves, each as growth of 1."""
    values = curves.to_numpy(np.float64)
    first = np.array([col[np.isfinite(col)][0] if np.isfinite(col).any() else np.nan for col in values.T])
    growth = values / first
    with np.errstate(all="ignore"):
        bands = np.nanpercentile(growth, [5, 25, 50, 75, 95], axis=1) if np.isfinite(growth).any() else None
    plot = _time_figure(title, "growth of 1", x_range=x_range)
    if bands is None:
        return plot
    index = _naive(curves.index)
    keep = downsample_index(index.asi8, bands.T, POINTS)
    x = index[keep]
    plot.varea(x=x, y1=bands[0][keep], y2=bands[4][keep], fill_alpha=0.2, color=PALETTE[0], legend_label="5-95%")
    plot.varea(x=x, y1=bands[1][keep], y2=bands[3][keep], fill_alpha=0.35, color=PALETTE[0], legend_label="25-75%")
    plot.line(x, bands[2][keep], color=PALETTE[0], line_width=2, legend_label="median")
    plot.legend.location = "top_left"
    return plot


def underwater_figure(curve: pd.Series, episodes: Sequence[Mapping], x_range=None) -> figure:
    """Drawdown below the running peak, with the ``episodes`` (peak to recovery) shaded and numbered."""
    curve = curve.dropna()
    drawdown = curve / curve.cummax() - 1.0
    plot = _time_figure("Underwater (drawdown from the running peak)", "drawdown", height=220, x_range=x_range)
    plot.yaxis.formatter = NumeralTickFormatter(format="0.0%")
    index = _naive(drawdown.index)
    x, y = _points(index, drawdown.to_numpy())
    plot.varea(x=x, y1=np.zeros(len(y)), y2=y, color=NEGATIVE, fill_alpha=0.4)
    last = index[-1] if len(index) else None
    for number, episode in enumerate(episodes, start=1):
        left = _naive(pd.DatetimeIndex([episode["peak_date"]]))[0]
        end = episode.get("recovery_date")
        right = _naive(pd.DatetimeIndex([end]))[0] if end else last
        plot.add_layout(BoxAnnotation(left=left, right=right, fill_alpha=0.12, fill_color="orange"))
        plot.add_layout(Label(x=left, y=-float(episode["depth"]), text=f"#{number} {episode['depth']:.1%}",
                              text_font_size="8pt", y_offset=-12))
    return plot


def price_trades_figure(close: pd.Series, trades: pd.DataFrame, symbol: str, x_range=None) -> figure:
    """The symbol's close with its buys (green up) and sells (red down) at their fill prices."""
    plot = _time_figure(f"{symbol}: close and trades", "price", x_range=x_range)
    index = _naive(close.index)
    x, y = _points(index, close.to_numpy(np.float64))
    plot.line(x, y, color="#555555", legend_label="close")
    plot.yaxis.formatter = NumeralTickFormatter(format="0,0.00")
    for side, marker, color in (("buy", "triangle", POSITIVE), ("sell", "inverted_triangle", NEGATIVE)):
        rows = trades[trades["side"] == side]
        if rows.empty:
            continue
        source = ColumnDataSource({"x": _naive(rows["timestamp"]), "y": rows["price"].to_numpy(np.float64),
                                   "units": rows["units"].to_numpy(np.float64)})
        plot.scatter("x", "y", source=source, marker=marker, size=9, color=color, legend_label=f"{side} ({len(rows)})")
    plot.add_tools(HoverTool(tooltips=[("date", "@x{%F}"), ("price", "@y{0,0.00}")], formatters={"@x": "datetime"}))
    plot.legend.location = "top_left"
    return plot


def stacked_share_figure(shares: pd.DataFrame, title: str, y_label: str = "share of decisions",
                         x_range=None) -> figure:
    """Stacked areas of ``shares`` columns over its (time bucket) index."""
    plot = _time_figure(title, y_label, height=240, x_range=x_range)
    if shares.empty:
        return plot
    frame = shares.copy()
    frame.index = _naive(frame.index)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    source = ColumnDataSource(frame.reset_index().rename(columns={frame.index.name or "index": "x"}))
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(columns))]
    plot.varea_stack(stackers=columns, x="x", source=source, color=colors, legend_label=columns)
    plot.y_range = Range1d(0, 1)
    plot.yaxis.formatter = NumeralTickFormatter(format="0%")
    _legend_above(plot)
    return plot


def _legend_above(plot: figure) -> None:
    """Move the figure's legend above the plot area (one row), where it hides no data and keeps the
    plot as wide as the figures it is aligned with."""
    legend = plot.legend[0]
    plot.center.remove(legend)
    legend.orientation = "horizontal"
    legend.label_text_font_size = "8pt"
    legend.spacing = 8
    plot.add_layout(legend, "above")


def line_figure(series: pd.Series, title: str, y_label: str, x_range=None) -> figure:
    """One downsampled line over a time index."""
    plot = _time_figure(title, y_label, height=240, x_range=x_range)
    x, y = _points(_naive(series.index), series.to_numpy(np.float64))
    plot.line(x, y, color=PALETTE[0], line_width=1.5)
    return plot


def signed_stack_figure(parts: pd.DataFrame, title: str, x_range=None) -> figure:
    """Bars per time bucket, each column's positive part stacked up and its negative part stacked down."""
    plot = _time_figure(title, "reward", height=280, x_range=x_range)
    if parts.empty:
        return plot
    index = _naive(parts.index)
    width = float(np.median(np.diff(index.asi8)) / 1e6 * 0.9) if len(index) > 1 else 86_400_000.0
    columns = [str(c) for c in parts.columns]
    positive = {c: np.clip(parts[c].to_numpy(np.float64), 0, None) for c in columns}
    negative = {c: np.clip(parts[c].to_numpy(np.float64), None, 0) for c in columns}
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(columns))]
    plot.vbar_stack(columns, x="x", width=width, color=colors, source=ColumnDataSource({"x": index, **positive}),
                    legend_label=columns)
    plot.vbar_stack(columns, x="x", width=width, color=colors, source=ColumnDataSource({"x": index, **negative}))
    plot.add_layout(Span(location=0, dimension="width", line_color="#333333", line_width=1))
    _legend_above(plot)
    return plot


def histogram_figure(groups: Mapping[str, np.ndarray], title: str, x_label: str, bins: int = 20,
                     percent: bool = False) -> figure:
    """Overlaid histograms (counts) of each group's finite values over common bins (``percent``: the
    values are fractions, read as percentages)."""
    plot = figure(title=title, height=260, sizing_mode="stretch_width", tools="save,reset",
                  toolbar_location="above")
    values = [np.asarray(v, np.float64)[np.isfinite(np.asarray(v, np.float64))] for v in groups.values()]
    every = np.concatenate(values) if values else np.array([])
    if every.size == 0:
        return plot
    edges = np.histogram_bin_edges(every, bins=bins)
    for i, (name, finite) in enumerate(zip(groups, values)):
        counts, _ = np.histogram(finite, bins=edges)
        plot.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], fill_alpha=0.45,
                  color=PALETTE[i % len(PALETTE)], legend_label=f"{name} ({finite.size})")
    plot.xaxis.axis_label = x_label
    plot.yaxis.axis_label = "scenarios"
    if percent:
        plot.xaxis.formatter = NumeralTickFormatter(format="0%")
    _legend_above(plot)
    return plot


def heatmap_figure(surface: np.ndarray, x_values: Sequence, y_values: Sequence, x_name: str, y_name: str,
                   metric: str, contour: Sequence[tuple[float, float]] = (), scale=None) -> figure:
    """A heatmap of ``surface[y, x]`` on categorical axes, with the break-even ``contour`` drawn over it.

    Colours span ``scale`` (``app_services.colour_scale``: at least a minimum range per metric kind,
    diverging at zero for excess return), stated on the colour bar. ``contour`` points are ``(x, y)``
    in axis values, placed by linear interpolation between the cells, so a break-even between two grid
    values lands between their cells.
    """
    x_labels = [app_services.format_value(x_name, float(v)) for v in x_values]
    y_labels = [app_services.format_value(y_name, float(v)) for v in y_values]
    title = app_services.metric_title(metric)
    plot = figure(title=f"{title} over {x_name} x {y_name}", height=360, sizing_mode="stretch_width",
                  x_range=(-0.5, len(x_labels) - 0.5), y_range=(-0.5, len(y_labels) - 0.5),
                  tools="hover,save", toolbar_location="above",
                  tooltips=[(x_name, "@x_label"), (y_name, "@y_label"), (title, "@text")])
    xs, ys = np.meshgrid(np.arange(len(x_labels)), np.arange(len(y_labels)))
    values = np.asarray(surface, dtype=np.float64)
    scale = scale or app_services.colour_scale(metric, values)
    if scale.diverging:
        palette = RdBu11
    elif app_services.column_format(metric) is not None and app_services.column_format(metric).factor < 0:
        palette = tuple(reversed(Viridis256))  # drawdowns: deeper is darker
    else:
        palette = Viridis256
    mapper = LinearColorMapper(palette=palette, low=scale.low, high=scale.high, nan_color="#dddddd")
    source = ColumnDataSource({
        "x": xs.ravel(), "y": ys.ravel(), "value": values.ravel(),
        "x_label": np.array(x_labels)[xs.ravel()], "y_label": np.array(y_labels)[ys.ravel()],
        "text": [app_services.format_value(metric, v) if np.isfinite(v) else "" for v in values.ravel()],
    })
    plot.rect("x", "y", 1, 1, source=source, fill_color={"field": "value", "transform": mapper}, line_color="white")
    middle = (scale.low + scale.high) / 2
    source.data["text_color"] = ["white" if np.isfinite(v) and (v < middle) != scale.diverging else "black"
                                 for v in values.ravel()]
    plot.text("x", "y", text="text", source=source, text_align="center", text_baseline="middle",
              text_font_size="10pt", text_color="text_color")
    plot.add_layout(ColorBar(color_mapper=mapper, title=title, formatter=NumeralTickFormatter(
        format=app_services.column_format(metric).pattern if app_services.column_format(metric) else "0.00")), "right")
    plot.xaxis.ticker = list(range(len(x_labels)))
    plot.xaxis.major_label_overrides = dict(enumerate(x_labels))
    plot.yaxis.ticker = list(range(len(y_labels)))
    plot.yaxis.major_label_overrides = dict(enumerate(y_labels))
    plot.xaxis.axis_label, plot.yaxis.axis_label = x_name, y_name
    if contour:
        cx = [float(np.interp(x, x_values, np.arange(len(x_values)))) for x, _ in contour]
        cy = [float(np.interp(y, y_values, np.arange(len(y_values)))) if len(y_values) > 1 else 0.0
              for _, y in contour]
        plot.line(cx, cy, color="black", line_width=3, line_dash="dashed", legend_label="break-even")
        plot.scatter(cx, cy, color="black", size=8)
        plot.legend.location = "top_right"
    return plot


def attention_figure(weights: np.ndarray, tokens: Sequence[str], title: str, size: int = 400,
                     queries: Sequence[str] | None = None, high: float | None = None) -> figure:
    """One attention map ``[queries, keys]``: rows are queries, columns keys (``queries`` defaults to
    the key tokens: self-attention), with a colour bar of the weights from 0 to ``high`` (default the
    map's largest weight; give the same ``high`` to maps that are compared)."""
    tokens = [str(t) for t in tokens]
    queries = tokens if queries is None else [str(q) for q in queries]
    height = size if len(queries) > 1 else max(160, size // 3)
    plot = figure(title=title, width=size + 70, height=height, x_range=tokens, y_range=list(reversed(queries)),
                  tools="hover,save", toolbar_location=None, tooltips=[("query", "@query"), ("key", "@key"),
                                                                        ("weight", "@weight{0.000}")])
    q, k = np.meshgrid(np.arange(len(queries)), np.arange(len(tokens)), indexing="ij")
    top = high if high is not None else float(np.max(weights))
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=max(top, 1e-6))
    source = ColumnDataSource({"query": np.array(queries)[q.ravel()], "key": np.array(tokens)[k.ravel()],
                               "weight": np.asarray(weights, np.float64).ravel()})
    plot.rect("key", "query", 1, 1, source=source, fill_color={"field": "weight", "transform": mapper},
              line_color=None)
    plot.add_layout(ColorBar(color_mapper=mapper, width=10, title="weight", title_text_font_size="8pt",
                             major_label_text_font_size="8pt"), "right")
    plot.xaxis.major_label_orientation = 1.2
    plot.axis.major_label_text_font_size = "8pt"
    plot.xaxis.axis_label, plot.yaxis.axis_label = "key token", "query token"
    plot.title.text_font_size = "10pt"
    return plot


def attribution_figure(scores: pd.DataFrame, title: str) -> figure:
    """Horizontal bars of ``scores`` (columns ``feature``, ``score``), largest on top."""
    frame = scores.sort_values("score")
    plot = figure(title=title, y_range=list(frame["feature"]), height=max(220, 16 * len(frame) + 60),
                  sizing_mode="stretch_width", tools="hover,save", toolbar_location="above",
                  tooltips=[("feature", "@feature"), ("share", "@score{0.0%}")])
    plot.hbar(y="feature", right="score", height=0.8, source=ColumnDataSource(frame), color=PALETTE[0])
    plot.xaxis.axis_label = "share of |gradient x input|"
    return plot


def mark_time(plot: figure, timestamp: pd.Timestamp) -> None:
    """A vertical line at ``timestamp`` on a time figure."""
    when = _naive(pd.DatetimeIndex([timestamp]))[0]
    plot.add_layout(Span(location=when, dimension="height", line_color="black", line_width=2))


def session_data(series: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Source data of :func:`session_figures`: equity by date (downsampled) and latency by date."""
    index = _naive(series.index)
    equity = series["equity"].to_numpy(np.float64)
    keep = downsample_index(index.asi8, equity, POINTS) if len(equity) else np.array([], dtype=int)
    latency = series["latency_ms"].to_numpy(np.float64)
    decided = np.isfinite(latency)
    return {"x": index[keep], "equity": equity[keep]}, {"x": index[decided], "latency": latency[decided]}


def session_figures(gate_ms: float | None) -> tuple[figure, ColumnDataSource, figure, ColumnDataSource]:
    """Empty figures of a paper session's equity and decision latency by date, and their sources, for a
    live page to refill; the latency gate's threshold is a dashed red line."""
    equity = _time_figure("Paper equity", "equity", height=260)
    equity.yaxis.formatter = NumeralTickFormatter(format="0,0.[00]")  # a flat curve's ticks differ in cents
    equity_source = ColumnDataSource({"x": [], "equity": []})
    equity.line("x", "equity", source=equity_source, color=PALETTE[0], line_width=1.5)
    equity.add_tools(HoverTool(tooltips=[("date", "@x{%F}"), ("equity", "@equity{0,0}")],
                               formatters={"@x": "datetime"}))
    title = "Decision latency per bar" + (f" (gate: p99 under {gate_ms:g} ms, dashed)" if gate_ms is not None else "")
    latency = _time_figure(title, "milliseconds", height=200, x_range=equity.x_range)
    latency_source = ColumnDataSource({"x": [], "latency": []})
    latency.scatter("x", "latency", source=latency_source, size=4, color=PALETTE[1])
    if gate_ms is not None:
        latency.add_layout(Span(location=gate_ms, dimension="width", line_color=NEGATIVE, line_dash="dashed",
                                line_width=2))
    latency.add_tools(HoverTool(tooltips=[("date", "@x{%F}"), ("latency", "@latency{0.00} ms")],
                                formatters={"@x": "datetime"}))
    return equity, equity_source, latency, latency_source
