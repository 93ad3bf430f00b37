"""`workbench runs` and the backtest's stored run: list, show, tag, export, delete; bad ids exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workbench.store.helpers import record
from workbench.cli import main
from workbench.store import RunStore

BACKTEST = ["backtest", "--strategy", "buy_and_hold", "--data", "stocks", "--symbols", "AAPL,MSFT",
            "--start", "2010-01-01", "--end", "2010-06-30"]


@pytest.fixture
def stored() -> list[str]:
    """Three hand-made runs; two share the prefix ``aaaa``."""
    ids = ["aaaa1111", "aaaa2222", "bbbb3333"]
    with RunStore.open() as store:
        for i, run_id in enumerate(ids):
            store.save_run(record(run_id, seed=i, tags=("baseline",) if i else ()))
    return ids


def out_of(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def user_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_backtest_stores_its_run_by_default(capsys: pytest.CaptureFixture) -> None:
    out = out_of(capsys, *BACKTEST)
    run_id = out.splitlines()[0].split()[1].rstrip(":")
    assert out.splitlines()[-1] == f"stored run {run_id}"
    listed = json.loads(out_of(capsys, "runs", "list", "--json"))
    assert [r["run_id"] for r in listed] == [run_id] and listed[0]["decider"] == "buy_and_hold"
    shown = json.loads(out_of(capsys, "runs", "show", run_id[:6], "--json"))
    # One scenario, two symbols, 124 bars (123 decisions).
    # The baselines and the benchmark are stored beside it: one row per bar (issue 17).
    assert shown["tables"] == {"actions": 2 * 123, "baselines": 124, "equity": 124, "orders": 2, "rewards": 2 * 123}
    assert shown["summary"]["run_id"] == run_id and shown["spec"]["strategy"] == "buy_and_hold"


def test_backtest_json_stays_one_object_and_no_store_skips(capsys: pytest.CaptureFixture) -> None:
    assert main([*BACKTEST, "--json", "--no-store"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run_id"] and "stored run" not in captured.out + captured.err
    assert json.loads(out_of(capsys, "runs", "list", "--json")) == []
    assert main([*BACKTEST, "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is the JSON object alone
    assert captured.err.strip() == f"stored run {summary['run_id']}"


def test_list_filters_and_table(capsys: pytest.CaptureFixture, stored: list[str]) -> None:
    out = out_of(capsys, "runs", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["RUN_ID", "CREATED", "KIND", "DECIDER", "DATASET", "PERIOD", "TAGS", "VERDICT"]
    assert [line.split()[0] for line in lines[1:]] == stored[::-1]
    tagged = json.loads(out_of(capsys, "runs", "list", "--tag", "baseline", "--json"))
    assert [r["run_id"] for r in tagged] == ["bbbb3333", "aaaa2222"]
    assert [r["run_id"] for r in json.loads(out_of(capsys, "runs", "list", "--limit", "1", "--json"))] == ["bbbb3333"]
    assert out_of(capsys, "runs", "list", "--kind", "stress") == "no stored runs match\n"


def test_show_prints_metadata_metrics_tables_notes_reviews(capsys: pytest.CaptureFixture, stored: list[str]) -> None:
    with RunStore.open() as store:
        store.add_note("bbbb", "ana", "check the costs")
        store.save_review(["bbbb3333"], "ana", "approve", "GO", "", [{"gate": "sharpe", "passed": True}])
    out = out_of(capsys, "runs", "show", "bbbb")
    assert out.startswith("run bbbb3333 (backtest)")
    assert "verdict:          GO" in out and "tags:             baseline" in out
    assert "fees=0 slippage=0  20.0%   1.50    -20.0%  3" in out  # the summary's key metrics, each by its kind
    assert "equity  5" in out and "orders  5" in out
    assert "ana: check the costs" in out and "ana: approve (verdict GO, 1 gates)" in out


def test_tag_adds_and_removes(capsys: pytest.CaptureFixture, stored: list[str]) -> None:
    assert out_of(capsys, "runs", "tag", "aaaa1", "go", "v2") == "run aaaa1111 tags: go, v2\n"
    assert out_of(capsys, "runs", "tag", "aaaa1", "v2", "--remove") == "run aaaa1111 tags: go\n"
    assert "no tag 'nope'" in user_error(capsys, "runs", "tag", "aaaa1", "go", "nope", "--remove")
    assert json.loads(out_of(capsys, "runs", "show", "aaaa1", "--json"))["tags"] == ["go"]  # nothing removed
    assert "tag 'bad tag'" in user_error(capsys, "runs", "tag", "aaaa1", "bad tag")


def test_export_and_delete(capsys: pytest.CaptureFixture, stored: list[str], tmp_path: Path) -> None:
    out = out_of(capsys, "runs", "export", "bbbb", "--out", str(tmp_path / "x"))
    assert out == f"exported run bbbb3333 to {tmp_path / 'x'}\n"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "equity.csv", "orders.csv", "run.json", "spec.json", "summary.json"]
    assert "already exists" in user_error(capsys, "runs", "export", "bbbb", "--out", str(tmp_path / "x"))
    assert out_of(capsys, "runs", "delete", "bbbb") == "deleted run bbbb3333\n"
    assert [r["run_id"] for r in json.loads(out_of(capsys, "runs", "list", "--json"))] == ["aaaa2222", "aaaa1111"]


@pytest.mark.parametrize("action", [["show"], ["delete"], ["tag", "--", "{id}", "x"], ["export", "--out", "{dir}"]])
def test_unknown_and_ambiguous_ids_exit_2(capsys: pytest.CaptureFixture, stored: list[str], tmp_path: Path,
                                          action: list[str]) -> None:
    def argv(run_id: str) -> list[str]:
        if "{id}" in action:
            return ["runs", action[0], *[a.replace("{id}", run_id) for a in action[2:]]]
        return ["runs", action[0], run_id, *[a.replace("{dir}", str(tmp_path / "out")) for a in action[1:]]]

    assert "ambiguous ('aaaa'" not in (line := user_error(capsys, *argv("aaaa")))
    assert "run id prefix 'aaaa' is ambiguous (aaaa1111, aaaa2222)" in line
    assert "no stored run has id 'cccc'" in user_error(capsys, *argv("cccc"))
    assert len(json.loads(out_of(capsys, "runs", "list", "--json"))) == 3  # nothing changed
    assert not (tmp_path / "out").exists()
