"""Whole-run simulation of intents known in advance that also measures every decision's reward components.

A market-scope rollout asked for rewards (a stored backtest) runs here instead of stepping bar by bar
in Python: the loop of ``engine.simulate`` compiled end to end, which after each bar's close also
measures the step judged there. A step's outcome (:func:`outcome_nb`) and the account statistics it
reads (``engine.tracking_nb``) are ``engine.reward_meter.step_outcome`` and ``engine.tracking`` restated
over plain arrays, number for number; the components are then computed from the outcomes by
``engine.rewards.reward_components`` for :data:`~engine.reward_meter.COMPONENT_CHUNK` steps at a time,
in the meter's own chunks. Equity, records and rewards are bit for bit those of the bar-by-bar rollout
with a :class:`~engine.reward_meter.RewardMeter` (``tests/engine/test_measured_simulation.py``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.bar_loop import open_bar_nb, submit_bar_nb
from engine.features.indicators import sign_nb
from engine.records import REASON_POLICY, STATUS_CLIPPED, order_dt
from engine.reward_meter import COMPONENT_CHUNK, RewardSettings
from engine.rewards import REWARD_COMPONENTS, StepOutcome, reward_components
from engine.state import KernelParams, PortfolioState, empty_intents
from engine.tracking_nb import (
    drawdown_nb,
    hold_bars_nb,
    new_tracker_arrays,
    reset_nb,
    sharpe_nb,
    track_close_nb,
)


@njit(cache=True)
def outcome_nb(row, records, start, stop, open_, close, state, value_before, equity_before, track, sharpe,
               cash_flow, costs, traded, failed, out):
    """``step_outcome`` of one step into row ``row`` of the ``StepOutcome`` buffers ``out``.

    ``records[start:stop]`` are the step's records, ``open_``/``close`` (S, N) the fill bar's prices,
    ``state`` and ``track`` the accounts after its close, ``value_before`` (S, N) and
    ``equity_before`` (S,) what they held at the decision's close, ``sharpe`` (S,) the Sharpe estimate
    after the close. ``cash_flow``, ``costs``, ``traded`` and ``failed`` (S, N) are scratch.
    Every action counts as allowed (intents known in advance are not masked).
    """
    n_scenarios, n_symbols = state.units.shape
    cash_flow[:] = 0.0
    costs[:] = 0.0
    traded[:] = False
    failed[:] = False
    for i in range(start, stop):
        rec = records[i]
        a, m, status = rec["scenario"], rec["symbol"], rec["status"]
        if rec["side"] != 0 and status <= STATUS_CLIPPED:
            cash_flow[a, m] += -np.float64(rec["side"]) * rec["units"] * rec["price"] - rec["fees"]
            costs[a, m] += rec["fees"] + rec["units"] * np.abs(rec["price"] - open_[a, m])
            traded[a, m] = True
        if status > STATUS_CLIPPED and rec["reason"] == REASON_POLICY:
            failed[a, m] = True
    for k in range(n_scenarios):
        equity = state.equity[k]
        out.equity_before[row, k, 0] = equity_before[k]
        out.sharpe[row, k, 0] = sharpe[k]
        out.drawdown[row, k, 0] = drawdown_nb(track, equity, k)
        for n in range(n_symbols):
            u = state.units[k, n]
            c = close[k, n]
            held = u != 0.0
            out.pnl[row, k, n] = u * c - value_before[k, n] + cash_flow[k, n]
            out.costs[row, k, n] = costs[k, n]
            entry = state.entry_price[k, n] if held else c
            out.position_return[row, k, n] = sign_nb(u) * (c / entry - 1.0) if held else 0.0
            out.hold_bars[row, k, n] = hold_bars_nb(track, k, n)
            out.in_position[row, k, n] = held
            out.weight[row, k, n] = np.abs(u * c) / equity if equity > 0.0 else 0.0
            out.idle[row, k, n] = not held and not traded[k, n]
            out.failed[row, k, n] = failed[k, n]


@njit(cache=True)
def simulate_measured_nb(start, stop, first_step, open_, close, day, last_decision, kind, size, params, state,
                         pending, records, n, track, annualize, ratio_clip, value_before, equity_before, step_start,
                         equity, out):
    """Bars ``start .. stop - 1`` of the loop of ``engine.simulate``, each step judged at them measured into
    row ``step - first_step`` of ``out``. The loop's state between calls: ``state``, ``pending``,
    ``track``, and at the last decision ``value_before``, ``equity_before`` and ``step_start`` (its
    first record). Writes ``equity`` (T, S) at the bars; returns ``(records, n)``.
    """
    n_scenarios, n_bars, n_symbols = open_.shape
    sharpe = np.empty(n_scenarios)
    cash_flow, costs = np.empty((n_scenarios, n_symbols)), np.empty((n_scenarios, n_symbols))
    traded, failed = np.empty((n_scenarios, n_symbols), np.bool_), np.empty((n_scenarios, n_symbols), np.bool_)
    for t in range(start, stop):
        open_t, close_t = open_[:, t, :], close[:, t, :]
        records, n = open_bar_nb(t, open_t, close_t, day[:, t], state, pending, params, records, n)
        equity[t] = state.equity
        if t == 0:
            reset_nb(track, 0, state.equity, state.units)
        else:
            track_close_nb(track, t, state.equity, state.units)
            sharpe_nb(track, annualize, ratio_clip, sharpe)
            outcome_nb(t - 1 - first_step, records, step_start[0], n, open_t, close_t, state, value_before,
                       equity_before, track, sharpe, cash_flow, costs, traded, failed, out)
        if t == n_bars - 1:
            break
        for s in range(n_scenarios):
            equity_before[s] = state.equity[s]
            for m in range(n_symbols):
                value_before[s, m] = state.units[s, m] * close_t[s, m]
        step_start[0] = n
        records, n = submit_bar_nb(t, close_t, kind[t], size[t], state, pending, params, last_decision, records, n)
    return records, n


def _outcome_buffers(n_steps: int, n_scenarios: int, n_symbols: int) -> StepOutcome:
    """Empty ``StepOutcome`` arrays for ``n_steps`` steps, shaped and typed as the meter stacks them."""
    cells, accounts = (n_steps, n_scenarios, n_symbols), (n_steps, n_scenarios, 1)
    return StepOutcome(pnl=np.empty(cells), equity_before=np.empty(accounts), costs=np.empty(cells),
                       position_return=np.empty(cells), hold_bars=np.empty(cells, dtype=np.int64),
                       in_position=np.empty(cells, dtype=bool), sharpe=np.empty(accounts),
                       drawdown=np.empty(accounts), weight=np.empty(cells), idle=np.empty(cells, dtype=bool),
                       failed=np.empty(cells, dtype=bool))


def simulate_measured(open_: np.ndarray, close: np.ndarray, day: np.ndarray, kind: np.ndarray, size: np.ndarray,
                      params: KernelParams, state: PortfolioState, bars_per_year: float,
                      settings: RewardSettings = RewardSettings()
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``engine.simulate.simulate_intents`` of scenarios that all have every bar, with the reward
    components of every decision.

    Args:
        open_, close: (S, T, N) prices.
        day: (S, T) trading-day ids.
        kind, size: (T, S, N) intents decided at each bar's close.
        params: Per-scenario parameters.
        state: The starting state (flat); left at the last bar.
        bars_per_year: Annualization of the Sharpe estimate.
        settings: Weights, scales and the estimate's window.

    Returns:
        Equity at every close (T, S), the order records and ``{component: [T - 1, S, N]}`` plus
        ``total``, as ``engine.reward_meter.RewardMeter.components``.
    """
    n_scenarios, n_bars, n_symbols = open_.shape
    if kind.shape != (n_bars, n_scenarios, n_symbols) or size.shape != kind.shape:
        raise ValueError(f"intents must have shape {(n_bars, n_scenarios, n_symbols)}, got {kind.shape}")
    n_steps = n_bars - 1
    components = {name: np.zeros((n_steps, n_scenarios, n_symbols)) for name in (*REWARD_COMPONENTS, "total")}
    track = new_tracker_arrays(n_scenarios, n_symbols, settings.stats_window)
    out = _outcome_buffers(min(COMPONENT_CHUNK, n_steps), n_scenarios, n_symbols)
    equity = np.empty((n_bars, n_scenarios))
    value_before, equity_before = np.zeros((n_scenarios, n_symbols)), np.zeros(n_scenarios)
    step_start = np.zeros(1, dtype=np.int64)
    records, n = np.empty(max(16, n_scenarios * n_symbols * 4), dtype=order_dt), 0
    pending, last_decision = empty_intents(n_scenarios, n_symbols), np.full(n_scenarios, n_bars - 1, dtype=np.int64)
    kind, size = kind.astype(np.int8), size.astype(np.float64)
    day = np.ascontiguousarray(day, dtype=np.int64)
    first, bar = 0, 0
    while bar < n_bars:
        last = min(first + COMPONENT_CHUNK, n_steps)  # steps first .. last - 1, judged at bars first + 1 .. last
        records, n = simulate_measured_nb(bar, last + 1, first, open_, close, day, last_decision, kind, size, params,
                                          state, pending, records, n, track, np.sqrt(bars_per_year),
                                          settings.ratio_clip, value_before, equity_before, step_start, equity, out)
        if last > first:
            measured = StepOutcome(*(values[: last - first] for values in out))
            for name, values in reward_components(measured, settings.weights, settings.scales).items():
                components[name][first:last] = values
        first, bar = last, last + 1
    return equity, records[:n], components
