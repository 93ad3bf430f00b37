"""Small builders for kernel tests: parameters, intent streams, one-call simulation."""
from __future__ import annotations

import numpy as np

from engine.records import OrderKind
from engine.simulate import simulate_intents
from engine.state import KernelParams, initial_state

DEFAULTS = dict(init_cash=100_000.0, fees=0.0, slippage=0.0, spread=0.0, position_limit=1.0,
                gross_limit=1.0, allow_short=0.0, lot_size=0.0, stop_loss=0.0, trailing_stop=0.0,
                take_profit=0.0, max_drawdown=0.0, flatten_on_breaker=0.0, daily_loss_limit=0.0,
                cooldown_bars=0.0)


def make_params(n_scenarios: int = 1, **overrides: float) -> KernelParams:
    values = {**DEFAULTS, **overrides}
    return KernelParams(**{k: np.full(n_scenarios, float(v)) for k, v in values.items()})


def no_intents(n_bars: int, n_scenarios: int = 1, n_symbols: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return (np.zeros((n_bars, n_scenarios, n_symbols), np.int8), np.zeros((n_bars, n_scenarios, n_symbols)))


def run(open_, close, kind, size, params=None, day=None):
    """Simulate prices given as [T] (one symbol), [T, N] or [S, T, N]; returns (equity, records, state)."""
    open_, close = np.asarray(open_, float), np.asarray(close, float)
    while open_.ndim < 3:
        open_, close = open_[..., None] if open_.ndim == 1 else open_[None], close[..., None] if close.ndim == 1 else close[None]
    params = params or make_params(open_.shape[0])
    state = initial_state(params, open_.shape[2])
    day = np.arange(open_.shape[1]) if day is None else np.asarray(day)
    equity, records = simulate_intents(open_, close, day, kind, size, params, state)
    return equity, records, state


TARGET = int(OrderKind.TARGET_PERCENT)
DELTA = int(OrderKind.DELTA_PERCENT)
KEEP = int(OrderKind.POSITION_FRACTION)
