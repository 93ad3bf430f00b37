"""The run store's SQLite schema: ordered migrations and the version check at open.

The schema version is SQLite's ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a database from
version ``i`` to ``i + 1``; opening an older database applies the missing migrations in one
transaction, and a database newer than :data:`SCHEMA_VERSION` is refused (an older workbench cannot
know what a newer one stored). Never edit a released migration: append a new one.

Version 1: ``runs`` (one row per stored run), ``tags`` and ``notes``.
Version 2: GO/NO-GO ``reviews``, linked to the runs they judged by ``review_runs``, and indexes
for the listing filters.
Version 3: ``reviews.rule``, the rule that produced the gates' verdict ('' for older reviews).
Version 4: ``runs.table_digests``, the sha256 of each table file as saved (a JSON object, table name
to hex digest); '' for runs saved before, whose tables are read unchecked.
"""
from __future__ import annotations

import sqlite3

from engine.errors import RunStoreError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            dataset TEXT NOT NULL,
            "start" TEXT NOT NULL,
            "end" TEXT NOT NULL,
            decider TEXT NOT NULL,
            model_sha TEXT NOT NULL,
            data_fingerprint TEXT NOT NULL,
            code_version TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            summary_json TEXT NOT NULL,
            folder TEXT NOT NULL
        )""",
        """CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (run_id, tag)
        )""",
        """CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL
        )""",
    ),
    (
        """CREATE TABLE reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            decision TEXT NOT NULL,
            verdict TEXT NOT NULL,
            notes TEXT NOT NULL,
            gates_json TEXT NOT NULL,
            report_path TEXT
        )""",
        """CREATE TABLE review_runs (
            review_id INTEGER NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            PRIMARY KEY (review_id, run_id)
        )""",
        "CREATE INDEX runs_created_at ON runs (created_at)",
        "CREATE INDEX tags_tag ON tags (tag)",
        "CREATE INDEX notes_run ON notes (run_id)",
        "CREATE INDEX review_runs_run ON review_runs (run_id)",
    ),
    (
        "ALTER TABLE reviews ADD COLUMN rule TEXT NOT NULL DEFAULT ''",
    ),
    (
        "ALTER TABLE runs ADD COLUMN table_digests TEXT NOT NULL DEFAULT ''",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this workbench writes and reads."""


def schema_version(connection: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version`` (0 for a new, empty file)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(version: int, path: object) -> None:
    """Raise :class:`RunStoreError` when ``version`` is newer than this workbench's schema."""
    if version > SCHEMA_VERSION:
        raise RunStoreError(
            f"{path}: the run store has schema version {version}, written by a newer workbench; this one "
            f"reads versions up to {SCHEMA_VERSION}. Fix: upgrade the workbench, or point WORKBENCH_HOME "
            "at another folder")


def migrate(connection: sqlite3.Connection, path: object) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` and return the version it had before.

    ``connection`` must be in autocommit mode (``isolation_level=None``). The migrations run in one
    ``BEGIN IMMEDIATE`` transaction, so two processes opening an old store at once migrate it once
    and a failed migration leaves the old version intact.
    """
    found = schema_version(connection)
    check_not_newer(found, path)
    if found == SCHEMA_VERSION:
        return found
    connection.execute("BEGIN IMMEDIATE")
    try:
        before = schema_version(connection)  # another process may have migrated while we waited
        check_not_newer(before, path)
        for version in range(before, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
        # PRAGMA takes no parameters; the value is our own integer.
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return before
