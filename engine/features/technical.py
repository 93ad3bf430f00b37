"""The technical block of the observation: 23 scale-free indicators per bar.

The policy sees the last ``TECHNICAL_WINDOW`` rows of this frame (a ``24 x 23`` matrix). Every column
is a ratio, a log return or a bounded oscillator, so two symbols at different price levels or volume
units give comparable values; none is annualized, so values do depend on the bar frequency. Bar ``t``
uses bars ``0..t`` only.

Columns (``c, o, h, l, v`` = close, open, high, low, volume of the bar; ``c_{t-k}`` k bars earlier;
first valid row in brackets, 0-based):

====================  ===========================================================================  ====
log_return_1          ``log(c / c_{t-1})``                                                          [1]
log_return_5          ``log(c / c_{t-5})``                                                          [5]
log_return_20         ``log(c / c_{t-20})``                                                         [20]
range_hl              ``(h - l) / c``                                                               [0]
body                  ``(c - o) / c``  (signed: positive for an up bar)                            [0]
upper_wick            ``(h - max(o, c)) / c``                                                       [0]
lower_wick            ``(min(o, c) - l) / c``                                                       [0]
gap                   ``log(o / c_{t-1})``                                                          [1]
close_sma_10          ``c / SMA10(c) - 1``                                                          [9]
close_sma_20          ``c / SMA20(c) - 1``                                                          [19]
close_sma_50          ``c / SMA50(c) - 1``                                                          [49]
macd                  ``EMA12(c) / EMA26(c) - 1`` (MACD as a fraction of price, i.e. PPO / 100)     [25]
macd_signal           ``EMA9(macd)``                                                                [33]
macd_hist             ``macd - macd_signal``                                                        [33]
rsi_14                ``RSI14(c) / 100`` (Wilder; 0.5 on a flat window)                             [14]
stoch_k_14            ``(c - min14(l)) / (max14(h) - min14(l))``; 0.5 when the range is 0          [13]
atr_14                ``Wilder14(true range) / c``                                                  [14]
bb_position_20        ``(c - (m - 2s)) / (4s)`` with ``m = SMA20(c)``, ``s = std20(c)`` (ddof 0);   [19]
                      0.5 when ``s = 0``
bb_width_20           ``4s / m``                                                                    [19]
volume_ratio_20       ``v / SMA20(v)``; 1 when ``SMA20(v) = 0``                                     [19]
obv_flow_20           ``sum20(sign(c - c_{t-1}) v) / sum20(v)`` (20-bar OBV change per unit         [20]
                      volume, in [-1, 1]); 0 when ``sum20(v) = 0``
realized_vol_20       sample std (ddof 1) of the last 20 ``log_return_1``                           [20]
adx_14                ``ADX14 / 100`` (Wilder)                                                      [27]
====================  ===========================================================================  ====

EMAs are seeded with the simple mean of their first ``span`` inputs (see
:mod:`engine.features.indicators`). Every row from ``TECHNICAL_WARMUP`` on is finite.

The block is one per-bar step, :func:`technical_step_nb`, over a :data:`technical_state_dt` record
kept per symbol: :func:`technical_features` runs it over every bar of a path in a compiled loop, and
:class:`~engine.features.streaming.StreamingFeatures` runs it once per arriving bar, so a backtest
row and a paper-trading row come from the same code.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from engine.features._ohlcv import OHLCV, ohlcv_arrays
from engine.features.indicators import (
    adx_dt,
    adx_step_nb,
    ema_step_nb,
    log_return_nb,
    maximum_nb,
    minimum_nb,
    realized_vol_nb,
    rsi_dt,
    rsi_step_nb,
    safe_ratio_nb,
    sign_nb,
    smoothing_dt,
    true_range_nb,
    wilder_step_nb,
)
from engine.features.tail import lag_nb, max_nb, mean_nb, min_nb, push_nb, std_nb, sum_nb, tail_dt

TECHNICAL_COLUMNS: tuple[str, ...] = (
    "log_return_1",
    "log_return_5",
    "log_return_20",
    "range_hl",
    "body",
    "upper_wick",
    "lower_wick",
    "gap",
    "close_sma_10",
    "close_sma_20",
    "close_sma_50",
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_14",
    "stoch_k_14",
    "atr_14",
    "bb_position_20",
    "bb_width_20",
    "volume_ratio_20",
    "obv_flow_20",
    "realized_vol_20",
    "adx_14",
)
"""Column names of :func:`technical_features`, in order."""

TECHNICAL_WINDOW = 24
"""Bars of the technical block the policy sees at each step (the observation is ``24 x 23``)."""

TECHNICAL_WARMUP = 49
"""Index of the first row where every column is defined (``close_sma_50`` needs 50 closes)."""


technical_state_dt = np.dtype([
    ("close", tail_dt(50)),  # SMA50; returns over 1, 5 and 20 bars
    ("high", tail_dt(14)),  # stochastic range
    ("low", tail_dt(14)),
    ("volume", tail_dt(20)),
    ("signed_volume", tail_dt(20)),  # sign(c - c_{t-1}) v
    ("log_return", tail_dt(20)),  # realized volatility
    ("ema_fast", smoothing_dt),  # EMA12 of the close
    ("ema_slow", smoothing_dt),  # EMA26 of the close
    ("macd_signal", smoothing_dt),  # EMA9 of macd
    ("rsi", rsi_dt),
    ("atr", smoothing_dt),  # Wilder14 of the true range
    ("adx", adx_dt),
])
"""What the next technical row of one symbol needs (a zeroed record: before its first bar)."""


def technical_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 23 technical features of one symbol's bars.

    Args:
        bars: One symbol's bars: float64 columns ``open, high, low, close, volume``, positive prices.

    Returns:
        Float64 frame on ``bars.index`` with columns :data:`TECHNICAL_COLUMNS`; NaN during warm-up.
    """
    arrays = ohlcv_arrays(bars, "technical_features")
    values = np.empty((len(bars), len(TECHNICAL_COLUMNS)))
    _technical_path_nb(np.zeros(1, technical_state_dt), *(arrays[f] for f in OHLCV), values)
    return pd.DataFrame(values, index=bars.index, columns=list(TECHNICAL_COLUMNS))


@numba.njit(cache=True, error_model="numpy")
def technical_step_nb(state, o, h, l, c, v, out):
    """Take a symbol's next bar into its ``state`` record and write its technical row (``[23]``) to ``out``."""
    prev_close = lag_nb(state.close, 0)
    push_nb(state.close, c)
    push_nb(state.high, h)
    push_nb(state.low, l)
    push_nb(state.volume, v)
    log_return_1 = log_return_nb(c, prev_close)
    push_nb(state.log_return, log_return_1)
    # sign(0) = 0: a bar that closes unchanged moves OBV by nothing, as in Granville's definition.
    push_nb(state.signed_volume, sign_nb(c - prev_close) * v)

    macd = ema_step_nb(state.ema_fast, c, 12) / ema_step_nb(state.ema_slow, c, 26) - 1.0
    macd_signal = ema_step_nb(state.macd_signal, macd, 9)
    lowest, highest = min_nb(state.low, 14), max_nb(state.high, 14)
    mid, std = mean_nb(state.close, 20), std_nb(state.close, 20, 0)
    row = (
        log_return_1,
        log_return_nb(c, lag_nb(state.close, 5)),
        log_return_nb(c, lag_nb(state.close, 20)),
        (h - l) / c,  # range_hl
        (c - o) / c,  # body
        (h - maximum_nb(o, c)) / c,  # upper_wick
        (minimum_nb(o, c) - l) / c,  # lower_wick
        math.log(o / prev_close),  # gap
        c / mean_nb(state.close, 10) - 1.0,
        c / mid - 1.0,
        c / mean_nb(state.close, 50) - 1.0,
        macd,
        macd_signal,
        macd - macd_signal,  # macd_hist
        rsi_step_nb(state.rsi, c - prev_close, 14) / 100.0,
        safe_ratio_nb(c - lowest, highest - lowest, 0.5),  # stoch_k_14
        wilder_step_nb(state.atr, true_range_nb(h, l, prev_close), 14) / c,  # atr_14
        safe_ratio_nb(c - (mid - 2.0 * std), 4.0 * std, 0.5),  # bb_position_20
        4.0 * std / mid,  # bb_width_20
        safe_ratio_nb(v, mean_nb(state.volume, 20), 1.0),  # volume_ratio_20
        safe_ratio_nb(sum_nb(state.signed_volume, 20), sum_nb(state.volume, 20), 0.0),  # obv_flow_20
        realized_vol_nb(state.log_return, 20),
        adx_step_nb(state.adx, h, l, 14) / 100.0,
    )
    for j in range(len(row)):
        out[j] = row[j]


@numba.njit(cache=True, error_model="numpy")
def _technical_path_nb(state, o, h, l, c, v, out):
    for t in range(c.shape[0]):
        technical_step_nb(state[0], o[t], h[t], l[t], c[t], v[t], out[t])
