"""How every figure a run reports reads: a percent, money, a count, a ratio, a cost in basis points.

Each metric's *kind* is declared once in :data:`METRIC_KINDS`; the app's tables, the summary block and
the review report all format through :func:`format_value` (text) or :func:`column_format` (a numeric
column: the factor its values are shown at and a numbro pattern, so a table still sorts by number).
Drawdowns are losses and read negative (``-12.3%``; a change of a drawdown reads negative when it
deepens); costs read in basis points (``10 bp``); a figure too small for its kind's digits keeps its
significant digits (``2.98e-07``), never ``0.0000``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENT, DRAWDOWN, DRAWDOWN_CHANGE, MONEY, COUNT, RATIO, COST, PVALUE, SMALL, MILLISECONDS = (
    "percent", "drawdown", "drawdown change", "money", "count", "ratio", "cost", "p-value", "small", "milliseconds")

METRIC_KINDS: dict[str, str] = {
    **dict.fromkeys(("total_return", "annualized_return", "cagr", "annualized_volatility", "excess_return",
                     "benchmark_return", "benchmark_annualized_return", "exposure", "time_in_market", "win_rate",
                     "share", "positive_fraction", "return", "replay_return", "change_return",
                     "exposure_at_shock", "exposure_at_start", "weight", "volatility",
                     "walkforward_positive_fraction", "hold_share", "mean_cash", "agreement"), PERCENT),
    **dict.fromkeys(("max_drawdown", "depth", "replay_drawdown", "drawdown", "daily_loss", "stress_max_drawdown",
                     "worst_max_drawdown"), DRAWDOWN),
    "change_drawdown": DRAWDOWN_CHANGE,
    **dict.fromkeys(("final_equity", "fees_paid", "cash", "equity", "start_equity", "value"), MONEY),
    **dict.fromkeys(("n_trades", "n_closed_trades", "n_orders", "bars", "train_bars", "test_bars",
                     "max_drawdown_duration", "duration", "n", "n_folds", "trades", "fills", "replay_trades",
                     "bars under water", "peak_bar", "trough_bar", "recovery_bar", "episodes", "timesteps"), COUNT),
    **dict.fromkeys(("sharpe", "sortino", "calmar", "profit_factor", "turnover", "train_sharpe", "sharpe_mean",
                     "sharpe_std", "deflated_sharpe", "psr", "oos_sharpe"), RATIO),
    **dict.fromkeys(("fees", "slippage", "spread", "break_even"), COST),
    **dict.fromkeys(("p_value", "pvalue", "reality_check_pvalue", "pbo"), PVALUE),
    **dict.fromkeys(("onnx_max_abs_logit_diff", "max_abs_diff", "parity"), SMALL),
    **dict.fromkeys(("decision_latency_p99_ms", "decision p99 ms", "latency_ms"), MILLISECONDS),
}
"""Metric name -> how it reads. A name not listed reads as a plain number (:func:`format_number`)."""

METRIC_TITLES: dict[str, str] = {
    "annualized_return": "CAGR", "cagr": "CAGR", "annualized_volatility": "volatility (ann.)",
    "sharpe": "Sharpe", "sortino": "Sortino", "calmar": "Calmar", "max_drawdown": "max drawdown",
    "time_in_market": "time in market", "exposure": "mean exposure", "n_trades": "trades",
    "n_closed_trades": "closed trades", "n_orders": "orders", "total_return": "total return",
    "excess_return": "excess (ann.)", "benchmark_return": "benchmark return", "win_rate": "win rate",
    "profit_factor": "profit factor", "fees_paid": "fees paid", "final_equity": "final equity",
    "max_drawdown_duration": "longest drawdown (bars)", "turnover": "turnover",
    "benchmark_annualized_return": "benchmark CAGR", "change_return": "change in return vs base",
    "change_drawdown": "change in max drawdown vs base", "exposure_at_shock": "exposure when hit",
    "exposure_at_start": "exposure at the start", "replay_return": "return replayed from cash",
    "replay_drawdown": "max drawdown replayed from cash", "replay_trades": "trades replayed from cash",
    "peak_bar": "peak (bar)", "trough_bar": "trough (bar)", "recovery_bar": "recovery (bar)",
}
"""Metric name -> its heading in tables and the summary block (the name itself when not listed)."""


@dataclass(frozen=True)
class ColumnFormat:
    """How a numeric table column shows: values times ``factor`` under ``title``, as numbro ``pattern``."""

    title: str
    factor: float
    pattern: str


_PATTERNS = {PERCENT: ("0.0%", 1.0), DRAWDOWN: ("0.0%", -1.0), DRAWDOWN_CHANGE: ("+0.0%", -1.0),
             MONEY: ("0,0", 1.0), COUNT: ("0,0", 1.0), RATIO: ("0.00", 1.0), COST: ("0,0.0", 1e4),
             PVALUE: ("0.000", 1.0), MILLISECONDS: ("0,0.00", 1.0)}


def metric_kind(name: str) -> str | None:
    """How the metric ``name`` reads (a key's last dotted part counts: ``oos sharpe`` -> ratio)."""
    key = str(name).strip()
    if key in METRIC_KINDS:
        return METRIC_KINDS[key]
    last = key.replace(".", " ").split(" ")[-1]
    return METRIC_KINDS.get(last)


def metric_title(name: str) -> str:
    """The metric's heading (``annualized_return`` -> ``CAGR``)."""
    return METRIC_TITLES.get(name, str(name).replace("_", " "))


def column_format(name: str) -> ColumnFormat | None:
    """How a numeric column named ``name`` shows, or None for a column of no known kind."""
    kind = metric_kind(name)
    if kind not in _PATTERNS:
        return None
    pattern, factor = _PATTERNS[kind]
    title = f"{metric_title(name)} (bp)" if kind == COST else metric_title(name)
    return ColumnFormat(title, factor, pattern)


def format_value(name: str, value: Any) -> str:
    """``value`` of metric ``name`` as text: ``12.3%``, ``-8.0%`` (a drawdown), ``102,345``, ``55``,
    ``0.86``, ``10 bp``; ``n/a`` for a missing value. numpy numbers format as Python's."""
    if isinstance(value, np.integer):
        value = int(value)
    elif isinstance(value, np.floating):
        value = float(value)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if not math.isfinite(value):
        return "n/a"
    kind = metric_kind(name)
    if kind == PERCENT:
        return _percent(value)
    if kind == DRAWDOWN:
        return _percent(-abs(value))
    if kind == DRAWDOWN_CHANGE:
        return ("+" if value < 0 else "") + _percent(-value)
    if kind == MONEY:
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    if kind == COUNT:
        return f"{int(round(value)):,}"
    if kind == RATIO:
        return f"{value:.2f}"
    if kind == COST:
        return _basis_points(value)
    if kind == PVALUE:
        return "< 0.001" if 0 <= value < 0.001 else f"{value:.3f}"
    if kind == SMALL:
        return f"{value:.2e}"
    if kind == MILLISECONDS:
        return f"{value:,.2f} ms" if abs(value) < 100 else f"{value:,.0f} ms"
    return format_number(value)


def format_number(value: Any) -> str:
    """A number of no known kind: integers with separators, floats to four significant digits, tiny
    ones in scientific notation (``2.98e-07``, never ``0.0000``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _percent(value: float) -> str:
    value = value or 0.0  # a zero drawdown negated (-0.0) reads 0.00%, not -0.00%
    if value != 0 and abs(value) < 0.001:
        return f"{value:.3%}"
    if abs(value) < 0.1:
        return f"{value:.2%}"
    return f"{value:.1%}"


def _basis_points(value: float) -> str:
    points = value * 1e4
    if points == 0:
        return "0 bp"
    if abs(points) >= 10:
        return f"{points:,.0f} bp"
    if abs(points) >= 1:
        return f"{points:.1f} bp"
    return f"{points:.2f} bp"


DIVERGING = frozenset({"excess_return", "total_return", "annualized_return", "change_return"})
"""Metrics whose sign matters more than their size: their colour scale diverges at zero."""
MIN_SPAN = {RATIO: 0.5, PERCENT: 0.05, DRAWDOWN: 0.05, DRAWDOWN_CHANGE: 0.05, COST: 5e-4}
"""The smallest range a colour scale of each kind spans, so noise within it stays one shade."""


@dataclass(frozen=True)
class ColourScale:
    """The range a heatmap's colours span and why.

    Attributes:
        low, high: The values at the two ends of the palette.
        diverging: Centred on zero (a diverging palette: below zero one hue, above another).
        text: The range in words, for a note beside the chart.
    """

    low: float
    high: float
    diverging: bool
    text: str


def colour_scale(metric: str, values: Any) -> ColourScale:
    """The colour range of a heatmap of ``metric`` over ``values`` (NaN ignored).

    A metric of :data:`DIVERGING` spans ``-m .. m`` around zero; any other spans its values' range
    widened to at least its kind's :data:`MIN_SPAN`, so a grid whose Sharpe ratios lie between 0.80
    and 1.01 does not paint noise as a cliff.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    kind = metric_kind(metric)
    floor = MIN_SPAN.get(kind, 0.0)
    if finite.size == 0:
        return ColourScale(0.0, 1.0, False, "no finite value to colour")
    low, high = float(finite.min()), float(finite.max())
    seen = f"values {format_value(metric, low)} to {format_value(metric, high)}"
    if kind == DRAWDOWN:
        seen = f"values {format_value(metric, high)} to {format_value(metric, low)}"
    if metric in DIVERGING:
        reach = max(abs(low), abs(high), floor)
        return ColourScale(-reach, reach, True, f"colours diverge at zero, from {format_value(metric, -reach)} "
                                                f"(red) to {format_value(metric, reach)} (blue); {seen}")
    if high - low < floor:
        middle = (low + high) / 2
        low, high = middle - floor / 2, middle + floor / 2
        return ColourScale(low, high, False, f"colour scale widened to {format_value(metric, low)} .. "
                                             f"{format_value(metric, high)} ({seen}: differences this small are "
                                             "shown as one shade, not as a cliff)")
    if high == low:
        high = low + 1e-12
    return ColourScale(low, high, False, f"colour scale {seen}")


def format_gate_value(metric: str, value: Any) -> str:
    """A gate's threshold or measured value: as :func:`format_value`, except that a drawdown keeps its
    sign, as the gate compares it (``max drawdown < 30.0%``)."""
    if metric_kind(metric) == DRAWDOWN and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _percent(float(value)) if math.isfinite(value) else "n/a"
    return format_value(metric, value)
