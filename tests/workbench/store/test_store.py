"""RunStore: exact round trips, idempotent saves, atomic failure, prefixes, tags, notes, reviews, export."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError, RunStoreError, UnknownRunError
from tests.workbench.store.helpers import record
from workbench.store import RunRecord, RunStore, files
from workbench.store import store as store_module


@pytest.fixture
def store(tmp_path: Path):
    with RunStore.open(tmp_path) as opened:
        yield opened


def leftovers(store: RunStore) -> list[str]:
    return sorted(p.name for p in store.root.iterdir() if not p.name.startswith("runs.sqlite"))


def test_open_defaults_to_workbench_home(workbench_home: Path) -> None:
    with RunStore.open() as opened:
        assert opened.root == workbench_home / "runs"
        assert (workbench_home / "runs" / "runs.sqlite").is_file()
        assert opened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert opened._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_every_table_round_trips_exactly(store: RunStore) -> None:
    rec = record()
    info = store.save_run(rec)
    assert info.folder == store.root / rec.run_id
    run = store.get_run(rec.run_id)
    assert run.tables == ("equity", "orders")
    assert run.table_rows() == {"equity": 5, "orders": 5}
    for name, frame in rec.tables.items():
        loaded = run.load_table(name)
        pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
        assert list(loaded.dtypes) == list(frame.dtypes)
    assert run.spec == rec.spec and run.summary == rec.summary
    assert (info.kind, info.dataset, info.decider) == ("backtest", "stocks", "sma_cross")
    assert info.data_fingerprint == "f" * 64


# Parquet stores NaN as null, read back as numpy's NaN: other NaN payloads are not kept.
floats = st.floats(allow_nan=True, allow_infinity=True, width=64).map(lambda x: np.nan if math.isnan(x) else x)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.tuples(floats, st.integers(-2**62, 2**62), st.text(max_size=8), st.booleans()),
                       min_size=0, max_size=20))
def test_any_frame_round_trips_bit_for_bit(tmp_path_factory: pytest.TempPathFactory, values: list) -> None:
    frame = pd.DataFrame({
        "x": np.array([v[0] for v in values], dtype=np.float64),
        "n": np.array([v[1] for v in values], dtype=np.int64),
        "s": pd.array([v[2] for v in values], dtype="str"),
        "b": np.array([v[3] for v in values], dtype=bool),
    })
    with RunStore.open(tmp_path_factory.mktemp("home")) as opened:
        opened.save_run(RunRecord("r1", "backtest", {}, {}, "d", "s", "e", "x", "", "", "", {"t": frame}))
        loaded = opened.get_run("r1").load_table("t")
    assert loaded["x"].to_numpy().tobytes() == frame["x"].to_numpy().tobytes()  # -0.0 too
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)


def test_saving_a_stored_run_id_is_idempotent(store: RunStore) -> None:
    first = store.save_run(record(seed=1, tags=("a",)))
    written = {p.name: p.stat().st_mtime_ns for p in first.folder.iterdir()}
    again = store.save_run(record(seed=2, tags=("b",)))  # same id, other content: nothing is rewritten
    assert again == first and again.tags == ("a",)
    assert {p.name: p.stat().st_mtime_ns for p in first.folder.iterdir()} == written
    assert store.get_run(first.run_id).summary["scenarios"][0]["total_return"] == pytest.approx(0.1)
    assert len(store.list_runs()) == 1


def test_a_failing_table_write_leaves_no_row_and_no_folder(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.write_parquet
    calls = []

    def failing(frame, path):
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(frame, path)

    monkeypatch.setattr(files, "write_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        store.save_run(record())
    assert calls == ["equity.parquet", "orders.parquet"]
    assert store.list_runs() == [] and leftovers(store) == []
    monkeypatch.setattr(files, "write_parquet", real)
    assert store.save_run(record()).run_id == "0123456789abcdef"  # the store still works


def test_a_failing_insert_after_the_rename_removes_the_folder(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real = RunStore._insert_run

    def insert_then_fail(self, rec, created_at, digests):
        real(self, rec, created_at, digests)  # the row and tags are in the open transaction ...
        assert (self.root / rec.run_id / "equity.parquet").is_file()  # ... and the folder is published
        raise RuntimeError("killed before commit")

    monkeypatch.setattr(RunStore, "_insert_run", insert_then_fail)
    with pytest.raises(RuntimeError, match="before commit"):
        store.save_run(record(tags=("x",)))
    assert store.list_runs() == [] and leftovers(store) == []
    assert store._db.execute("SELECT count(*) FROM tags").fetchone()[0] == 0


def test_leftovers_of_a_crashed_save_are_cleaned_by_the_next_save(store: RunStore) -> None:
    orphan = store.root / "0123456789abcdef"  # renamed, then the process died before the commit
    orphan.mkdir()
    (orphan / "junk.parquet").write_text("not parquet")
    stale = store.root / ".tmp-feedbeef-123"
    stale.mkdir()
    with pytest.raises(UnknownRunError):
        store.get_run("0123456789abcdef")  # no row, so no run
    store.save_run(record())
    assert leftovers(store) == ["0123456789abcdef"]
    assert store.get_run("0123").tables == ("equity", "orders")


def test_bad_records_are_refused_before_anything_is_written(store: RunStore) -> None:
    good = record()
    cases = [
        (dict(run_id="../evil"), "run id"),
        (dict(tables={"Equity": good.tables["equity"]}), "lowercase identifier"),
        (dict(tables={"equity": [1, 2]}), "not a pandas DataFrame"),
        (dict(tables={"equity": pd.DataFrame({0: [1.0]})}), "column names must be strings"),
        (dict(tags=("has space",)), "tag"),
        (dict(spec={"x": object()}), "RunRecord.spec is not JSON-serializable"),
        (dict(summary={("tuple", "key"): 1}), "RunRecord.summary is not JSON-serializable"),
        (dict(kind=""), "RunRecord.kind"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidParameterError, match=message):
            store.save_run(RunRecord(**{**good.__dict__, **change}))
    assert store.list_runs() == [] and leftovers(store) == []


def test_prefixes_resolve_when_unambiguous(store: RunStore) -> None:
    store.save_run(record("aaaa1111"))
    store.save_run(record("aaaa2222"))
    store.save_run(record("bbbb"))
    assert store.resolve("b") == "bbbb" and store.get_run("aaaa1").run_id == "aaaa1111"
    with pytest.raises(UnknownRunError, match="ambiguous .*aaaa1111, aaaa2222"):
        store.get_run("aaaa")
    with pytest.raises(UnknownRunError, match="no stored run has id 'cccc'"):
        store.get_run("cccc")
    with pytest.raises(UnknownRunError, match="not a run id"):
        store.resolve("a%")
    store.save_run(record("aaaa"))
    assert store.resolve("aaaa") == "aaaa"  # an exact id wins over the ids it prefixes


def test_list_filters_and_orders_newest_first(store: RunStore) -> None:
    store.save_run(record("r1", tags=("baseline",), decider="sma_cross"))
    store.save_run(record("r2", kind="stress", decider="momentum", dataset="sp500"))
    store.save_run(record("r3", tags=("baseline", "v2"), decider="policy_x"))
    assert [r.run_id for r in store.list_runs()] == ["r3", "r2", "r1"]
    assert [r.run_id for r in store.list_runs(tag="baseline")] == ["r3", "r1"]
    assert [r.run_id for r in store.list_runs(kind="stress")] == ["r2"]
    assert [r.run_id for r in store.list_runs(decider="sma_cross")] == ["r1"]
    assert [r.run_id for r in store.list_runs(dataset="sp500")] == ["r2"]
    assert [r.run_id for r in store.list_runs(search="MOMENT")] == ["r2"]
    assert [r.run_id for r in store.list_runs(search="v2")] == ["r3"]  # a tag
    assert [r.run_id for r in store.list_runs(search="%")] == []  # LIKE wildcards are literal
    assert [r.run_id for r in store.list_runs(limit=2)] == ["r3", "r2"]
    with pytest.raises(InvalidParameterError, match="positive integer"):
        store.list_runs(limit=0)


def test_tags_notes_and_reviews(store: RunStore) -> None:
    store.save_run(record("r1"))
    store.save_run(record("r2"))
    assert store.add_tags("r1", ["go", "v1", "go"]).tags == ("go", "v1")
    assert store.remove_tag("r1", "v1").tags == ("go",)
    with pytest.raises(InvalidParameterError, match="no tag 'v1'"):
        store.remove_tag("r1", "v1")
    note = store.add_note("r1", "ana", "looks fine")
    assert [n.text for n in store.get_run("r1").notes] == ["looks fine"] and note.author == "ana"
    gates = [{"gate": "sharpe", "threshold": 1.0, "value": 1.2, "passed": True}]
    first = store.save_review(["r1", "r2"], "ana", "approve", "GO", "ok", gates, report_path="/tmp/r.html")
    second = store.save_review(["r1"], "bo", "reject", "NO-GO", "too risky", [])
    assert second > first
    assert store.latest_review("r1").verdict == "NO-GO" and store.latest_review("r2").verdict == "GO"
    assert [r.id for r in store.reviews_for("r1")] == [second, first]
    review = store.reviews_for("r2")[0]
    assert (review.run_ids, review.gates, review.report_path) == (("r1", "r2"), tuple(gates), "/tmp/r.html")
    assert {r.run_id: r.verdict for r in store.list_runs()} == {"r1": "NO-GO", "r2": "GO"}
    with pytest.raises(UnknownRunError):
        store.save_review(["r1", "nope"], "ana", "approve", "GO", "", [])
    with pytest.raises(InvalidParameterError, match="JSON objects"):
        store.save_review(["r1"], "ana", "approve", "GO", "", ["sharpe"])
    with pytest.raises(InvalidParameterError, match="list of one or more"):
        store.save_review("r1", "ana", "approve", "GO", "", [])
    assert store.latest_review("r2").id == first  # failed saves added nothing


def test_delete_removes_row_folder_tags_notes_and_review_links(store: RunStore) -> None:
    info = store.save_run(record("r1", tags=("x",)))
    store.save_run(record("r2"))
    store.add_note("r1", "ana", "n")
    review = store.save_review(["r1", "r2"], "ana", "approve", "GO", "", [])
    assert store.delete_run("r1") == "r1"
    assert not info.folder.exists() and [r.run_id for r in store.list_runs()] == ["r2"]
    for table in ("tags", "notes"):
        assert store._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert store.reviews_for("r2")[0].run_ids == ("r2",) and store.reviews_for("r2")[0].id == review
    with pytest.raises(UnknownRunError):
        store.delete_run("r1")


def test_missing_folder_is_reported(store: RunStore) -> None:
    info = store.save_run(record())
    files.remove_tree(info.folder)
    with pytest.raises(RunStoreError, match="folder of run .* is missing"):
        store.get_run(info.run_id)


def test_export_writes_json_and_one_csv_per_table(store: RunStore, tmp_path: Path) -> None:
    rec = record(tags=("t",))
    store.save_run(rec)
    out = store.export_run("0123", tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.csv", "orders.csv", "run.json", "spec.json", "summary.json"]
    assert json.loads((out / "spec.json").read_text()) == rec.spec
    assert json.loads((out / "run.json").read_text())["tags"] == ["t"]
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == list(rec.tables["equity"].columns)
    assert equity["fees=0 slippage=0"].to_list() == rec.tables["equity"]["fees=0 slippage=0"].to_list()
    assert math.isnan(equity["fees=0.001 slippage=0"][0])
    with pytest.raises(InvalidParameterError, match="already exists"):
        store.export_run("0123", out)
    (tmp_path / "empty").mkdir()
    assert (store.export_run("0123", tmp_path / "empty") / "orders.csv").is_file()


def test_a_failed_export_leaves_nothing(store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_run(record())

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    (tmp_path / "exports").mkdir()
    with pytest.raises(OSError):
        store.export_run("0123", tmp_path / "exports" / "run")
    assert list((tmp_path / "exports").iterdir()) == []


def test_store_is_usable_from_threads(store: RunStore) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        infos = list(pool.map(lambda i: store.save_run(record(f"run{i:02d}", seed=i)), range(8)))
    assert sorted(i.run_id for i in infos) == [f"run{i:02d}" for i in range(8)]
    assert len(store_module.RunStore.list_runs(store)) == 8
