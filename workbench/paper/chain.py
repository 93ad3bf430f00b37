"""The ledger of one bar as rows, and the hash chain over bars that the journal checks on start.

Ledger rows carry the bar of the transaction that wrote them. A bar's rows are normalized as SQLite
returns them (NaN as NULL, -0.0 as 0.0, Python scalars) and sorted by each table's key, so the
digest computed when a bar is written equals the one recomputed from the journal later. A bar's
digest is the SHA-256 of the previous bar's digest and its rows.
"""
from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.data.market import FIELDS
from engine.state import PortfolioState
from workbench.paper.broker import Order

# Ledger tables: columns (name, SQLite type) and the key that orders a bar's rows in the chain.
LEDGER: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "bars": ((("bar", "INTEGER"), ("timestamp", "TEXT"), ("final", "INTEGER"), ("snapshot_sha", "TEXT")), ("bar",)),
    "prices": ((("bar", "INTEGER"), ("symbol", "INTEGER"), ("open", "REAL"), ("high", "REAL"), ("low", "REAL"),
                ("close", "REAL"), ("volume", "REAL")), ("bar", "symbol")),
    "decisions": ((("bar", "INTEGER"), ("symbol", "INTEGER"), ("action", "REAL"), ("extras", "TEXT")),
                  ("bar", "symbol")),
    "orders": ((("client_order_id", "TEXT"), ("bar", "INTEGER"), ("fill_bar", "INTEGER"), ("symbol", "INTEGER"),
                ("seq", "INTEGER"), ("kind", "INTEGER"), ("size", "REAL"), ("reason", "INTEGER")),
               ("client_order_id",)),
    "records": ((("seq", "INTEGER"), ("bar", "INTEGER"), ("client_order_id", "TEXT"), ("fill_bar", "INTEGER"),
                 ("symbol", "INTEGER"), ("side", "INTEGER"), ("units", "REAL"), ("price", "REAL"), ("fees", "REAL"),
                 ("status", "INTEGER"), ("reason", "INTEGER")), ("seq",)),
    "cancels": ((("client_order_id", "TEXT"), ("bar", "INTEGER")), ("client_order_id",)),
    "equity": ((("bar", "INTEGER"), ("equity", "REAL"), ("cash", "REAL")), ("bar",)),
    "positions": ((("bar", "INTEGER"), ("symbol", "INTEGER"), ("units", "REAL"), ("entry_price", "REAL")),
                  ("bar", "symbol")),
    "risk": ((("bar", "INTEGER"), ("equity_peak", "REAL"), ("day_start_equity", "REAL"), ("day", "INTEGER"),
              ("breaker_until", "INTEGER"), ("day_halted", "INTEGER"), ("cooldown_until", "TEXT"), ("halt", "TEXT")),
             ("bar",)),
}

@dataclass
class BarEntry:
    """Everything one bar's transaction writes.

    Attributes:
        bar, timestamp, final: The bar.
        prices: ``{field: [N]}``.
        actions: The decision's actions ``[N, ...]`` (None when nothing was decided).
        extras: The decision's extras (``{name: [N, ...]}``).
        orders: Orders created in this bar.
        records: ``(client_order_id, order_dt record)`` in execution order.
        cancels: Client order ids cancelled in this bar.
        state: The account after the bar.
        halt: Why the loop is halted after the bar ("" when trading).
        snapshot: JSON restore data of the loop after the bar.
        controls: ``(control id, outcome)`` of the requests applied in this bar.
        latencies: ``(bar, seconds)`` of earlier bars not yet written.
    """

    bar: int
    timestamp: pd.Timestamp
    final: bool
    prices: dict[str, np.ndarray]
    actions: np.ndarray | None
    extras: dict[str, np.ndarray]
    orders: list[Order]
    records: list[tuple[str, np.void]]
    cancels: list[str]
    state: PortfolioState
    halt: str
    snapshot: dict[str, Any]
    controls: list[tuple[int, str]] = field(default_factory=list)
    latencies: list[tuple[int, float]] = field(default_factory=list)


class _BarRows:
    """Rows of one ledger table grouped by their ``bar`` column."""

    def __init__(self, rows: list[tuple], bar_column: int) -> None:
        self.rows: dict[int, list[tuple]] = {}
        for row in rows:
            self.rows.setdefault(row[bar_column], []).append(row)

    def get_all(self) -> list[tuple]:
        return [r for bar in sorted(self.rows) for r in self.rows[bar]]

    def pop(self, bar: int) -> list[tuple]:
        return self.rows.pop(bar, [])


def read_ledger(conn: sqlite3.Connection) -> dict[str, _BarRows]:
    """Every ledger table's rows, grouped by the bar of their transaction, in chain order."""
    out = {}
    for table, (columns, key) in LEDGER.items():
        names = [c for c, _ in columns]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY bar, {', '.join(key)}").fetchall()
        out[table] = _BarRows(rows, names.index("bar"))
    return out


def bar_rows(entry: BarEntry, first_seq: int) -> tuple[dict[str, list[tuple]], str]:
    """The ledger rows of ``entry`` (normalized as SQLite returns them) and its snapshot payload."""
    bar, state = entry.bar, entry.state
    payload = json.dumps(entry.snapshot, sort_keys=True)
    n_symbols = state.units.shape[1]
    rows: dict[str, list[tuple]] = {
        "bars": [(bar, pd.Timestamp(entry.timestamp).isoformat(), int(entry.final),
                  hashlib.sha256(payload.encode()).hexdigest())],
        "prices": [(bar, n, *(entry.prices[f][n] for f in FIELDS)) for n in range(n_symbols)],
        "decisions": [] if entry.actions is None else _decision_rows(bar, entry.actions, entry.extras),
        "orders": [(o.client_order_id, o.bar, o.fill_bar, o.symbol, o.seq, o.kind, o.size, o.reason)
                   for o in entry.orders],
        "records": [(first_seq + i, bar, cid, r["bar"], r["symbol"], r["side"], r["units"], r["price"], r["fees"],
                     r["status"], r["reason"]) for i, (cid, r) in enumerate(entry.records)],
        "cancels": [(cid, bar) for cid in entry.cancels],
        "equity": [(bar, state.equity[0], state.cash[0])],
        "positions": [(bar, n, state.units[0, n], state.entry_price[0, n]) for n in range(n_symbols)],
        "risk": [(bar, state.equity_peak[0], state.day_start_equity[0], state.day[0], state.breaker_until[0],
                  state.day_halted[0], json.dumps(state.cooldown_until[0].tolist()), entry.halt)],
    }
    normalized = {}
    for table, table_rows in rows.items():
        kinds = [kind for _, kind in LEDGER[table][0]]
        key = [i for i, (c, _) in enumerate(LEDGER[table][0]) if c in LEDGER[table][1]]
        cells = [tuple(_cell(v, k) for v, k in zip(row, kinds)) for row in table_rows]
        normalized[table] = sorted(cells, key=lambda row: tuple(row[i] for i in key))
    return normalized, payload


def chain_digest(previous: str, rows: dict[str, list[tuple]]) -> str:
    """SHA-256 over the previous digest and one bar's normalized ledger rows."""
    content = json.dumps([previous, [[t, rows[t]] for t in LEDGER]], separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


def _decision_rows(bar: int, actions: np.ndarray, extras: dict[str, np.ndarray]) -> list[tuple]:
    actions = np.asarray(actions)
    out = []
    for n in range(actions.shape[0]):
        detail = {k: np.asarray(v)[n].tolist() for k, v in sorted(extras.items())}
        scalar = actions.ndim == 1
        if not scalar:
            detail["action"] = actions[n].tolist()
        out.append((bar, n, float(actions[n]) if scalar else None, json.dumps(detail, sort_keys=True)))
    return out


def _cell(value: Any, kind: str) -> Any:
    """A value as SQLite stores and returns it: NaN as NULL, -0.0 as 0.0, numpy scalars as Python."""
    if value is None:
        return None
    if kind == "REAL":
        number = float(value)
        return None if math.isnan(number) else number + 0.0
    if kind == "INTEGER":
        return int(value)
    return str(value)
