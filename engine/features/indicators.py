"""Per-bar steps of the indicators the feature families share: smoothers, RSI, ADX, and scalar rules.

An indicator with memory keeps its state in a record (a dtype declared here; a zeroed record is the
state before the first bar) and advances it by one bar per call, as NautilusTrader's indicators do
with ``update_raw``. The batch helpers of :mod:`engine.features.rolling` call these steps over a
whole array and the feature blocks call them inside their own per-bar step, so a formula written
here is the only one of its kind.

NaN rules of the seeded smoothers: each run of consecutive finite values is smoothed on its own; a
NaN input gives a NaN output and the next run starts a fresh warm-up.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.features.tail import std_nb

smoothing_dt = np.dtype([("run", np.int64), ("acc", np.float64), ("value", np.float64)])
"""State of a seeded exponential smoothing: finite values of the current run, their sum until the
seed, the smoothed value."""

rsi_dt = np.dtype([("gain", smoothing_dt), ("loss", smoothing_dt)])
"""State of Wilder's RSI: the smoothed gains and losses."""

adx_dt = np.dtype([("bars", np.int64), ("high", np.float64), ("low", np.float64), ("plus", smoothing_dt),
                   ("minus", smoothing_dt), ("dx", smoothing_dt)])
"""State of Wilder's ADX: bars seen, the previous high and low, and the three Wilder averages."""


@numba.njit(cache=True, error_model="numpy")
def smooth_nb(state, value, alpha, window):
    """Advance a seeded smoothing (a :data:`smoothing_dt` record) by ``value``; returns the smoothed value.

    Seeded with the mean of the run's first ``window`` values (NaN before that), then
    ``s_t = s_{t-1} + alpha * (x_t - s_{t-1})``. A NaN input ends the run.
    """
    if np.isnan(value):
        state.run = 0
        state.acc = 0.0
        return np.nan
    state.run += 1
    if state.run < window:
        state.acc += value
        return np.nan
    if state.run == window:
        state.value = (state.acc + value) / window
    else:
        state.value = state.value + alpha * (value - state.value)
    return state.value


@numba.njit(cache=True, error_model="numpy")
def ema_step_nb(state, value, span):
    """Exponential moving average: :func:`smooth_nb` with ``alpha = 2 / (span + 1)``."""
    return smooth_nb(state, value, 2.0 / (span + 1.0), span)


@numba.njit(cache=True, error_model="numpy")
def wilder_step_nb(state, value, period):
    """Wilder's smoothing (RMA): :func:`smooth_nb` with ``alpha = 1 / period``."""
    return smooth_nb(state, value, 1.0 / period, period)


@numba.njit(cache=True, error_model="numpy")
def rsi_step_nb(state, change, period):
    """Wilder's RSI in ``[0, 100]`` after a close change ``change`` (NaN at the first bar).

    Gains ``max(change, 0)`` and losses ``max(-change, 0)`` are Wilder-smoothed to ``G, L``;
    ``RSI = 100 * G / (G + L)`` (equal to ``100 - 100 / (1 + G / L)``), 100 when only gains, 50 when
    the window is flat (``G = L = 0``).
    """
    gain = wilder_step_nb(state.gain, maximum_nb(change, 0.0), period)
    loss = wilder_step_nb(state.loss, maximum_nb(-change, 0.0), period)
    return 100.0 * safe_ratio_nb(gain, gain + loss, 0.5)


@numba.njit(cache=True, error_model="numpy")
def adx_step_nb(state, high, low, period):
    """Wilder's ADX in ``[0, 100]`` after a bar's ``high`` and ``low``.

    ``up = high_t - high_{t-1}``, ``down = low_{t-1} - low_t``; ``+DM = up`` where ``up > down`` and
    ``up > 0`` else 0, ``-DM`` symmetrically (both NaN at the first bar). With ``S+ = wilder(+DM)``,
    ``S- = wilder(-DM)`` (the ATR in ``+DI = 100 S+ / ATR`` and ``-DI`` cancels),
    ``DX = 100 |S+ - S-| / (S+ + S-)`` (0 when both are 0) and ``ADX = wilder(DX)``.
    """
    if state.bars == 0:
        plus_dm = minus_dm = np.nan
    else:
        up = high - state.high
        down = -(low - state.low)
        plus_dm = up if up > down and up > 0 else 0.0
        minus_dm = down if down > up and down > 0 else 0.0
    state.bars += 1
    state.high = high
    state.low = low
    plus = wilder_step_nb(state.plus, plus_dm, period)
    minus = wilder_step_nb(state.minus, minus_dm, period)
    dx = 100.0 * safe_ratio_nb(abs(plus - minus), plus + minus, 0.0)
    return wilder_step_nb(state.dx, dx, period)


@numba.njit(cache=True, error_model="numpy")
def log_return_nb(close, earlier_close):
    """``log(close / earlier_close)``: the log return since ``earlier_close`` (NaN when it is NaN)."""
    return math.log(close / earlier_close)


@numba.njit(cache=True, error_model="numpy")
def realized_vol_nb(log_returns, n):
    """Sample standard deviation (ddof 1) of the newest ``n`` one-bar log returns in a tail record; per
    bar, not annualized."""
    return std_nb(log_returns, n, 1)


@numba.njit(cache=True, error_model="numpy")
def true_range_nb(high, low, prev_close):
    """``max(high - low, |high - prev_close|, |low - prev_close|)``; NaN without a previous close."""
    return maximum_nb(high - low, maximum_nb(abs(high - prev_close), abs(low - prev_close)))


@numba.njit(cache=True, error_model="numpy")
def safe_ratio_nb(num, den, fill):
    """``num / den``, ``fill`` where ``den == 0``; NaN when either is NaN.

    For ratios whose denominator is zero on flat prices or zero volume: such bars get a documented
    neutral value instead of inf.
    """
    if np.isnan(num) or np.isnan(den):
        return np.nan
    if den == 0:
        return fill
    return num / den


@numba.njit(cache=True, error_model="numpy")
def tanh_ratio_nb(num, den):
    """``tanh(num / den)`` for ``den >= 0``, ``sign(num)`` where ``den == 0`` (the limit as ``den``
    shrinks to 0); NaN when either is NaN."""
    if np.isnan(num) or np.isnan(den):
        return np.nan
    if den == 0:
        return sign_nb(num)
    return math.tanh(num / den)


@numba.njit(cache=True, error_model="numpy")
def sign_nb(x):
    """``np.sign``: -1, 0 or 1 (0.0 for either zero), NaN for NaN."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    if x == 0:
        return 0.0
    return np.nan


@numba.njit(cache=True, error_model="numpy")
def maximum_nb(a, b):
    """``np.maximum``: the larger value, NaN when either is NaN."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return a if a >= b else b


@numba.njit(cache=True, error_model="numpy")
def minimum_nb(a, b):
    """``np.minimum``: the smaller value, NaN when either is NaN."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return a if a <= b else b
