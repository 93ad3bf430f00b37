"""The kernel's inputs and state as NamedTuples of arrays (``S`` scenarios, ``N`` symbols)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Breaker or halt that never expires.
FOREVER = np.iinfo(np.int64).max


class KernelParams(NamedTuple):
    """Per-scenario parameters, each a float64 array of length ``S`` (booleans as 0.0 / 1.0).

    Zero switches a risk rule off. See ``engine.scenarios.ScenarioParams`` for the meaning of each.
    """

    init_cash: np.ndarray
    fees: np.ndarray
    slippage: np.ndarray
    spread: np.ndarray
    position_limit: np.ndarray
    gross_limit: np.ndarray
    allow_short: np.ndarray
    lot_size: np.ndarray
    stop_loss: np.ndarray
    trailing_stop: np.ndarray
    take_profit: np.ndarray
    max_drawdown: np.ndarray
    flatten_on_breaker: np.ndarray
    daily_loss_limit: np.ndarray
    cooldown_bars: np.ndarray


class PortfolioState(NamedTuple):
    """Everything the engine carries from bar to bar; the paper-trading journal stores it too.

    Attributes:
        cash: (S,) cash, negative only when leverage is allowed.
        units: (S, N) signed units held (negative is short).
        entry_price: (S, N) average fill price of the open position (NaN when flat).
        extreme_price: (S, N) best close since entry (highest for longs, lowest for shorts).
        equity: (S,) equity at the last close.
        equity_peak: (S,) highest close equity since the start or the last breaker release.
        day_start_equity: (S,) equity at the close before the current trading day.
        day: (S,) id of the current trading day.
        breaker_until: (S,) bar until which the drawdown breaker halts new entries (-1: off).
        day_halted: (S,) 1 while the daily loss limit halts new entries for the rest of the day.
        cooldown_until: (S, N) bar until which a symbol may not be re-entered after a stop (-1: off).
    """

    cash: np.ndarray
    units: np.ndarray
    entry_price: np.ndarray
    extreme_price: np.ndarray
    equity: np.ndarray
    equity_peak: np.ndarray
    day_start_equity: np.ndarray
    day: np.ndarray
    breaker_until: np.ndarray
    day_halted: np.ndarray
    cooldown_until: np.ndarray


class Intents(NamedTuple):
    """Orders decided at a bar's close for the next open: one (kind, size, reason) per cell."""

    kind: np.ndarray  # (S, N) int8, engine.records.OrderKind
    size: np.ndarray  # (S, N) float64
    reason: np.ndarray  # (S, N) int8, engine.records.OrderReason


def initial_state(params: KernelParams, n_symbols: int) -> PortfolioState:
    """A flat portfolio holding each scenario's initial cash."""
    n = len(params.init_cash)
    cash = params.init_cash.astype(np.float64).copy()
    return PortfolioState(
        cash=cash,
        units=np.zeros((n, n_symbols)),
        entry_price=np.full((n, n_symbols), np.nan),
        extreme_price=np.full((n, n_symbols), np.nan),
        equity=cash.copy(),
        equity_peak=cash.copy(),
        day_start_equity=cash.copy(),
        day=np.full(n, -1, dtype=np.int64),
        breaker_until=np.full(n, -1, dtype=np.int64),
        day_halted=np.zeros(n, dtype=np.int8),
        cooldown_until=np.full((n, n_symbols), -1, dtype=np.int64),
    )


def empty_intents(n_scenarios: int, n_symbols: int) -> Intents:
    """Intents with no order anywhere."""
    return Intents(
        kind=np.zeros((n_scenarios, n_symbols), dtype=np.int8),
        size=np.zeros((n_scenarios, n_symbols)),
        reason=np.zeros((n_scenarios, n_symbols), dtype=np.int8),
    )
