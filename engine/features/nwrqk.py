"""Nadaraya-Watson kernel regression of close with the rational quadratic kernel (NWRQK).

The regression looks back only, so it never repaints::

    K(i)   = (1 + i^2 / (2 * alpha * h^2)) ** (-alpha)        i = bars back, 0..lookback
    yhat_t = sum_i K(i) * close_{t-i} / sum_i K(i)

Columns: ``nwrqk_value = yhat_t / close_t - 1`` (where the kernel line sits relative to price,
scale-free) and ``nwrqk_slope = yhat_t / yhat_{t-1} - 1`` (its one-bar relative change).
The kernel is the strategic-team specification's (docs/design.md, strategic team), which gives no
parameter values; the defaults ``bandwidth=8, alpha=8, lookback=25`` are the widely used TradingView
"rational quadratic kernel" settings. Warm-up: ``nwrqk_value`` starts at bar ``lookback``,
``nwrqk_slope`` at ``lookback + 1``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.features._ohlcv import check_int, check_positive, frame, lagged, ohlcv_arrays

NWRQK_COLUMNS: tuple[str, ...] = ("nwrqk_value", "nwrqk_slope")


def rational_quadratic_weights(bandwidth: float, alpha: float, lookback: int) -> np.ndarray:
    """Normalized kernel weights ``K(i) / sum K`` for ``i = 0..lookback`` bars back."""
    distance = np.arange(lookback + 1, dtype=np.float64)
    kernel = (1.0 + distance**2 / (2.0 * alpha * bandwidth**2)) ** (-alpha)
    return kernel / kernel.sum()


def nwrqk(
    bars: pd.DataFrame, *, bandwidth: float = 8.0, alpha: float = 8.0, lookback: int = 25
) -> pd.DataFrame:
    """NWRQK value and slope (columns ``NWRQK_COLUMNS``) of one symbol's bars.

    Args:
        bars: Per-symbol OHLCV bars (only ``close`` is read).
        bandwidth: Kernel bandwidth ``h`` in bars; larger is smoother.
        alpha: Rational quadratic ``alpha``; large values approach a Gaussian kernel.
        lookback: Bars back ``L`` in the regression (the window holds ``L + 1`` bars).

    Returns:
        Float64 DataFrame on ``bars.index``; NaN during warm-up (see module docstring).
    """
    close = ohlcv_arrays(bars, "nwrqk")["close"]
    weights = rational_quadratic_weights(
        check_positive("bandwidth", bandwidth), check_positive("alpha", alpha),
        check_int("lookback", lookback, 0),
    )
    # One vector op per lag keeps each bar's sum independent of other bars (bit-exact causality).
    yhat = np.zeros(len(close))
    for lag, weight in enumerate(weights):
        yhat += weight * lagged(close, lag)
    value = yhat / close - 1.0
    slope = yhat / lagged(yhat, 1) - 1.0
    return frame(NWRQK_COLUMNS, [value, slope], bars.index)
