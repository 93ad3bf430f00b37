"""Hand-made and Hypothesis-drawn price paths for the scenario tests, and the OHLC validity check."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from engine.data.market import MarketData
from engine.scenarios import PricePath

_FLOAT = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _columns(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr[:, None] if arr.ndim == 1 else arr


def make_path(close, open_=None, high=None, low=None, volume=None, symbols=None,
              label: str = "base", freq: str = "1D", start: str = "2024-01-01") -> PricePath:
    """A path from closes (``[T]`` or ``[T, N]``); opens default to the closes, wicks to the body,
    volume to 1000."""
    close = _columns(close)
    open_ = close if open_ is None else _columns(open_)
    high = np.maximum(open_, close) if high is None else _columns(high)
    low = np.minimum(open_, close) if low is None else _columns(low)
    volume = np.full(close.shape, 1000.0) if volume is None else _columns(volume)
    symbols = tuple(symbols or (f"S{j}" for j in range(close.shape[1])))
    index = pd.date_range(start, periods=close.shape[0], freq=freq, tz="UTC")
    return PricePath(label, index, symbols, open=open_, high=high, low=low, close=close,
                     volume=volume, frequency=freq)


def random_path(n_bars: int, n_symbols: int = 2, seed: int = 0, vol: float = 0.015,
                label: str = "base", corr: float = 0.6) -> PricePath:
    """Real-like bars: correlated log-normal random walks with gaps, wicks and log-normal volume."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, vol, (n_bars, 1))
    own = rng.normal(0.0, vol, (n_bars, n_symbols))
    returns = np.sqrt(corr) * common + np.sqrt(1 - corr) * own
    close = 50.0 * np.exp(np.cumsum(returns, axis=0))
    prev = np.vstack([np.full((1, n_symbols), 50.0), close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, vol / 5, close.shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 3, close.shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 3, close.shape)))
    return make_path(close, open_, high, low, rng.lognormal(8.0, 1.0, close.shape), label=label)


def market_data(path: PricePath, name: str = "tiny") -> MarketData:
    """The path as a MarketData (to test builders that take a dataset)."""
    return MarketData(name, path.index, path.symbols, open=path.open.copy(), high=path.high.copy(),
                      low=path.low.copy(), close=path.close.copy(), volume=path.volume.copy(),
                      frequency=path.frequency)


def assert_valid_ohlc(open_, high, low, close, volume) -> None:
    """Every price finite and > 0, high >= max(open, close), low <= min(open, close), volume >= 0."""
    for prices in (open_, high, low, close):
        assert np.isfinite(prices).all() and (prices > 0).all()
    assert (high >= np.maximum(open_, close)).all()
    assert (low <= np.minimum(open_, close)).all()
    assert np.isfinite(volume).all() and (volume >= 0).all()


def log_returns(close: np.ndarray) -> np.ndarray:
    """One-bar close log returns along the bar axis (second to last)."""
    return np.diff(np.log(close), axis=-2)


@st.composite
def price_paths(draw, min_bars: int = 3, max_bars: int = 12, max_symbols: int = 3) -> PricePath:
    """Valid paths: log returns in [-20%, 20%], gaps up to 5%, wicks up to 5% (zero included),
    volume in [0, 1e6], start prices in [0.5, 5000]."""
    n = draw(st.integers(min_bars, max_bars))
    k = draw(st.integers(1, max_symbols))

    def floats(lo: float, hi: float) -> np.ndarray:
        values = draw(st.lists(st.floats(lo, hi, **_FLOAT), min_size=n * k, max_size=n * k))
        return np.array(values).reshape(n, k)

    start = np.array(draw(st.lists(st.floats(0.5, 5000, **_FLOAT), min_size=k, max_size=k)))
    close = start * np.exp(np.cumsum(floats(-0.2, 0.2), axis=0))
    prev = np.vstack([start[None, :], close[:-1]])
    open_ = prev * np.exp(floats(-0.05, 0.05))
    # A factor >= 1 (<= 1) never moves a float down (up), so the OHLC order holds exactly.
    high = np.maximum(open_, close) * np.exp(floats(0.0, 0.05))
    low = np.minimum(open_, close) * np.exp(-floats(0.0, 0.05))
    return make_path(close, open_, high, low, floats(0.0, 1e6))
