"""Causal rolling and smoothing helpers shared by the feature families.

Every helper takes 1-D float64 arrays and returns a float64 array of the same length whose value at
index ``t`` depends on inputs ``0..t`` only. Warm-up positions are NaN. Window statistics are computed
window by window (not by running sums), so a value never carries rounding from earlier bars and
changing later bars cannot change it by even one bit.

The reductions of one window are named functions over a ``[rows, window]`` matrix (``mean_rows``,
``std_rows``, ...), applied here to a sliding-window view and by :mod:`engine.features.streaming` to
the newest window only, so both do the same arithmetic. The
recursive smoothers advance one value at a time through :func:`smoothing_step_nb`, which the
batch loop and the streaming state both call.

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


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over the last ``window`` values; first value at index ``window - 1``.

    A constant window returns its value exactly (a float mean of equal values can be off by an ulp).
    """
    return _window_reduce(x, window, mean_rows)


def wma(x: np.ndarray, window: int) -> np.ndarray:
    """Linearly weighted moving average: weights ``1..window``, the newest value weighs ``window``."""
    weights = np.arange(1, _check_window(window) + 1, dtype=np.float64)
    return _window_reduce(x, window, lambda w: w @ weights / weights.sum())


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values."""
    return _window_reduce(x, window, sum_rows)


def rolling_std(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Standard deviation of the last ``window`` values (``ddof=0``: population, ``1``: sample).

    A constant window gives exactly 0.
    """
    if ddof not in (0, 1) or ddof >= _check_window(window):
        raise InvalidParameterError(
            f"rolling_std: ddof must be 0 or 1 and smaller than window, got ddof={ddof}, window={window}"
        )
    return _window_reduce(x, window, std_rows if ddof == 0 else sample_std_rows)


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Largest of the last ``window`` values."""
    return _window_reduce(x, window, max_rows)


def rolling_min(x: np.ndarray, window: int) -> np.ndarray:
    """Smallest of the last ``window`` values."""
    return _window_reduce(x, window, min_rows)


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
    return _window_reduce(x, window, rank_rows)


def mean_rows(w: np.ndarray) -> np.ndarray:
    """Mean of each window row; a constant row returns its value exactly (a float mean of equal values
    can be off by an ulp)."""
    return np.where(_constant(w), w[:, -1], w.mean(axis=1))


def sum_rows(w: np.ndarray) -> np.ndarray:
    """Sum of each window row."""
    return w.sum(axis=1)


def std_rows(w: np.ndarray) -> np.ndarray:
    """Population standard deviation (ddof 0) of each window row; exactly 0 on a constant row."""
    return _std(w, 0)


def sample_std_rows(w: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof 1) of each window row; exactly 0 on a constant row."""
    return _std(w, 1)


def max_rows(w: np.ndarray) -> np.ndarray:
    """Largest value of each window row."""
    return w.max(axis=1)


def min_rows(w: np.ndarray) -> np.ndarray:
    """Smallest value of each window row."""
    return w.min(axis=1)


def rank_rows(w: np.ndarray) -> np.ndarray:
    """Mid-rank of each row's last value among the row (see :func:`percentile_rank`); NaN rows give NaN."""
    current = w[:, -1:]
    below = (w < current).sum(axis=1)
    equal = (w == current).sum(axis=1)
    ranks = (below + (equal - 1) / 2.0) / (w.shape[1] - 1)
    return np.where(np.isnan(w).any(axis=1), np.nan, ranks)


def _std(w: np.ndarray, ddof: int) -> np.ndarray:
    # Exactly 0 on a constant window: otherwise the ulp error of the mean leaves ~1e-19, and ratios
    # over the std (Bollinger position, z-scores) would turn rounding noise into O(1) values.
    return np.where(_constant(w), 0.0, w.std(axis=1, ddof=ddof))


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``.

    Seeded with the simple mean of the first ``span`` values (first output at index ``span - 1`` of a
    run), then ``e_t = e_{t-1} + alpha * (x_t - e_{t-1})``.
    """
    span = _check_window(span)
    return seeded_smoothing_nb(_as_array(x), 2.0 / (span + 1.0), span)


def wilder(x: np.ndarray, period: int) -> np.ndarray:
    """Wilder's smoothing (RMA): an :func:`ema` with ``alpha = 1 / period``, same seeding."""
    period = _check_window(period)
    return seeded_smoothing_nb(_as_array(x), 1.0 / period, period)


def log_return(close: np.ndarray, lag: int = 1) -> np.ndarray:
    """``log(close_t / close_{t-lag})``; the first ``lag`` values are NaN."""
    close = _as_array(close)
    lag = _check_window(lag)
    out = np.full(close.shape, np.nan)
    out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def realized_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof 1) of the last ``window`` one-bar log returns; per bar, not annualized.

    The first value is at index ``window`` (the first return needs a previous close).
    """
    return rolling_std(log_return(close, 1), window, ddof=1)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """``max(high - low, |high - close_{t-1}|, |low - close_{t-1}|)``; NaN at index 0 (no previous close)."""
    high, low, close = _as_array(high), _as_array(low), _as_array(close)
    prev = np.concatenate(([np.nan], close[:-1]))
    return np.maximum(high - low, np.maximum(np.abs(high - prev), np.abs(low - prev)))


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's relative strength index in ``[0, 100]``.

    Gains ``max(dc, 0)`` and losses ``max(-dc, 0)`` of the one-bar close change are smoothed with
    :func:`wilder`; ``RSI = 100 * G / (G + L)`` (equal to ``100 - 100 / (1 + G / L)``), 100 when only
    gains, 50 when the window is flat (``G = L = 0``). First value at index ``period``.
    """
    close = _as_array(close)
    change = np.concatenate(([np.nan], np.diff(close)))
    gain = wilder(np.maximum(change, 0.0), period)  # np.maximum keeps the NaN at index 0
    loss = wilder(np.maximum(-change, 0.0), period)
    return 100.0 * safe_divide(gain, gain + loss, fill=0.5)


def adx(high: np.ndarray, low: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's average directional index in ``[0, 100]``; first value at index ``2 * period - 1``.

    ``up = high_t - high_{t-1}``, ``down = low_{t-1} - low_t``; ``+DM = up`` where ``up > down`` and
    ``up > 0`` else 0, ``-DM`` symmetrically. With ``S+ = wilder(+DM)``, ``S- = wilder(-DM)`` (the ATR
    in ``+DI = 100 S+ / ATR`` and ``-DI`` cancels), ``DX = 100 |S+ - S-| / (S+ + S-)`` (0 when both are
    0) and ``ADX = wilder(DX)``. Needs no close: the true range only enters through the cancelled ATR.
    """
    high, low = _as_array(high), _as_array(low)
    up = np.concatenate(([np.nan], np.diff(high)))
    down = np.concatenate(([np.nan], -np.diff(low)))
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    plus_dm[0] = minus_dm[0] = np.nan
    plus, minus = wilder(plus_dm, period), wilder(minus_dm, period)
    dx = 100.0 * safe_divide(np.abs(plus - minus), plus + minus, fill=0.0)
    return wilder(dx, period)


def safe_divide(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """``num / den``, with ``fill`` where ``den == 0``; NaN wherever ``num`` or ``den`` is NaN.

    The feature families use it for ratios whose denominator is zero on flat prices or zero volume,
    so such bars get a documented neutral value instead of inf.
    """
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den == 0, fill, num / den)
    return np.where(np.isnan(num) | np.isnan(den), np.nan, out)


@numba.njit(cache=True, inline="always")
def smoothing_step_nb(value, alpha, window, run, acc, state):
    """One input of a seeded smoothing: ``(run, acc, state, out)`` after ``value``.

    ``run`` counts the finite values of the current run, ``acc`` sums them until the seed, ``state`` is
    the smoothed value; ``out`` is NaN until the run's ``window``-th value. A NaN input ends the run.
    """
    if np.isnan(value):
        return 0, 0.0, state, np.nan
    run += 1
    if run < window:
        return run, acc + value, state, np.nan
    if run == window:
        state = (acc + value) / window
    else:
        state = state + alpha * (value - state)
    return run, acc, state, state


@numba.njit(cache=True)
def seeded_smoothing_nb(x, alpha, window):
    """Exponential smoothing seeded with the mean of each finite run's first ``window`` values."""
    out = np.full(x.shape[0], np.nan)
    run = 0
    acc = 0.0
    state = 0.0
    for t in range(x.shape[0]):
        run, acc, state, out[t] = smoothing_step_nb(x[t], alpha, window, run, acc, state)
    return out


@numba.njit(cache=True)
def smoothing_steps_nb(values, alpha, window, run, acc, state, out):
    """:func:`smoothing_step_nb` on one new value per series (``[K]`` arrays, state updated in place)."""
    for k in range(values.shape[0]):
        run[k], acc[k], state[k], out[k] = smoothing_step_nb(values[k], alpha, window, run[k], acc[k], state[k])


def _window_reduce(x: np.ndarray, window: int, reduce) -> np.ndarray:
    x = _as_array(x)
    window = _check_window(window)
    out = np.full(x.shape, np.nan)
    if x.shape[0] >= window:
        out[window - 1:] = reduce(sliding_window_view(x, window))
    return out


def _constant(windows: np.ndarray) -> np.ndarray:
    """Rows of a sliding-window view whose values are all equal (False when a NaN is present)."""
    return windows.max(axis=1) == windows.min(axis=1)


def _as_array(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidParameterError(f"rolling helpers take 1-D arrays, got shape {arr.shape}")
    return arr


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InvalidParameterError(f"window must be a positive integer, got {window!r}")
    return int(window)
