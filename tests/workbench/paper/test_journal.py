"""The journal refuses to start on any mismatch, with a message naming what and how to fix it."""
from __future__ import annotations

import gc
import json
import sqlite3
import weakref
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.live import LiveAccount
from engine.scenarios import ScenarioParams
from tests.workbench.paper.helpers import options, scripted
from workbench.paper import request_stop, start_paper
from workbench.paper.broker import Order, SimulatedBroker, client_order_id
from workbench.paper.config import CONFIG_FILE, JOURNAL_FILE
from workbench.paper.journal import CHECKPOINT_EVERY, JournalError
from workbench.paper.lock import StateLock


@pytest.fixture
def stopped(state: Path) -> Path:
    """A session stopped at bar 45 of 61 (it holds both symbols)."""
    assert start_paper(options(state), feed=scripted(hooks={45: lambda: request_stop(state)})).status == "stopped"
    return state


def edit(state: Path, *statements: str) -> None:
    with closing(sqlite3.connect(state / JOURNAL_FILE)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


@pytest.mark.parametrize("statements, message", [
    (["UPDATE records SET units = units * 2 WHERE seq = 0"], r"bar \d+'s ledger rows do not match its digest"),
    (["UPDATE equity SET cash = cash + 1 WHERE bar = 12"], "bar 12's ledger rows do not match its digest"),
    (["DELETE FROM bars WHERE bar = 45"], "holds rows of bars that were never journaled"),
    (["DELETE FROM bars WHERE bar = 7"], "are not numbered 0..44 without gaps"),
    (["UPDATE snapshot SET payload = replace(payload, '\"day\"', '\"day\" ')"], "snapshot does not belong to the last bar"),
    (["UPDATE meta SET value = 'x' WHERE key = 'head_digest'"], "chain head in meta does not match"),
    (["UPDATE meta SET value = '9' WHERE key = 'schema_version'"], "schema version 9"),
])
def test_an_edited_journal_is_refused(stopped: Path, statements: list[str], message: str) -> None:
    edit(stopped, *statements)
    with pytest.raises(JournalError, match=message):
        start_paper(options(stopped))


def test_the_untouched_journal_resumes(stopped: Path) -> None:
    assert start_paper(options(stopped)).status == "finished"


def test_a_different_configuration_is_refused_naming_the_key(stopped: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"another configuration \(fees: the state has 0.001, this start gives 0.002\)"):
        start_paper(options(stopped, fees=0.002))
    with pytest.raises(InvalidParameterError, match="strategy_params"):
        start_paper(options(stopped, strategy_params=(("fast", "6"), ("slow", "20"))))


def test_a_config_file_edited_to_match_other_options_is_caught_by_the_journal(stopped: Path) -> None:
    config = json.loads((stopped / CONFIG_FILE).read_text())
    config["fees"] = 0.002
    (stopped / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(JournalError, match=r"written with another configuration \(fees"):
        start_paper(options(stopped, fees=0.002))


def test_a_damaged_state_folder_is_refused(stopped: Path) -> None:
    (stopped / JOURNAL_FILE).write_bytes(b"not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{stopped / JOURNAL_FILE}{suffix}").unlink(missing_ok=True)
    with pytest.raises(JournalError, match="not a readable SQLite journal"):
        start_paper(options(stopped))
    (stopped / CONFIG_FILE).unlink()
    with pytest.raises(JournalError, match="journal.sqlite exists without config.json"):
        start_paper(options(stopped))


def test_a_second_loop_on_the_same_state_is_refused(stopped: Path) -> None:
    with StateLock(stopped):
        with pytest.raises(JournalError, match="a paper loop is already running"):
            start_paper(options(stopped))


def test_the_journal_never_holds_an_order_twice(stopped: Path) -> None:
    with closing(sqlite3.connect(stopped / JOURNAL_FILE)) as conn:
        cid, bar = conn.execute("SELECT client_order_id, bar FROM orders LIMIT 1").fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute("INSERT INTO orders VALUES (?, ?, 0, 0, 0, 1, 0.5, 0)", (cid, bar))


def test_client_order_ids_are_deterministic() -> None:
    assert client_order_id("abcdef012345", 7, "AAPL", 1) == "abcdef012345-00000007-AAPL-1"


def _order(symbol: int, fill_bar: int, seq: int = 0, size: float = 0.5) -> Order:
    return Order(client_order_id("s", fill_bar - 1, f"S{symbol}", seq), fill_bar - 1, fill_bar, symbol, seq, 1, size, 0)


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), max_size=20))
def test_the_broker_keeps_one_working_order_per_symbol_and_bar_and_ignores_repeats(submissions) -> None:
    broker = SimulatedBroker(3)
    accepted = {}
    for symbol, fill_bar in submissions:
        order = _order(symbol, fill_bar)
        broker.submit([order])  # ids are per (bar, symbol): a repeat is the same order and is ignored
        accepted.setdefault(order.client_order_id, order)
    assert sorted(broker.working(), key=lambda o: o.client_order_id) == sorted(accepted.values(),
                                                                               key=lambda o: o.client_order_id)


def test_the_broker_refuses_a_second_order_for_a_symbol_and_orders_that_missed_their_open() -> None:
    broker = SimulatedBroker(2)
    broker.submit([_order(0, 3)])
    with pytest.raises(InvalidParameterError, match="already has a working order"):
        broker.submit([_order(0, 3, seq=1)])
    with pytest.raises(InvalidParameterError, match="missed their open"):
        broker.execute(4, pd.Timestamp("2024-01-05", tz="UTC"), [1.0, 1.0], [1.0, 1.0], LiveAccount(ScenarioParams(), 2))
    assert [o.client_order_id for o in broker.cancel(["s-00000002-S0-0", "unknown"])] == ["s-00000002-S0-0"]
    assert broker.working() == []


def test_the_wal_is_checkpointed_between_bars_never_inside_a_commit(state: Path) -> None:
    def bars_in_database_file() -> int:
        # immutable=1 reads the database file alone, not the WAL: it sees only checkpointed bars.
        with closing(sqlite3.connect(f"file:{state / JOURNAL_FILE}?mode=ro&immutable=1", uri=True)) as conn:
            return conn.execute("SELECT COUNT(*) FROM bars").fetchone()[0]

    seen: dict[int, int] = {}
    hooks = {k: (lambda k=k: seen.__setitem__(k, bars_in_database_file())) for k in (30, CHECKPOINT_EVERY + 2)}
    result = start_paper(options(state, end="2010-06-30"), feed=scripted(end="2010-06-30", hooks=hooks))
    assert result.status == "finished" and result.last_bar > CHECKPOINT_EVERY + 2
    assert seen == {30: 0, CHECKPOINT_EVERY + 2: CHECKPOINT_EVERY}


def test_garbage_cycles_are_collected_between_bars_with_the_checkpoint(state: Path) -> None:
    class Node:
        pass

    cycle: dict[str, weakref.ref] = {}
    seen: dict[int, tuple[bool, bool]] = {}

    def make_cycle() -> None:
        node = Node()
        node.self = node
        cycle["ref"] = weakref.ref(node)

    def look(k: int) -> None:
        seen[k] = (gc.isenabled(), cycle["ref"]() is not None)

    hooks = {5: make_cycle, 30: lambda: look(30), CHECKPOINT_EVERY + 2: lambda: look(CHECKPOINT_EVERY + 2)}
    enabled = gc.isenabled()
    result = start_paper(options(state, end="2010-06-30"), feed=scripted(end="2010-06-30", hooks=hooks))
    assert result.status == "finished"
    # No automatic collection while the loop runs; the cycle goes at the checkpoint after bar 63.
    assert seen == {30: (False, True), CHECKPOINT_EVERY + 2: (False, False)}
    assert gc.isenabled() == enabled and gc.get_freeze_count() == 0
