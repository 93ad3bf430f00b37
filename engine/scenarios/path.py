"""`PricePath`: one market path (OHLCV of N symbols over T bars, every value finite) and the
bar-relative representation that shocks and resamplers work in.

Relative bars: bar ``t >= 1`` of one symbol is four log offsets from the previous close ``C[t-1]``::

    g = ln(O[t] / C[t-1])   h = ln(H[t] / C[t-1])   l = ln(L[t] / C[t-1])   r = ln(C[t] / C[t-1])

A bar is valid exactly when ``l <= min(g, r)`` and ``h >= max(g, r)``. These are linear
inequalities, so any convex combination of valid bars is valid and so is any increasing affine
map ``x -> m + k (x - m)`` (``k >= 0``) applied to all four offsets; negating all four and swapping
``h`` and ``l`` mirrors a bar. Shocks and the bootstrap are built from those three moves, which is
why they keep OHLC validity by construction. :func:`rebuild_bars` turns offsets back into prices.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.data.market import FIELDS, MarketData, to_utc
from engine.errors import InvalidParameterError

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")


@dataclass(frozen=True, eq=False)
class PricePath:
    """One market path: ``[T, N]`` float64 OHLCV arrays on real or nominal timestamps.

    Attributes:
        label: Human-readable name, e.g. ``"sp500"`` or ``"sp500 | gap -10% at 2008-09-15"``.
        index: UTC timestamps, length ``T >= 2``. Synthetic paths keep their base path's timestamps.
        symbols: Symbol names, length ``N``.
        open, high, low, close, volume: ``[T, N]`` C-contiguous float64, read-only; prices finite and
            > 0, ``high >= max(open, close)``, ``low <= min(open, close)``, volume finite and >= 0.
        frequency: Bar frequency (pandas offset alias), as in :class:`MarketData`.
    """

    label: str
    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    frequency: str = field(default="1D")

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if len(self.index) < 2:
            raise InvalidParameterError(
                f"path {self.label!r} has {len(self.index)} bar(s); a scenario needs at least 2 "
                "(a decision at one bar fills at the next bar's open)"
            )
        shape = (len(self.index), len(self.symbols))
        for name in FIELDS:
            arr = np.array(getattr(self, name), dtype=np.float64, order="C")
            if arr.shape != shape:
                raise InvalidParameterError(
                    f"path {self.label!r}: {name} has shape {arr.shape}, expected {shape}"
                )
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        check_bars(self.label, self.open, self.high, self.low, self.close, self.volume,
                   lambda t, j: f"{self.symbols[j]} at {when(self.index[t])}")

    @property
    def n_bars(self) -> int:
        return len(self.index)

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @classmethod
    def from_market(cls, data: MarketData, label: str | None = None) -> "PricePath":
        """The dataset as one path; every symbol must have a bar at every timestamp.

        The engine marks equity with every symbol's close on every bar, so a symbol that is not yet
        listed, delisted, or missing a day inside the selection cannot be simulated. Select a period
        (``MarketData.slice``, ``--start``/``--end``) or symbols (``--symbols``) where all bars exist.

        Raises:
            InvalidParameterError: Naming the first incomplete symbol, its first and last bar and
                the fix.
        """
        require_complete(data)
        return cls(label=data.name if label is None else label, index=data.index,
                   symbols=data.symbols, frequency=data.frequency,
                   **{f: getattr(data, f) for f in FIELDS})

    def with_prices(self, label: str, **arrays: np.ndarray) -> "PricePath":
        """A new path with ``label`` and some of the OHLCV arrays replaced."""
        values = {f: arrays.get(f, getattr(self, f)) for f in FIELDS}
        return PricePath(label, self.index, self.symbols, frequency=self.frequency, **values)

    def truncated(self, n_bars: int) -> "PricePath":
        """The path's first ``n_bars`` bars (the look-ahead canary compares against these)."""
        if not 1 <= n_bars <= self.n_bars:
            raise InvalidParameterError(f"n_bars must be in 1..{self.n_bars}, got {n_bars}")
        arrays = {f: getattr(self, f)[:n_bars] for f in FIELDS}
        return PricePath(self.label, self.index[:n_bars], self.symbols, frequency=self.frequency, **arrays)

    def bar_at(self, at: int | str | pd.Timestamp) -> int:
        """The bar index of ``at``: an int is taken as is; a date or timestamp selects the first bar
        at or after it (a holiday selects the next trading day)."""
        if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
            if not 0 <= at < self.n_bars:
                raise InvalidParameterError(
                    f"bar {at} is outside path {self.label!r}, which has bars 0 to {self.n_bars - 1}"
                )
            return int(at)
        # A comparison, not searchsorted: that refuses a timestamp finer than the index's unit.
        position = int(np.count_nonzero(self.index < to_utc(at)))
        if position == self.n_bars:
            raise InvalidParameterError(
                f"{at} is after the last bar of path {self.label!r} ({when(self.index[-1])})"
            )
        return position

    def bar_range(self, start: int | str | pd.Timestamp | None,
                  end: int | str | pd.Timestamp | None) -> tuple[int, int]:
        """Inclusive bar range ``(a, b)`` from ``start``/``end`` (None is the path's first/last bar;
        a date-only ``end`` includes that whole day)."""
        a = 0 if start is None else self.bar_at(start)
        if end is None:
            b = self.n_bars - 1
        elif isinstance(end, (int, np.integer)) and not isinstance(end, bool):
            b = self.bar_at(end)
        else:
            end_ts = to_utc(end)
            if isinstance(end, str) and len(end.strip()) <= 10:
                end_ts = end_ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
            b = int(np.count_nonzero(self.index <= end_ts)) - 1
        if b < a:
            raise InvalidParameterError(
                f"window {start} to {end} selects no bars of path {self.label!r} "
                f"({when(self.index[0])} to {when(self.index[-1])})"
            )
        return a, b


def when(ts: pd.Timestamp) -> str:
    """A timestamp as a date when it is midnight UTC (daily bars), else as ``YYYY-MM-DD HH:MM``."""
    return str(ts.date()) if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def require_complete(data: MarketData) -> None:
    """Raise InvalidParameterError unless every symbol of ``data`` has a bar at every timestamp."""
    missing = np.zeros(data.close.shape, dtype=bool)
    for name in FIELDS:
        missing |= np.isnan(getattr(data, name))
    for j in np.flatnonzero(missing.any(axis=0)):
        symbol = data.symbols[j]
        has = np.flatnonzero(~missing[:, j])
        span = f"{when(data.index[0])} to {when(data.index[-1])}"
        if has.size == 0:
            raise InvalidParameterError(
                f"symbol {symbol} has no bars between {span} in dataset {data.name!r}; leave it "
                "out (--symbols) or choose another period (--start/--end)"
            )
        first, last = has[0], has[-1]
        own = f"its bars run from {when(data.index[first])} to {when(data.index[last])}"
        if first > 0 or last < data.n_bars - 1:
            raise InvalidParameterError(
                f"symbol {symbol} has no bars over part of the selection {span} in dataset "
                f"{data.name!r} ({own}); the engine needs a price for every symbol on every bar. "
                f"Choose --start {when(data.index[first])} --end {when(data.index[last])} or "
                f"leave {symbol} out (--symbols)"
            )
        holes = np.flatnonzero(missing[first:last + 1, j]) + first
        raise InvalidParameterError(
            f"symbol {symbol} has no bar at {when(data.index[holes[0]])} ({holes.size} bar(s) missing "
            f"inside its range; {own}) in dataset {data.name!r}; the engine needs a price for every "
            "symbol on every bar. Choose a period without gaps (--start/--end) or leave "
            f"{symbol} out (--symbols)"
        )


def check_bars(label: str, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
               close: np.ndarray, volume: np.ndarray, where) -> None:
    """Raise InvalidParameterError at the first bar that breaks a price rule.

    Works on arrays of any shape ``[..., T, N]``; ``where(t, j)`` (or ``where(s, t, j)`` for 3-D
    arrays) names the bad bar.
    """
    rules = (
        ("prices must be finite and > 0",
         ~(np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)
           & (open_ > 0) & (high > 0) & (low > 0) & (close > 0))),
        ("volume must be finite and >= 0", ~(np.isfinite(volume) & (volume >= 0))),
        ("high must be >= max(open, close)", high < np.maximum(open_, close)),
        ("low must be <= min(open, close)", low > np.minimum(open_, close)),
    )
    for rule, bad in rules:
        if bad.any():
            position = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise InvalidParameterError(
                f"path {label!r}: {rule}; first broken at {where(*map(int, position))}"
            )


def relative_bars(path: PricePath) -> np.ndarray:
    """Bars ``1..T-1`` as log offsets from the previous close: ``[T-1, N, 4]`` in order g, h, l, r."""
    prev = path.close[:-1]
    return np.log(np.stack([path.open[1:] / prev, path.high[1:] / prev,
                            path.low[1:] / prev, path.close[1:] / prev], axis=-1))


def rebuild_bars(first_close: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Prices of the bars after a close of ``first_close`` from their offsets.

    Args:
        first_close: ``[..., N]`` close just before the first rebuilt bar.
        offsets: ``[..., K, N, 4]`` (g, h, l, r) of the K bars to rebuild.

    Returns:
        ``{"open", "high", "low", "close"}`` arrays ``[..., K, N]``. ``high``/``low`` are widened to
        cover open and close, which only ever moves them by last-bit rounding of ``exp``.
    """
    base = np.expand_dims(first_close, axis=-2)
    close = base * np.exp(np.cumsum(offsets[..., 3], axis=-2))
    prev = np.concatenate([base, close[..., :-1, :]], axis=-2)
    open_ = prev * np.exp(offsets[..., 0])
    high = np.maximum(prev * np.exp(offsets[..., 1]), np.maximum(open_, close))
    low = np.minimum(prev * np.exp(offsets[..., 2]), np.minimum(open_, close))
    return {"open": open_, "high": high, "low": low, "close": close}
