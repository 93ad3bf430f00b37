"""Seeded synthetic OHLCV bars with market regime switching (calm / trending / volatile / crash).

The generator exists so that intraday systems (5-minute tactical, 30-minute strategic, hourly symbol
agents over 143 symbols) have data to run on; the embedded real data is daily only. It is a
one-factor model with a hidden market regime that follows a Markov chain:

* the regime chain is shared by every symbol; each bar a regime is left with probability
  ``1 / expected duration`` and the next regime is drawn from ``_NEXT_REGIME`` weights;
* symbol ``i``'s log return per sub-step is ``beta_i * m_t + sqrt(1 - beta_i^2 * c) * e_it`` scaled to
  the regime's volatility, where ``m_t`` is the market shock and ``c`` the regime's correlation;
  trending regimes carry a drift whose sign is drawn once per episode;
* each bar is built from ``substeps`` sub-steps, which give open, high, low and close; the first bar
  of every session adds an overnight gap;
* volume is log-normal around a per-symbol level, scaled up by the bar's absolute return, a U-shaped
  intraday profile and the regime's activity level.

The same :class:`SyntheticConfig` always gives bit-identical data.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from engine.data.market import MarketData
from engine.errors import InvalidParameterError

REGIME_NAMES: tuple[str, ...] = ("calm", "trending", "volatile", "crash")

# Per regime: annualized drift, annualized volatility, expected duration in trading days,
# cross-symbol correlation, volume multiplier. Trending drift sign is drawn per episode.
_REGIME_DRIFT = np.array([0.06, 0.35, -0.05, -1.50])
_REGIME_VOL = np.array([0.12, 0.18, 0.38, 0.75])
_REGIME_DAYS = np.array([40.0, 30.0, 15.0, 4.0])
_REGIME_CORR = np.array([0.30, 0.40, 0.55, 0.85])
_REGIME_VOLUME = np.array([0.8, 1.0, 1.5, 2.5])
# Where the chain goes when it leaves a regime (rows: from, columns: to; diagonal unused).
_NEXT_REGIME = np.array(
    [
        [0.0, 0.55, 0.40, 0.05],
        [0.60, 0.0, 0.35, 0.05],
        [0.45, 0.25, 0.0, 0.30],
        [0.10, 0.10, 0.80, 0.0],
    ]
)
_TREND_UP_PROBABILITY = 0.65
_SESSION_OPEN = "09:30"
_SESSION_MINUTES = 390  # 09:30-16:00 America/New_York
_FREQUENCY_MINUTES = {"5min": 5, "30min": 30, "1h": 60, "1D": _SESSION_MINUTES}


MAX_SYNTHETIC_CELLS = 50_000_000
"""Symbols x bars of one synthetic dataset at most (about 2 GB of OHLCV)."""


def _date(name: str, text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidParameterError(
            f"synthetic {name} {text!r} is not a date ({error}); write e.g. 2024-01-02") from None
    if stamp is pd.NaT:
        raise InvalidParameterError(f"synthetic {name} {text!r} is not a date; write e.g. 2024-01-02")
    return stamp


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of one synthetic dataset.

    Attributes:
        n_symbols: Number of symbols, named ``SYN000``, ``SYN001``, ...
        frequency: ``"5min"``, ``"30min"``, ``"1h"`` or ``"1D"``.
        start: First session date (New York).
        end: Last session date (inclusive).
        seed: Seed of the NumPy generator; equal configs give bit-identical data.
        start_price: Price level around which symbols start (each gets a log-normal draw around it).
        substeps: Sub-steps per bar used to form high and low.
    """

    n_symbols: int = 4
    frequency: str = "1h"
    start: str = "2023-10-02"
    end: str = "2025-10-01"
    seed: int = 7
    start_price: float = 100.0
    substeps: int = 6

    def __post_init__(self) -> None:
        if self.frequency not in _FREQUENCY_MINUTES:
            raise InvalidParameterError(
                f"synthetic frequency {self.frequency!r} is not supported; use one of "
                f"{', '.join(_FREQUENCY_MINUTES)}"
            )
        if not 1 <= self.n_symbols <= 5000:
            raise InvalidParameterError(f"synthetic n_symbols must be in 1..5000, got {self.n_symbols}")
        if not 2 <= self.substeps <= 1000:
            raise InvalidParameterError(f"synthetic substeps must be in 2..1000, got {self.substeps}")
        if not 0 <= self.seed < 2**63:
            raise InvalidParameterError(f"synthetic seed must be an integer >= 0, got {self.seed}")
        if not 0 < self.start_price <= 1e9:  # NaN fails too
            raise InvalidParameterError(f"synthetic start_price must be in (0, 1e9], got {self.start_price}")
        start, end = (_date(name, getattr(self, name)) for name in ("start", "end"))
        if end < start:
            raise InvalidParameterError(f"synthetic end {self.end} is before start {self.start}")
        bars = len(pd.bdate_range(start, end)) * (_SESSION_MINUTES // _FREQUENCY_MINUTES[self.frequency])
        if bars * self.n_symbols > MAX_SYNTHETIC_CELLS:
            raise InvalidParameterError(
                f"synthetic data of {self.n_symbols} symbol(s) x {bars:_} bars is more than {MAX_SYNTHETIC_CELLS:_} "
                "prices; shorten start..end, lower n_symbols or use a longer frequency")

    def with_overrides(self, **overrides: object) -> "SyntheticConfig":
        """A copy with some fields replaced (values are converted to the field's type)."""
        typed = {}
        for key, value in overrides.items():
            if key not in self.__dataclass_fields__:
                raise InvalidParameterError(
                    f"unknown synthetic parameter {key!r}; use one of {', '.join(self.__dataclass_fields__)}"
                )
            kind = type(getattr(self, key))
            try:
                typed[key] = kind(value)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"synthetic parameter {key}={value!r} is not a valid {kind.__name__}"
                ) from None
        return replace(self, **typed)


def session_index(frequency: str, start: str, end: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Bar start times (UTC) of New York sessions, and a flag marking each session's first bar."""
    minutes = _FREQUENCY_MINUTES[frequency]
    days = pd.bdate_range(start, end)
    if len(days) == 0:
        raise InvalidParameterError(f"no business days between {start} and {end}")
    if frequency == "1D":
        index = pd.DatetimeIndex(days).tz_localize("UTC")
        return index.rename("timestamp"), np.ones(len(index), dtype=bool)
    offsets_ns = np.arange(0, _SESSION_MINUTES, minutes, dtype=np.int64) * 60_000_000_000
    local_open = pd.DatetimeIndex(days).tz_localize("America/New_York") + pd.Timedelta(_SESSION_OPEN + ":00")
    open_ns = local_open.tz_convert("UTC").as_unit("ns").asi8
    stamps = (open_ns[:, None] + offsets_ns[None, :]).ravel()
    index = pd.DatetimeIndex(pd.to_datetime(stamps, unit="ns", utc=True)).rename("timestamp")
    first = np.zeros((len(days), len(offsets_ns)), dtype=bool)
    first[:, 0] = True
    return index, first.ravel()


def regime_path(n_bars: int, bars_per_day: int, rng: np.random.Generator) -> np.ndarray:
    """Markov chain of regime codes (indices into :data:`REGIME_NAMES`), starting calm."""
    leave = 1.0 / (_REGIME_DAYS * bars_per_day)
    exit_draws = rng.random(n_bars)
    next_draws = rng.random(n_bars)
    cumulative = np.cumsum(_NEXT_REGIME, axis=1)
    path = np.empty(n_bars, dtype=np.int8)
    state = 0
    for t in range(n_bars):
        if t > 0 and exit_draws[t] < leave[state]:
            state = int(np.searchsorted(cumulative[state], next_draws[t] * cumulative[state, -1], side="right"))
        path[t] = state
    return path


def generate_synthetic(config: SyntheticConfig, name: str = "synthetic") -> MarketData:
    """Generate a synthetic dataset; see the module docstring for the model."""
    rng = np.random.default_rng(config.seed)
    index, session_start = session_index(config.frequency, config.start, config.end)
    n_bars, n_symbols, m = len(index), config.n_symbols, config.substeps
    bars_per_day = max(1, _SESSION_MINUTES // _FREQUENCY_MINUTES[config.frequency])
    dt = 1.0 / (252.0 * bars_per_day * m)  # years per sub-step

    regimes = regime_path(n_bars, bars_per_day, rng)
    drift = _REGIME_DRIFT[regimes].copy()
    episode_start = np.flatnonzero(np.diff(regimes, prepend=-1) != 0)
    signs = np.where(rng.random(len(episode_start)) < _TREND_UP_PROBABILITY, 1.0, -1.0)
    episode_sign = np.repeat(signs, np.diff(np.append(episode_start, n_bars)))
    drift = np.where(regimes == 1, drift * episode_sign, drift)
    vol = _REGIME_VOL[regimes]
    corr = _REGIME_CORR[regimes]

    beta = rng.uniform(0.7, 1.0, n_symbols)
    symbol_vol = rng.uniform(0.8, 1.4, n_symbols)
    market = rng.standard_normal((n_bars, 1, m))
    idio = rng.standard_normal((n_bars, n_symbols, m))
    loading = np.sqrt(corr)[:, None, None] * beta[None, :, None]
    shocks = loading * market + np.sqrt(1.0 - loading**2) * idio
    sigma = (vol[:, None] * symbol_vol[None, :])[:, :, None]
    steps = (drift[:, None, None] - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * shocks

    gaps = np.where(session_start[:, None], rng.standard_normal((n_bars, n_symbols)), 0.0)
    gaps *= vol[:, None] * symbol_vol[None, :] * np.sqrt(1.0 / 252.0) * 0.3
    gaps[0] = 0.0

    start_log = np.log(config.start_price) + rng.normal(0.0, 0.5, n_symbols)
    bar_log_change = gaps + steps.sum(axis=2)
    close_log = start_log[None, :] + np.cumsum(bar_log_change, axis=0)
    open_log = close_log - bar_log_change + gaps
    path_log = open_log[:, :, None] + np.cumsum(steps, axis=2)
    # The sub-step path's last point equals close_log up to rounding; include both ends exactly so
    # that high >= max(open, close) and low <= min(open, close) hold bit for bit.
    high_log = np.maximum(np.maximum(path_log.max(axis=2), open_log), close_log)
    low_log = np.minimum(np.minimum(path_log.min(axis=2), open_log), close_log)

    base_volume = np.exp(rng.normal(13.0, 0.6, n_symbols))
    position_in_session = _position_in_session(session_start)
    u_shape = 1.0 + 0.8 * (2.0 * position_in_session - 1.0) ** 2
    abs_move = np.abs(bar_log_change) / (sigma[:, :, 0] * np.sqrt(dt * m))
    volume = (
        base_volume[None, :]
        * u_shape[:, None]
        * _REGIME_VOLUME[regimes][:, None]
        * (0.6 + 0.4 * abs_move)
        * np.exp(rng.normal(0.0, 0.25, (n_bars, n_symbols)))
    )

    return MarketData(
        name=name,
        index=index,
        symbols=tuple(f"SYN{i:03d}" for i in range(n_symbols)),
        open=np.exp(open_log),
        high=np.exp(high_log),
        low=np.exp(low_log),
        close=np.exp(close_log),
        volume=np.round(volume),
        frequency=config.frequency,
        regimes=np.repeat(regimes[:, None], n_symbols, axis=1),
    )


def _position_in_session(session_start: np.ndarray) -> np.ndarray:
    """Fraction in [0, 1] of the way through the session of each bar."""
    session_id = np.cumsum(session_start) - 1
    position = np.arange(len(session_start)) - np.flatnonzero(session_start)[session_id]
    bars_in_session = np.bincount(session_id)[session_id]
    return np.where(bars_in_session > 1, position / np.maximum(bars_in_session - 1, 1), 0.5)
