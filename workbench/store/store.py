"""`RunStore`: finished runs in SQLite (WAL) plus one folder of Parquet tables per run.

Layout under ``WORKBENCH_HOME/runs``::

    runs.sqlite            rows: runs, tags, notes, reviews (schema: workbench.store.schema)
    <run_id>/<table>.parquet

Guarantees:

* A row exists only for a complete folder. :meth:`RunStore.save_run` takes the database's write
  lock (``BEGIN IMMEDIATE``), writes the tables into a temporary folder, fsyncs them, renames the
  folder to ``<run_id>/`` and only then inserts the row and its tags in the same transaction. Any
  failure rolls the transaction back and removes the folder: no row, no folder.
* Saving a run id that is already stored changes nothing and returns the stored row (the run id is a
  hash of everything that determines the results).
* Readers never block and never see a half-saved run (WAL); one writer at a time holds the lock,
  others wait up to ``busy_timeout``.
* A crash between the rename and the commit leaves a folder that no row names; the next save of
  that run id replaces it, and every save removes temporary folders that crashed saves left behind.

One ``RunStore`` may be shared by threads (a lock serializes its connection); separate processes
open their own.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from engine.atomic_files import fsync_path
from engine.errors import InvalidParameterError, RunStoreError, UnknownRunError
from engine.paths import workbench_home
from workbench.store import files
from workbench.store.checks import RUN_ID, check_record, check_tags, check_text, spec_json, summary_json
from workbench.store.info import Note, Review, RunInfo, StoredRun
from workbench.store.record import RunRecord
from workbench.store.schema import migrate

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

DATABASE_NAME = "runs.sqlite"
BUSY_TIMEOUT_S = 30.0
_RUN_COLUMNS = ('run_id, kind, created_at, dataset, "start", "end", decider, model_sha, '
                "data_fingerprint, code_version, spec_json, summary_json, folder, table_digests")
# The latest review verdict and the tags ride along with every row (char(31) cannot be in a tag).
_INFO_SELECT = (
    f"SELECT {_RUN_COLUMNS}, "
    "(SELECT group_concat(tag, char(31)) FROM tags WHERE tags.run_id = runs.run_id), "
    "(SELECT r.verdict FROM reviews r JOIN review_runs rr ON rr.review_id = r.id "
    " WHERE rr.run_id = runs.run_id ORDER BY r.created_at DESC, r.id DESC LIMIT 1) "
    "FROM runs"
)


def runs_dir(home: Path | None = None) -> Path:
    """``HOME/runs`` (``HOME`` defaults to ``WORKBENCH_HOME``)."""
    return Path(home if home is not None else workbench_home()) / "runs"


class RunStore:
    """The run store under one folder; open it with :meth:`RunStore.open`.

    Args:
        root: The ``runs`` folder (database and run folders).
        connection: An autocommit SQLite connection to ``root/runs.sqlite``, already migrated.
    """

    def __init__(self, root: Path, connection: sqlite3.Connection) -> None:
        self.root = root
        self._db = connection
        self._lock = threading.RLock()

    @classmethod
    def open(cls, home: Path | None = None) -> "RunStore":
        """Open (creating or upgrading) the store of ``home`` (default ``WORKBENCH_HOME``).

        Raises:
            RunStoreError: the database is not SQLite, or has a newer schema than this workbench.
        """
        root = runs_dir(home)
        root.mkdir(parents=True, exist_ok=True)
        path = root / DATABASE_NAME
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
            migrate(connection, path)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise RunStoreError(f"{path}: not a readable run store ({error}); move it aside and "
                                "run again to start a new one") from None
        except BaseException:
            connection.close()
            raise
        return cls(root, connection)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def save_run(self, record: RunRecord) -> RunInfo:
        """Store ``record`` atomically and return its row; an already stored run id is left as is.

        Raises:
            InvalidParameterError: a bad run id, tag or table (name, type, column names).
        """
        check_record(record)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            folder: Path | None = None
            target = self.root / record.run_id
            published = False
            try:
                if self._exists(record.run_id):
                    self._db.execute("ROLLBACK")
                    logger.info("run %s is already stored; nothing written", record.run_id)
                    return self._info(record.run_id)
                self._sweep_temporary()
                folder, digests = files.write_tables(record.tables, self.root, record.run_id)
                if target.exists():
                    logger.warning("replacing %s: a folder that no stored run names (an interrupted save)", target)
                    files.remove_tree(target)
                files.publish(folder, target)
                published = True
                self._insert_run(record, _now(), digests)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if folder is not None:
                    files.remove_tree(folder)
                if published:
                    files.remove_tree(target)
                raise
        logger.info("stored run %s in %s", record.run_id, target)
        return self._info(record.run_id)

    def _insert_run(self, record: RunRecord, created_at: str, digests: dict[str, str]) -> None:
        self._db.execute(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.run_id, record.kind, created_at, record.dataset, record.start, record.end,
             record.decider, record.model_sha, record.data_fingerprint, record.code_version,
             spec_json(record), summary_json(record), record.run_id, json.dumps(digests, sort_keys=True)),
        )
        self._db.executemany("INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)",
                             [(record.run_id, tag) for tag in record.tags])

    def _sweep_temporary(self) -> None:
        # Only the holder of the write lock writes temporary folders, so any that exist now were
        # left by a save or delete that crashed.
        for leftover in self.root.glob(f"{files.TEMP_PREFIX}*"):
            logger.warning("removing %s, left by an interrupted save", leftover)
            files.remove_tree(leftover)

    def delete_run(self, run_id: str) -> str:
        """Delete a run (row, tags, notes, review links, folder); returns the full run id."""
        with self._lock:
            full = self.resolve(run_id)
            target = self.root / full
            trash = self.root / f"{files.TEMP_PREFIX}deleted-{full}"
            self._db.execute("BEGIN IMMEDIATE")
            moved = False
            files.remove_tree(trash)  # left by a delete that crashed
            try:
                self._db.execute("DELETE FROM runs WHERE run_id = ?", (full,))
                if target.exists():
                    target.rename(trash)
                    moved = True
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if moved:
                    trash.rename(target)
                raise
            files.remove_tree(trash)
        logger.info("deleted run %s", full)
        return full

    def add_tags(self, run_id: str, tags: Iterable[str]) -> RunInfo:
        """Add tags to a run (existing ones are kept) and return its row."""
        tags = check_tags(tags)
        with self._lock:
            full = self.resolve(run_id)
            self._write("INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)", [(full, t) for t in tags])
            return self._info(full)

    def remove_tag(self, run_id: str, tag: str) -> RunInfo:
        """Remove one tag from a run and return its row.

        Raises:
            InvalidParameterError: the run does not have that tag.
        """
        with self._lock:
            full = self.resolve(run_id)
            if tag not in self._tags(full):
                raise InvalidParameterError(f"run {full} has no tag {tag!r}; its tags: "
                                            f"{', '.join(self._tags(full)) or 'none'}")
            self._write("DELETE FROM tags WHERE run_id = ? AND tag = ?", [(full, tag)])
            return self._info(full)

    def add_note(self, run_id: str, author: str, text: str) -> Note:
        """Attach a note to a run."""
        author, text = check_text("author", author), check_text("note text", text)
        with self._lock:
            full = self.resolve(run_id)
            created = _now()
            cursor = self._db.execute("INSERT INTO notes (run_id, created_at, author, text) VALUES (?, ?, ?, ?)",
                                      (full, created, author, text))
            return Note(int(cursor.lastrowid), full, created, author, text)

    def save_review(self, run_ids: Sequence[str], reviewer: str, decision: str, verdict: str, notes: str,
                    gates: list[dict[str, Any]], report_path: str | Path | None = None, rule: str = "") -> int:
        """Save a GO/NO-GO review of ``run_ids`` (ids or prefixes) and return its id.

        ``verdict`` is what the gates gave and ``rule`` the rule that produced it; ``decision`` is
        the reviewer's.
        """
        if isinstance(run_ids, str) or not run_ids:
            raise InvalidParameterError("a review judges a list of one or more run ids")
        if not isinstance(gates, list) or not all(isinstance(g, dict) for g in gates):
            raise InvalidParameterError("review gates must be a list of JSON objects (dicts), one per gate")
        try:
            gates_json = json.dumps(gates, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise InvalidParameterError(f"review gates are not JSON-serializable: {error}") from None
        values = (_now(), check_text("reviewer", reviewer), check_text("decision", decision),
                  check_text("verdict", verdict), str(notes or ""), gates_json,
                  None if report_path is None else str(report_path), str(rule or ""))
        with self._lock:
            full = sorted({self.resolve(r) for r in run_ids})
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO reviews (created_at, reviewer, decision, verdict, notes, gates_json, report_path, rule) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
                review_id = int(cursor.lastrowid)
                self._db.executemany("INSERT INTO review_runs (review_id, run_id) VALUES (?, ?)",
                                     [(review_id, r) for r in full])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return review_id

    def _write(self, sql: str, rows: list[tuple]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------------------

    def resolve(self, run_id: str) -> str:
        """The full run id of ``run_id`` or of an unambiguous prefix of one.

        Raises:
            UnknownRunError: no stored run matches, or several do.
        """
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise UnknownRunError(f"{run_id!r} is not a run id (letters, digits, '-' and '_'); "
                                  "see `workbench runs list`")
        with self._lock:
            rows = self._db.execute("SELECT run_id FROM runs WHERE run_id = ? OR substr(run_id, 1, ?) = ? "
                                    "ORDER BY run_id LIMIT 6", (run_id, len(run_id), run_id)).fetchall()
        matches = [r[0] for r in rows]
        if run_id in matches:
            return run_id
        if not matches:
            raise UnknownRunError(f"no stored run has id {run_id!r}; see `workbench runs list`")
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise UnknownRunError(f"run id prefix {run_id!r} is ambiguous ({shown}); give more characters")
        return matches[0]

    def list_runs(self, kind: str | None = None, tag: str | None = None, decider: str | None = None,
                  dataset: str | None = None, search: str | None = None, limit: int | None = None) -> list[RunInfo]:
        """Stored runs, newest first, filtered by kind, tag, decider, dataset and free text.

        ``search`` matches (case-insensitively) a part of the run id, kind, decider, dataset, a tag or
        the spec's JSON.
        """
        where, args = [], []
        for column, value in (("kind", kind), ("decider", decider), ("dataset", dataset)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.run_id = runs.run_id AND t.tag = ?)")
            args.append(tag)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            columns = ("run_id", "kind", "decider", "dataset", "spec_json")
            tag_like = "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = runs.run_id AND t.tag LIKE ? ESCAPE '\\')"
            where.append("(" + " OR ".join([*(f"{c} LIKE ? ESCAPE '\\'" for c in columns), tag_like]) + ")")
            args.extend([pattern] * (len(columns) + 1))
        sql = _INFO_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, rowid DESC"
        if tag is not None:
            check_tags([tag])  # a malformed tag can never match: say so
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**62:
                raise InvalidParameterError(f"limit {limit!r} must be a positive integer (at most 2**62)")
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._row_info(row) for row in rows]

    def run_info(self, run_id: str) -> RunInfo:
        """The row of a run by id or unambiguous prefix."""
        with self._lock:
            return self._info(self.resolve(run_id))

    def get_run(self, run_id: str) -> StoredRun:
        """A stored run by id or unambiguous prefix, with its notes, reviews and table names."""
        with self._lock:
            full = self.resolve(run_id)
            info = self._info(full)
            notes = self.notes_for(full)
            reviews = self.reviews_for(full)
        if not info.folder.is_dir():
            raise RunStoreError(f"{info.folder}: the folder of run {full} is missing; delete the run "
                                "(`workbench runs delete`) and run it again")
        if info.table_digests is not None:
            tables = tuple(sorted(info.table_digests))
        else:  # saved before digests were recorded: whatever the folder holds
            tables = tuple(sorted(p.stem for p in info.folder.glob("*.parquet")))
        return StoredRun(info, tables, tuple(notes), tuple(reviews))

    def notes_for(self, run_id: str) -> list[Note]:
        """Notes on a run, oldest first."""
        with self._lock:
            full = self.resolve(run_id)
            rows = self._db.execute("SELECT id, run_id, created_at, author, text FROM notes WHERE run_id = ? "
                                    "ORDER BY created_at, id", (full,)).fetchall()
        return [Note(*row) for row in rows]

    def reviews_for(self, run_id: str) -> list[Review]:
        """Reviews that include a run, newest first."""
        with self._lock:
            full = self.resolve(run_id)
            rows = self._db.execute(
                "SELECT r.id, r.created_at, r.reviewer, r.decision, r.verdict, r.notes, r.gates_json, r.report_path, r.rule "
                "FROM reviews r JOIN review_runs rr ON rr.review_id = r.id WHERE rr.run_id = ? "
                "ORDER BY r.created_at DESC, r.id DESC", (full,)).fetchall()
            reviews = []
            for row in rows:
                linked = self._db.execute("SELECT run_id FROM review_runs WHERE review_id = ? ORDER BY run_id",
                                          (row[0],)).fetchall()
                reviews.append(Review(row[0], row[1], row[2], row[3], row[4], row[5],
                                      tuple(json.loads(row[6])), row[7], tuple(r[0] for r in linked), row[8]))
        return reviews

    def latest_review(self, run_id: str) -> Review | None:
        """The newest review that includes a run, or None."""
        reviews = self.reviews_for(run_id)
        return reviews[0] if reviews else None

    def export_run(self, run_id: str, out_dir: str | Path) -> Path:
        """Write a run to the new folder ``out_dir``: ``run.json`` (row, tags, notes, reviews),
        ``spec.json``, ``summary.json`` and one ``<table>.csv`` per table.

        Every table is checked against its recorded sha256 first (a run saved before digests were
        recorded is exported unchecked). The files are written into a temporary folder beside ``out_dir`` and renamed into place, so
        ``out_dir`` is either complete or absent.

        Raises:
            InvalidParameterError: ``out_dir`` exists and is not an empty folder.
            RunTableError: a table file is missing, unreadable or changed since the run was saved.
        """
        out_dir = Path(out_dir)
        if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())):
            raise InvalidParameterError(f"{out_dir} already exists; export into a new or empty folder")
        run = self.get_run(run_id)
        folder = files.temp_folder(out_dir.absolute().parent, out_dir.name)
        try:
            files.write_json(folder / "run.json", {
                **run.info.to_dict(), "notes": [n.to_dict() for n in run.notes],
                "reviews": [r.to_dict() for r in run.reviews]})
            files.write_json(folder / "spec.json", run.spec)
            files.write_json(folder / "summary.json", run.summary)
            for name in run.tables:
                frame = run.load_table(name)
                (folder / f"{name}.csv").write_text(frame.to_csv(index=not _default_index(frame)))
                fsync_path(folder / f"{name}.csv")
            fsync_path(folder)
            files.publish(folder, out_dir)
        except BaseException:
            files.remove_tree(folder)
            raise
        return out_dir

    def _exists(self, run_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def _tags(self, run_id: str) -> list[str]:
        rows = self._db.execute("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag", (run_id,)).fetchall()
        return [r[0] for r in rows]

    def _info(self, run_id: str) -> RunInfo:
        with self._lock:
            row = self._db.execute(_INFO_SELECT + " WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRunError(f"no stored run has id {run_id!r}; see `workbench runs list`")
        return self._row_info(row)

    def _row_info(self, row: tuple) -> RunInfo:
        (run_id, kind, created_at, dataset, start, end, decider, model_sha, fingerprint, code_version,
         spec_json, summary_json, folder, digests, tags, verdict) = row
        return RunInfo(run_id, kind, created_at, dataset, start, end, decider, model_sha, fingerprint,
                       code_version, self.root / folder, tuple(sorted(tags.split("\x1f"))) if tags else (),
                       verdict, json.loads(spec_json), json.loads(summary_json),
                       json.loads(digests) if digests else None)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _default_index(frame: pd.DataFrame) -> bool:
    import pandas as pd

    return isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1 \
        and frame.index.name is None
