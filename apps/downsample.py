"""Downsampling of long series for display: LTTB for one curve, min-max for many.

Both return the *positions* of the points to keep (sorted, first and last always kept), so a caller
can take the same rows from an index and several columns. A browser draws a few thousand points per
line smoothly; 100 scenarios x 5,000 bars is half a million, so every curve is cut to about
``n_out`` points before it leaves the server.
"""
from __future__ import annotations

import numpy as np


def lttb(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Largest-Triangle-Three-Buckets (Steinarsson 2013): positions of ``n_out`` points of ``(x, y)``.

    The first and last points are kept; the points between are split into ``n_out - 2`` buckets and
    each keeps the point that forms the largest triangle with the point kept before it and the mean
    of the next bucket, which preserves peaks and troughs that matter to the eye.

    Args:
        x: Increasing positions (e.g. timestamps as int64), shape ``(n,)``.
        y: Finite values, shape ``(n,)``.
        n_out: Points to keep (>= 3); when ``n <= n_out`` every position is returned.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if len(x) != n:
        raise ValueError(f"x has {len(x)} points and y {n}; they must match")
    if n_out < 3:
        raise ValueError(f"n_out {n_out} must be at least 3 (first, last and one bucket)")
    if n <= n_out:
        return np.arange(n)
    edges = np.linspace(1, n - 1, n_out - 1).astype(np.int64)  # n_out - 2 buckets over 1 .. n - 2
    keep = np.empty(n_out, dtype=np.int64)
    keep[0], keep[-1] = 0, n - 1
    previous = 0
    for b in range(n_out - 2):
        start, stop = edges[b], edges[b + 1]
        if b + 2 < len(edges):
            next_x, next_y = x[edges[b + 1]:edges[b + 2]].mean(), y[edges[b + 1]:edges[b + 2]].mean()
        else:
            next_x, next_y = x[n - 1], y[n - 1]
        area = np.abs((x[previous] - next_x) * (y[start:stop] - y[previous])
                      - (x[previous] - x[start:stop]) * (next_y - y[previous]))
        previous = start + int(np.argmax(area))
        keep[b + 1] = previous
    return keep


def min_max(y: np.ndarray, n_buckets: int) -> np.ndarray:
    """Positions of the minimum and maximum of each of ``n_buckets`` equal buckets of ``y``.

    ``y`` may be ``(n,)`` or ``(n, k)``: for several columns a row is kept when it holds the minimum
    or maximum of any column in its bucket, so one set of positions serves every column. NaN values
    are ignored; first and last positions are always kept.
    """
    y = np.asarray(y, dtype=np.float64)
    columns = y.reshape(len(y), -1)
    n = len(columns)
    if n_buckets < 1:
        raise ValueError(f"n_buckets {n_buckets} must be at least 1")
    if n <= 2 * n_buckets + 2:
        return np.arange(n)
    edges = np.linspace(0, n, n_buckets + 1).astype(np.int64)
    width = int(np.max(np.diff(edges)))
    # Pad each bucket to the widest one with NaN so all buckets reduce in one call.
    padded = np.full((n_buckets, width, columns.shape[1]), np.nan)
    offsets = np.arange(width)
    rows = edges[:-1, None] + offsets[None, :]
    valid = rows < edges[1:, None]
    padded[valid] = columns[rows[valid]]
    finite = np.isfinite(padded)
    low = np.where(finite, padded, np.inf).argmin(axis=1)
    high = np.where(finite, padded, -np.inf).argmax(axis=1)
    has = finite.any(axis=1)
    chosen = np.concatenate([(edges[:-1, None] + low)[has], (edges[:-1, None] + high)[has], [0, n - 1]])
    return np.unique(chosen)


def downsample_index(x: np.ndarray, y: np.ndarray, n_out: int = 2000) -> np.ndarray:
    """Positions to draw: LTTB over the finite points of one column, min-max over several."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] > 1:
        return min_max(y, max(1, n_out // 2))
    flat = y.reshape(-1)
    finite = np.flatnonzero(np.isfinite(flat))
    if len(finite) <= n_out:
        return finite
    return finite[lttb(np.asarray(x, dtype=np.float64)[finite], flat[finite], n_out)]
