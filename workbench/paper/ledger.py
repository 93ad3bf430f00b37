"""A session's ledger read back from its journal: orders, fills, equity, as arrays and CSV files.

The CSV export holds data times and values only (no wall-clock time), with every float written as
its shortest exact decimal (``repr``), so two runs of the same replay export byte-identical files.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.atomic_files import write_text_atomically
from engine.records import OrderKind, OrderReason, OrderStatus, order_dt
from workbench.paper.config import JOURNAL_FILE, PARITY_EVENT
from workbench.paper.journal import reading, verified_reading
from workbench.paper.lock import holding_idle

EXPORT_FILES = ("orders.csv", "fills.csv", "equity.csv")


def order_status(row_status: int | None, cancelled: bool, fill_bar: int, last_bar: int) -> str:
    """An order's outcome: its record's status (``filled``, ``clipped``, ``rejected_*``; the risk
    overlay's blocks are ``rejected_halted``), ``cancelled``, ``skipped`` (nothing to trade at its
    open) or ``working``."""
    if row_status is not None:
        return OrderStatus(row_status).name.lower()
    if cancelled:
        return "cancelled"
    return "skipped" if fill_bar <= last_bar else "working"


def read_records(conn: sqlite3.Connection) -> np.ndarray:
    """Every kernel record in execution order as ``engine.records.order_dt`` (scenario 0)."""
    rows = conn.execute("SELECT fill_bar, symbol, side, units, price, fees, status, reason FROM records "
                        "ORDER BY seq").fetchall()
    records = np.zeros(len(rows), dtype=order_dt)
    for name, column in zip(("bar", "symbol", "side", "units", "price", "fees", "status", "reason"), zip(*rows)):
        records[name] = np.array([np.nan if v is None else v for v in column])
    return records


def read_equity(conn: sqlite3.Connection) -> np.ndarray:
    """Equity at every journaled close, ``[T]``."""
    return np.array([row[0] for row in conn.execute("SELECT equity FROM equity ORDER BY bar")], dtype=np.float64)


@dataclass(frozen=True)
class SessionLedger:
    """Everything a stored paper run keeps of a session, read in one transaction.

    Attributes:
        config: The session's configuration (``PaperConfig.to_dict()``).
        index: ``[T]`` the journaled bars' timestamps (UTC).
        close: ``[T, N]`` their close prices.
        records: Every kernel record in execution order (``order_dt``, scenario 0).
        equity: ``[T]`` equity at every journaled close.
        latency_seconds: Decision latency of each bar that decided.
        finished: Whether the feed ended (a replay ran to its last bar).
        parity: The parity report of each start that decided off CPU fp32 (``PARITY_EVENT`` events).
    """

    config: dict
    index: pd.DatetimeIndex
    close: np.ndarray
    records: np.ndarray
    equity: np.ndarray
    latency_seconds: np.ndarray
    finished: bool
    parity: tuple[dict, ...] = ()


def session_ledger(state: str | Path) -> SessionLedger:
    """The :class:`SessionLedger` of the session in ``state``.

    Raises:
        JournalError: no journal, an unreadable one, or one that fails a start's checks (``Journal.verify``).
    """
    with holding_idle(Path(state)) as idle, verified_reading(Path(state) / JOURNAL_FILE, idle=idle) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        config = json.loads(meta["config"])
        stamps = [row[0] for row in conn.execute("SELECT timestamp FROM bars ORDER BY bar")]
        close = np.array([row[0] for row in conn.execute("SELECT close FROM prices ORDER BY bar, symbol")],
                         dtype=np.float64).reshape(len(stamps), len(config["symbols"]))
        latency = np.array([r[0] for r in conn.execute("SELECT seconds FROM latency ORDER BY bar")], dtype=np.float64)
        parity = tuple(json.loads(row[0]) for row in conn.execute(
            "SELECT detail FROM events WHERE kind = ? ORDER BY id", (PARITY_EVENT,)))
        return SessionLedger(config, pd.DatetimeIndex(pd.to_datetime(stamps, utc=True), name="timestamp"), close,
                             read_records(conn), read_equity(conn), latency, meta.get("finished", "") != "", parity)


def session_series(state: str | Path) -> pd.DataFrame:
    """The session bar by bar: ``equity`` at each journaled close and ``latency_ms``, the decision
    latency of the bar (NaN for a bar that did not decide), on a timestamp index (UTC)."""
    with reading(Path(state) / JOURNAL_FILE) as conn:
        bars = conn.execute("SELECT b.bar, b.timestamp, e.equity, l.seconds FROM bars b "
                            "LEFT JOIN equity e ON e.bar = b.bar LEFT JOIN latency l ON l.bar = b.bar "
                            "ORDER BY b.bar").fetchall()
    index = pd.DatetimeIndex(pd.to_datetime([row[1] for row in bars], utc=True), name="timestamp")
    return pd.DataFrame({"equity": [np.nan if row[2] is None else row[2] for row in bars],
                         "latency_ms": [np.nan if row[3] is None else row[3] * 1e3 for row in bars]},
                        index=index, dtype=np.float64)


def ledger_arrays(state: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(records, equity)`` of the session in ``state`` (what a backtest's rollout holds)."""
    with holding_idle(Path(state)) as idle, reading(Path(state) / JOURNAL_FILE, idle=idle) as conn:
        return read_records(conn), read_equity(conn)


def export_ledger(state: str | Path, out: str | Path) -> list[Path]:
    """Write ``orders.csv``, ``fills.csv`` and ``equity.csv`` of the session into ``out``, each atomically.

    Raises:
        JournalError: no journal, an unreadable one, or one that fails a start's checks (``Journal.verify``);
            nothing is written.
    """
    out = Path(out)
    with holding_idle(Path(state)) as idle, verified_reading(Path(state) / JOURNAL_FILE, idle=idle) as conn:
        config = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        symbols = config["symbols"]
        stamps = dict(conn.execute("SELECT bar, timestamp FROM bars").fetchall())
        last = max(stamps, default=-1)
        tables = {
            "orders.csv": _orders(conn, symbols, stamps, last),
            "fills.csv": _fills(conn, symbols, stamps),
            "equity.csv": _equity(conn, symbols, stamps),
        }
    out.mkdir(parents=True, exist_ok=True)
    return [write_text_atomically(out / name, _csv(*tables[name])) for name in EXPORT_FILES]


def _orders(conn, symbols, stamps, last):
    rows = conn.execute(
        "SELECT o.client_order_id, o.bar, o.fill_bar, o.symbol, o.seq, o.kind, o.size, o.reason, r.status, "
        "c.client_order_id IS NOT NULL FROM orders o LEFT JOIN records r ON r.client_order_id = o.client_order_id "
        "LEFT JOIN cancels c ON c.client_order_id = o.client_order_id ORDER BY o.bar, o.seq, o.symbol").fetchall()
    header = ["client_order_id", "bar", "timestamp", "fill_bar", "symbol", "kind", "size", "reason", "status"]
    body = [[cid, bar, stamps[bar], fill_bar, symbols[symbol], OrderKind(kind).name.lower(), _num(size),
             OrderReason(reason).name.lower(), order_status(status, bool(cancelled), fill_bar, last)]
            for cid, bar, fill_bar, symbol, _, kind, size, reason, status, cancelled in rows]
    return header, body


def _fills(conn, symbols, stamps):
    rows = conn.execute("SELECT client_order_id, fill_bar, symbol, side, units, price, fees, status, reason "
                        "FROM records WHERE side != 0 ORDER BY seq").fetchall()
    header = ["client_order_id", "bar", "timestamp", "symbol", "side", "units", "price", "fees", "status", "reason"]
    body = [[cid, bar, stamps[bar], symbols[symbol], "buy" if side > 0 else "sell", _num(units), _num(price),
             _num(fees), OrderStatus(status).name.lower(), OrderReason(reason).name.lower()]
            for cid, bar, symbol, side, units, price, fees, status, reason in rows]
    return header, body


def _equity(conn, symbols, stamps):
    units = {}
    for bar, symbol, value in conn.execute("SELECT bar, symbol, units FROM positions ORDER BY bar, symbol"):
        units.setdefault(bar, [0.0] * len(symbols))[symbol] = value
    header = ["bar", "timestamp", "equity", "cash"] + [f"units_{s}" for s in symbols]
    body = [[bar, stamps[bar], _num(equity), _num(cash), *(_num(u) for u in units[bar])]
            for bar, equity, cash in conn.execute("SELECT bar, equity, cash FROM equity ORDER BY bar")]
    return header, body


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
