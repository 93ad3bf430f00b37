"""Window statistics, and the newest values of an input series kept bar by bar for them.

The statistics (``window_sum_nb``, ``window_mean_nb``, ...) reduce one window, a 1-D array of the
newest values, oldest first. The batch helpers of :mod:`engine.features.rolling` apply them to each
window of a whole array; the per-bar feature steps keep the newest values of each input series in a
*tail* record (:func:`tail_dt`) and apply them to its newest window (``mean_nb(tail, 20)``, ...).
Every window statistic is therefore computed by the code below, whichever driver asks.

Each statistic is computed from the window itself (never by running sums), so a value carries no
rounding from earlier bars. Sums add in NumPy's pairwise order, so a statistic equals NumPy's
reduction of the same window bit for bit. A window holding a NaN gives NaN; a tail statistic is NaN
until ``n`` values were pushed. A constant window has a mean exactly equal to its value and a standard
deviation of exactly 0: otherwise the ulp error of a float mean leaves ~1e-19, and ratios over the std
(Bollinger position, z-scores) would turn rounding noise into O(1) values.
"""
from __future__ import annotations

import math

import numba
import numpy as np

_PAIRWISE_BLOCK = 128  # NumPy's PW_BLOCKSIZE: runs up to this length are summed with 8 accumulators
_MAX_DEPTH = 64  # halving a run of at most 2**63 values stays below 64 levels


def tail_dt(keep: int) -> np.dtype:
    """Record dtype of a tail keeping the newest ``keep`` values of one series.

    Each value is written twice, at ``slot`` and ``slot + keep``, so the newest ``n <= keep`` values
    always form one contiguous slice. A zeroed record is an empty tail.

    Fields:
        values: ``2 * keep`` float64.
        count: Values pushed so far.
        newest: Slot of the newest value, in ``[0, keep)``.
        equal_run: How many of the newest values equal the newest one (a window of ``n`` values is
            constant when it is ``>= n``).
    """
    return np.dtype([("values", np.float64, (2 * keep,)), ("count", np.int64), ("newest", np.int64),
                     ("equal_run", np.int64)])


@numba.njit(cache=True, error_model="numpy")
def push_nb(tail, value):
    """Append ``value`` to a tail record."""
    keep = tail.values.shape[0] // 2
    tail.equal_run = equal_run_nb(tail.equal_run, tail.values[tail.newest], value) if tail.count else 1
    slot = tail.newest + 1 if tail.newest + 1 < keep else 0
    tail.values[slot] = value
    tail.values[slot + keep] = value
    tail.newest = slot
    tail.count += 1


@numba.njit(cache=True, error_model="numpy")
def equal_run_nb(run, previous, value):
    """Length of the run of equal values ending at ``value``, given the run ending at ``previous``."""
    # NaN equals nothing, so a NaN ends the run and a window holding one is never constant.
    return run + 1 if value == previous else 1


@numba.njit(cache=True, error_model="numpy")
def newest_nb(tail, n):
    """The newest ``n <= keep`` values of a tail, oldest first (meaningful once ``n`` were pushed)."""
    end = tail.newest + tail.values.shape[0] // 2 + 1
    return tail.values[end - n:end]


@numba.njit(cache=True, error_model="numpy")
def lag_nb(tail, lag):
    """The value ``lag < keep`` pushes before the newest (``lag = 0``: the newest); NaN before it exists."""
    if tail.count <= lag:
        return np.nan
    return tail.values[tail.newest + tail.values.shape[0] // 2 - lag]


@numba.njit(cache=True, error_model="numpy")
def sum_nb(tail, n):
    """:func:`window_sum_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_sum_nb(newest_nb(tail, n))


@numba.njit(cache=True, error_model="numpy")
def mean_nb(tail, n):
    """:func:`window_mean_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_mean_nb(newest_nb(tail, n), tail.equal_run >= n)


@numba.njit(cache=True, error_model="numpy")
def std_nb(tail, n, ddof):
    """:func:`window_std_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_std_nb(newest_nb(tail, n), ddof, tail.equal_run >= n)


@numba.njit(cache=True, error_model="numpy")
def max_nb(tail, n):
    """:func:`window_max_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_max_nb(newest_nb(tail, n))


@numba.njit(cache=True, error_model="numpy")
def min_nb(tail, n):
    """:func:`window_min_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_min_nb(newest_nb(tail, n))


@numba.njit(cache=True, error_model="numpy")
def rank_nb(tail, n):
    """:func:`window_rank_nb` of a tail's newest ``n`` values."""
    if tail.count < n:
        return np.nan
    return window_rank_nb(newest_nb(tail, n))


@numba.njit(cache=True, error_model="numpy")
def window_sum_nb(window):
    """Sum of the window."""
    return _numpy_sum_nb(window, 0.0, False)


@numba.njit(cache=True, error_model="numpy")
def window_mean_nb(window, constant):
    """Mean of the window; its last value exactly when ``constant`` (all values equal)."""
    if constant:
        return window[window.shape[0] - 1]
    return _numpy_sum_nb(window, 0.0, False) / window.shape[0]


@numba.njit(cache=True, error_model="numpy")
def window_std_nb(window, ddof, constant):
    """Standard deviation of the window (``ddof`` 0 or 1, below its length); exactly 0 when ``constant``."""
    if constant:
        return 0.0
    n = window.shape[0]
    # np.std's two passes: the mean, then the sum of the squared deviations from it.
    mean = _numpy_sum_nb(window, 0.0, False) / n
    return math.sqrt(_numpy_sum_nb(window, mean, True) / (n - ddof))


@numba.njit(cache=True, error_model="numpy")
def window_max_nb(window):
    """Largest value of the window."""
    out = window[0]
    for value in window:
        if np.isnan(value):
            return np.nan
        if value > out:
            out = value
    return out


@numba.njit(cache=True, error_model="numpy")
def window_min_nb(window):
    """Smallest value of the window."""
    out = window[0]
    for value in window:
        if np.isnan(value):
            return np.nan
        if value < out:
            out = value
    return out


@numba.njit(cache=True, error_model="numpy")
def window_rank_nb(window):
    """Mid-rank of the window's last value among its ``n >= 2`` values, in ``[0, 1]``.

    ``(n_below + (n_equal - 1) / 2) / (n - 1)``, the counts running over the whole window: 0 for the
    window's minimum, 1 for its strict maximum, 0.5 when all values are equal.
    """
    n = window.shape[0]
    current = window[n - 1]
    below = 0
    equal = 0
    for value in window:
        if np.isnan(value):
            return np.nan
        if value < current:
            below += 1
        elif value == current:
            equal += 1
    return (below + (equal - 1) / 2.0) / (n - 1)


@numba.njit(cache=True, error_model="numpy")
def _numpy_sum_nb(values, center, squared):
    """``np.sum(values)``, or ``np.sum((values - center)**2)`` when ``squared``, bit for bit.

    NumPy sums a run of up to 128 values with eight accumulators (:func:`_block_sum_nb`) and splits a
    longer run at half its length rounded down to a multiple of 8, adding the two halves' sums; its
    reduction starts from 0.0, which turns a sum of -0.0 into 0.0. Runs that need more than one split
    are walked in the same order with an explicit stack: Numba cannot link a cached recursive kernel
    into a new specialization.
    """
    n = values.shape[0]
    if n <= _PAIRWISE_BLOCK:
        return 0.0 + _block_sum_nb(values, 0, n, center, squared)
    half = _left_half_nb(n)
    if n - half <= _PAIRWISE_BLOCK:
        return 0.0 + (_block_sum_nb(values, 0, half, center, squared)
                      + _block_sum_nb(values, half, n - half, center, squared))
    # Frame f covers values[start[f]:start[f] + size[f]]; left[f] is its left half's sum once known.
    start = np.zeros(_MAX_DEPTH, dtype=np.int64)
    size = np.zeros(_MAX_DEPTH, dtype=np.int64)
    left = np.zeros(_MAX_DEPTH)
    left_done = np.zeros(_MAX_DEPTH, dtype=np.bool_)
    top = 0
    size[0] = n
    while True:
        half = _left_half_nb(size[top])
        lo, length = (start[top] + half, size[top] - half) if left_done[top] else (start[top], half)
        if length > _PAIRWISE_BLOCK:
            top += 1
            start[top], size[top], left_done[top] = lo, length, False
            continue
        total = _block_sum_nb(values, lo, length, center, squared)
        while left_done[top]:  # a right half is summed: its frame is complete
            total = left[top] + total
            if top == 0:
                return 0.0 + total
            top -= 1
        left[top] = total
        left_done[top] = True


@numba.njit(cache=True, error_model="numpy", inline="always")
def _left_half_nb(n):
    half = n // 2
    return half - half % 8


@numba.njit(cache=True, error_model="numpy")
def _block_sum_nb(values, lo, n, center, squared):
    """NumPy's sum of a run of ``n <= 128`` values: in order below 8, else eight interleaved accumulators."""
    if n < 8:
        out = 0.0
        for i in range(lo, lo + n):
            out += _term_nb(values[i], center, squared)
        return out
    r0 = _term_nb(values[lo], center, squared)
    r1 = _term_nb(values[lo + 1], center, squared)
    r2 = _term_nb(values[lo + 2], center, squared)
    r3 = _term_nb(values[lo + 3], center, squared)
    r4 = _term_nb(values[lo + 4], center, squared)
    r5 = _term_nb(values[lo + 5], center, squared)
    r6 = _term_nb(values[lo + 6], center, squared)
    r7 = _term_nb(values[lo + 7], center, squared)
    i = lo + 8
    blocks_end = lo + n - n % 8
    while i < blocks_end:
        r0 += _term_nb(values[i], center, squared)
        r1 += _term_nb(values[i + 1], center, squared)
        r2 += _term_nb(values[i + 2], center, squared)
        r3 += _term_nb(values[i + 3], center, squared)
        r4 += _term_nb(values[i + 4], center, squared)
        r5 += _term_nb(values[i + 5], center, squared)
        r6 += _term_nb(values[i + 6], center, squared)
        r7 += _term_nb(values[i + 7], center, squared)
        i += 8
    out = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        out += _term_nb(values[i], center, squared)
        i += 1
    return out


@numba.njit(cache=True, error_model="numpy", inline="always")
def _term_nb(value, center, squared):
    if squared:
        deviation = value - center
        return deviation * deviation
    return value
