"""HoloViews charts (Bokeh backend) of the pages whose views are linked or dense: Run detail's stack of
equity, underwater, price and action charts (a range chosen on the equity curve zooms the others),
the density of many scenarios' paths (rasterized into an image rather than drawn as lines), the Runs
page's one-metric bars, a walk-forward's fold layout and a paper session's latency.

Each builder takes plain pandas/NumPy data and returns a HoloViews element; long series are
downsampled (:mod:`apps.downsample`) before they reach the browser.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import holoviews as hv
import numpy as np
import pandas as pd
from bokeh.models import NumeralTickFormatter
from holoviews.plotting.links import RangeToolLink

from apps.downsample import downsample_index
from workbench.runs.report_plots import percent_ticks

hv.extension("bokeh", logo=False)
# Canvas, not WebGL: a few thousand points per chart draw at once on a canvas, while WebGL costs a context
# per plot (software-rendered where the browser has no GPU) before a page of linked charts shows.
hv.renderer("bokeh").webgl = False

POINTS = 2000
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
POSITIVE, NEGATIVE = "#2ca02c", "#d62728"
DATE = hv.Dimension("date", label="date")
OVERVIEW_DATE = hv.Dimension("overview_date", label="date")
"""The equity overview's x axis: a dimension of its own, so it is not zoomed with the charts it controls."""
MONEY, PERCENT = "0,0", "0%"
"""Tick formats (numbro); each chart gets its own formatter model, since a model belongs to one document."""
LEGEND = {"background_fill_alpha": 0.6, "label_text_font_size": "8pt"}
TOOLS = ["hover"]
DENSITY_BINS = 80


def naive(index: pd.Index) -> pd.DatetimeIndex:
    """UTC timestamps without a zone (Bokeh draws datetimes as UTC milliseconds)."""
    index = pd.DatetimeIndex(index)
    return index.tz_convert(None) if index.tz is not None else index


def points(index: pd.Index, values: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The positions of one curve worth drawing (LTTB over its finite values)."""
    index = naive(index)
    values = np.asarray(values, dtype=np.float64)
    keep = downsample_index(index.asi8, values, POINTS)
    return index[keep], values[keep]


def equity_overview(curves: pd.DataFrame, highlight: str, dashed: Sequence[str] = (), height: int = 300) -> hv.Overlay:
    """The chosen scenario (thick) and the dashed baselines; the range chosen on it zooms the linked charts."""
    lines = []
    for i, column in enumerate(curves.columns):
        x, y = points(curves.index, curves[column].to_numpy())
        if not len(x):
            continue
        lines.append(hv.Curve((x, y), OVERVIEW_DATE, hv.Dimension("equity"), label=str(column)[:40]).opts(
            color=PALETTE[i % len(PALETTE)], line_width=3 if column == highlight else 1.5,
            line_dash="dashed" if column in dashed else "solid", tools=TOOLS))
    return hv.Overlay(lines).opts(
        title=f"Equity: {highlight} (drag the dashed box, or its edges, to zoom the charts below)", height=height,
        responsive=True, yformatter=NumeralTickFormatter(format=MONEY), legend_position="top_left", legend_opts=LEGEND,
        show_grid=True)


def underwater(curve: pd.Series, episodes: Sequence[Mapping]) -> hv.Overlay:
    """Drawdown below the running peak with the ``episodes`` (peak to recovery) shaded and numbered."""
    curve = curve.dropna()
    drawdown = curve / curve.cummax() - 1.0
    x, y = points(drawdown.index, drawdown.to_numpy())
    parts = [hv.Area((x, y), DATE, hv.Dimension("drawdown")).opts(color=NEGATIVE, alpha=0.4, tools=TOOLS)]
    last = naive(drawdown.index)[-1] if len(drawdown) else None
    spans, labels = [], []
    for number, episode in enumerate(episodes, start=1):
        left = naive(pd.DatetimeIndex([episode["peak_date"]]))[0]
        end = episode.get("recovery_date")
        spans.append((left, naive(pd.DatetimeIndex([end]))[0] if end else last))
        depth = float(episode["depth"])
        labels.append((left, -depth, f" #{number} -{depth:.{1 if depth >= 0.001 else 2}%}"))
    if spans:  # one glyph for all the episodes' spans and one for their labels: fewer models to build and send
        parts.append(hv.VSpans(spans).opts(color="orange", alpha=0.12))
        parts.append(hv.Labels(labels, [DATE, hv.Dimension("drawdown")], "label").opts(
            text_align="left", text_baseline="top", text_font_size="8pt"))
    return hv.Overlay(parts).opts(title="Underwater (drawdown from the running peak)", height=200, responsive=True,
                                  yformatter=percent_ticks(), show_grid=True)


def price_trades(close: pd.Series, trades: pd.DataFrame, symbol: str) -> hv.Overlay:
    """The symbol's close with its buys (green up) and sells (red down) at their fill prices."""
    x, y = points(close.index, close.to_numpy())
    parts = [hv.Curve((x, y), DATE, hv.Dimension("price"), label="close").opts(color="#555555", tools=TOOLS)]
    for side, marker, color in (("buy", "triangle", POSITIVE), ("sell", "inverted_triangle", NEGATIVE)):
        rows = trades[trades["side"] == side]
        parts.append(hv.Scatter((naive(rows["timestamp"]), rows["price"].to_numpy(np.float64)), DATE,
                                hv.Dimension("price"), label=f"{side} ({len(rows)})").opts(
            marker=marker, size=9, color=color, tools=TOOLS))
    return hv.Overlay(parts).opts(title=f"{symbol}: close and trades", height=240, responsive=True,
                                  yformatter=NumeralTickFormatter(format="0,0.00"), legend_position="top_left",
                                  legend_opts=LEGEND, show_grid=True)


def action_shares(shares: pd.DataFrame, title: str = "Action distribution over time") -> hv.Overlay:
    """Stacked areas of each action's share of decisions per time bucket (actions never chosen are left out:
    an empty area adds a legend entry and a glyph to draw, and nothing to see)."""
    chosen = shares.loc[:, (shares.fillna(0.0) > 0.0).any()]
    shares = chosen if len(chosen.columns) else shares
    index = naive(shares.index)
    areas = [hv.Area((index, shares[column].to_numpy(np.float64)), DATE, hv.Dimension("share"),
                     label=str(column)).opts(color=PALETTE[i % len(PALETTE)])
             for i, column in enumerate(shares.columns)]
    stacked = hv.Area.stack(hv.Overlay(areas)) if areas else hv.Overlay([hv.Area(([], []), DATE, "share")])
    return stacked.opts(title=title, height=200, responsive=True, yformatter=NumeralTickFormatter(format=PERCENT),
                        legend_position="right",
                        ylim=(0, 1))


def mean_target(target: pd.Series) -> hv.Curve:
    """A baseline's mean target weight per symbol over time."""
    x, y = points(target.index, target.to_numpy())
    return hv.Curve((x, y), DATE, hv.Dimension("target")).opts(
        title="Mean target weight per symbol over time", height=200, responsive=True, tools=TOOLS, show_grid=True)


def linked(overview: hv.Element, details: Sequence[hv.Element]) -> hv.Layout:
    """``overview`` above ``details`` in one column: the details share their time axis, and a range tool
    on the overview sets it (HoloViews' ``RangeToolLink``)."""
    details = list(details)
    if details:
        RangeToolLink(overview, details[0], axes=["x"])
    return hv.Layout([overview, *details]).cols(1).opts(shared_axes=True)


def density(curves: pd.DataFrame, title: str, by_bar: bool = False, bins: int = DENSITY_BINS) -> hv.Overlay:
    """Every scenario's path as growth of 1, rasterized: how many paths pass through each cell of a
    (time bucket, growth) grid, with the 5th, 50th and 95th percentile drawn over it.

    ``by_bar`` puts bar numbers on the x axis (synthetic paths have no calendar of their own).
    """
    values = curves.to_numpy(np.float64)
    first = np.array([col[np.isfinite(col)][0] if np.isfinite(col).any() else np.nan for col in values.T])
    growth = values / first
    n_bars = len(growth)
    columns = min(400, max(n_bars, 1))
    bucket = (np.arange(n_bars) * columns // max(n_bars, 1)).astype(np.int64)
    finite = growth[np.isfinite(growth)]
    if finite.size == 0:
        return hv.Overlay([hv.Curve([])]).opts(title=title)
    low, high = np.percentile(finite, [0.5, 99.5])
    high = high if high > low else low + 1e-9
    mask = np.isfinite(growth)
    rows = np.clip(((growth[mask] - low) / (high - low) * bins).astype(np.int64), 0, bins - 1)
    counts = np.zeros((bins, columns))
    np.add.at(counts, (rows, np.broadcast_to(bucket[:, None], growth.shape)[mask]), 1.0)
    counts /= np.maximum(np.bincount(bucket, minlength=columns), 1)[None, :]
    if by_bar:
        x_dim, left, right = hv.Dimension("bar"), 0.0, float(max(n_bars - 1, 1))
        x_values = np.arange(n_bars, dtype=np.float64)
    else:
        index = naive(curves.index)
        x_dim, left, right = DATE, index[0], index[-1]
        x_values = index
    counts[counts == 0] = np.nan
    image = hv.Image(counts[::-1], bounds=(left, low, right, high), kdims=[x_dim, hv.Dimension("growth of 1")],
                     vdims=[hv.Dimension("paths", label="scenarios per bar")]).opts(
        cmap="Blues", colorbar=True, clabel="scenarios through the cell (per bar)", tools=["hover"])
    with np.errstate(all="ignore"):
        bands = np.nanpercentile(growth, [5, 50, 95], axis=1)
    lines = [hv.Curve((x_values, band), x_dim, "growth of 1", label=name).opts(
        color=color, line_width=width, line_dash=dash)
        for band, name, color, width, dash in zip(bands, ("5th percentile", "median", "95th percentile"),
                                                  ("#d62728", "#111111", "#2ca02c"), (1.5, 2, 1.5),
                                                  ("dashed", "solid", "dashed"))]
    return (image * hv.Overlay(lines)).opts(title=title, height=320, responsive=True, legend_position="top_left",
                                            show_grid=True)


def metric_bars(values: Mapping[str, float | None], metric: str, pattern: str = "0.00") -> hv.Bars:
    """One bar per run of ``metric`` (the Runs page's chart of the selected runs)."""
    names = list(values)
    heights = [np.nan if values[n] is None else float(values[n]) for n in names]
    return hv.Bars((names, heights), hv.Dimension("run"), hv.Dimension(metric)).opts(
        title=f"{metric} of the selected runs", height=280, responsive=True, xrotation=20, tools=["hover"],
        yformatter=NumeralTickFormatter(format=pattern), color=PALETTE[0], show_grid=True)


def fold_layout(folds: pd.DataFrame) -> hv.Overlay:
    """Each walk-forward fold as two bars on a date axis: its training window and its test block."""
    parts = []
    for i, fold in enumerate(folds.itertuples()):
        for start, end, color, name in ((fold.train_start, fold.train_end, "#9ecae1", "train"),
                                        (fold.test_start, fold.test_end, "#fd8d3c", "test")):
            left, right = naive(pd.DatetimeIndex([start, end]))
            parts.append(hv.Rectangles([(left, i - 0.35, right, i + 0.35)],
                                       kdims=[DATE, hv.Dimension("fold"), "until", "fold_top"],
                                       label=name).opts(color=color, line_color=None))
    return hv.Overlay(parts).opts(title="Folds: training window (blue) and test block (orange)",
                                  height=max(160, 34 * len(folds) + 80), responsive=True, show_legend=False,
                                  yticks=[(i, f"fold {f}") for i, f in enumerate(folds["fold"])], show_grid=True)


def latency(milliseconds: np.ndarray, timestamps: pd.Index, gate: float | None) -> hv.Overlay:
    """Decision latency per bar of a paper session, with the latency gate's threshold dashed."""
    index = naive(timestamps)
    parts = [hv.Scatter((index, np.asarray(milliseconds, np.float64)), DATE, hv.Dimension("latency (ms)"),
                        label="decision latency").opts(size=3, color=PALETTE[0], tools=TOOLS)]
    if gate is not None:
        parts.append(hv.HLine(gate, label="gate").opts(color=NEGATIVE, line_dash="dashed", line_width=2))
    return hv.Overlay(parts).opts(title="Decision latency per bar" + (f" (gate: under {gate:g} ms)" if gate else ""),
                                  height=220, responsive=True, show_grid=True, legend_position="top_left")
