"""`workbench models list` and `workbench backtest --policy` with the shipped compact agent."""
from __future__ import annotations

import json

import pytest

from workbench.cli import main

POLICY = "symbol-agent-compact-stocks"


def test_models_list_shows_the_shipped_policy(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[POLICY]["preset"] == "compact" and rows[POLICY]["parameters"] == 91_848
    assert rows[POLICY]["train_period"][0].startswith("2000-03-01")
    assert "validation/sharpe" in rows[POLICY]["validation_metrics"]


def test_backtest_with_the_shipped_policy_on_the_unseen_period(capsys: pytest.CaptureFixture) -> None:
    args = ["backtest", "--policy", POLICY, "--data", "stocks", "--symbols", "AAPL,MSFT,IBM",
            "--start", "2010-06-01", "--fees", "0,0.002", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["policy"] == POLICY and first["strategy"] is None and len(first["scenarios"]) == 2
    assert first["scenarios"][0]["final_equity"] >= first["scenarios"][1]["final_equity"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first  # same spec, same run id and results


def test_unknown_policy_fails_before_loading_data(capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--policy", "nope", "--data", "stocks"]) == 2
    err = capsys.readouterr().err
    assert "'nope' is neither a shipped policy" in err and "workbench models list" in err
