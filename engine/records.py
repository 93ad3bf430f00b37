"""Record dtypes and codes of the execution engine, declared once.

An order intent is a (kind, size, reason) triple per scenario and symbol, decided at a bar's close
and filled at the next bar's open. Every intent that reaches the fill kernel leaves one record in
``order_dt``, filled or not: a rejected order is a status code, never an exception.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np


class OrderKind(IntEnum):
    """How an intent's ``size`` is read at fill time."""

    NONE = 0
    TARGET_PERCENT = 1  # size = target fraction of equity (signed; negative is short)
    DELTA_PERCENT = 2  # size = fraction of equity to buy (> 0) or sell (< 0)
    POSITION_FRACTION = 3  # size = fraction of the current units to keep (0 closes, 0.5 halves)


class OrderStatus(IntEnum):
    """Outcome of an order at the fill kernel."""

    FILLED = 0
    CLIPPED = 1  # filled, but reduced by cash, a position or gross limit, or the lot size
    REJECTED_CASH = 2  # nothing could be bought with the cash and limits available
    REJECTED_LIMIT = 3  # the position or gross exposure limit was already reached
    REJECTED_SHORT = 4  # would open a short position in a long-only scenario
    REJECTED_HALTED = 5  # would add exposure while a breaker, daily loss halt or cooldown is active
    REJECTED_LOT = 6  # smaller than one lot
    REJECTED_NO_PRICE = 7  # the symbol has no finite open price at the fill bar


class OrderReason(IntEnum):
    """Why an intent exists."""

    POLICY = 0
    STOP_LOSS = 1
    TRAILING_STOP = 2
    TAKE_PROFIT = 3
    BREAKER_FLATTEN = 4
    KILL_SWITCH = 5


order_dt = np.dtype(
    [
        ("scenario", np.int32),
        ("bar", np.int32),  # the fill bar (decision bar + 1)
        ("symbol", np.int32),
        ("side", np.int8),  # +1 buy, -1 sell, 0 nothing filled
        ("units", np.float64),  # units filled (>= 0)
        ("price", np.float64),  # fill price, slippage and spread included
        ("fees", np.float64),
        ("status", np.int8),
        ("reason", np.int8),
    ],
    align=True,
)

# Plain ints for Numba kernels (IntEnum members are not constants there).
KIND_NONE = int(OrderKind.NONE)
KIND_TARGET_PERCENT = int(OrderKind.TARGET_PERCENT)
KIND_DELTA_PERCENT = int(OrderKind.DELTA_PERCENT)
KIND_POSITION_FRACTION = int(OrderKind.POSITION_FRACTION)
STATUS_FILLED = int(OrderStatus.FILLED)
STATUS_CLIPPED = int(OrderStatus.CLIPPED)
STATUS_REJECTED_CASH = int(OrderStatus.REJECTED_CASH)
STATUS_REJECTED_LIMIT = int(OrderStatus.REJECTED_LIMIT)
STATUS_REJECTED_SHORT = int(OrderStatus.REJECTED_SHORT)
STATUS_REJECTED_HALTED = int(OrderStatus.REJECTED_HALTED)
STATUS_REJECTED_LOT = int(OrderStatus.REJECTED_LOT)
STATUS_REJECTED_NO_PRICE = int(OrderStatus.REJECTED_NO_PRICE)
REASON_POLICY = int(OrderReason.POLICY)
REASON_STOP_LOSS = int(OrderReason.STOP_LOSS)
REASON_TRAILING_STOP = int(OrderReason.TRAILING_STOP)
REASON_TAKE_PROFIT = int(OrderReason.TAKE_PROFIT)
REASON_BREAKER_FLATTEN = int(OrderReason.BREAKER_FLATTEN)
REASON_KILL_SWITCH = int(OrderReason.KILL_SWITCH)
