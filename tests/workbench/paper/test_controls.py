"""Kill switch, resume, graceful stop and the stale-feed guard, driven from outside the loop."""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np

from engine.records import OrderReason
from tests.workbench.paper.helpers import options, scripted
from workbench.paper import export_ledger, paper_status, request_kill, request_resume, request_stop, start_paper
from workbench.paper.config import JOURNAL_FILE


def rows(state: Path, sql: str, *args) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{state / JOURNAL_FILE}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, args).fetchall()


def decided_bars(state: Path) -> list[int]:
    return [b for (b,) in rows(state, "SELECT DISTINCT bar FROM decisions ORDER BY bar")]


def test_kill_flattens_at_the_next_open_and_halts_until_resume(state: Path) -> None:
    feed = scripted(hooks={40: lambda: request_kill(state), 50: lambda: request_resume(state)})
    assert rows_before_kill_hold_positions(state, feed)
    kills = rows(state, "SELECT o.bar, o.fill_bar, o.seq, r.side, r.units, r.reason FROM orders o "
                        "JOIN records r USING (client_order_id) WHERE o.seq = 1 ORDER BY o.symbol")
    held = rows(state, "SELECT units FROM positions WHERE bar = 39 ORDER BY symbol")
    assert [(k[0], k[1], k[2], k[3], k[5]) for k in kills] == [(40, 40, 1, -1, int(OrderReason.KILL_SWITCH))] * 2
    assert [k[4] for k in kills] == [h[0] for h in held]
    assert rows(state, "SELECT DISTINCT units FROM positions WHERE bar BETWEEN 40 AND 49") == [(0.0,)]
    assert [b for b in decided_bars(state) if 40 <= b < 50] == []
    assert rows(state, "SELECT DISTINCT halt FROM risk WHERE bar BETWEEN 40 AND 49") == [("kill",)]
    # Resumed at bar 50: decisions come back and the targets are sent again (the account is flat).
    assert 50 in decided_bars(state)
    assert rows(state, "SELECT COUNT(*) FROM orders WHERE bar = 50 AND seq = 0")[0][0] == 2
    assert rows(state, "SELECT command, consumed_bar FROM controls ORDER BY id") == [("kill", 40), ("resume", 50)]
    # The status lists both among its recent events, at the bars that applied them.
    events = {e["kind"]: (e["bar"], e["detail"]) for e in paper_status(state)["recent_events"]}
    assert events["kill"] == (40, "flattened at the next open; halted")
    assert events["resume"] == (50, "resumed from kill")
    assert events["finished"][0] == 60


def rows_before_kill_hold_positions(state: Path, feed) -> bool:
    assert start_paper(options(state), feed=feed).status == "finished"
    return all(u != 0 for (u,) in rows(state, "SELECT units FROM positions WHERE bar = 39"))


def test_a_kill_requested_while_stopped_waits_for_the_next_start(state: Path) -> None:
    result = start_paper(options(state), feed=scripted(hooks={45: lambda: request_stop(state)}))
    assert result.status == "stopped" and result.last_bar == 45
    reply = request_kill(state)
    assert reply["running"] is False and reply["id"] is not None
    assert paper_status(state)["pending_requests"][0]["request"] == "kill"
    assert start_paper(options(state)).status == "finished"
    assert rows(state, "SELECT DISTINCT fill_bar FROM orders WHERE seq = 1") == [(46,)]
    assert paper_status(state)["halt"] == "kill" and paper_status(state)["pending_requests"] == []


def test_stop_is_graceful_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    result = start_paper(options(stopped), feed=scripted(hooks={20: lambda: request_stop(stopped)}))
    assert (result.status, result.last_bar) == ("stopped", 20)
    status = paper_status(stopped)
    assert status["running"] is False and status["last_bar"]["bar"] == 20 and not status["finished"]
    assert start_paper(options(stopped)).status == "finished"
    start_paper(options(tmp_path / "plain"))
    one = [p.read_bytes() for p in export_ledger(stopped, tmp_path / "a")]
    two = [p.read_bytes() for p in export_ledger(tmp_path / "plain", tmp_path / "b")]
    assert one == two


def test_a_stop_request_without_a_running_loop_is_not_kept(state: Path) -> None:
    start_paper(options(state, end="2010-01-15"))
    assert request_stop(state) == {"request": "stop", "id": None, "running": False}
    assert rows(state, "SELECT COUNT(*) FROM controls")[0][0] == 0


def test_a_stale_feed_halts_trading_and_cancels_working_orders(state: Path) -> None:
    # sma_cross flips AAPL at bar 30; the feed stalls before bar 31, the bar that order fills at.
    feed = scripted(stall_before={31: 1.5})
    result = start_paper(options(state, stale_after=0.3), feed=feed)
    assert result.status == "finished"
    events = rows(state, "SELECT bar, kind FROM events WHERE kind = 'stale_feed'")
    assert events == [(30, "stale_feed")]
    assert rows(state, "SELECT bar FROM cancels") == [(31,)]
    assert rows(state, "SELECT COUNT(*) FROM records WHERE fill_bar = 31")[0][0] == 0
    assert max(decided_bars(state)) == 30
    assert paper_status(state)["halt"] == "stale_feed"


def test_resume_after_a_stale_feed_trades_again(state: Path) -> None:
    feed = scripted(stall_before={31: 1.5}, hooks={35: lambda: request_resume(state)})
    start_paper(options(state, stale_after=0.3), feed=feed)
    assert 35 in decided_bars(state) and 33 not in decided_bars(state)
    assert paper_status(state)["halt"] is None


def test_bars_out_of_order_or_broken_are_dropped_and_halt_trading(tmp_path: Path) -> None:
    def stale_copy(bar):
        return bar._replace(timestamp=bar.timestamp - np.timedelta64(3, "D"))

    def broken(bar):
        return bar._replace(close=np.array([np.nan, bar.close[1]]))

    for name, change, kind in (("late", stale_copy, "out_of_order"), ("broken", broken, "bad_bar")):
        state = tmp_path / name
        feed = scripted(replace={25: change})
        feed.recorded = lambda bar: None  # a live source: nothing to check a restart against
        start_paper(options(state), feed=feed)
        assert rows(state, "SELECT bar, kind FROM events WHERE kind = ?", kind) == [(24, kind)]
        assert rows(state, "SELECT COUNT(*) FROM bars")[0][0] == 60  # 61 delivered, one dropped
        assert max(decided_bars(state)) == 24
        snapshot = json.loads(rows(state, "SELECT payload FROM snapshot")[0][0])
        assert snapshot["working"] == []
