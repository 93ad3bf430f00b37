"""``workbench paper``: start, status, stop, kill, resume, export; user errors exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workbench.paper.helpers import options, scripted
from workbench.cli import main
from workbench.paper import request_stop, start_paper

START = ["paper", "start", "--strategy", "sma_cross", "--param", "fast=5", "--param", "slow=20",
         "--feed", "replay:stocks:AAPL,MSFT", "--start", "2010-01-01", "--end", "2010-03-31", "--fees", "0.001"]


def test_start_status_export_and_restart(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    state = tmp_path / "state"
    assert main(START + ["--state", str(state)]) == 0
    assert "finished after 61 new bar(s); last bar 60 (2010-03-31" in capsys.readouterr().out
    assert main(["paper", "status", "--state", str(state), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["finished"] and not status["running"] and status["last_bar"]["bar"] == 60
    assert {p["symbol"] for p in status["positions"]} == {"AAPL", "MSFT"} and status["halt"] is None
    assert status["latency_ms"]["n"] == 61 and status["latency_ms"]["p99"] >= status["latency_ms"]["p50"] > 0
    assert status["risk"]["breaker"] is None and status["open_orders"] == []
    assert main(["paper", "status", "--state", str(state)]) == 0
    text = capsys.readouterr().out
    assert "finished; sma_cross on replay:stocks:AAPL,MSFT" in text and "decision latency: p50" in text
    assert main(["paper", "export", "--state", str(state), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["equity.csv", "fills.csv", "orders.csv"]
    assert (tmp_path / "out" / "equity.csv").read_text().count("\n") == 62
    assert main(START + ["--state", str(state)]) == 0
    assert "already finished at bar 60" in capsys.readouterr().out


def test_requests_say_when_they_apply(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    state = tmp_path / "state"
    assert start_paper(options(state), feed=scripted(hooks={20: lambda: request_stop(state)})).status == "stopped"
    assert main(["paper", "stop", "--state", str(state)]) == 0
    assert "no loop is running; nothing to stop" in capsys.readouterr().out
    assert main(["paper", "kill", "--state", str(state)]) == 0
    assert "applied at the next bar after `workbench paper start`" in capsys.readouterr().out
    assert main(["paper", "resume", "--state", str(state)]) == 0
    assert main(["paper", "status", "--state", str(state)]) == 0
    assert "pending request: kill" in capsys.readouterr().out


def test_requests_to_a_finished_replay_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    state = tmp_path / "state"
    assert main(START + ["--end", "2010-01-20", "--state", str(state)]) == 0
    capsys.readouterr()
    for command in ("kill", "resume"):
        assert main(["paper", command, "--state", str(state)]) == 0
        assert f"the session's replay finished at bar 11; nothing to {command}" in capsys.readouterr().out
    assert main(["paper", "status", "--state", str(state), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending_requests"] == []


@pytest.mark.parametrize("argv, message", [
    (["paper", "status", "--state", "nowhere"], "no journal"),
    (["paper", "kill", "--state", "nowhere"], "no journal"),
    (START[:-6] + ["--feed", "replay:nope", "--state", "s"], "neither a dataset name nor an existing file"),
    (START + ["--speed", "slow", "--state", "s"], "--speed 'slow' is not a number"),
    (START + ["--param", "fast", "--state", "s"], "--param 'fast' is not KEY=VALUE"),
    (START + ["--risk", "missing.yaml", "--state", "s"], "no such risk file"),
    (START + ["--stale-after", "0", "--state", "s"], "--stale-after must be > 0"),
    (["paper", "start", "--policy", "no-such-policy", "--feed", "replay:stocks:AAPL", "--state", "s"],
     "neither a shipped policy"),
])
def test_user_errors_exit_2_with_one_line(tmp_path: Path, monkeypatch, capsys, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_issue13_the_shipped_master_agent_paper_trades_with_default_options(tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture) -> None:
    """Its default runtime is auto: the master's verified ONNX export (before, onnx was the default and
    the master had no export, so the start failed)."""
    state = tmp_path / "state"
    assert main(["paper", "start", "--policy", "master-agent-compact-stocks", "--feed", "replay:stocks:AAPL,MSFT,IBM",
                 "--start", "2011-01-03", "--end", "2011-02-28", "--state", str(state)]) == 0
    assert "finished after 39 new bar(s)" in capsys.readouterr().out
    config = json.loads((state / "config.json").read_text())
    assert config["runtime"] == "onnx" and config["policy"] == "master-agent-compact-stocks"


def test_a_finished_session_is_stored_as_a_paper_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.runs.backtest import run_backtest
    from workbench.runs.spec import RunSpec
    from workbench.store import RunStore

    state = tmp_path / "state"
    assert main(START + ["--state", str(state)]) == 0
    out = capsys.readouterr().out
    run_id = out.split("stored run ")[1].split()[0]
    with RunStore.open() as store:
        run = store.get_run(run_id)
    assert run.info.kind == "paper" and run.info.decider.startswith("sma_cross")
    assert run.summary["latency_ms"]["n"] == 61 and run.summary["finished"]
    backtest = run_backtest(RunSpec(data="stocks", strategy="sma_cross", strategy_params=(("fast", "5"), ("slow", "20")),
                                    symbols=("AAPL", "MSFT"), start="2010-01-01", end="2010-03-31", fees=(0.001,)))
    paper_row, backtest_row = run.summary["scenarios"][0], backtest.summary()["scenarios"][0]
    for key in ("total_return", "sharpe", "max_drawdown", "n_trades"):  # the same bars, the same fills
        assert paper_row[key] == backtest_row[key], key
    assert main(START + ["--state", str(state), "--no-store"]) == 0  # already finished: nothing stored again
    assert "stored run" not in capsys.readouterr().out
