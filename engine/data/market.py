"""`MarketData`: OHLCV bars of one or many symbols on one shared, UTC timestamp index.

Arrays are ``[T, N]`` float64 (bars x symbols). A symbol that has no bar at a timestamp (not yet
listed, delisted, or a calendar difference) holds NaN in every field there; all other values are
finite and have passed validation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
# Timestamps are nanosecond int64 (pandas' range: 1677-09-21 to 2262-04-11). Whole years well
# inside it leave room for any UTC offset and a day's end, so no conversion overflows.
FIRST_YEAR = 1678
LAST_YEAR = 2261
_FIRST = pd.Timestamp(f"{FIRST_YEAR}-01-01", tz="UTC")
_END = pd.Timestamp(f"{LAST_YEAR + 1}-01-01", tz="UTC")  # exclusive
TRADING_DAYS_PER_YEAR = 252
SESSION_MINUTES = 390  # a US equity session, 09:30-16:00


def bars_per_year(frequency: str) -> float:
    """Bars in a trading year at ``frequency`` under the US equity calendar.

    Daily and longer bars count 252 trading days a year; intraday bars count the bars of a
    390-minute session (the last bar may be shorter: 7 hourly bars a day).
    """
    span = pd.Timedelta(pd.tseries.frequencies.to_offset(frequency))
    if span >= pd.Timedelta(days=1):
        return TRADING_DAYS_PER_YEAR / (span / pd.Timedelta(days=1))
    return TRADING_DAYS_PER_YEAR * float(np.ceil(SESSION_MINUTES / (span / pd.Timedelta(minutes=1))))


@dataclass(frozen=True, eq=False)
class MarketData:
    """OHLCV bars of ``N`` symbols over ``T`` timestamps.

    Attributes:
        name: Dataset name (registry name, imported name or file path).
        index: Strictly increasing, timezone-aware (UTC) timestamps, length ``T``.
        symbols: Symbol names, length ``N``.
        open, high, low, close, volume: ``[T, N]`` float64 arrays, NaN where a symbol has no bar.
        frequency: Bar frequency as a pandas offset alias (``"1D"``, ``"1h"``, ``"30min"``, ``"5min"``).
        regimes: Optional ``[T, N]`` array of generator regime codes (synthetic data only).
    """

    name: str
    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    frequency: str
    regimes: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        shape = (len(self.index), len(self.symbols))
        for name in FIELDS:
            arr = getattr(self, name)
            if arr.shape != shape:
                raise InvalidParameterError(f"MarketData.{name} has shape {arr.shape}, expected {shape}")
        if self.index.tz is None or str(self.index.tz) != "UTC":
            raise InvalidParameterError("MarketData.index must be timezone-aware UTC")
        if len(set(self.symbols)) != len(self.symbols):
            raise InvalidParameterError(f"MarketData.symbols has duplicates: {self.symbols}")
        # Datasets are shared (cached loads, feature builds); freeze the arrays so no caller can
        # change bars another caller is reading.
        for name in FIELDS:
            getattr(self, name).setflags(write=False)

    @property
    def n_bars(self) -> int:
        return len(self.index)

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @classmethod
    def from_frames(
        cls, name: str, frames: Mapping[str, pd.DataFrame], frequency: str
    ) -> "MarketData":
        """Align per-symbol frames (UTC DatetimeIndex, columns ``FIELDS``) on the union of timestamps."""
        if not frames:
            raise InvalidParameterError(f"dataset {name!r} has no symbols")
        index = frames[next(iter(frames))].index
        for frame in frames.values():
            index = index.union(frame.index)
        arrays = {f: np.full((len(index), len(frames)), np.nan) for f in FIELDS}
        for j, frame in enumerate(frames.values()):
            rows = index.get_indexer(frame.index)
            for f in FIELDS:
                arrays[f][rows, j] = frame[f].to_numpy(dtype=np.float64)
        return cls(name=name, index=index, symbols=tuple(frames), frequency=frequency, **arrays)

    def symbol_frame(self, symbol: str) -> pd.DataFrame:
        """The bars of one symbol as a DataFrame, rows where it has no bar dropped."""
        j = self._column(symbol)
        frame = pd.DataFrame({f: getattr(self, f)[:, j] for f in FIELDS}, index=self.index)
        frame.index.name = "timestamp"
        return frame[~np.isnan(self.close[:, j])]

    def to_long(self) -> pd.DataFrame:
        """Long format: one row per (timestamp, symbol) bar, columns ``timestamp, symbol, *FIELDS``."""
        parts = []
        for symbol in self.symbols:
            frame = self.symbol_frame(symbol).reset_index()
            frame.insert(1, "symbol", symbol)
            parts.append(frame)
        return pd.concat(parts, ignore_index=True)

    def select(self, symbols: list[str] | tuple[str, ...] | None) -> "MarketData":
        """A copy restricted to ``symbols`` (in that order); ``None`` keeps all."""
        if symbols is None:
            return self
        cols = [self._column(s) for s in symbols]
        kept = {f: getattr(self, f)[:, cols] for f in FIELDS}
        regimes = None if self.regimes is None else self.regimes[:, cols]
        data = MarketData(self.name, self.index, tuple(symbols), frequency=self.frequency,
                          regimes=regimes, **kept)
        return data._drop_empty_rows()

    def slice(self, start: str | pd.Timestamp | None = None,
              end: str | pd.Timestamp | None = None) -> "MarketData":
        """A copy restricted to ``start <= timestamp <= end`` (dates are read as UTC)."""
        mask = period_mask(self.index, start, end)
        if not mask.any():
            raise InvalidParameterError(
                f"dataset {self.name!r} has no bars between {start} and {end} "
                f"(it covers {self.index[0].date()} to {self.index[-1].date()})"
            )
        kept = {f: getattr(self, f)[mask] for f in FIELDS}
        regimes = None if self.regimes is None else self.regimes[mask]
        return MarketData(self.name, self.index[mask], self.symbols, frequency=self.frequency,
                          regimes=regimes, **kept)

    def fingerprint(self) -> str:
        """SHA-256 of symbols, timestamps and every OHLCV value: equal data, equal fingerprint."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.symbols).encode())
        digest.update(self.index.as_unit("ns").asi8.tobytes())  # unit-independent
        for f in FIELDS:
            digest.update(np.ascontiguousarray(getattr(self, f)).tobytes())
        return digest.hexdigest()

    def _column(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise InvalidParameterError(
                f"symbol {symbol!r} is not in dataset {self.name!r}; it has {', '.join(self.symbols)}"
            ) from None

    def _drop_empty_rows(self) -> "MarketData":
        keep = ~np.all(np.isnan(self.close), axis=1)
        if keep.all():
            return self
        kept = {f: getattr(self, f)[keep] for f in FIELDS}
        regimes = None if self.regimes is None else self.regimes[keep]
        return MarketData(self.name, self.index[keep], self.symbols, frequency=self.frequency,
                          regimes=regimes, **kept)



def to_utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """A user's date or timestamp as a UTC Timestamp (naive values are read as UTC).

    Raises:
        InvalidParameterError: ``value`` is not a date (also ``""`` and ``"nan"``, which pandas
            reads as NaT), or lies outside the years ``FIRST_YEAR``-``LAST_YEAR``.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"cannot read {value!r} as a date ({exc}); use YYYY-MM-DD or an ISO timestamp"
        ) from None
    if pd.isna(ts):
        raise InvalidParameterError(f"{value!r} is not a date; use YYYY-MM-DD or an ISO timestamp")
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    if not _FIRST <= ts < _END:
        raise InvalidParameterError(
            f"date {value!r} is outside the years {FIRST_YEAR}-{LAST_YEAR} that timestamps cover")
    return ts


def period_mask(index: pd.DatetimeIndex, start: str | pd.Timestamp | None,
                end: str | pd.Timestamp | None) -> np.ndarray:
    """Rows of ``index`` with ``start <= t <= end``; a date-only ``end`` includes that whole day."""
    mask = np.ones(len(index), dtype=bool)
    if start is not None:
        mask &= index >= to_utc(start)
    if end is not None:
        end_ts = to_utc(end)
        if isinstance(end, str) and len(end.strip()) <= 10:
            end_ts = end_ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
        mask &= index <= end_ts
    return mask
