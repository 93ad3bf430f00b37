"""MMD regime score: how far the recent distribution of returns has moved from the one before it.

With one-bar log returns ``r_t = ln(close_t / close_{t-1})``, at bar ``t`` the recent sample is
``X = r_{t-n+1..t}`` (``n = recent``) and the reference sample the ``m = reference`` returns just
before it, ``Y = r_{t-n-m+1..t-n}``. With the Gaussian kernel
``k(x, y) = exp(-(x - y)^2 / (2 sigma^2))``::

    mmd_score_t = mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j)

This is the biased (V-statistic) estimator of MMD^2, chosen because it is never negative and
lies in ``[0, 2]``, so the score reads as a distance; the unbiased one dips below zero on small
windows.
``sigma`` is the population standard deviation of ``X`` and ``Y`` pooled, i.e. of data available at
``t``, which makes the score invariant to the scale of returns. When ``sigma < 1e-12`` the two
samples are indistinguishable at float precision and the score is 0. Defaults ``recent=24``,
``reference=96`` (half a day against the two days before it on 30-minute bars). Warm-up: the first
value is at bar ``recent + reference`` (120). Cost O(T * (n + m)^2), inside Numba.
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from engine.features._ohlcv import check_int, frame, ohlcv_arrays
from engine.features.rolling import log_return

MMD_COLUMNS: tuple[str, ...] = ("mmd_score",)

SIGMA_FLOOR = 1e-12


@numba.njit(cache=True)
def _mean_kernel_within_nb(x: np.ndarray, scale: float) -> float:
    # k is symmetric with k(x, x) = 1: sum the upper triangle twice plus the diagonal.
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            d = x[i] - x[j]
            total += np.exp(-d * d * scale)
    return (2.0 * total + n) / (n * n)


@numba.njit(cache=True)
def _mean_kernel_between_nb(x: np.ndarray, y: np.ndarray, scale: float) -> float:
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            d = x[i] - y[j]
            total += np.exp(-d * d * scale)
    return total / (x.shape[0] * y.shape[0])


@numba.njit(cache=True)
def mmd_score_nb(returns: np.ndarray, recent: int, reference: int) -> np.ndarray:
    """Biased MMD^2 between each bar's recent returns and the reference returns before them.

    ``returns[0]`` is NaN (no previous close), so the first scored bar is ``recent + reference``.
    """
    n = returns.shape[0]
    out = np.full(n, np.nan)
    size = recent + reference
    for t in range(size, n):
        pooled = returns[t - size + 1 : t + 1]
        sigma = pooled.std()
        if sigma < SIGMA_FLOOR:
            out[t] = 0.0
            continue
        scale = 1.0 / (2.0 * sigma * sigma)
        y = pooled[:reference]
        x = pooled[reference:]
        score = (
            _mean_kernel_within_nb(x, scale)
            + _mean_kernel_within_nb(y, scale)
            - 2.0 * _mean_kernel_between_nb(x, y, scale)
        )
        out[t] = max(0.0, score)  # rounding can dip a hair below the true minimum of 0
    return out


def mmd_regime_score(bars: pd.DataFrame, *, recent: int = 24, reference: int = 96) -> pd.DataFrame:
    """MMD regime score (column ``mmd_score``) of one symbol's bars.

    Args:
        bars: Per-symbol OHLCV bars (only ``close`` is read).
        recent: Returns in the recent sample ``X``.
        reference: Returns in the reference sample ``Y`` just before ``X``.

    Returns:
        Float64 DataFrame on ``bars.index``; NaN before bar ``recent + reference``.
    """
    close = ohlcv_arrays(bars, "mmd_regime_score")["close"]
    score = mmd_score_nb(
        log_return(close, 1), check_int("recent", recent, 1), check_int("reference", reference, 1)
    )
    return frame(MMD_COLUMNS, [score], bars.index)
