"""The account statistics of :class:`engine.tracking.AccountTracker` as compiled kernels over plain arrays.

The compiled whole-run measurement (``engine.measured_simulation``) cannot call the tracker's numpy
methods bar by bar, so this module restates what a reward reads of it: :func:`track_close_nb` is
``AccountTracker.update`` for every account at once, :func:`sharpe_nb`, :func:`drawdown_nb` and
:func:`hold_bars_nb` its ``sharpe``, ``drawdown`` and ``hold_bars``. Every number is the tracker's bit
for bit: the same operations in the same order, including numpy's pairwise summation of a row
(:func:`row_sum_nb`), which a plain running sum would not reproduce (``tests/engine``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

_MIN_STD = 1e-12  # engine.tracking's
_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


class TrackerArrays(NamedTuple):
    """The fields of an ``AccountTracker`` (``K`` accounts, ``N`` symbols, a window of ``W`` returns)."""

    returns: np.ndarray  # (K, W) ring of bar returns, NaN where none yet
    head: np.ndarray  # (1,) int64, the ring slot written next
    prev_equity: np.ndarray  # (K,)
    peak: np.ndarray  # (K,)
    prev_units: np.ndarray  # (K, N)
    entry_bar: np.ndarray  # (K, N) int64, -1 while flat
    bar: np.ndarray  # (K,) int64


def new_tracker_arrays(n_accounts: int, n_symbols: int, window: int) -> TrackerArrays:
    """The arrays of a fresh tracker (before :func:`reset_nb`)."""
    return TrackerArrays(np.full((n_accounts, window), np.nan), np.zeros(1, dtype=np.int64), np.zeros(n_accounts),
                         np.zeros(n_accounts), np.zeros((n_accounts, n_symbols)),
                         np.full((n_accounts, n_symbols), -1, dtype=np.int64), np.zeros(n_accounts, dtype=np.int64))


@njit(cache=True)
def sign_nb(x):
    """``np.sign`` of a float: -1, 0 or 1, NaN for NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return x


@njit(cache=True)
def _block_sum_nb(a, lo, n):
    """numpy's sum of a block of at most 128 values: eight partial sums, then the rest one by one."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise_nb(a):
    """numpy's pairwise sum of ``a``: halves (cut at a multiple of 8) summed apart down to blocks of 128.

    The halving runs on an explicit stack (Numba's cache does not keep recursive functions).
    """
    if len(a) <= _PAIRWISE_BLOCK:
        return _block_sum_nb(a, 0, len(a))
    nodes = np.empty((128, 3), dtype=np.int64)  # lo, n, next child to visit (0, 1, 2 = both done)
    sums = np.empty(128)
    top, done = 0, 0
    nodes[0, 0], nodes[0, 1], nodes[0, 2] = 0, len(a), 0
    while top >= 0:
        lo, n, child = nodes[top, 0], nodes[top, 1], nodes[top, 2]
        if n <= _PAIRWISE_BLOCK:
            sums[done] = _block_sum_nb(a, lo, n)
            done += 1
            top -= 1
            continue
        half = n // 2
        half -= half % 8
        if child == 2:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
            top -= 1
            continue
        nodes[top, 2] = child + 1
        top += 1
        nodes[top, 0], nodes[top, 1], nodes[top, 2] = (lo, half, 0) if child == 0 else (lo + half, n - half, 0)
    return sums[0]


@njit(cache=True)
def row_sum_nb(row):
    """``row.sum()`` of a contiguous float row exactly as numpy reduces it (``0.0 +`` the pairwise sum)."""
    return 0.0 + _pairwise_nb(row)


@njit(cache=True)
def reset_nb(track, bar, equity, units):
    """``AccountTracker.reset`` of every account at ``bar`` from ``equity`` (K,) and ``units`` (K, N)."""
    n_accounts, n_symbols = units.shape
    for k in range(n_accounts):
        track.returns[k, :] = np.nan
        track.prev_equity[k] = equity[k]
        track.peak[k] = equity[k]
        for n in range(n_symbols):
            track.prev_units[k, n] = units[k, n]
            track.entry_bar[k, n] = bar if units[k, n] != 0.0 else -1
        track.bar[k] = bar


@njit(cache=True)
def track_close_nb(track, bar, equity, units):
    """``AccountTracker.update`` of every account at ``bar`` (one bar after the last update)."""
    n_accounts, n_symbols = units.shape
    head = track.head[0]
    for k in range(n_accounts):
        before = track.prev_equity[k]
        e = equity[k]
        track.returns[k, head] = e / before - 1.0 if before > 0.0 else 0.0
        track.prev_equity[k] = e
        peak = track.peak[k]
        if e > peak or np.isnan(e):  # np.maximum: NaN wins
            track.peak[k] = e
        for n in range(n_symbols):
            u = units[k, n]
            previous = track.prev_units[k, n]
            if u != 0.0 and (previous == 0.0 or sign_nb(u) != sign_nb(previous)):
                track.entry_bar[k, n] = bar
            if u == 0.0:
                track.entry_bar[k, n] = -1
            track.prev_units[k, n] = u
        track.bar[k] = bar
    track.head[0] = (head + 1) % track.returns.shape[1]


@njit(cache=True)
def sharpe_nb(track, annualize, ratio_clip, out):
    """``AccountTracker.sharpe`` into ``out`` (K,): the rolling annualized Sharpe ratio, clipped."""
    n_accounts, window = track.returns.shape
    kept = np.empty(window)
    for k in range(n_accounts):
        count = 0
        for i in range(window):
            r = track.returns[k, i]
            if np.isnan(r):
                kept[i] = 0.0
            else:
                kept[i] = r
                count += 1
        mean = row_sum_nb(kept) / max(count, 1)
        for i in range(window):
            r = track.returns[k, i]
            deviation = 0.0 if np.isnan(r) else r - mean
            kept[i] = deviation * deviation
        std = np.sqrt(row_sum_nb(kept) / max(count - 1, 1))
        ratio = mean / std * annualize if count >= 2 and std > _MIN_STD else 0.0
        if ratio < -ratio_clip:  # np.clip, NaN kept
            ratio = -ratio_clip
        elif ratio > ratio_clip:
            ratio = ratio_clip
        out[k] = ratio


@njit(cache=True)
def drawdown_nb(track, equity, k):
    """``AccountTracker.drawdown`` of account ``k`` at ``equity``."""
    peak = track.peak[k]
    return 1.0 - equity / peak if peak > 0.0 else 0.0


@njit(cache=True)
def hold_bars_nb(track, k, n):
    """``AccountTracker.hold_bars`` of account ``k``'s symbol ``n``."""
    entry = track.entry_bar[k, n]
    return track.bar[k] - entry if entry >= 0 else 0
