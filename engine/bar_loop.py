"""The order of one bar, written once: every driver calls these two halves.

A bar ``t`` of any account is, in this order:

1. :func:`open_bar_nb`, before the decision: the intents decided at ``t - 1`` fill at ``t``'s open
   (``fill_bar_nb``); equity is marked at ``t``'s close and the risk state updated (``close_bar_nb``);
2. the decision at ``t``'s close (a policy, intents known in advance, an environment's actions);
3. :func:`submit_bar_nb`, after the decision: the decided intents become the pending ones and the
   risk overlay adjusts them (``apply_risk_overlay_nb``); they fill at ``t + 1``'s open.

Nothing is decided on an account's last bar. The four drivers are the batched rollout
(``engine.rollout``, bar by bar around a policy), the compiled whole-run simulation of intents known
in advance (``engine.simulate``), the training environments' stepper (``engine.envs.stepper``,
which starts a step at the decision) and the live paper-trading account (``engine.live``). Python
drivers hold a :class:`BarLoop`; the compiled simulation calls the two kernels directly. Parity
between backtest, training and paper trading holds because there is no second copy of this order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.execution import ensure_capacity_nb, fill_bar_nb
from engine.records import REASON_POLICY, order_dt
from engine.risk import apply_risk_overlay_nb, close_bar_nb
from engine.state import Intents, KernelParams, PortfolioState, empty_intents, initial_state


@njit(cache=True)
def open_bar_nb(bar, open_, close, day, state, pending, params, records, n_records):
    """Bar ``bar`` before its decision: fill ``pending`` at ``open_`` (S, N), mark at ``close`` (S, N).

    ``day`` (S,) holds each scenario's trading-day id at the bar. The fill clears the intents it
    consumed. Returns ``(records, n_records)``; ``records`` grows when it is full.
    """
    records = ensure_capacity_nb(records, n_records, pending.kind.size)
    n_records = fill_bar_nb(bar, open_, state, pending, params, records, n_records)
    close_bar_nb(bar, day, close, state, params)
    return records, n_records


@njit(cache=True)
def submit_bar_nb(bar, close, kind, size, state, pending, params, last_decision, records, n_records):
    """Bar ``bar`` after its decision: intents ``kind``/``size`` (S, N) become ``pending`` (reason
    POLICY), then the risk overlay runs on them at ``close``.

    ``last_decision`` (S,) is each scenario's last real bar (nothing is decided from it on).
    Returns ``(records, n_records)``: blocked intents leave records stamped at ``bar + 1``.
    """
    records = ensure_capacity_nb(records, n_records, pending.kind.size)
    pending.kind[:] = kind
    pending.size[:] = size
    pending.reason[:] = REASON_POLICY
    n_records = apply_risk_overlay_nb(bar, close, state, pending, params, last_decision, records, n_records)
    return records, n_records


class BarLoop:
    """The loop state every Python driver carries between bars, with the two halves of a bar.

    Attributes:
        params: Per-scenario costs, cash and limits.
        state: The portfolio state (updated in place by the kernels).
        pending: Intents waiting for the next open.
        last_target: Targets emitted so far per cell (NaN: none yet); target action spaces update it.
        records: Order records written so far, in execution order (``records[:n_records]``).
        n_records: How many records are valid.

    Args:
        params: Per-scenario parameters ``[S]`` each.
        n_symbols: ``N``.
    """

    def __init__(self, params: KernelParams, n_symbols: int) -> None:
        n_scenarios = len(params.init_cash)
        self.params = params
        self.state: PortfolioState = initial_state(params, n_symbols)
        self.pending: Intents = empty_intents(n_scenarios, n_symbols)
        self.last_target = np.full((n_scenarios, n_symbols), np.nan)
        self.records = np.empty(max(16, 4 * n_scenarios * n_symbols), dtype=order_dt)
        self.n_records = 0

    def open_bar(self, bar: int, open_: np.ndarray, close: np.ndarray, day: np.ndarray,
                 pending: Intents | None = None) -> None:
        """:func:`open_bar_nb` on this loop (``pending`` replaces the loop's own pending intents,
        as a broker that owns its working orders passes them)."""
        self.records, self.n_records = open_bar_nb(
            bar, _contiguous(open_), _contiguous(close), np.asarray(day, dtype=np.int64), self.state,
            self.pending if pending is None else pending, self.params, self.records, self.n_records)

    def submit(self, bar: int, close: np.ndarray, kind: np.ndarray, size: np.ndarray,
               last_decision: np.ndarray) -> None:
        """:func:`submit_bar_nb` on this loop."""
        self.records, self.n_records = submit_bar_nb(
            bar, _contiguous(close), np.asarray(kind, dtype=np.int8), np.asarray(size, dtype=np.float64),
            self.state, self.pending, self.params, np.asarray(last_decision, dtype=np.int64), self.records,
            self.n_records)

    def clear_records(self) -> None:
        """Forget the records written so far (a driver that keeps each step's records itself)."""
        self.n_records = 0

    def records_since(self, start: int) -> np.ndarray:
        """A copy of the records written from index ``start`` on."""
        return self.records[start:self.n_records].copy()

    def all_records(self) -> np.ndarray:
        """A copy of every record written so far."""
        return self.records_since(0)


def _contiguous(values: np.ndarray) -> np.ndarray:
    """A C-contiguous float64 array, so each kernel compiles for one layout."""
    return np.ascontiguousarray(values, dtype=np.float64)
