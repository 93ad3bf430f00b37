"""Stored tables are checked against the sha256 recorded when the run was saved (issue 16 item 5)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.errors import RunTableError
from tests.workbench.store.helpers import record
from tests.workbench.store.test_schema import make_v1_store
from workbench.cli import main
from workbench.store import RunStore


def flip(path: Path, offsets=(100, 101, 102, 103)) -> None:
    data = bytearray(path.read_bytes())
    for offset in offsets:
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_issue16_the_digest_of_every_table_is_recorded_at_save(workbench_home: Path) -> None:
    with RunStore.open() as store:
        info = store.save_run(record())
    assert info.table_digests == {name: hashlib.sha256((info.folder / f"{name}.parquet").read_bytes()).hexdigest()
                                  for name in ("equity", "orders")}
    assert info.to_dict()["table_digests"] == info.table_digests


def test_issue16_a_changed_table_is_refused_on_read_and_export(workbench_home: Path, tmp_path: Path,
                                                               capsys) -> None:
    with RunStore.open() as store:
        info = store.save_run(record())
        path = info.folder / "orders.parquet"
        flip(path)
        run = store.get_run(info.run_id)
        assert run.load_table("equity").shape[0] == 5  # the other table is intact
        with pytest.raises(RunTableError, match=rf"run {info.run_id}: table file {path} changed since the run "
                                                r"was saved \(sha256 .*\).*Fix: restore orders.parquet"):
            run.load_table("orders")
    out = tmp_path / "export"
    assert main(["runs", "export", info.run_id, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: run {info.run_id}: table file {path} changed") and len(err.splitlines()) == 1
    assert "`workbench runs delete" in err and not out.exists()


def test_issue16_a_missing_or_truncated_table_is_a_one_line_error(workbench_home: Path, capsys) -> None:
    with RunStore.open() as store:
        info = store.save_run(record())
    (info.folder / "orders.parquet").write_bytes(b"PAR1")
    (info.folder / "equity.parquet").unlink()
    for argv in (["runs", "show", info.run_id], ["runs", "export", info.run_id, "--out", str(workbench_home / "x")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: run {info.run_id}: table file ") and len(err.splitlines()) == 1


def test_issue16_runs_saved_before_digests_stay_readable_and_say_so(tmp_path: Path, monkeypatch, capsys) -> None:
    make_v1_store(tmp_path)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with RunStore.open(tmp_path) as store:
        run = store.get_run("oldrun")
        assert not run.checked and run.info.table_digests is None
        assert len(run.load_table("equity")) == 5
    assert main(["runs", "show", "oldrun"]) == 0
    assert "tables (not checked: the run was saved before the store recorded table digests)" in capsys.readouterr().out
    assert main(["runs", "export", "oldrun", "--out", str(tmp_path / "out")]) == 0
    assert "(not checked" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "run.json").read_text())["table_digests"] is None
