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
            "--start", "2011-03-21", "--fees", "0,0.002", "--json"]  # the card's test period
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["policy"] == POLICY and first["strategy"] is None and len(first["scenarios"]) == 2
    # It trades in both scenarios and pays fees only where they are charged. (Which one ends richer
    # is not fixed: the agent reads its cash and positions, so costs change its later decisions.)
    free, charged = first["scenarios"]
    assert free["n_trades"] > 10 and charged["n_trades"] > 10
    assert free["fees_paid"] == 0.0 < charged["fees_paid"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first  # same spec, same run id and results


def test_unknown_policy_fails_before_loading_data(capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--policy", "nope", "--data", "stocks"]) == 2
    err = capsys.readouterr().err
    assert "'nope' is neither a shipped policy" in err and "workbench models list" in err
