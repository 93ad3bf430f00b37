"""Whole-run simulation of intents known in advance (market-only policies, fixed order streams).

The loop is the rollout's loop compiled end to end: each bar calls the two halves of
``engine.bar_loop`` (fill at the open and mark at the close; then the bar's intents and the risk
overlay). Policies that read the portfolio go through ``engine.rollout`` instead, which calls the
same halves bar by bar around the policy call.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.bar_loop import open_bar_nb, submit_bar_nb
from engine.records import order_dt
from engine.state import Intents, KernelParams, PortfolioState


@njit(cache=True)
def simulate_intents_nb(open_, close, day, last_decision, kind, size, params, state, records):
    """Run intents ``kind``/``size`` (T, S, N), decided at each bar's close, over prices (S, T, N).

    ``day`` (S, T) holds trading-day ids; ``last_decision`` (S,) the bar from which a scenario
    decides nothing (its last real bar). Returns equity at every close (T, S) and the order
    records; ``state`` is left at the last bar.
    """
    n_scenarios, n_bars, n_symbols = open_.shape
    equity = np.empty((n_bars, n_scenarios))
    pending = Intents(
        np.zeros((n_scenarios, n_symbols), dtype=np.int8),
        np.zeros((n_scenarios, n_symbols)),
        np.zeros((n_scenarios, n_symbols), dtype=np.int8),
    )
    n = 0
    for t in range(n_bars):
        records, n = open_bar_nb(t, open_[:, t, :], close[:, t, :], day[:, t], state, pending, params, records, n)
        equity[t] = state.equity
        if t < n_bars - 1:
            records, n = submit_bar_nb(t, close[:, t, :], kind[t], size[t], state, pending, params, last_decision,
                                       records, n)
    return equity, records[:n]


def simulate_intents(
    open_: np.ndarray,
    close: np.ndarray,
    day: np.ndarray,
    kind: np.ndarray,
    size: np.ndarray,
    params: KernelParams,
    state: PortfolioState,
    n_valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Python entry point of :func:`simulate_intents_nb` with shape checks.

    ``day`` is (T,) when all scenarios share a calendar, else (S, T); ``n_valid`` (S,) counts each
    scenario's real bars (default: all).
    """
    n_scenarios, n_bars, n_symbols = open_.shape
    day = np.broadcast_to(np.asarray(day, dtype=np.int64), (n_scenarios, n_bars))
    n_valid = np.full(n_scenarios, n_bars) if n_valid is None else np.asarray(n_valid)
    if close.shape != open_.shape:
        raise ValueError(f"close has shape {close.shape}, open {open_.shape}")
    if kind.shape != (n_bars, n_scenarios, n_symbols) or size.shape != kind.shape:
        raise ValueError(f"intents must have shape {(n_bars, n_scenarios, n_symbols)}, got {kind.shape}")
    records = np.empty(max(16, n_scenarios * n_symbols * 4), dtype=order_dt)
    return simulate_intents_nb(open_, close, np.ascontiguousarray(day), n_valid.astype(np.int64) - 1,
                               kind.astype(np.int8), size.astype(np.float64), params, state, records)
