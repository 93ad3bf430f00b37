"""The regime block of the observation: 10 bounded indicators of the market state per bar.

Four groups (volatility, trend, momentum, volume), each column already bounded, so the block needs no
fitted normalizer: ``vol_level``, ``vol_percentile`` and ``trend_adx`` lie in ``[0, 1]``, the others in
``[-1, 1]``. Unbounded raw values are squashed with ``tanh``; price moves are first divided by the
volatility expected over their horizon, which makes them comparable across symbols and bar
frequencies. Bar ``t`` uses bars ``0..t`` only.

Notation: ``s20``, ``s100`` = sample std (ddof 1) of the last 20 / 100 one-bar log returns;
``SMAn`` = simple mean of the last ``n`` values; first valid row (0-based) in brackets.

==================  ===============================================================================  =====
vol_level           ``tanh(s20 * sqrt(bars_per_year) / 0.40)``: annualized vol, 40% maps to 0.76      [20]
vol_ratio           ``tanh(log(s20 / s100))``; 0 when ``s100 = 0``                                   [100]
vol_percentile      mid-rank of ``s20`` among its last 252 values (current included), in [0, 1]       [271]
trend_sma_spread    ``V(log(SMA50(c) / SMA200(c)), 75)``                                              [199]
trend_adx           ``ADX14 / 100`` (Wilder)                                                          [27]
trend_price_sma200  ``V(log(c / SMA200(c)), 100)``                                                    [199]
momentum_20         ``V(log(c / c_{t-20}), 20)``                                                      [100]
momentum_60         ``V(log(c / c_{t-60}), 60)``                                                      [100]
volume_trend        ``tanh(log(SMA20(v) / SMA100(v)))``; 0 when ``SMA100(v) = 0``                    [99]
volume_zscore       ``T(v - SMA100(v), 2 * std100(v))`` (std ddof 0)                                  [99]
==================  ===============================================================================  =====

``V(x, h) = T(x, 2 * s100 * sqrt(h))``: a move ``x`` over about ``h`` bars in units of twice the
standard deviation of an ``h``-bar return (75 and 100 are the age gaps of the moving averages:
``(199 - 49) / 2`` and ``199 / 2``, rounded). ``T(x, d) = tanh(x / d)``, and ``sign(x)`` where
``d = 0`` (the limit of ``tanh`` as ``d`` shrinks to 0). Every row from ``REGIME_WARMUP`` on is finite.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.features import rolling
from engine.features._ohlcv import ohlcv_arrays

REGIME_COLUMNS: tuple[str, ...] = (
    "vol_level",
    "vol_ratio",
    "vol_percentile",
    "trend_sma_spread",
    "trend_adx",
    "trend_price_sma200",
    "momentum_20",
    "momentum_60",
    "volume_trend",
    "volume_zscore",
)
"""Column names of :func:`regime_features`, in order."""

REGIME_WARMUP = 271
"""Index of the first row where every column is defined (``vol_percentile``: 20 + 252 - 1 bars)."""

VOL_LEVEL_REFERENCE = 0.40
"""Annualized volatility that ``vol_level`` maps to ``tanh(1) = 0.76``."""


def regime_features(bars: pd.DataFrame, bars_per_year: float = 252.0) -> pd.DataFrame:
    """The 10 regime indicators of one symbol's bars.

    Args:
        bars: One symbol's bars: float64 columns ``open, high, low, close, volume``, positive prices.
        bars_per_year: Bars in a year at this frequency; only ``vol_level`` uses it, to annualize.
            252 for daily equity bars, ``252 * 6.5`` for hourly equity bars, ``365 * 24`` for hourly
            crypto bars.

    Returns:
        Float64 frame on ``bars.index`` with columns :data:`REGIME_COLUMNS`; NaN during warm-up.

    Raises:
        InvalidParameterError: ``bars_per_year`` is not a positive finite number, or a bars column is
            missing.
    """
    if isinstance(bars_per_year, bool) or not isinstance(bars_per_year, (int, float)) or not (
        math.isfinite(bars_per_year) and bars_per_year > 0
    ):
        raise InvalidParameterError(
            f"bars_per_year must be a positive number (252 for daily bars), got {bars_per_year!r}"
        )
    arrays = ohlcv_arrays(bars, "regime_features")
    high, low, close, volume = (arrays[f] for f in ("high", "low", "close", "volume"))
    vol_20 = rolling.realized_vol(close, 20)
    vol_100 = rolling.realized_vol(close, 100)
    sma_200 = rolling.sma(close, 200)
    volume_mean = rolling.sma(volume, 100)

    def vol_scaled(move: np.ndarray, horizon: int) -> np.ndarray:
        return tanh_ratio(move, 2.0 * vol_100 * math.sqrt(horizon))

    with np.errstate(divide="ignore"):  # log(0) = -inf is wanted: tanh maps it to -1
        columns = {
            "vol_level": np.tanh(vol_20 * math.sqrt(bars_per_year) / VOL_LEVEL_REFERENCE),
            "vol_ratio": np.tanh(np.log(rolling.safe_divide(vol_20, vol_100, fill=1.0))),
            "vol_percentile": rolling.percentile_rank(vol_20, 252),
            "trend_sma_spread": vol_scaled(np.log(rolling.sma(close, 50) / sma_200), 75),
            "trend_adx": rolling.adx(high, low, 14) / 100.0,
            "trend_price_sma200": vol_scaled(np.log(close / sma_200), 100),
            "momentum_20": vol_scaled(rolling.log_return(close, 20), 20),
            "momentum_60": vol_scaled(rolling.log_return(close, 60), 60),
            "volume_trend": np.tanh(
                np.log(rolling.safe_divide(rolling.sma(volume, 20), volume_mean, fill=1.0))
            ),
            "volume_zscore": tanh_ratio(
                volume - volume_mean, 2.0 * rolling.rolling_std(volume, 100, ddof=0)
            ),
        }
    return pd.DataFrame(columns, index=bars.index, columns=list(REGIME_COLUMNS), dtype=np.float64)


def tanh_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``tanh(num / den)`` for ``den >= 0``, ``sign(num)`` where ``den == 0``; NaN propagates."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den == 0, np.sign(num), np.tanh(num / den))
    return np.where(np.isnan(num) | np.isnan(den), np.nan, out)
