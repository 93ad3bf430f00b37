"""Orders with idempotent client order ids, the :class:`Broker` protocol and the simulated broker.

An order is one intent of ``engine.state.Intents`` for one symbol: decided at a bar's close (or by
the kill switch before an open) and filled at ``fill_bar``'s open. Its client order id is a pure
function of (session, bar, symbol, sequence), so a decision replayed after a crash produces the same
id, and both the broker and the journal (its primary key) refuse a second copy.

:class:`SimulatedBroker` fills working orders through the account's bar loop (``LiveAccount.open_bar``)
at the open of their bar, with the account's costs and limits: the backtest's fills, one bar at a time.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.live import LiveAccount
from engine.records import KIND_NONE, OrderKind, OrderReason
from engine.state import empty_intents

logger = logging.getLogger(__name__)

SEQ_DECISION = 0  # the policy's (or the risk overlay's) order of a bar
SEQ_KILL = 1  # the kill switch's flatten order


def client_order_id(state_id: str, bar: int, symbol: str, seq: int) -> str:
    """``STATE-BAR-SYMBOL-SEQ``: deterministic, so a replayed decision gets the same id."""
    return f"{state_id}-{bar:08d}-{symbol}-{seq}"


@dataclass(frozen=True)
class Order:
    """One order for one symbol.

    Attributes:
        client_order_id: Idempotency key (:func:`client_order_id`).
        bar: The bar at whose close (or, for the kill switch, before whose open) it was created.
        fill_bar: The bar at whose open it fills.
        symbol: Column of the symbol in the feed.
        seq: :data:`SEQ_DECISION` or :data:`SEQ_KILL`.
        kind: ``engine.records.OrderKind``.
        size: The intent's size (its meaning depends on ``kind``).
        reason: ``engine.records.OrderReason``.
    """

    client_order_id: str
    bar: int
    fill_bar: int
    symbol: int
    seq: int
    kind: int
    size: float
    reason: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, symbols: Sequence[str]) -> dict[str, Any]:
        """JSON-friendly view with names instead of codes (status and exports)."""
        return {"client_order_id": self.client_order_id, "bar": self.bar, "fill_bar": self.fill_bar,
                "symbol": symbols[self.symbol], "kind": OrderKind(self.kind).name.lower(), "size": self.size,
                "reason": OrderReason(self.reason).name.lower()}


class Broker(Protocol):
    """Where orders go.

    Every method must be idempotent in the client order id. After a restart the loop re-submits the
    working orders of its last journaled bar and processes the next bar again (its decision gives
    the same ids): an adapter to a real broker must ignore ids it already holds, and ``execute`` must
    report the executions of a bar's orders from the broker's own records (looked up by client order
    id) when they were already filled before the restart, never trade them again. It returns them
    as ``engine.records.order_dt`` rows and updates the account as the fill kernel would.
    """

    def submit(self, orders: Sequence[Order]) -> None:
        """Accept orders to fill at their ``fill_bar``'s open; ids already seen are ignored."""
        ...

    def cancel(self, client_order_ids: Sequence[str]) -> list[Order]:
        """Cancel working orders; returns those that were working."""
        ...

    def working(self) -> list[Order]:
        """Orders accepted and not yet filled or cancelled."""
        ...

    def execute(self, bar: int, timestamp: pd.Timestamp, open_: np.ndarray, close: np.ndarray,
                account: LiveAccount) -> list[tuple[Order, np.void | None]]:
        """Fill the orders due at ``bar``'s open and open the account's bar with them (fills at the
        open, marked at ``close``: ``LiveAccount.open_bar``); one ``(order, record)`` per order,
        ``record`` an ``engine.records.order_dt`` row or None when there was nothing to trade."""
        ...


class SimulatedBroker:
    """Fills at the open of each order's bar with the engine's fill kernel and the account's costs."""

    def __init__(self, n_symbols: int) -> None:
        self.n_symbols = n_symbols
        self._working: dict[str, Order] = {}
        self._seen: set[str] = set()

    def submit(self, orders: Sequence[Order]) -> None:
        for order in orders:
            if order.client_order_id in self._seen:
                logger.debug("order %s already submitted; ignored", order.client_order_id)
                continue
            if any(o.symbol == order.symbol and o.fill_bar == order.fill_bar for o in self._working.values()):
                raise InvalidParameterError(
                    f"order {order.client_order_id}: symbol {order.symbol} already has a working order for bar "
                    f"{order.fill_bar}; cancel it first")
            self._seen.add(order.client_order_id)
            self._working[order.client_order_id] = order

    def cancel(self, client_order_ids: Sequence[str]) -> list[Order]:
        return [self._working.pop(i) for i in client_order_ids if i in self._working]

    def working(self) -> list[Order]:
        return sorted(self._working.values(), key=lambda o: (o.fill_bar, o.symbol))

    def execute(self, bar: int, timestamp: pd.Timestamp, open_: np.ndarray, close: np.ndarray,
                account: LiveAccount) -> list[tuple[Order, np.void | None]]:
        late = [o.client_order_id for o in self._working.values() if o.fill_bar < bar]
        if late:
            raise InvalidParameterError(f"orders {', '.join(late)} missed their open; cancel them before bar {bar}")
        due = {o.symbol: o for o in self._working.values() if o.fill_bar == bar}
        intents = empty_intents(1, self.n_symbols)
        for symbol, order in due.items():
            intents.kind[0, symbol] = order.kind
            intents.size[0, symbol] = order.size
            intents.reason[0, symbol] = order.reason
        records = account.open_bar(bar, timestamp, open_, close, intents)
        for order in due.values():
            del self._working[order.client_order_id]
        by_symbol = {int(r["symbol"]): r for r in records}
        out = [(due[int(r["symbol"])], r) for r in records]
        out += [(o, None) for s, o in sorted(due.items()) if s not in by_symbol and o.kind != KIND_NONE]
        return out
