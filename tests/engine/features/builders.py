"""Hand-made bars for example-based feature tests (Hypothesis strategies live in ``strategies.py``)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def make_bars(close, open_=None, high=None, low=None, volume=None, freq: str = "1D") -> pd.DataFrame:
    """Bars from given closes; opens default to the closes, wicks to the body, volume to 1000."""
    close = np.asarray(close, dtype=np.float64)
    open_ = close if open_ is None else np.asarray(open_, dtype=np.float64)
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=np.float64)
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=np.float64)
    volume = np.full(len(close), 1000.0) if volume is None else np.asarray(volume, dtype=np.float64)
    index = pd.date_range("2021-01-01", periods=len(close), freq=freq, tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def random_bars(n: int, seed: int = 0, freq: str = "1D") -> pd.DataFrame:
    """Real-like bars: a 1.5%-per-bar log-normal random walk with gaps, wicks and log-normal volume."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, n)))
    open_ = np.concatenate(([50.0], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.005, n)))
    return make_bars(close, open_, high, low, rng.lognormal(8.0, 1.0, n), freq=freq)


def zigzag_closes(n: int, drift: float, swing: float, start: float = 100.0) -> np.ndarray:
    """``n`` closes whose one-bar log returns are ``drift + swing, drift - swing, drift + swing, ...``.

    Over an even number ``k`` of consecutive returns the mean is ``drift`` and every deviation is
    ``+-swing``, so their sample std is ``swing * sqrt(k / (k - 1))``: handy for hand-computed values.
    """
    returns = drift + swing * np.where(np.arange(1, n) % 2 == 1, 1.0, -1.0)
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))
