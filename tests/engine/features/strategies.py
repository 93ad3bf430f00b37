"""Hypothesis strategies and checks shared by the feature tests (hand-made bars: ``builders.py``).

``ohlcv_bars`` draws valid per-symbol bars (the shape every feature function takes);
``assert_causal`` is the look-ahead property: changing bars after a cut leaves every output at or
before the cut unchanged.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_FLOAT = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _float_array(n: int, lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, n, elements=st.floats(min_value=lo, max_value=hi, **_FLOAT))


@st.composite
def ohlcv_bars(draw, min_size: int = 1, max_size: int = 200) -> pd.DataFrame:
    """Valid OHLCV bars: prices > 0, high >= max(open, close), low <= min(open, close), volume >= 0.

    Closes follow a random walk of log returns in [-5%, 5%] from a start price in [1, 1000]; opens
    gap from the previous close by up to 2%; wicks stretch up to 2% beyond the body; volumes lie in
    [0, 1e6] (zero included). The index is 5-minute UTC timestamps. Half the draws take every value
    from Hypothesis (shrinkable, and towards zero returns, so constant prices come up on their own);
    the other half fill the arrays from a drawn seed, so long series vary bar to bar.
    """
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    p0 = draw(st.floats(min_value=1.0, max_value=1000.0, **_FLOAT))
    if draw(st.booleans()):
        # Seeded noise: every value distinct, which Hypothesis' sparse arrays rarely give.
        rng = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
        log_ret, gap = rng.uniform(-0.05, 0.05, n), rng.uniform(-0.02, 0.02, n)
        up_wick, down_wick = rng.uniform(0.0, 0.02, n), rng.uniform(0.0, 0.02, n)
        volume = rng.uniform(0.0, 1e6, n) * (rng.random(n) > 0.05)
    else:
        log_ret = draw(_float_array(n, -0.05, 0.05))
        gap = draw(_float_array(n, -0.02, 0.02))
        up_wick = draw(_float_array(n, 0.0, 0.02))
        down_wick = draw(_float_array(n, 0.0, 0.02))
        volume = draw(_float_array(n, 0.0, 1e6))

    close = p0 * np.exp(np.cumsum(log_ret))
    prev_close = np.concatenate(([p0], close[:-1]))
    open_ = prev_close * np.exp(gap)
    # Multiplying by a factor >= 1 (<= 1) never moves a float down (up), so the OHLC order holds.
    high = np.maximum(open_, close) * (1.0 + up_wick)
    low = np.minimum(open_, close) * (1.0 - down_wick)
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def splice_after(bars: pd.DataFrame, other: pd.DataFrame, cut: int) -> pd.DataFrame:
    """``bars`` up to and including row ``cut``, then ``other``'s rows (same length, same index)."""
    values = np.concatenate([bars.to_numpy()[: cut + 1], other.to_numpy()[cut + 1 :]])
    return pd.DataFrame(values, index=bars.index, columns=bars.columns)


def assert_causal(
    feature_fn: Callable[[pd.DataFrame], pd.DataFrame],
    bars: pd.DataFrame,
    other: pd.DataFrame,
    cut: int,
) -> None:
    """Fail unless ``feature_fn`` gives identical rows ``0..cut`` (NaN-aware) after a splice."""
    before = feature_fn(bars)
    after = feature_fn(splice_after(bars, other, cut))
    assert list(before.columns) == list(after.columns)
    left = before.to_numpy(dtype=np.float64)[: cut + 1]
    right = after.to_numpy(dtype=np.float64)[: cut + 1]
    same = (left == right) | (np.isnan(left) & np.isnan(right))
    if not same.all():
        row, col = np.argwhere(~same)[0]
        raise AssertionError(
            f"look-ahead: column {before.columns[col]!r} at bar {row} (cut {cut}) changed from "
            f"{left[row, col]!r} to {right[row, col]!r} when bars after the cut changed"
        )
