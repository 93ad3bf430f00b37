"""Risk overlay: the one implementation of stops, breakers and halts, for backtest, env and paper.

Two kernels run at every bar's close, in this order:

1. ``close_bar_nb`` marks equity and updates the risk state: day roll, equity peak, drawdown
   breaker, daily loss halt, best close since entry.
2. ``apply_risk_overlay_nb`` (only on bars that decide, i.e. not the last) turns breached positions
   into exit intents and blocks intents that would add exposure while halted.

Rules (a rule whose parameter is 0 is off; all are evaluated on closes, exits fill at the next open):

* stop loss ``x``: exit when the position's return since entry ``<= -x``;
* take profit ``x``: exit when it is ``>= x``;
* trailing stop ``x``: exit when the close is ``x`` below the highest close since entry (longs) or
  ``x`` above the lowest (shorts);
* max-drawdown breaker ``x``: when equity falls ``x`` below its peak, new entries are halted for
  ``cooldown_bars`` bars (for the rest of the run when that is 0); with ``flatten_on_breaker`` every
  position is closed. On release the equity peak restarts from the current equity;
* daily loss limit ``x``: when equity falls ``x`` below the previous day's last close equity, new
  entries are halted until the next trading day;
* cooldown: after a stop, trailing stop or take profit the symbol may not be re-entered for
  ``cooldown_bars`` bars.

"Adding exposure": a target whose absolute weight exceeds the current one, a positive delta on a
flat or long position (negative on a flat or short one). Reducing or closing is never blocked.
Per-position and gross exposure limits are enforced by the fill kernel on every fill.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.execution import write_record_nb
from engine.records import (
    KIND_DELTA_PERCENT,
    KIND_NONE,
    KIND_POSITION_FRACTION,
    KIND_TARGET_PERCENT,
    REASON_BREAKER_FLATTEN,
    REASON_POLICY,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TRAILING_STOP,
    STATUS_REJECTED_HALTED,
)
from engine.state import FOREVER


@njit(cache=True)
def close_bar_nb(bar, day, close, state, params):
    """Mark equity at this bar's ``close`` (S, N) and update the risk state in place.

    ``day`` (S,) holds each scenario's trading-day id at this bar.
    """
    n_scenarios, n_symbols = state.units.shape
    for s in range(n_scenarios):
        equity = state.cash[s]
        for n in range(n_symbols):
            u = state.units[s, n]
            if u != 0.0:
                c = close[s, n]
                equity += u * c
                if u > 0.0:
                    state.extreme_price[s, n] = max(state.extreme_price[s, n], c)
                else:
                    state.extreme_price[s, n] = min(state.extreme_price[s, n], c)
        if day[s] != state.day[s]:
            state.day[s] = day[s]
            state.day_start_equity[s] = state.equity[s]
            state.day_halted[s] = 0
        state.equity[s] = equity
        until = state.breaker_until[s]
        if until >= 0 and until != FOREVER and bar >= until:
            state.breaker_until[s] = -1
            state.equity_peak[s] = equity
        state.equity_peak[s] = max(state.equity_peak[s], equity)
        max_dd = params.max_drawdown[s]
        if max_dd > 0.0 and state.breaker_until[s] < 0 and equity <= state.equity_peak[s] * (1.0 - max_dd):
            cooldown = int(params.cooldown_bars[s])
            state.breaker_until[s] = bar + cooldown if cooldown > 0 else FOREVER
        limit = params.daily_loss_limit[s]
        if limit > 0.0 and equity <= state.day_start_equity[s] * (1.0 - limit):
            state.day_halted[s] = 1


@njit(cache=True, inline="always")
def _exit_reason_nb(state, s, n, close, params):
    u = state.units[s, n]
    entry = state.entry_price[s, n]
    direction = 1.0 if u > 0.0 else -1.0
    ret = direction * (close / entry - 1.0)
    if params.stop_loss[s] > 0.0 and ret <= -params.stop_loss[s]:
        return REASON_STOP_LOSS
    trail = params.trailing_stop[s]
    if trail > 0.0:
        extreme = state.extreme_price[s, n]
        if (u > 0.0 and close <= extreme * (1.0 - trail)) or (u < 0.0 and close >= extreme * (1.0 + trail)):
            return REASON_TRAILING_STOP
    if params.take_profit[s] > 0.0 and ret >= params.take_profit[s]:
        return REASON_TAKE_PROFIT
    return -1


@njit(cache=True, inline="always")
def _adds_exposure_nb(kind, size, units, close, equity):
    if kind == KIND_TARGET_PERCENT:
        current = units * close / equity if equity > 0.0 else 0.0
        return abs(size) > abs(current) + 1e-12
    if kind == KIND_DELTA_PERCENT:
        return (size > 0.0 and units >= 0.0) or (size < 0.0 and units <= 0.0)
    if kind == KIND_POSITION_FRACTION:
        return size > 1.0
    return False


@njit(cache=True)
def apply_risk_overlay_nb(bar, close, state, intents, params, last_decision, records, n_records):
    """Turn breached positions into exits and block exposure-adding intents while halted.

    Runs after ``close_bar_nb``. A scenario decides nothing from its bar ``last_decision[s]`` on
    (its last real bar; later bars are padding): its intents are dropped there. Blocked intents
    leave a ``REJECTED_HALTED`` record at the fill bar (``bar + 1``). Returns the new record count;
    the caller guarantees room for ``S * N`` more records.
    """
    n_scenarios, n_symbols = state.units.shape
    for s in range(n_scenarios):
        if bar >= last_decision[s]:
            for n in range(n_symbols):
                intents.kind[s, n] = KIND_NONE
            continue
        breaker = state.breaker_until[s] >= 0
        flatten = breaker and params.flatten_on_breaker[s] > 0.0
        cooldown = int(params.cooldown_bars[s])
        for n in range(n_symbols):
            u = state.units[s, n]
            if u != 0.0:
                reason = REASON_BREAKER_FLATTEN if flatten else _exit_reason_nb(state, s, n, close[s, n], params)
                if reason >= 0:
                    intents.kind[s, n] = KIND_POSITION_FRACTION
                    intents.size[s, n] = 0.0
                    intents.reason[s, n] = reason
                    if cooldown > 0 and reason != REASON_BREAKER_FLATTEN:
                        state.cooldown_until[s, n] = bar + cooldown
                    continue
            kind = intents.kind[s, n]
            if kind == KIND_NONE or intents.reason[s, n] != REASON_POLICY:
                continue
            halted = breaker or state.day_halted[s] != 0 or state.cooldown_until[s, n] >= bar
            if halted and _adds_exposure_nb(kind, intents.size[s, n], u, close[s, n], state.equity[s]):
                n_records = write_record_nb(records, n_records, s, bar + 1, n, 0, 0.0, np.nan, 0.0,
                                            STATUS_REJECTED_HALTED, REASON_POLICY)
                intents.kind[s, n] = KIND_NONE
    return n_records
