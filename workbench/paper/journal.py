"""The paper loop's journal: SQLite (WAL, ``synchronous=FULL``), one transaction per bar, hash-chained.

Each bar's transaction writes the bar, the decision, the orders created (with their client order
ids as primary keys, so no order can be journaled twice), the kernel's records (fills and
rejections), cancellations, equity and cash, positions, the risk state, and a snapshot from which the
loop continues exactly. A process killed at any moment leaves either the whole bar or none of it.

Every bar's row stores the digest of the hash chain over the ledger (``workbench.paper.chain``); a
start recomputes the chain and refuses a journal whose rows, snapshot or config do not match
(:class:`JournalError`). Wall-clock values (control requests, events, decision latencies) live in
tables outside the chain.

Tables outside the ledger: ``meta`` (schema version, config, chain head, halt, finished),
``snapshot`` (the latest bar's restore data), ``controls`` (stop / kill / resume requests from other
processes), ``events`` (starts, stops, feed faults) and ``latency`` (seconds from a bar's arrival
to its commit).

The journal is three files: ``journal.sqlite``, and while a connection has it open (or after a loop
was killed, or ended while a reader had it open) ``journal.sqlite-wal``, the write-ahead log that
holds the commits not yet copied into the database, with ``journal.sqlite-shm``, its index. Readers
always see the committed state, the WAL included (:func:`reading`). A database deleted beside its
WAL is refused (:func:`missing_journal`); a WAL deleted before its commits were copied loses them,
which :func:`lost_commits` detects from the index the next start finds.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from engine.data.market import FIELDS
from engine.errors import WorkbenchError
from workbench.paper.chain import LEDGER, BarEntry, bar_rows, chain_digest, read_ledger
from workbench.paper.config import PaperConfig, config_difference

SCHEMA_VERSION = "1"
COMMANDS = ("stop", "kill", "resume")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), bar INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE controls (id INTEGER PRIMARY KEY AUTOINCREMENT, command TEXT NOT NULL, requested_at TEXT NOT NULL,
                       consumed_bar INTEGER, outcome TEXT);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, bar INTEGER NOT NULL, kind TEXT NOT NULL,
                     detail TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE latency (bar INTEGER PRIMARY KEY, seconds REAL NOT NULL);
"""


class JournalError(WorkbenchError):
    """A journal is damaged, changed outside the paper loop, or belongs to another configuration."""


def unreadable(path: Path, error: Exception) -> JournalError:
    """The error for a journal SQLite cannot read."""
    return JournalError(f"{path}: not a readable SQLite journal ({error}); restore the state folder from a backup "
                        "or start a new session in another --state folder")


def now_text() -> str:
    """The wall-clock time (UTC, ISO 8601) for requests and events; never part of the ledger."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


CHECKPOINT_EVERY = 64
"""Bars between two WAL checkpoints of the running loop."""


def connect(path: Path) -> sqlite3.Connection:
    """A writing connection: WAL, ``synchronous=FULL``, transactions managed explicitly.

    No automatic checkpoints: SQLite would run one inside whichever commit fills the WAL to 1,000
    pages, adding the database's fsync to that bar's decision latency. The loop checkpoints between
    bars instead (:meth:`Journal.checkpoint_if_due`); every commit is durable in the WAL either way.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def wal_path(path: Path) -> Path:
    """The journal's write-ahead log (``journal.sqlite-wal``)."""
    return Path(f"{path}-wal")


def shm_path(path: Path) -> Path:
    """The index of the journal's write-ahead log (``journal.sqlite-shm``)."""
    return Path(f"{path}-shm")


def missing_journal(path: Path) -> JournalError:
    """The error for a journal that is not there: none was ever started, or its database was deleted
    while its write-ahead log stayed (SQLite would replay that log into any new database)."""
    leftovers = [p.name for p in (wal_path(path), shm_path(path)) if p.exists()]
    if leftovers:
        return JournalError(
            f"{path}: the journal's database is missing but {' and '.join(leftovers)} remain (journal.sqlite was "
            "deleted or moved); restore journal.sqlite from a backup, or delete the state folder to start over")
    return JournalError(f"{path}: no journal; start a session with `workbench paper start --state {path.parent}`")


def connect_readonly(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """A reading connection; ``immutable`` (only when no loop can be writing) reads the database file
    alone and touches no file.

    Raises:
        JournalError: no journal at ``path`` (:func:`missing_journal`).
    """
    if not path.is_file():
        raise missing_journal(path)
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"file:{path.resolve()}?{flags}", uri=True, timeout=10.0)


def wal_holds_commits(path: Path) -> bool:
    """Whether the journal's WAL may hold commits that are not in the database file yet."""
    try:
        return wal_path(path).stat().st_size > 0
    except OSError:  # none, or --state is not a folder: connect_readonly says which
        return False


@contextmanager
def verified_reading(path: Path, idle: bool = False) -> Iterator[sqlite3.Connection]:
    """:func:`reading`, after the checks a start runs (:meth:`Journal.verify`, the stored configuration's)."""
    with reading(path, idle) as conn:
        Journal(conn, path).verify()
        yield conn


@contextmanager
def reading(path: Path, idle: bool = False) -> Iterator[sqlite3.Connection]:
    """A reading connection that sees every committed bar, in one read transaction; its SQLite errors
    become :class:`JournalError`.

    ``idle``: the caller knows that no loop writes meanwhile (it holds the state's lock, see
    ``workbench.paper.lock``). The journal is then read immutably, creating and changing no file,
    unless its WAL still holds commits (a reader had the journal open when the loop closed it, or the
    loop was killed): a read-only connection applies them, writing nothing but the WAL's index
    (``journal.sqlite-shm``). A reader that is not ``idle`` reads like any SQLite reader of a live
    database (and leaves an empty WAL and its index behind when it opened a quiet journal).
    """
    conn = connect_readonly(path, immutable=idle and not wal_holds_commits(path))
    try:
        conn.execute("BEGIN")  # one snapshot for every query of the block, while a loop commits bars
        yield conn
    except sqlite3.DatabaseError as error:
        raise unreadable(path, error) from None
    finally:
        conn.close()


_WAL_INDEX_VERSION = 3007000
_WAL_INDEX_HEADER = struct.Struct("=IIIBBHII")  # version, unused, change, is_init, big_end, page size, mxFrame, nPage
_WAL_HEADER_BYTES, _WAL_FRAME_HEADER_BYTES, _BACKFILL_OFFSET = 32, 24, 96


def lost_commits(path: Path) -> int:
    """How many committed WAL frames the journal lost: frames its WAL index counts as committed and
    not yet copied into the database, which the WAL file (deleted, or cut short) no longer holds.

    Call it before anything opens the journal (the first connection rebuilds the index). 0 when
    nothing is lost or the index is gone too (a deletion of both files cannot be seen).
    """
    try:
        head = shm_path(path).read_bytes()[:_BACKFILL_OFFSET + 4]
    except OSError:
        return 0
    if len(head) < _BACKFILL_OFFSET + 4 or head[:48] != head[48:96]:
        return 0  # no index, or one SQLite would rebuild anyway
    version, _, _, is_init, _, page_size, frames, _ = _WAL_INDEX_HEADER.unpack_from(head)
    if version != _WAL_INDEX_VERSION or not is_init:
        return 0
    page_size = 65536 if page_size == 1 else page_size
    (backfilled,) = struct.unpack_from("=I", head, _BACKFILL_OFFSET)
    try:
        size = wal_path(path).stat().st_size
    except OSError:
        size = 0
    held = max(0, size - _WAL_HEADER_BYTES) // (_WAL_FRAME_HEADER_BYTES + page_size)
    return max(0, frames - max(held, backfilled))


class Journal:
    """The journal of one state folder, open for writing by the (single) running loop."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.next_seq = 1 + (conn.execute("SELECT COALESCE(MAX(seq), -1) FROM records").fetchone()[0])
        self.head = self.meta("head_digest")
        self._since_checkpoint = 0

    @classmethod
    def create(cls, path: Path, config: PaperConfig) -> "Journal":
        """A new, empty journal for ``config``, created atomically (built aside, then renamed)."""
        if path.exists():
            raise JournalError(f"{path}: already exists")
        if wal_path(path).exists() or shm_path(path).exists():
            raise missing_journal(path)  # a new database would be read through the old one's WAL
        staging = path.with_name(f".{path.name}.new")
        for leftover in (staging, Path(f"{staging}-wal"), Path(f"{staging}-shm")):
            leftover.unlink(missing_ok=True)
        with closing(connect(staging)) as conn:
            with _transaction(conn):
                for statement in _SCHEMA.split(";") + _ledger_ddl():
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema_version", SCHEMA_VERSION), ("config", config.canonical()),
                    ("state_id", config.state_id), ("head_digest", ""), ("halt", ""), ("finished", ""),
                    ("created_at", now_text())])
        staging.replace(path)
        return cls(connect(path), path)

    @classmethod
    def open(cls, path: Path, config: PaperConfig) -> "Journal":
        """The existing journal at ``path``, verified against ``config`` (:meth:`verify`)."""
        conn = None
        try:
            conn = connect(path)
            journal = cls(conn, path)
        except sqlite3.DatabaseError as error:
            if conn is not None:
                conn.close()
            raise unreadable(path, error) from None
        try:
            journal.verify(config)
        except sqlite3.DatabaseError as error:
            journal.close()
            raise unreadable(path, error) from None
        except BaseException:
            journal.close()
            raise
        return journal

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        self.conn.close()

    # --- reading -----------------------------------------------------------------------------

    def meta(self, key: str) -> str:
        """The ``meta`` value of ``key`` (schema_version, config, state_id, head_digest, halt, finished)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: meta key {key!r} is missing; the journal is damaged")
        return row[0]

    def last_bar(self) -> int:
        """The last journaled bar (-1 before the first)."""
        return self.conn.execute("SELECT COALESCE(MAX(bar), -1) FROM bars").fetchone()[0]

    def snapshot(self) -> dict[str, Any]:
        """The restore data of the last bar ({} before the first bar)."""
        row = self.conn.execute("SELECT payload FROM snapshot WHERE id = 1").fetchone()
        return {} if row is None else json.loads(row[0])

    def bars(self) -> Iterable[tuple[pd.Timestamp, dict[str, np.ndarray]]]:
        """Every journaled bar in order, as ``(timestamp, {field: [N]})``."""
        stamps = self.conn.execute("SELECT timestamp FROM bars ORDER BY bar").fetchall()
        rows = self.conn.execute(f"SELECT {', '.join(FIELDS)} FROM prices ORDER BY bar, symbol").fetchall()
        values = np.array(rows, dtype=np.float64).reshape(len(stamps), -1, len(FIELDS)) if stamps else None
        for i, (stamp,) in enumerate(stamps):
            yield pd.Timestamp(stamp), {f: values[i, :, j] for j, f in enumerate(FIELDS)}

    def pending_controls(self) -> list[tuple[int, str]]:
        """Unapplied requests ``(id, command)`` in the order they were made."""
        return self.conn.execute("SELECT id, command FROM controls WHERE consumed_bar IS NULL ORDER BY id").fetchall()

    # --- writing -----------------------------------------------------------------------------

    def write_bar(self, entry: BarEntry, before_commit: Callable[[], None] = lambda: None) -> str:
        """Journal one bar in one transaction; returns its chain digest.

        ``before_commit`` runs inside the transaction, after every row is written (a fault hook).
        """
        rows, payload = bar_rows(entry, self.next_seq)
        digest = chain_digest(self.head, rows)
        conn = self.conn
        with _transaction(conn):
            for table, table_rows in rows.items():
                columns = [c for c, _ in LEDGER[table][0]]
                if table == "bars":
                    columns.append("digest")
                    table_rows = [row + (digest,) for row in table_rows]
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' * len(columns))})", table_rows)
            conn.execute("INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?)", (entry.bar, payload))
            conn.executemany("UPDATE meta SET value = ? WHERE key = ?", [
                (digest, "head_digest"), (entry.halt, "halt"), (str(entry.bar) if entry.final else "", "finished")])
            conn.executemany("UPDATE controls SET consumed_bar = ?, outcome = ? WHERE id = ?",
                             [(entry.bar, outcome, control) for control, outcome in entry.controls])
            conn.executemany("INSERT OR REPLACE INTO latency VALUES (?, ?)", entry.latencies)
            before_commit()
        self.next_seq += len(entry.records)
        self.head = digest
        self._since_checkpoint += 1
        return digest

    def checkpoint_if_due(self) -> bool:
        """Copy the WAL into the database every :data:`CHECKPOINT_EVERY` bars; the loop calls it after a
        bar's latency is taken. PASSIVE: it never waits for a reader (a later call finishes the copy).
        Returns whether it checkpointed."""
        if self._since_checkpoint < CHECKPOINT_EVERY:
            return False
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._since_checkpoint = 0
        return True

    def record_event(self, kind: str, detail: str, *, halt: str | None = None,
                     consume: Iterable[tuple[int, str]] = (), latencies: Iterable[tuple[int, float]] = ()) -> None:
        """Log an event outside any bar (start, stop, feed fault), optionally setting the halt and
        marking requests as applied, in one transaction."""
        with _transaction(self.conn):
            last = self.last_bar()
            self.conn.execute("INSERT INTO events (bar, kind, detail, at) VALUES (?, ?, ?, ?)",
                              (last, kind, detail, now_text()))
            if halt is not None:
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'halt'", (halt,))
            self.conn.executemany("UPDATE controls SET consumed_bar = ?, outcome = ? WHERE id = ?",
                                  [(last, outcome, control) for control, outcome in consume])
            self.conn.executemany("INSERT OR REPLACE INTO latency VALUES (?, ?)", list(latencies))

    # --- checking ----------------------------------------------------------------------------

    def verify(self, config: PaperConfig | None = None) -> None:
        """Refuse a journal that is damaged, edited, or of another configuration.

        ``config``: what a start gives, which must be the journal's; None (an export, a stored run)
        checks everything else.

        Raises:
            JournalError: naming what does not match and what to do.
        """
        where = str(self.path)
        fix = "restore the state folder from a backup or start a new session in another --state folder"
        if self.conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise JournalError(f"{where}: SQLite integrity check failed; {fix}")
        version = self.meta("schema_version")
        if version != SCHEMA_VERSION:
            raise JournalError(f"{where}: schema version {version}, this workbench reads {SCHEMA_VERSION}; {fix}")
        stored = PaperConfig.from_dict(json.loads(self.meta("config")), source=f"{where} (meta config)")
        difference = None if config is None else config_difference(stored, config)
        if difference is not None:
            raise JournalError(f"{where}: the journal was written with another configuration ({difference}); {fix}")
        grouped = read_ledger(self.conn)
        bars = [row[0] for row in grouped["bars"].get_all()]
        if bars != list(range(len(bars))):
            raise JournalError(f"{where}: bars are not numbered 0..{len(bars) - 1} without gaps; {fix}")
        head = ""
        stored_digests = dict(self.conn.execute("SELECT bar, digest FROM bars").fetchall())
        for bar in bars:
            head = chain_digest(head, {t: grouped[t].pop(bar) for t in LEDGER})
            if head != stored_digests[bar]:
                raise JournalError(f"{where}: bar {bar}'s ledger rows do not match its digest (the journal was "
                                   f"changed outside the paper loop); {fix}")
        strays = sorted({t for t in LEDGER if grouped[t].rows})
        if strays:
            raise JournalError(f"{where}: table {strays[0]} holds rows of bars that were never journaled; {fix}")
        if head != self.meta("head_digest"):
            raise JournalError(f"{where}: the chain head in meta does not match the last bar; {fix}")
        self._verify_snapshot(bars[-1] if bars else -1, where, fix)

    def _verify_snapshot(self, last: int, where: str, fix: str) -> None:
        row = self.conn.execute("SELECT bar, payload FROM snapshot WHERE id = 1").fetchone()
        if last < 0:
            if row is not None:
                raise JournalError(f"{where}: a snapshot exists before any bar; {fix}")
            return
        expected = self.conn.execute("SELECT snapshot_sha, final FROM bars WHERE bar = ?", (last,)).fetchone()
        if row is None or row[0] != last or hashlib.sha256(row[1].encode()).hexdigest() != expected[0]:
            raise JournalError(f"{where}: the snapshot does not belong to the last bar ({last}); {fix}")
        finished = self.meta("finished")
        if (finished == str(last)) != bool(expected[1]):
            raise JournalError(f"{where}: the finished marker disagrees with the last bar; {fix}")


def _ledger_ddl() -> list[str]:
    statements = []
    for table, (columns, key) in LEDGER.items():
        cols = [f"{name} {kind}" for name, kind in columns]
        if table == "bars":
            cols.append("digest TEXT NOT NULL")
        statements.append(f"CREATE TABLE {table} ({', '.join(cols)}, PRIMARY KEY ({', '.join(key)}))")
        if "bar" not in key:
            statements.append(f"CREATE INDEX {table}_bar ON {table} (bar)")
    return statements


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (a kill rolls back by itself)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, value, traceback) -> None:
        if not self.conn.in_transaction:
            return
        if kind is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def request_control(path: Path, command: str) -> int:
    """Add a stop / kill / resume request to the journal at ``path``; returns its id."""
    if command not in COMMANDS:
        raise JournalError(f"unknown request {command!r}; use one of {', '.join(COMMANDS)}")
    if not path.is_file():
        raise missing_journal(path)
    try:
        with closing(sqlite3.connect(str(path), isolation_level=None, timeout=10.0)) as conn:
            with _transaction(conn):
                cursor = conn.execute("INSERT INTO controls (command, requested_at) VALUES (?, ?)",
                                      (command, now_text()))
            return int(cursor.lastrowid)
    except sqlite3.DatabaseError as error:
        raise unreadable(path, error) from None
