"""The journal's files: readers see every committed bar (the WAL included), a deleted database or
WAL is reported, never papered over (issue 16 items 2 and 3)."""
from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.workbench.paper.helpers import options, scripted
from workbench.cli import main
from workbench.paper import paper_status, request_kill, request_stop, start_paper
from workbench.paper.config import JOURNAL_FILE
from workbench.paper.journal import JournalError


def wal(state: Path) -> Path:
    return Path(f"{state / JOURNAL_FILE}-wal")


def shm(state: Path) -> Path:
    return Path(f"{state / JOURNAL_FILE}-shm")


def hold_open(state: Path, readers: list) -> None:
    """A reader with the journal open (the app's poll, a status call) while the loop goes on."""
    conn = sqlite3.connect(f"file:{state / JOURNAL_FILE}?mode=ro", uri=True)
    conn.execute("SELECT COUNT(*) FROM bars").fetchone()
    readers.append(conn)


def events(state: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(f"file:{state / JOURNAL_FILE}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT kind, detail FROM events ORDER BY id").fetchall()


def test_issue16_status_and_restart_see_the_bars_still_in_the_wal(state: Path, capsys) -> None:
    readers: list[sqlite3.Connection] = []
    result = start_paper(options(state), feed=scripted(hooks={30: lambda: hold_open(state, readers)}))
    assert result.status == "finished" and result.last_bar == 60
    for conn in readers:
        conn.close()
    assert wal(state).stat().st_size > 0  # the loop could not checkpoint while the reader held the journal
    status = paper_status(state)
    assert status["finished"] and status["last_bar"]["bar"] == 60 and status["equity"] == result.equity
    before = events(state)
    again = start_paper(options(state))
    assert (again.status, again.last_bar, again.equity) == ("already finished", 60, result.equity)
    assert events(state) == before
    assert request_kill(state)["finished_bar"] == 60
    assert main(["paper", "start", "--strategy", "sma_cross", "--param", "fast=5", "--param", "slow=20",
                 "--feed", "replay:stocks:AAPL,MSFT", "--start", "2010-01-01", "--end", "2010-03-31",
                 "--fees", "0.001", "--slippage", "0.0005", "--state", str(state)]) == 0
    assert "already finished at bar 60" in capsys.readouterr().out


def test_issue16_reading_a_quiet_journal_creates_and_changes_no_file(state: Path) -> None:
    assert start_paper(options(state, end="2010-01-31")).status == "finished"
    assert not wal(state).exists() and not shm(state).exists()
    files = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in state.iterdir()}
    paper_status(state)
    request_kill(state)
    assert start_paper(options(state, end="2010-01-31")).status == "already finished"
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in state.iterdir()} == files


def test_issue16_a_deleted_database_beside_its_wal_is_refused_everywhere(state: Path, tmp_path: Path,
                                                                         capsys) -> None:
    readers: list[sqlite3.Connection] = []
    start_paper(options(state), feed=scripted(hooks={30: lambda: hold_open(state, readers)}))
    for conn in readers:
        conn.close()
    (state / JOURNAL_FILE).unlink()
    assert wal(state).exists()
    message = "the journal's database is missing but journal.sqlite-wal and journal.sqlite-shm remain"
    for call in (lambda: start_paper(options(state)), lambda: paper_status(state), lambda: request_kill(state),
                 lambda: request_stop(state)):
        with pytest.raises(JournalError, match=message):
            call()
    assert not (state / JOURNAL_FILE).exists()  # no new journal read through the old WAL
    for argv in (["paper", "status", "--state", str(state)],
                 ["paper", "export", "--state", str(state), "--out", str(tmp_path / "out")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_issue16_commits_lost_with_a_deleted_wal_are_reported_at_the_next_start(state: Path, caplog) -> None:
    readers: list[sqlite3.Connection] = []
    hooks = {66: lambda: hold_open(state, readers), 71: lambda: request_stop(state)}
    stopped = start_paper(options(state, end="2010-06-30"), feed=scripted(end="2010-06-30", hooks=hooks))
    assert stopped.status == "stopped" and stopped.last_bar == 71
    wal(state).unlink()  # bars 64..71 were committed to the WAL only: the loop checkpoints every 64 bars
    for conn in readers:
        conn.close()
    with caplog.at_level(logging.WARNING, logger="workbench.paper.session"):
        resumed = start_paper(options(state, end="2010-06-30"))
    assert resumed.status == "finished"
    lost = [detail for kind, detail in events(state) if kind == "wal_lost"]
    assert len(lost) == 1 and "bars journaled after bar 63 are lost" in lost[0]
    assert ("start", "resumed after bar 63") in events(state)
    assert any("bars journaled after bar 63 are lost" in r.getMessage() for r in caplog.records)
    clean = start_paper(options(state.with_name("clean"), end="2010-06-30"))
    assert (resumed.last_bar, resumed.equity) == (clean.last_bar, clean.equity)  # a replay recomputes them


def corrupt_a_page(path: Path) -> None:
    """Flip four bytes of a page in the middle of the file, as a failing disk does."""
    data = bytearray(path.read_bytes())
    page = len(data) // 4096 // 2 * 4096
    for offset in (page + 1, page + 2, page + 3, page + 4):  # the page header: free block and cell count
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda path: _edit(path, "UPDATE equity SET cash = cash + 1 WHERE bar = 12"),
     "bar 12's ledger rows do not match its digest"),
    (corrupt_a_page, "SQLite integrity check failed|not a readable SQLite journal"),
])
def test_issue16_paper_export_refuses_a_journal_that_fails_its_checks(state: Path, tmp_path: Path, capsys,
                                                                      damage, message) -> None:
    assert start_paper(options(state, end="2010-01-31")).status == "finished"
    damage(state / JOURNAL_FILE)
    out = tmp_path / "export"
    assert main(["paper", "export", "--state", str(state), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err) and not out.exists()


def _edit(path: Path, statement: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(statement)
        conn.commit()
