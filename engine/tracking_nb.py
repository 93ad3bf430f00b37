"""The account statistics of :class:`engine.tracking.AccountTracker` as compiled kernels over plain arrays.

The compiled whole-run measurement (``engine.measured_simulation``) cannot call the tracker's numpy
methods bar by bar, so this module restates what a reward reads of it: :func:`track_close_nb` is
``AccountTracker.update`` for every account at once, :func:`sharpe_nb`, :func:`drawdown_nb` and
:func:`hold_bars_nb` its ``sharpe``, ``drawdown`` and ``hold_bars``. Every number is the tracker's bit
for bit: the same operations in the same order, including numpy's pairwise summation of a row
(``engine.pairwise_nb``), which a plain running sum would not reproduce (``tests/engine``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine.features.indicators import sign_nb
from engine.pairwise_nb import row_sum_nb

_MIN_STD = 1e-12  # engine.tracking's


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
