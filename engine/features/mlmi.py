"""Machine-Learning Momentum Index (MLMI): a k-nearest-neighbour vote over RSI states.

In the spirit of the TradingView MLMI indicator. Each bar is a point in the plane
``(WMA(RSI_fast), WMA(RSI_slow))``. A past bar ``i`` carries the label
``y_i = sign(close_{i+horizon} - close_i)``, which is known at bar ``t`` only when
``i + horizon <= t``; so at bar ``t`` the neighbour set is the most recent ``memory`` bars with
``i <= t - horizon``. ``mlmi_value_t`` is the sum of the labels of the ``neighbors`` bars of that
set nearest (Euclidean) to bar ``t``'s point; equal distances go to the more recent bar.
``mlmi_signal = WMA(mlmi_value, signal_period)``.

Defaults: RSI 5 and 20 (Wilder), both smoothed by a 20-bar WMA, 200 neighbours (the TradingView
default) out of the last 2,000 labelled bars, a 5-bar label horizon (2.5 hours on 30-minute bars,
long enough for the label to be more than one bar of noise), 20-bar signal WMA. ``mlmi_value`` lies
in ``[-neighbors, neighbors]``. Warm-up: ``mlmi_value`` is NaN until ``neighbors`` labelled bars
with finite RSI states exist, i.e. the first value is at bar
``max(fast_period, slow_period) + smooth_period - 2 + horizon + neighbors`` (243 with the
defaults); ``mlmi_signal`` starts ``signal_period - 1`` bars later (262).
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.features import rolling
from engine.features._ohlcv import check_int, frame, ohlcv_arrays

MLMI_COLUMNS: tuple[str, ...] = ("mlmi_value", "mlmi_signal")


@numba.njit(cache=True)
def kth_smallest_nb(work: np.ndarray, k: int) -> float:
    """The ``k``-th smallest value (0-based) of ``work``, which it reorders; expected O(len).

    Quickselect with a three-way partition, so runs of equal values (flat prices make every
    distance equal) cost one pass instead of a quadratic worst case. (``np.partition`` does the same
    but takes Numba seconds to compile.)
    """
    lo = 0
    hi = work.shape[0] - 1
    while lo < hi:
        a, b, c = work[lo], work[(lo + hi) // 2], work[hi]
        pivot = max(min(a, b), min(max(a, b), c))  # median of three
        lt, i, gt = lo, lo, hi
        while i <= gt:
            v = work[i]
            if v < pivot:
                work[i], work[lt] = work[lt], v
                lt += 1
                i += 1
            elif v > pivot:
                work[i], work[gt] = work[gt], v
                gt -= 1
            else:
                i += 1
        # Now work[lo:lt] < pivot == work[lt:gt+1] < work[gt+1:hi+1].
        if k < lt:
            hi = lt - 1
        elif k > gt:
            lo = gt + 1
        else:
            return pivot
    return work[lo]


@numba.njit(cache=True)
def knn_label_sum_nb(
    feat_a: np.ndarray,
    feat_b: np.ndarray,
    close: np.ndarray,
    neighbors: int,
    memory: int,
    horizon: int,
) -> np.ndarray:
    """Sum of the labels of the ``neighbors`` nearest labelled past bars, per bar.

    Candidates of bar ``t`` are bars ``i`` in ``[t - horizon - memory + 1, t - horizon]`` with
    finite features; label ``sign(close[i + horizon] - close[i])`` reads at most bar ``t``. NaN
    where the query point is not finite or fewer than ``neighbors`` candidates exist. Selection is
    O(memory) per bar: the k-th smallest distance by quickselect, then ties at that distance taken
    newest first.
    """
    n = feat_a.shape[0]
    out = np.full(n, np.nan)
    dist = np.empty(memory)
    label = np.empty(memory)
    work = np.empty(memory)
    for t in range(n):
        qa = feat_a[t]
        qb = feat_b[t]
        if not (np.isfinite(qa) and np.isfinite(qb)):
            continue
        newest = t - horizon
        oldest = max(0, newest - memory + 1)
        m = 0
        for i in range(newest, oldest - 1, -1):  # newest first, so ties resolve by recency below
            a = feat_a[i]
            b = feat_b[i]
            if np.isfinite(a) and np.isfinite(b):
                dist[m] = (a - qa) * (a - qa) + (b - qb) * (b - qb)
                work[m] = dist[m]
                label[m] = np.sign(close[i + horizon] - close[i])
                m += 1
        if m < neighbors:
            continue
        kth = kth_smallest_nb(work[:m], neighbors - 1)
        total = 0.0
        taken = 0
        for j in range(m):
            if dist[j] < kth:
                total += label[j]
                taken += 1
        for j in range(m):
            if taken == neighbors:
                break
            if dist[j] == kth:
                total += label[j]
                taken += 1
        out[t] = total
    return out


def mlmi(
    bars: pd.DataFrame,
    *,
    fast_period: int = 5,
    slow_period: int = 20,
    smooth_period: int = 20,
    neighbors: int = 200,
    memory: int = 2000,
    horizon: int = 5,
    signal_period: int = 20,
) -> pd.DataFrame:
    """MLMI value and signal (columns ``MLMI_COLUMNS``) of one symbol's bars.

    Args:
        bars: Per-symbol OHLCV bars (only ``close`` is read).
        fast_period: Period of the fast Wilder RSI.
        slow_period: Period of the slow Wilder RSI.
        smooth_period: WMA period applied to both RSIs.
        neighbors: Number of nearest neighbours whose labels are summed (k).
        memory: How many of the most recent labelled bars are searched (>= ``neighbors``).
        horizon: Bars ahead that define a label; a bar's label is usable ``horizon`` bars later.
        signal_period: WMA period of ``mlmi_signal``.

    Returns:
        Float64 DataFrame on ``bars.index``; NaN during warm-up (see module docstring).
    """
    close = ohlcv_arrays(bars, "mlmi")["close"]
    for name, value in (("fast_period", fast_period), ("slow_period", slow_period),
                        ("smooth_period", smooth_period), ("neighbors", neighbors),
                        ("memory", memory), ("horizon", horizon), ("signal_period", signal_period)):
        check_int(name, value, 1)
    if memory < neighbors:
        raise InvalidParameterError(f"memory ({memory}) must be >= neighbors ({neighbors})")
    rsi_fast = rolling.wma(rolling.rsi(close, fast_period), smooth_period)
    rsi_slow = rolling.wma(rolling.rsi(close, slow_period), smooth_period)
    value = knn_label_sum_nb(rsi_fast, rsi_slow, close, neighbors, memory, horizon)
    signal = rolling.wma(value, signal_period)
    return frame(MLMI_COLUMNS, [value, signal], bars.index)
