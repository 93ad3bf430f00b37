"""The imported-dataset store: atomic saves, names, overwrite, tamper detection, list and delete."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from engine.data import store as store_module
from engine.data.market import MarketData
from engine.data.store import DatasetStore
from engine.errors import (
    DatasetCorruptError,
    DatasetExistsError,
    InvalidParameterError,
    UnknownDatasetError,
)


def _data(closes=(10.0, 11.0, 12.0), symbols=("AAA", "BBB")) -> MarketData:
    index = pd.date_range("2024-01-02", periods=len(closes), freq="D", tz="UTC").as_unit("ns")
    frames = {}
    for k, symbol in enumerate(symbols):
        close = np.asarray(closes) + k
        frames[symbol] = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1,
                                       "close": close, "volume": 100.0 * (k + 1)}, index=index)
    # BBB has no bar on the first day: the NaN hole must survive the round trip.
    frames["BBB"] = frames["BBB"].iloc[1:]
    return MarketData.from_frames("test", frames, "1D")


@pytest.fixture
def store(tmp_path):
    return DatasetStore(tmp_path / "datasets", reserved={"sp500", "synthetic-hourly"})


def test_save_then_load_returns_the_same_bars(store):
    data = _data()
    folder = store.save("mine", data, source="/data/mine.csv")
    assert folder == store.root / "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["bars.parquet", "meta.json"]
    loaded = store.load("mine")
    assert loaded.fingerprint() == data.fingerprint()
    assert loaded.symbols == ("AAA", "BBB")
    assert loaded.frequency == "1D"
    np.testing.assert_array_equal(loaded.close, data.close)
    assert np.isnan(loaded.close[0, 1])


def test_meta_describes_the_dataset(store):
    data = _data()
    store.save("mine", data, source="/data/mine.csv")
    meta = json.loads((store.root / "mine" / "meta.json").read_text())
    assert {k: meta[k] for k in ("name", "symbols", "frequency", "start", "end", "n_bars", "n_rows",
                                 "source", "fingerprint")} == {
        "name": "mine", "symbols": ["AAA", "BBB"], "frequency": "1D", "start": "2024-01-02",
        "end": "2024-01-04", "n_bars": 3, "n_rows": 5,  # 3 AAA bars + 2 BBB bars
        "source": "/data/mine.csv", "fingerprint": data.fingerprint()}
    assert pd.Timestamp(meta["imported_at"]).tzinfo is not None
    assert store.list() == [meta]


def test_a_failed_parquet_write_leaves_nothing_behind(store, monkeypatch):
    def half_write(frame, path):
        path.write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "write_bars", half_write)
    with pytest.raises(OSError, match="disk full"):
        store.save("mine", _data(), source="x.csv")
    assert list(store.root.iterdir()) == []  # no dataset folder, no temporary folder
    assert not store.exists("mine")
    assert store.list() == []


def test_a_failed_overwrite_keeps_the_old_dataset(store, monkeypatch):
    old = _data()
    store.save("mine", old, source="old.csv")

    def failing(frame, path):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(store_module, "write_bars", failing)
    with pytest.raises(RuntimeError):
        store.save("mine", _data((1.0, 2.0, 3.0)), source="new.csv", overwrite=True)
    assert [p.name for p in store.root.iterdir()] == ["mine"]
    assert store.load("mine").fingerprint() == old.fingerprint()


def test_existing_name_is_refused_unless_overwrite(store):
    store.save("mine", _data(), source="old.csv")
    with pytest.raises(DatasetExistsError, match="overwrite"):
        store.save("mine", _data((1.0, 2.0, 3.0)), source="new.csv")
    assert store.list()[0]["source"] == "old.csv"
    new = _data((1.0, 2.0, 3.0))
    store.save("mine", new, source="new.csv", overwrite=True)
    assert store.load("mine").fingerprint() == new.fingerprint()
    assert [p.name for p in store.root.iterdir()] == ["mine"]


@pytest.mark.parametrize("name", ["", "a/b", "../up", "has space", "dot.name", "x" * 65, "ünï", ".hidden"])
def test_malformed_names_are_refused(store, name):
    with pytest.raises(InvalidParameterError, match="letters, digits"):
        store.save(name, _data(), source="x.csv")
    assert not store.root.exists() or list(store.root.iterdir()) == []


@pytest.mark.parametrize("name", ["sp500", "SP500", "synthetic-hourly"])
def test_built_in_names_are_reserved(store, name):
    with pytest.raises(InvalidParameterError, match="built-in"):
        store.save(name, _data(), source="x.csv")


def test_longest_name_and_all_allowed_characters(store):
    name = "Ab-9_" + "z" * 59
    assert len(name) == 64
    store.save(name, _data(), source="x.csv")
    assert store.exists(name)


def test_a_changed_value_is_detected_on_load(store):
    store.save("mine", _data(), source="x.csv")
    bars_path = store.root / "mine" / "bars.parquet"
    bars = pd.read_parquet(bars_path)
    bars.loc[2, "close"] += 0.01
    bars.to_parquet(bars_path, index=False)
    with pytest.raises(DatasetCorruptError, match="changed after import"):
        store.load("mine")


def test_garbage_bars_or_meta_are_corrupt(store):
    store.save("a", _data(), source="x.csv")
    store.save("b", _data(), source="x.csv")
    (store.root / "a" / "bars.parquet").write_bytes(b"garbage")
    (store.root / "b" / "meta.json").write_text("{not json")
    with pytest.raises(DatasetCorruptError, match="cannot be read"):
        store.load("a")
    with pytest.raises(DatasetCorruptError, match="cannot be read"):
        store.load("b")
    assert [m["name"] for m in store.list()] == ["a"]  # b's meta is unreadable: skipped, logged


def test_list_exists_and_delete(store):
    assert store.list() == []
    store.save("b-set", _data(), source="b.csv")
    store.save("a_set", _data(), source="a.csv")
    (store.root / ".tmp-crashed-123").mkdir()  # a save killed mid-way is never listed
    assert [m["name"] for m in store.list()] == ["a_set", "b-set"]
    assert store.exists("a_set") and not store.exists("nope") and not store.exists("../a_set")
    store.delete("a_set")
    assert not store.exists("a_set")
    assert not (store.root / "a_set").exists()
    assert [m["name"] for m in store.list()] == ["b-set"]


def test_unknown_names_raise_unknown_dataset(store):
    store.save("mine", _data(), source="x.csv")
    with pytest.raises(UnknownDatasetError, match="imported datasets: mine"):
        store.load("other")
    with pytest.raises(UnknownDatasetError):
        store.delete("other")


@pytest.mark.parametrize("name", ["-rf", "_x", "-", "--data", "a\n"])
def test_issue16_names_start_with_a_letter_or_digit(store, name):
    # "--name=-rf" was stored, and then "--data -rf" read as an option: no command could use it.
    with pytest.raises(InvalidParameterError, match="starting with a letter or digit"):
        store.save(name, _data(), source="x.csv")
    assert not store.root.exists() or list(store.root.iterdir()) == []
    assert not store.exists(name)


def test_issue16_a_legacy_folder_with_a_bad_name_is_skipped_by_list(store, caplog):
    store.save("good", _data(), source="x.csv")
    (store.root / "good").rename(store.root / "-rf")
    store.save("good", _data(), source="x.csv")
    with caplog.at_level("WARNING", logger="engine.data.store"):
        assert [m["name"] for m in store.list()] == ["good"]
    assert "rename the folder" in caplog.text


def test_issue16_a_killed_imports_temporary_folders_are_swept_but_a_running_ones_kept(store):
    import os
    import subprocess
    import sys

    store.save("first", _data(), source="x.csv")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = store.root / f".killed.{int(finished.stdout)}-abc123.tmp"  # a SIGKILLed import's folder
    running = store.root / f".running.{os.getpid()}-abc123.tmp"  # a concurrent import in progress
    legacy = store.root / ".tmp-old-layout-abc123"  # an older version's name, no process id: only its age tells
    fresh_legacy = store.root / ".tmp-new-layout-abc123"
    for folder in (dead, running, legacy, fresh_legacy):
        folder.mkdir()
        (folder / "bars.parquet").write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 86400
    os.utime(legacy, (two_days_ago, two_days_ago))
    store.save("second", _data(), source="x.csv")
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        ["first", "second", running.name, fresh_legacy.name])
