"""Where paper trading's bars come from: the :class:`Feed` protocol, replays and the synthetic stream.

``--feed`` takes

* ``replay:DATASET[:SYMBOLS]``: a built-in or imported dataset or a file (``workbench data list``),
  optionally restricted to comma-separated symbols and to ``--start``/``--end``;
* ``synthetic[:KEY=VALUE,...]``: the engine's seeded regime-switching generator
  (``engine.data.synthetic.SyntheticConfig`` keys: ``n_symbols``, ``frequency``, ``start``, ``end``,
  ``seed``, ``start_price``, ``substeps``); equal keys give bit-identical bars.

Both are replays of bars known in advance, delivered one at a time at ``speed`` times the pace of
their timestamps (``inf``: as fast as the loop takes them). A data source or broker connection
implements :class:`Feed` (see docs/paper.md, "Adapters"); no network adapter ships.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from engine.data.market import FIELDS, MarketData
from engine.data.synthetic import SyntheticConfig, generate_synthetic
from engine.errors import InvalidParameterError
from engine.scenarios.path import require_complete
from workbench.services.datasets import load_dataset

SYNTHETIC_DEFAULTS = {"n_symbols": "2", "frequency": "1h", "start": "2024-01-02", "end": "2024-03-28", "seed": "7"}


class Bar(NamedTuple):
    """One bar of every symbol (arrays ``[N]``, the feed's symbol order).

    Attributes:
        timestamp: The bar's start time, UTC.
        open, high, low, close, volume: Prices and volume.
        final: True on the last bar of a finite feed (nothing is decided on it, as in a backtest).
    """

    timestamp: pd.Timestamp
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    final: bool = False

    def fields(self) -> dict[str, np.ndarray]:
        """``{field: [N]}`` for ``FIELDS``."""
        return {f: getattr(self, f) for f in FIELDS}

    def problem(self, n_symbols: int) -> str | None:
        """Why the bar cannot be traded on (naive timestamp, shape, non-finite or non-positive prices,
        OHLC order), or None."""
        if pd.Timestamp(self.timestamp).tz is None:
            return "the timestamp must be timezone-aware (UTC)"
        arrays = [np.asarray(getattr(self, f), dtype=np.float64) for f in FIELDS]
        if any(a.shape != (n_symbols,) for a in arrays):
            return f"expected {n_symbols} values per field, got shapes {[a.shape for a in arrays]}"
        o, h, l, c, v = arrays
        if not (np.all(np.isfinite([o, h, l, c])) and np.all(np.array([o, h, l, c]) > 0)):
            return "prices must be finite and > 0"
        if not (np.all(np.isfinite(v)) and np.all(v >= 0)):
            return "volume must be finite and >= 0"
        if np.any(h < np.maximum(o, c)) or np.any(l > np.minimum(o, c)):
            return "high must be >= max(open, close) and low <= min(open, close)"
        return None


@runtime_checkable
class Feed(Protocol):
    """A source of bars for the paper loop.

    Attributes:
        name: The feed as the user gave it (stored in the session's config).
        symbols: Symbol names, the column order of every bar.
        frequency: Bar frequency (pandas offset alias).
        fingerprint: Identifies the bars a replay delivers ("" for a live source).
    """

    name: str
    symbols: tuple[str, ...]
    frequency: str
    fingerprint: str

    def start(self, next_bar: int) -> None:
        """Deliver bars from bar ``next_bar`` on (``0`` on a fresh session; after a restart, the bar
        after the last journaled one)."""
        ...

    def poll(self, timeout: float) -> Bar | None:
        """The next bar, or None when none arrived within ``timeout`` seconds."""
        ...

    def next_due(self) -> float | None:
        """``time.monotonic()`` by which the next bar should have arrived; None when unknown or finished."""
        ...

    @property
    def finished(self) -> bool:
        """True once a finite feed has delivered its final bar."""
        ...

    def recorded(self, bar: int) -> Bar | None:
        """Bar ``bar`` as a replay recorded it (a restart checks the journal against it); None for a
        live source."""
        ...


class ReplayFeed:
    """Bars of a dataset delivered one at a time at ``speed`` times the pace of their timestamps.

    Args:
        data: The bars; every symbol needs a bar at every timestamp.
        name: The feed text for the config.
        speed: Pace multiplier (> 0); ``math.inf`` delivers bars as fast as they are polled.
    """

    def __init__(self, data: MarketData, name: str, speed: float = math.inf) -> None:
        require_complete(data)
        if data.n_bars < 2:
            raise InvalidParameterError(f"feed {name!r} has {data.n_bars} bar(s); a replay needs at least 2")
        if not speed > 0:
            raise InvalidParameterError(f"--speed must be > 0 or 'max', got {speed!r}")
        self.data = data
        self.name = name
        self.symbols = data.symbols
        self.frequency = data.frequency
        self.fingerprint = data.fingerprint()
        self.speed = float(speed)
        self._stamps = data.index.as_unit("ns").asi8
        self._next = 0
        self._origin: tuple[float, int] | None = None  # (monotonic time, bar) the pace counts from

    def start(self, next_bar: int) -> None:
        if not 0 <= next_bar <= self.data.n_bars:
            raise InvalidParameterError(f"feed {self.name!r} has bars 0..{self.data.n_bars - 1}; cannot start at {next_bar}")
        self._next = next_bar
        self._origin = (time.monotonic(), next_bar)

    @property
    def finished(self) -> bool:
        return self._next >= self.data.n_bars

    def next_due(self) -> float | None:
        if self.finished:
            return None
        if self._origin is None:
            self.start(self._next)
        start_time, first = self._origin
        if math.isinf(self.speed):
            return time.monotonic()
        return start_time + (self._stamps[self._next] - self._stamps[first]) / 1e9 / self.speed

    def poll(self, timeout: float) -> Bar | None:
        due = self.next_due()
        if due is None:
            return None
        wait = due - time.monotonic()
        if wait > timeout:
            time.sleep(max(timeout, 0.0))
            return None
        if wait > 0:
            time.sleep(wait)
        bar = self.recorded(self._next)
        self._next += 1
        return bar

    def recorded(self, bar: int) -> Bar:
        data = self.data
        return Bar(data.index[bar], *(np.array(getattr(data, f)[bar]) for f in FIELDS),
                   final=bar == data.n_bars - 1)


def open_feed(text: str, symbols: list[str] | None = None, start: str | None = None, end: str | None = None,
              speed: float = math.inf) -> ReplayFeed:
    """The feed ``text`` names (``replay:DATASET[:SYMBOLS]`` or ``synthetic[:KEY=VALUE,...]``).

    ``symbols`` (``--symbols``) restricts the feed's symbols; a replay's own ``:SYMBOLS`` must agree.

    Raises:
        InvalidParameterError: an unknown feed kind, conflicting symbols, or bad synthetic keys.
        UnknownDatasetError: the replay's dataset does not exist.
    """
    kind, _, rest = text.partition(":")
    if kind == "replay":
        if not rest:
            raise InvalidParameterError("--feed replay needs a dataset: replay:DATASET[:SYMBOLS], e.g. replay:stocks:AAPL")
        dataset, listed = _split_replay(rest)
        chosen = _agree(listed, symbols)
        data = load_dataset(dataset, symbols=chosen, start=start, end=end)
        return ReplayFeed(data, text, speed)
    if kind == "synthetic":
        config = SyntheticConfig().with_overrides(**{**SYNTHETIC_DEFAULTS, **_key_values(rest)})
        data = generate_synthetic(config, name=text)
        if symbols:
            data = data.select(symbols)
        if start is not None or end is not None:
            data = data.slice(start, end)
        return ReplayFeed(data, text, speed)
    raise InvalidParameterError(
        f"unknown feed {text!r}; use replay:DATASET[:SYMBOLS] (e.g. replay:stocks:AAPL,MSFT) or "
        "synthetic[:KEY=VALUE,...] (e.g. synthetic:seed=3,n_symbols=2)")


def parse_speed(text: str) -> float:
    """``--speed``: a positive multiplier of real time, or ``max``."""
    if text.strip().lower() == "max":
        return math.inf
    try:
        speed = float(text)
    except ValueError:
        raise InvalidParameterError(f"--speed {text!r} is not a number; write e.g. --speed 60 or --speed max") from None
    if not (math.isfinite(speed) and speed > 0):
        raise InvalidParameterError(f"--speed {text!r} must be > 0 (or max)")
    return speed


def _split_replay(rest: str) -> tuple[str, list[str] | None]:
    """``DATASET[:SYMBOLS]``: the last ``:`` part is symbols unless the whole text is a file or the
    part holds ``=`` (synthetic dataset parameters)."""
    head, sep, tail = rest.rpartition(":")
    if not sep or not tail or "=" in tail or _names_dataset(rest):
        return rest, None
    return head, [s.strip() for s in tail.split(",") if s.strip()]


def _names_dataset(text: str) -> bool:
    # Built-in and imported names hold no ":" except before KEY=VALUE parameters; a path may.
    return Path(text).is_file()


def _agree(listed: list[str] | None, given: list[str] | None) -> list[str] | None:
    if listed and given and list(listed) != list(given):
        raise InvalidParameterError(
            f"the feed names symbols {','.join(listed)} but --symbols gives {','.join(given)}; give them once")
    return listed or given


def _key_values(text: str) -> dict[str, str]:
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(
                f"synthetic feed option {item!r} is not KEY=VALUE; write e.g. synthetic:seed=3,n_symbols=2")
        values[key.strip()] = value.strip()
    return values
