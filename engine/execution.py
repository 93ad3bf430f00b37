"""Fill kernel: order intents decided at bar t's close fill at bar t+1's open.

Conventions (README, "Execution conventions"):

* Fill price: ``open * (1 + s)`` for buys and ``open * (1 - s)`` for sells, ``s = slippage + spread / 2``.
  Fees: ``fees * units * fill price``.
* ``TARGET_PERCENT w``: the value to trade is ``D = w * E - units * open`` with ``E`` the equity at
  the open. A buy of value ``D`` buys ``D / (p * (1 + f))`` units (all-in from cash ``C``:
  ``C / (p * (1 + f))``); a sell of value ``-D`` sells ``-D / open`` units (``w = 0`` sells all).
* ``DELTA_PERCENT d``: the same with ``D = d * E``. ``POSITION_FRACTION q``: trade to ``q * units``.
* Sells fill before buys within a scenario, so freed cash is available to the buys.
* Limits hold after every fill, measured at the open with the post-trade equity:
  ``|units * open| <= position_limit * E`` per symbol and ``sum |units * open| <= gross_limit * E``.
  Trades that reduce exposure are always allowed. Without leverage (``gross_limit <= 1``) buys also
  need the cash: cash never goes negative. A long-only scenario never goes short.
* With a lot size, units are rounded down to whole lots.
* While the risk state halts a scenario (drawdown breaker, daily loss limit) or a symbol (cooldown),
  fills may only reduce positions: a target that turned into a buy at this open is clipped.

Each intent that needs a trade leaves one ``order_dt`` record; an intent already at its target
(within a billionth of equity) leaves none.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.records import (
    KIND_DELTA_PERCENT,
    KIND_NONE,
    KIND_POSITION_FRACTION,
    KIND_TARGET_PERCENT,
    STATUS_CLIPPED,
    STATUS_FILLED,
    STATUS_REJECTED_CASH,
    STATUS_REJECTED_HALTED,
    STATUS_REJECTED_LIMIT,
    STATUS_REJECTED_LOT,
    STATUS_REJECTED_NO_PRICE,
    STATUS_REJECTED_SHORT,
    order_dt,
)

# Relative shortfall below which a clipped order still counts as filled (float rounding).
_CLIP_TOLERANCE = 1e-9
# Trades smaller than this fraction of equity are skipped (float residue of a rebalance).
_DUST = 1e-9


@njit(cache=True)
def write_record_nb(records, n, scenario, bar, symbol, side, units, price, fees, status, reason):
    """Write one order record at position ``n``; return ``n + 1``."""
    rec = records[n]
    rec["scenario"] = scenario
    rec["bar"] = bar
    rec["symbol"] = symbol
    rec["side"] = side
    rec["units"] = units
    rec["price"] = price
    rec["fees"] = fees
    rec["status"] = status
    rec["reason"] = reason
    return n + 1


@njit(cache=True)
def ensure_capacity_nb(records, n, extra):
    """Return ``records``, or a copy twice as large, so that ``extra`` more records fit after ``n``."""
    if n + extra <= len(records):
        return records
    grown = np.empty(max(2 * len(records), n + extra), dtype=order_dt)
    grown[:n] = records[:n]
    return grown


@njit(cache=True)
def desired_units_nb(kind, size, units, open_price, equity, buy_price, fee):
    """Signed units an intent asks to trade before limits (0 when already at the target)."""
    if kind == KIND_POSITION_FRACTION:
        return (size - 1.0) * units
    if kind == KIND_TARGET_PERCENT:
        if size == 0.0:
            return -units
        value = size * equity - units * open_price
    elif kind == KIND_DELTA_PERCENT:
        value = size * equity
    else:
        return 0.0
    if value > 0.0:
        return value / (buy_price * (1.0 + fee))
    return value / open_price


@njit(cache=True)
def _round_lot_nb(x, lot):
    if lot > 0.0:
        return np.floor(x / lot + 1e-9) * lot
    return x


@njit(cache=True)
def _update_entry_nb(state, s, n, old_units, new_units, price):
    if new_units == 0.0:
        state.entry_price[s, n] = np.nan
        state.extreme_price[s, n] = np.nan
    elif old_units == 0.0 or (old_units > 0.0) != (new_units > 0.0):
        state.entry_price[s, n] = price
        state.extreme_price[s, n] = price
    elif abs(new_units) > abs(old_units):
        added = abs(new_units) - abs(old_units)
        state.entry_price[s, n] = (state.entry_price[s, n] * abs(old_units) + price * added) / abs(new_units)


@njit(cache=True)
def fill_bar_nb(bar, open_, state, intents, params, records, n_records):
    """Fill every scenario's intents at this bar's open prices ``open_`` (S, N).

    Updates ``state`` in place, clears the intents it consumed and returns the new record count.
    The caller guarantees room for ``S * N`` more records (``ensure_capacity_nb``).
    """
    n_scenarios, n_symbols = state.units.shape
    desired = np.zeros(n_symbols)
    for s in range(n_scenarios):
        fee = params.fees[s]
        slip = params.slippage[s] + 0.5 * params.spread[s]
        buy_k = (1.0 + slip) * (1.0 + fee) - 1.0
        sell_k = 1.0 - (1.0 - slip) * (1.0 - fee)
        plim = params.position_limit[s]
        glim = params.gross_limit[s]
        long_only = params.allow_short[s] == 0.0
        lot = params.lot_size[s]
        halted = state.breaker_until[s] >= 0 or state.day_halted[s] != 0

        equity = state.cash[s]
        gross = 0.0
        for n in range(n_symbols):
            u = state.units[s, n]
            if u != 0.0:
                equity += u * open_[s, n]
                gross += abs(u) * open_[s, n]
        for n in range(n_symbols):
            kind = intents.kind[s, n]
            desired[n] = 0.0
            if kind == KIND_NONE:
                continue
            price = open_[s, n]
            if not np.isfinite(price) or price <= 0.0:
                n_records = write_record_nb(records, n_records, s, bar, n, 0, 0.0, np.nan, 0.0,
                                            STATUS_REJECTED_NO_PRICE, intents.reason[s, n])
                intents.kind[s, n] = KIND_NONE
                continue
            size = intents.size[s, n]
            if kind == KIND_TARGET_PERCENT:
                size = min(max(size, -plim), plim)
                if long_only and size < 0.0:
                    size = 0.0
            want = desired_units_nb(kind, size, state.units[s, n], price, equity, price * (1.0 + slip), fee)
            # Rebalancing to an unchanged weight leaves float dust; trades below a billionth of
            # equity are not worth a record (closing a whole position always goes through).
            if abs(want * price) < _DUST * abs(equity) and want != -state.units[s, n]:
                want = 0.0
            desired[n] = want

        for sells in (True, False):
            for n in range(n_symbols):
                want = desired[n]
                if intents.kind[s, n] == KIND_NONE or want == 0.0 or (want < 0.0) != sells:
                    continue
                reason = intents.reason[s, n]
                intents.kind[s, n] = KIND_NONE
                u = state.units[s, n]
                op = open_[s, n]
                x = abs(want)
                if sells:
                    price = op * (1.0 - slip)
                    if long_only:
                        if u <= 0.0:
                            n_records = write_record_nb(records, n_records, s, bar, n, 0, 0.0, price, 0.0,
                                                        STATUS_REJECTED_SHORT, reason)
                            continue
                        allowed = u
                        limit_status = STATUS_REJECTED_SHORT
                    else:
                        x_pos = (plim * equity + u * op) / (op * (1.0 + plim * sell_k))
                        x_gross = (glim * equity - (gross - abs(u) * op) + u * op) / (op * (1.0 + glim * sell_k))
                        allowed = max(min(x_pos, x_gross), max(u, 0.0))
                        limit_status = STATUS_REJECTED_LIMIT
                    cash_bound = False
                else:
                    price = op * (1.0 + slip)
                    x_pos = (plim * equity - u * op) / (op * (1.0 + plim * buy_k))
                    x_gross = (glim * equity - (gross - abs(u) * op) - u * op) / (op * (1.0 + glim * buy_k))
                    allowed = min(x_pos, x_gross)
                    limit_status = STATUS_REJECTED_LIMIT
                    cash_bound = False
                    if glim <= 1.0:
                        x_cash = max(state.cash[s], 0.0) / (price * (1.0 + fee))
                        if x_cash < allowed:
                            allowed = x_cash
                            cash_bound = True
                    allowed = max(allowed, max(-u, 0.0))  # covering a short is always allowed
                if halted or state.cooldown_until[s, n] >= bar - 1:
                    # A halt allows reducing only; a target read at this open may have become a buy.
                    reducible = max(u, 0.0) if sells else max(-u, 0.0)
                    if reducible < allowed:
                        allowed = reducible
                        limit_status = STATUS_REJECTED_HALTED
                        cash_bound = False
                status = STATUS_FILLED
                if x > allowed * (1.0 + _CLIP_TOLERANCE):
                    x = max(allowed, 0.0)
                    status = STATUS_CLIPPED
                rounded = _round_lot_nb(x, lot)
                if rounded < x and status == STATUS_FILLED and lot > 0.0:
                    status = STATUS_CLIPPED
                x = rounded
                if x <= 0.0:
                    if lot > 0.0 and allowed > 0.0:
                        status = STATUS_REJECTED_LOT
                    elif cash_bound:
                        status = STATUS_REJECTED_CASH
                    else:
                        status = limit_status
                    n_records = write_record_nb(records, n_records, s, bar, n, 0, 0.0, price, 0.0,
                                                status, reason)
                    continue
                if sells:
                    new_u = 0.0 if (long_only and x >= u) else u - x
                    notional = x * price
                    fee_paid = fee * notional
                    state.cash[s] += notional - fee_paid
                    equity += -x * op + notional - fee_paid
                    side = -1
                else:
                    new_u = u + x
                    notional = x * price
                    fee_paid = fee * notional
                    state.cash[s] -= notional + fee_paid
                    equity += x * op - notional - fee_paid
                    side = 1
                gross += (abs(new_u) - abs(u)) * op
                _update_entry_nb(state, s, n, u, new_u, price)
                state.units[s, n] = new_u
                n_records = write_record_nb(records, n_records, s, bar, n, side, x, price, fee_paid,
                                            status, reason)
        for n in range(n_symbols):
            intents.kind[s, n] = KIND_NONE
    return n_records
