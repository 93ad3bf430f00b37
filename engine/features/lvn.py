"""Low-volume nodes (LVN) of a rolling volume profile, and the profile's skew.

At bar ``t`` the profile covers the last ``window`` bars. Each bar's typical price
``p = (high + low + close) / 3`` falls into one of ``bins`` equal bins spanning
``[lo, hi] = [min low, max high]`` of the window, and its volume is added to that bin. A bin is a
low-volume node when its volume is below ``lvn_fraction`` times the mean bin volume (empty bins
included). With ``c = close_t`` and the LVN whose bin centre is nearest to ``c`` (ties: the lower
price):

- ``lvn_distance = |centre - c| / c``
- ``lvn_strength = 1 - bin_volume / max_bin_volume`` in ``[0, 1]`` (1 for an empty bin)
- ``volume_profile_skew``: skewness ``m3 / m2^1.5`` of the window's typical prices weighted by
  volume (per bar, not binned).

When the profile has no LVN (every bin holds enough volume, the window traded zero volume, or
``hi == lo``), ``lvn_strength = 0`` and ``lvn_distance = max(hi - c, c - lo) / c``: the nearest LVN
is at best beyond the profile's range. The skew is 0 when the window traded no volume or the
weighted prices do not vary (std below ``1e-10`` of their mean). Defaults: ``window=100``,
``bins=24``, ``lvn_fraction=0.5``. Warm-up: NaN until bar ``window - 1``; no NaN after it.
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.features._ohlcv import check_int, check_positive, frame, ohlcv_arrays

LVN_COLUMNS: tuple[str, ...] = ("lvn_distance", "lvn_strength", "volume_profile_skew")


@numba.njit(cache=True)
def _weighted_skew_nb(price: np.ndarray, weight: np.ndarray, start: int, stop: int) -> float:
    # Explicit loops: Numba compiles them far faster than whole-array expressions.
    total = 0.0
    first = 0.0
    for i in range(start, stop):
        total += weight[i]
        first += weight[i] * price[i]
    if total <= 0.0:
        return 0.0
    mean = first / total
    m2 = 0.0
    m3 = 0.0
    for i in range(start, stop):
        dev = price[i] - mean
        m2 += weight[i] * dev * dev
        m3 += weight[i] * dev * dev * dev
    m2 /= total
    m3 /= total
    std = np.sqrt(m2)
    if std <= 1e-10 * abs(mean):
        return 0.0
    return m3 / (std * std * std)


@numba.njit(cache=True)
def volume_profile_nb(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    window: int,
    bins: int,
    lvn_fraction: float,
) -> np.ndarray:
    """Rolling volume profile; returns ``[T, 3]`` in the order of ``LVN_COLUMNS``. O(T * window)."""
    n = close.shape[0]
    out = np.full((n, 3), np.nan)
    typical = np.empty(n)
    for i in range(n):
        typical[i] = (high[i] + low[i] + close[i]) / 3.0
    for t in range(window - 1, n):
        start = t - window + 1
        lo = low[start]
        hi = high[start]
        for i in range(start + 1, t + 1):
            lo = min(lo, low[i])
            hi = max(hi, high[i])
        c = close[t]
        profile = np.zeros(bins)
        width = (hi - lo) / bins
        total = 0.0
        if width > 0.0:
            for i in range(start, t + 1):
                b = int((typical[i] - lo) / width)
                # A price at hi (or a rounding hair outside the range) stays in the edge bin.
                b = min(bins - 1, max(0, b))
                profile[b] += volume[i]
                total += volume[i]
        best = -1
        best_gap = np.inf
        peak = 0.0
        if total > 0.0:
            threshold = lvn_fraction * total / bins
            for b in range(bins):
                peak = max(peak, profile[b])
                if profile[b] < threshold:
                    gap = abs(lo + (b + 0.5) * width - c)
                    if gap < best_gap:
                        best_gap = gap
                        best = b
        if best >= 0:
            out[t, 0] = best_gap / c
            out[t, 1] = 1.0 - profile[best] / peak
        else:
            out[t, 0] = max(hi - c, c - lo) / c
            out[t, 1] = 0.0
        out[t, 2] = _weighted_skew_nb(typical, volume, start, t + 1)
    return out


def low_volume_nodes(
    bars: pd.DataFrame, *, window: int = 100, bins: int = 24, lvn_fraction: float = 0.5
) -> pd.DataFrame:
    """LVN distance, LVN strength and volume-profile skew (columns ``LVN_COLUMNS``).

    Args:
        bars: Per-symbol OHLCV bars (``high``, ``low``, ``close``, ``volume`` are read).
        window: Bars in the rolling profile.
        bins: Price bins of the profile.
        lvn_fraction: A bin below this fraction of the mean bin volume is a low-volume node; in
            ``(0, 1]`` so that a node always trades less than an average bin.

    Returns:
        Float64 DataFrame on ``bars.index``; NaN before bar ``window - 1``.
    """
    arrays = ohlcv_arrays(bars, "low_volume_nodes")
    fraction = check_positive("lvn_fraction", lvn_fraction)
    if fraction > 1.0:
        raise InvalidParameterError(f"lvn_fraction must be in (0, 1], got {lvn_fraction!r}")
    values = volume_profile_nb(
        arrays["high"], arrays["low"], arrays["close"], arrays["volume"],
        check_int("window", window, 1), check_int("bins", bins, 1), fraction,
    )
    return frame(LVN_COLUMNS, values, bars.index)
