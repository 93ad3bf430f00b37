"""Schema versions: a v1 store made by hand is upgraded in place; newer or foreign files are refused."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.errors import RunStoreError
from tests.workbench.store.helpers import tables
from workbench.store import RunStore
from workbench.store.files import write_parquet
from workbench.store.schema import MIGRATIONS, SCHEMA_VERSION

# Version 1 exactly as it was released, written out here so that an edit of MIGRATIONS[0] fails.
V1 = [
    """CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at TEXT NOT NULL,
        dataset TEXT NOT NULL, "start" TEXT NOT NULL, "end" TEXT NOT NULL, decider TEXT NOT NULL,
        model_sha TEXT NOT NULL, data_fingerprint TEXT NOT NULL, code_version TEXT NOT NULL,
        spec_json TEXT NOT NULL, summary_json TEXT NOT NULL, folder TEXT NOT NULL)""",
    """CREATE TABLE tags (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        tag TEXT NOT NULL, PRIMARY KEY (run_id, tag))""",
    """CREATE TABLE notes (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        created_at TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL)""",
]


def make_v1_store(home: Path) -> None:
    root = home / "runs"
    (root / "oldrun").mkdir(parents=True)
    write_parquet(tables()["equity"], root / "oldrun" / "equity.parquet")
    db = sqlite3.connect(root / "runs.sqlite")
    for statement in V1:
        db.execute(statement)
    db.execute("INSERT INTO runs VALUES ('oldrun', 'backtest', '2024-01-01T00:00:00+00:00', 'stocks', '2010', '2011', "
               "'sma_cross', '', 'fp', '0.0.1', '{\"data\": \"stocks\"}', '{\"run_id\": \"oldrun\"}', 'oldrun')")
    db.execute("INSERT INTO tags VALUES ('oldrun', 'legacy')")
    db.execute("INSERT INTO notes (run_id, created_at, author, text) VALUES ('oldrun', '2024-01-02', 'ana', 'kept')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_v1_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    make_v1_store(tmp_path)
    with RunStore.open(tmp_path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        [info] = store.list_runs(tag="legacy")
        assert (info.run_id, info.decider, info.verdict) == ("oldrun", "sma_cross", None)
        assert info.summary == {"run_id": "oldrun"}
        run = store.get_run("old")
        assert run.tables == ("equity",) and [n.text for n in run.notes] == ["kept"]
        store.save_review(["oldrun"], "ana", "approve", "GO", "", [], rule="all gates pass")  # v2 and v3 work
        assert store.run_info("oldrun").verdict == "GO"
        assert store.latest_review("oldrun").rule == "all gates pass"
    with RunStore.open(tmp_path) as store:  # opening again migrates nothing
        assert len(store.list_runs()) == 1


def test_the_released_v1_matches_the_first_migration() -> None:
    normalize = lambda sql: "".join(sql.split())  # noqa: E731
    assert [normalize(s) for s in MIGRATIONS[0]] == [normalize(s) for s in V1]


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    db = sqlite3.connect(tmp_path / "runs" / "runs.sqlite")
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RunStoreError, match=r"schema version 5, written by a newer workbench.*up to 4"):
        RunStore.open(tmp_path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunStoreError, match="not a readable run store"):
        RunStore.open(tmp_path)


def test_a_failing_migration_leaves_the_old_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_v1_store(tmp_path)
    import workbench.store.schema as schema

    monkeypatch.setattr(schema, "MIGRATIONS", (MIGRATIONS[0], (*MIGRATIONS[1], "CREATE TABLE runs (x)")))
    with pytest.raises(RunStoreError, match="not a readable run store"):
        RunStore.open(tmp_path)
    db = sqlite3.connect(tmp_path / "runs" / "runs.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'reviews'").fetchone()[0] == 0
    db.close()
