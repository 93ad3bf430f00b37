"""Causal rolling and smoothing helpers over whole arrays, shared by the feature families.

Every helper takes 1-D float64 arrays and returns a float64 array of the same length whose value at
index ``t`` depends on inputs ``0..t`` only. Warm-up positions are NaN. The helpers are batch drivers:
they run the window statistics of :mod:`engine.features.tail` and the per-bar steps of
:mod:`engine.features.indicators` (smoothers, RSI, ADX, ...) over every bar in a compiled loop, the
same code the technical and regime blocks run bar by bar, so each formula is written once. Window
statistics are computed window by window (not by running sums), so a value never carries rounding
from earlier bars and changing later bars cannot change it by even one bit.

NaN rules:
    * window helpers (``sma``, ``wma``, ``rolling_*``, ``percentile_rank``): NaN when any value in the
      window is NaN;
    * recursive smoothers (``ema``, ``wilder``): each run of consecutive finite values is smoothed on
      its own; a NaN input gives a NaN output and the next run starts a fresh warm-up.
"""
from __future__ import annotations

import numba
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.errors import InvalidParameterError
from engine.features import indicators, tail
from engine.features.indicators import adx_dt, rsi_dt, smoothing_dt

_SUM, _MEAN, _STD, _SAMPLE_STD, _MAX, _MIN, _RANK = range(7)  # statistics of _window_statistic_path_nb


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over the last ``window`` values; first value at index ``window - 1``.

    A constant window returns its value exactly (a float mean of equal values can be off by an ulp).
    """
    return _window_statistic(x, window, _MEAN)


def wma(x: np.ndarray, window: int) -> np.ndarray:
    """Linearly weighted moving average: weights ``1..window``, the newest value weighs ``window``."""
    weights = np.arange(1, _check_window(window) + 1, dtype=np.float64)
    return _window_reduce(x, window, lambda w: w @ weights / weights.sum())


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values."""
    return _window_statistic(x, window, _SUM)


def rolling_std(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Standard deviation of the last ``window`` values (``ddof=0``: population, ``1``: sample).

    A constant window gives exactly 0.
    """
    if ddof not in (0, 1) or ddof >= _check_window(window):
        raise InvalidParameterError(
            f"rolling_std: ddof must be 0 or 1 and smaller than window, got ddof={ddof}, window={window}"
        )
    return _window_statistic(x, window, _STD if ddof == 0 else _SAMPLE_STD)


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Largest of the last ``window`` values."""
    return _window_statistic(x, window, _MAX)


def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    """Smallest of the last ``window`` values."""
    return _window_statistic(x, window, _MIN)


def rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the last ``window`` values."""
    return _window_reduce(x, window, lambda w: np.median(w, axis=1))


def percentile_rank(x: np.ndarray, window: int) -> np.ndarray:
    """Mid-rank of the current value among the last ``window`` values, in ``[0, 1]``.

    ``(n_below + (n_equal - 1) / 2) / (window - 1)``, where the counts run over the window including the
    current value: 0 for the window's minimum, 1 for its strict maximum, 0.5 when all values are equal.
    """
    if _check_window(window) < 2:
        raise InvalidParameterError(f"percentile_rank needs window >= 2, got {window}")
    return _window_statistic(x, window, _RANK)


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``.

    Seeded with the simple mean of the first ``span`` values (first output at index ``span - 1`` of a
    run), then ``e_t = e_{t-1} + alpha * (x_t - e_{t-1})``.
    """
    return _smoothing_path_nb(np.zeros(1, smoothing_dt), _as_array(x), _check_window(span), False)


def wilder(x: np.ndarray, period: int) -> np.ndarray:
    """Wilder's smoothing (RMA): an :func:`ema` with ``alpha = 1 / period``, same seeding."""
    return _smoothing_path_nb(np.zeros(1, smoothing_dt), _as_array(x), _check_window(period), True)


def log_return(close: np.ndarray, lag: int = 1) -> np.ndarray:
    """``log(close_t / close_{t-lag})``; the first ``lag`` values are NaN."""
    return _log_return_path_nb(_as_array(close), _check_window(lag))


def realized_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof 1) of the last ``window`` one-bar log returns; per bar, not annualized.

    The batch form of :func:`~engine.features.indicators.realized_vol_nb`. The first value is at index
    ``window`` (the first return needs a previous close).
    """
    return rolling_std(log_return(close, 1), window, ddof=1)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """``max(high - low, |high - close_{t-1}|, |low - close_{t-1}|)``; NaN at index 0 (no previous close)."""
    return _true_range_path_nb(*_same_length(high, low, close))


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's relative strength index in ``[0, 100]`` (:func:`~engine.features.indicators.rsi_step_nb`).

    ``RSI = 100 * G / (G + L)`` of the Wilder-smoothed gains and losses of the one-bar close change;
    100 when only gains, 50 when the window is flat. First value at index ``period``.
    """
    return _rsi_path_nb(np.zeros(1, rsi_dt), _as_array(close), _check_window(period))


def adx(high: np.ndarray, low: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's average directional index in ``[0, 100]`` (:func:`~engine.features.indicators.adx_step_nb`).

    First value at index ``2 * period - 1``. Needs no close: the true range only enters through the
    ATR of ``+DI`` and ``-DI``, which cancels in ``DX``.
    """
    return _adx_path_nb(np.zeros(1, adx_dt), *_same_length(high, low), _check_window(period))


def safe_divide(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """``num / den``, with ``fill`` where ``den == 0``; NaN wherever ``num`` or ``den`` is NaN.

    The feature families use it for ratios whose denominator is zero on flat prices or zero volume,
    so such bars get a documented neutral value instead of inf
    (:func:`~engine.features.indicators.safe_ratio_nb` per element).
    """
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    out = _safe_divide_nb(num.ravel(), den.ravel(), float(fill))
    return out.reshape(num.shape)


@numba.njit(cache=True, error_model="numpy")
def _window_statistic_path_nb(x, window, statistic):
    out = np.full(x.shape[0], np.nan)
    equal_run = 0
    for t in range(x.shape[0]):
        equal_run = tail.equal_run_nb(equal_run, x[t - 1], x[t]) if t else 1
        if t >= window - 1:
            out[t] = _statistic_nb(x[t + 1 - window:t + 1], equal_run >= window, statistic)
    return out


@numba.njit(cache=True, error_model="numpy")
def _statistic_nb(window, constant, statistic):
    if statistic == _SUM:
        return tail.window_sum_nb(window)
    if statistic == _MEAN:
        return tail.window_mean_nb(window, constant)
    if statistic == _STD:
        return tail.window_std_nb(window, 0, constant)
    if statistic == _SAMPLE_STD:
        return tail.window_std_nb(window, 1, constant)
    if statistic == _MAX:
        return tail.window_max_nb(window)
    if statistic == _MIN:
        return tail.window_min_nb(window)
    return tail.window_rank_nb(window)


@numba.njit(cache=True, error_model="numpy")
def _smoothing_path_nb(state, x, window, wilders):
    out = np.empty(x.shape[0])
    for t in range(x.shape[0]):
        if wilders:
            out[t] = indicators.wilder_step_nb(state[0], x[t], window)
        else:
            out[t] = indicators.ema_step_nb(state[0], x[t], window)
    return out


@numba.njit(cache=True, error_model="numpy")
def _log_return_path_nb(close, lag):
    out = np.full(close.shape[0], np.nan)
    for t in range(lag, close.shape[0]):
        out[t] = indicators.log_return_nb(close[t], close[t - lag])
    return out


@numba.njit(cache=True, error_model="numpy")
def _true_range_path_nb(high, low, close):
    out = np.empty(close.shape[0])
    prev_close = np.nan
    for t in range(close.shape[0]):
        out[t] = indicators.true_range_nb(high[t], low[t], prev_close)
        prev_close = close[t]
    return out


@numba.njit(cache=True, error_model="numpy")
def _rsi_path_nb(state, close, period):
    out = np.empty(close.shape[0])
    prev_close = np.nan
    for t in range(close.shape[0]):
        out[t] = indicators.rsi_step_nb(state[0], close[t] - prev_close, period)
        prev_close = close[t]
    return out


@numba.njit(cache=True, error_model="numpy")
def _adx_path_nb(state, high, low, period):
    out = np.empty(high.shape[0])
    for t in range(high.shape[0]):
        out[t] = indicators.adx_step_nb(state[0], high[t], low[t], period)
    return out


@numba.njit(cache=True, error_model="numpy")
def _safe_divide_nb(num, den, fill):
    out = np.empty(num.shape[0])
    for i in range(num.shape[0]):
        out[i] = indicators.safe_ratio_nb(num[i], den[i], fill)
    return out


def _window_statistic(x: np.ndarray, window: int, statistic: int) -> np.ndarray:
    return _window_statistic_path_nb(_as_array(x), _check_window(window), statistic)


def _window_reduce(x: np.ndarray, window: int, reduce) -> np.ndarray:
    x = _as_array(x)
    window = _check_window(window)
    out = np.full(x.shape, np.nan)
    if x.shape[0] >= window:
        out[window - 1:] = reduce(sliding_window_view(x, window))
    return out


def _same_length(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [_as_array(a) for a in arrays]
    if len({a.shape[0] for a in out}) > 1:
        raise InvalidParameterError(f"rolling helpers take arrays of one length, got {[a.shape[0] for a in out]}")
    return out


def _as_array(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidParameterError(f"rolling helpers take 1-D arrays, got shape {arr.shape}")
    return arr


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InvalidParameterError(f"window must be a positive integer, got {window!r}")
    return int(window)
