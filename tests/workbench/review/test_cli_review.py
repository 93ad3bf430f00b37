"""`workbench review` on runs in the real run store: JSON, text, the stored review, user errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.experiments.stress import run_stress
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec
from workbench.store import RunStore

BASE = dict(data="stocks", strategy="sma_cross", strategy_params=(("fast", "10"), ("slow", "30")),
            symbols=("AAPL", "MSFT"), start="2005-01-01", end="2006-06-30")


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A run store holding a backtest (two cost scenarios) and a stress run of one strategy."""
    home = tmp_path_factory.mktemp("review_home")
    with RunStore.open(home) as store:
        backtest = store.save_run(run_backtest(RunSpec(kind="backtest", fees=(0.0, 0.001), **BASE)).to_record())
        stress = store.save_run(run_stress(RunSpec(kind="stress", options=(("n_bootstrap", 4), ("n_garch", 0)),
                                                   **BASE)).to_record())
    return home, [backtest.run_id, stress.run_id]


@pytest.fixture
def runs(store_home, workbench_home, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("WORKBENCH_HOME", str(store_home[0]))
    return store_home[1]


def review_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["review", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_review_is_stored_with_the_runs(runs: list[str], tmp_path: Path, capsys) -> None:
    out = review_json(capsys, runs[0][:8], runs[1], runs[0], "--out", str(tmp_path / "r.html"), "--reviewer", "alice",
                      "--canary-bars", "120")
    gates = {g["name"]: g for g in out["gates"]}
    assert len(gates) == 15 and out["run_ids"] == runs and out["decider"] == "sma_cross(fast=10 slow=30)"
    assert gates["lookahead_canary"]["status"] == "PASS" and out["canary"]["passed"]
    assert out["canary"]["n_bars"] == 120 and out["canary"]["cuts"] == [30, 60, 90]
    assert gates["onnx_parity"]["status"] == "N/A" and gates["decision_latency"]["status"] == "N/A"
    assert gates["oos_sharpe"]["status"] == "MISSING"  # no walk-forward run: a critical gate lacks evidence
    assert gates["beats_best_alternative"]["status"] == "MISSING"  # no comparison: no reality check
    assert gates["stress_max_drawdown"]["run_ids"] == [runs[1]] and gates["sharpe"]["run_ids"] == [runs[0]]
    assert out["verdict"] == out["decision"] == "NO-GO" and "oos_sharpe (MISSING)" in out["rule"]
    assert Path(out["report"]).read_text().startswith("<!DOCTYPE html>")
    with RunStore.open() as store:
        for run_id in runs:
            review = store.latest_review(run_id)
            assert (review.id, review.reviewer, review.decision, review.verdict) == (out["review_id"], "alice",
                                                                                    "NO-GO", "NO-GO")
            assert review.run_ids == tuple(sorted(runs)) and review.report_path == out["report"]
            assert [g["status"] for g in review.gates] == [g["status"] for g in out["gates"]]


def test_text_output_and_edited_gates(runs: list[str], tmp_path: Path, capsys) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  oos_sharpe: {enabled: false}\n  walkforward_stability: {enabled: false}\n"
                     "  sharpe: {threshold: -10.0}\n  max_drawdown: {threshold: 0.99}\n"
                     "  stress_max_drawdown: {threshold: 0.99}\n")
    assert main(["review", *runs, "--gates", str(gates), "--out", str(tmp_path / "r.html"), "--no-canary"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["GATE", "CRITICAL", "CRITERION", "VALUE", "STATUS"]
    assert "oos_sharpe" not in text and "sharpe > -10" in text
    assert "verdict: NO-GO because critical gate(s) did not pass: lookahead_canary (MISSING)" in text
    assert "report: " in text and (tmp_path / "r.html").is_file()


def test_overriding_the_verdict_needs_notes(runs: list[str], tmp_path: Path, capsys) -> None:
    report = tmp_path / "r.html"
    args = ["review", *runs, "--out", str(report), "--no-canary", "--decision", "GO"]
    assert main(args) == 2
    assert "overrides the computed verdict 'NO-GO'" in capsys.readouterr().err and not report.exists()
    out = review_json(capsys, *args[1:], "--notes", "walk-forward signed off separately")
    assert (out["decision"], out["verdict"]) == ("GO", "NO-GO")
    assert "overrides the computed verdict (NO-GO)" in report.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["nosuchrun"], "no stored run has id 'nosuchrun'"),
    (["{run}", "--gates", "{tmp}/missing.yaml"], "no such gates file"),
    (["{run}", "--gates", "{tmp}/bad.yaml"], "gates.sharpe.threshold: 'high' is not a finite number"),
    (["{run}", "--canary-bars", "2"], "--canary-bars 2 must be at least 3"),
])
def test_user_errors_exit_2_with_one_line(runs: list[str], tmp_path: Path, capsys, args: list[str],
                                          message: str) -> None:
    (tmp_path / "bad.yaml").write_text("gates:\n  sharpe: {threshold: high}\n")
    filled = [a.format(run=runs[0], tmp=tmp_path) for a in args]
    assert main(["review", *filled, "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
