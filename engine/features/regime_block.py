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

Like the technical block, the block is one per-bar step, :func:`regime_step_nb`, over a
:data:`regime_state_dt` record per symbol, run over a whole path by :func:`regime_features` and bar by bar by
:class:`~engine.features.streaming.StreamingFeatures`.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.features._ohlcv import ohlcv_arrays
from engine.features.indicators import (
    adx_dt,
    adx_step_nb,
    log_return_nb,
    realized_vol_nb,
    safe_ratio_nb,
    tanh_ratio_nb,
)
from engine.features.tail import lag_nb, mean_nb, push_nb, rank_nb, std_nb, tail_dt

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

_PERCENTILE_WINDOW = 252  # values of s20 that vol_percentile ranks against


regime_state_dt = np.dtype([
    ("close", tail_dt(200)),  # SMA200; returns over 20 and 60 bars
    ("volume", tail_dt(100)),
    ("log_return", tail_dt(100)),  # s20, s100
    ("vol_20", tail_dt(_PERCENTILE_WINDOW)),  # s20 for vol_percentile
    ("adx", adx_dt),
])
"""What the next regime row of one symbol needs (a zeroed record: before its first bar)."""


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
    bars_per_year = check_bars_per_year(bars_per_year)
    arrays = ohlcv_arrays(bars, "regime_features")
    values = np.empty((len(bars), len(REGIME_COLUMNS)))
    _regime_path_nb(np.zeros(1, regime_state_dt), *(arrays[f] for f in ("high", "low", "close", "volume")),
                    bars_per_year, values)
    return pd.DataFrame(values, index=bars.index, columns=list(REGIME_COLUMNS))


def check_bars_per_year(bars_per_year: float) -> float:
    """``bars_per_year`` as a float if it is a positive finite number, else raise InvalidParameterError."""
    if isinstance(bars_per_year, bool) or not isinstance(bars_per_year, (int, float)) or not (
        math.isfinite(bars_per_year) and bars_per_year > 0
    ):
        raise InvalidParameterError(
            f"bars_per_year must be a positive number (252 for daily bars), got {bars_per_year!r}"
        )
    return float(bars_per_year)


@numba.njit(cache=True, error_model="numpy")
def regime_step_nb(state, h, l, c, v, bars_per_year, out):
    """Take a symbol's next bar into its ``state`` record and write its regime row (``[10]``) to ``out``."""
    push_nb(state.log_return, log_return_nb(c, lag_nb(state.close, 0)))
    push_nb(state.close, c)
    push_nb(state.volume, v)
    vol_20 = realized_vol_nb(state.log_return, 20)
    push_nb(state.vol_20, vol_20)
    vol_100 = realized_vol_nb(state.log_return, 100)
    sma_200 = mean_nb(state.close, 200)
    volume_mean = mean_nb(state.volume, 100)
    # log(0) = -inf is wanted in volume_trend: tanh maps it to -1.
    row = (
        math.tanh(vol_20 * math.sqrt(bars_per_year) / VOL_LEVEL_REFERENCE),  # vol_level
        math.tanh(math.log(safe_ratio_nb(vol_20, vol_100, 1.0))),  # vol_ratio
        rank_nb(state.vol_20, _PERCENTILE_WINDOW),  # vol_percentile
        _vol_scaled_nb(math.log(mean_nb(state.close, 50) / sma_200), vol_100, 75),  # trend_sma_spread
        adx_step_nb(state.adx, h, l, 14) / 100.0,  # trend_adx
        _vol_scaled_nb(math.log(c / sma_200), vol_100, 100),  # trend_price_sma200
        _vol_scaled_nb(log_return_nb(c, lag_nb(state.close, 20)), vol_100, 20),  # momentum_20
        _vol_scaled_nb(log_return_nb(c, lag_nb(state.close, 60)), vol_100, 60),  # momentum_60
        math.tanh(math.log(safe_ratio_nb(mean_nb(state.volume, 20), volume_mean, 1.0))),  # volume_trend
        tanh_ratio_nb(v - volume_mean, 2.0 * std_nb(state.volume, 100, 0)),  # volume_zscore
    )
    for j in range(len(row)):
        out[j] = row[j]


@numba.njit(cache=True, error_model="numpy")
def _vol_scaled_nb(move, vol_100, horizon):
    """``V(move, horizon)`` of the module docstring."""
    return tanh_ratio_nb(move, 2.0 * vol_100 * math.sqrt(horizon))


@numba.njit(cache=True, error_model="numpy")
def _regime_path_nb(state, h, l, c, v, bars_per_year, out):
    for t in range(c.shape[0]):
        regime_step_nb(state[0], h[t], l[t], c[t], v[t], bars_per_year, out[t])
