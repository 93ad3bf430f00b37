"""What the CLI and the app's Paper trading page call: a session's status, and stop / kill / resume.

Requests go through the journal's ``controls`` table, so they reach a loop in another process, wait
for one that is not running yet (kill, resume), and are applied at a bar boundary that the journal
records. Every function takes the state folder and reads nothing else.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.state import FOREVER
from workbench.paper.broker import Order
from workbench.paper.config import JOURNAL_FILE
from workbench.paper.journal import missing_journal, reading, request_control
from workbench.paper.lock import holding_idle, is_running, lock_pid
from workbench.paper.session import finished_replay

RECENT_EVENTS = 5
"""Events in a status: the newest starts, stops, feed faults and applied kill / resume requests."""


def paper_status(state: str | Path) -> dict[str, Any]:
    """The session's state: equity, positions, open orders, risk state, last bar, latency percentiles and
    the :data:`RECENT_EVENTS` newest events (a kill or resume appears at the bar that applied it).

    Raises:
        JournalError: no journal in ``state``.
    """
    state = Path(state)
    with holding_idle(state) as idle, reading(state / JOURNAL_FILE, idle=idle) as conn:
        running = not idle
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        config = json.loads(meta["config"])
        symbols = config["symbols"]
        last = conn.execute("SELECT bar, timestamp FROM bars ORDER BY bar DESC LIMIT 1").fetchone()
        latencies = np.array([r[0] for r in conn.execute("SELECT seconds FROM latency")], dtype=np.float64)
        pending = conn.execute("SELECT id, command, requested_at FROM controls WHERE consumed_bar IS NULL "
                               "ORDER BY id").fetchall()
        events = conn.execute(
            "SELECT bar, kind, detail, at FROM events UNION ALL SELECT consumed_bar, command, outcome, requested_at "
            "FROM controls WHERE consumed_bar IS NOT NULL AND command IN ('kill', 'resume') "
            f"ORDER BY at DESC LIMIT {RECENT_EVENTS}").fetchall()
        snapshot = conn.execute("SELECT payload FROM snapshot WHERE id = 1").fetchone()
        account = _account(conn, last[0], symbols, config["cash"]) if last else None
    working = [Order(**o).describe(symbols) for o in json.loads(snapshot[0])["working"]] if snapshot else []
    return {
        "state": str(state),
        "running": running,
        "pid": lock_pid(state) if running else None,
        "finished": meta["finished"] != "",
        "halt": meta["halt"] or None,
        "decider": config["strategy"] or config["policy"],
        "feed": config["feed"],
        "symbols": symbols,
        "last_bar": None if last is None else {"bar": last[0], "timestamp": last[1]},
        **(account or {"equity": None, "cash": None, "positions": [], "risk": None}),
        "open_orders": working,
        "pending_requests": [{"id": i, "request": c, "requested_at": at} for i, c, at in pending],
        "latency_ms": _percentiles(latencies),
        "recent_events": [{"bar": b, "kind": k, "detail": d, "at": at} for b, k, d, at in events],
    }


def request_stop(state: str | Path) -> dict[str, Any]:
    """Ask the running loop to stop after the bar in progress (nothing is asked when none runs)."""
    state = Path(state)
    if not is_running(state):
        _require_journal(state)
        return {"request": "stop", "id": None, "running": False}
    return {"request": "stop", "id": request_control(state / JOURNAL_FILE, "stop"), "running": True}


def request_kill(state: str | Path) -> dict[str, Any]:
    """Kill switch: close every position at the next open and halt until :func:`request_resume`.

    Taken at the next bar the loop processes (after a restart if none is running). A session whose
    replay has finished processes no bar again: nothing is requested (``id`` None, ``finished_bar``).
    """
    return _request_next_bar(Path(state), "kill")


def request_resume(state: str | Path) -> dict[str, Any]:
    """Clear a halt (kill switch, stale or faulty feed) at the next bar (nothing once the replay finished)."""
    return _request_next_bar(Path(state), "resume")


def nothing_requested(reply: dict[str, Any]) -> str:
    """Why a request function wrote no request (its reply's ``id`` is None), for people."""
    if reply.get("finished_bar") is not None:
        return f"the session's replay finished at bar {reply['finished_bar']}; nothing to {reply['request']}"
    return f"no loop is running; nothing to {reply['request']}"


def _request_next_bar(state: Path, command: str) -> dict[str, Any]:
    _require_journal(state)
    with holding_idle(state) as idle:
        finished = finished_replay(state / JOURNAL_FILE) if idle else None
    if finished is not None:
        return {"request": command, "id": None, "running": False, "finished_bar": finished[0]}
    return {"request": command, "id": request_control(state / JOURNAL_FILE, command), "running": not idle}


def _require_journal(state: Path) -> None:
    if not (state / JOURNAL_FILE).is_file():
        raise missing_journal(state / JOURNAL_FILE)


def _account(conn, bar: int, symbols: list[str], cash0: float) -> dict[str, Any]:
    equity, cash = conn.execute("SELECT equity, cash FROM equity WHERE bar = ?", (bar,)).fetchone()
    closes = dict(conn.execute("SELECT symbol, close FROM prices WHERE bar = ?", (bar,)).fetchall())
    positions = []
    for symbol, units, entry in conn.execute("SELECT symbol, units, entry_price FROM positions WHERE bar = ? "
                                             "ORDER BY symbol", (bar,)):
        if units:
            value = units * closes[symbol]
            positions.append({"symbol": symbols[symbol], "units": units, "entry_price": entry,
                              "close": closes[symbol], "value": value, "weight": value / equity if equity else None})
    peak, day_start, day, breaker, day_halted, cooldown = conn.execute(
        "SELECT equity_peak, day_start_equity, day, breaker_until, day_halted, cooldown_until FROM risk "
        "WHERE bar = ?", (bar,)).fetchone()
    cooldowns = {symbols[n]: until for n, until in enumerate(json.loads(cooldown)) if until >= bar}
    risk = {
        "equity_high_water_mark": peak,
        "drawdown": 1.0 - equity / peak if peak else 0.0,
        "day_start_equity": day_start,
        "daily_loss": 1.0 - equity / day_start if day_start else 0.0,
        "trading_day": day,
        "breaker": None if breaker < 0 else ("until the end of the run" if breaker == FOREVER else f"until bar {breaker}"),
        "daily_loss_halt": bool(day_halted),
        "cooldowns": cooldowns,
    }
    return {"equity": equity, "cash": cash, "return": equity / cash0 - 1.0, "positions": positions, "risk": risk}


def _percentiles(seconds: np.ndarray) -> dict[str, float | int | None]:
    if seconds.size == 0:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ms = seconds * 1e3
    return {"n": int(ms.size), "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max())}
