"""The shipped tactical team: a verified card with honest out-of-sample figures, an ONNX export that
decides like torch, and a paper replay whose ledger is its backtest's."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.checkpoint import file_sha256, load_checkpoint
from models.onnx_export import MAX_LOGIT_DIFF, MIN_ACTION_AGREEMENT, MIN_PARITY_ROWS
from models.tactical_team.network import build_tactical_team
from workbench.cli import main
from workbench.paper import StartOptions, ledger_arrays, start_paper
from workbench.policies import SHIPPED_DIR, load_policy
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec

NAME = "tactical-compact-synthetic5m"
TEAM = SHIPPED_DIR / NAME
PERIOD = dict(data="synthetic-5min", symbols=("SYN000", "SYN001"), start="2024-03-18", end="2024-03-28")


def test_the_shipped_team_loads_with_a_verified_card() -> None:
    team, card, normalizer = load_checkpoint(TEAM, build_tactical_team)
    assert card.architecture == "tactical_team" and card.config["preset"] == "compact" and card.seed == 7
    assert card.config["vote"] == "plurality" and card.dataset["name"] == "synthetic-5min"
    train_end, validation_start = pd.Timestamp(card.train_period[1]), pd.Timestamp(card.validation_period[0])
    test_start = pd.Timestamp(card.config["training"]["test_period"][0])
    assert train_end < validation_start and pd.Timestamp(card.validation_period[1]) < test_start  # chronological
    assert sum(p.numel() for p in team.parameters()) == card.parameter_counts["total"] == 183_930
    metrics = card.validation_metrics
    for part in ("validation", "test"):
        assert {f"{part}/sharpe", f"{part}/max_drawdown", f"{part}/n_trades", f"{part}/time_in_market",
                f"{part}/agreement", f"{part}/fvg_focus", f"{part}/momentum_focus"} <= set(metrics)
    assert normalizer.columns[0] == "fvg_bullish"


def test_the_models_list_shows_the_team(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[NAME]["architecture"] == "tactical_team" and rows[NAME]["onnx"] is True
    assert rows[NAME]["parameters"] == 183_930


def test_the_shipped_export_is_verified_and_decides_like_torch() -> None:
    card = json.loads((TEAM / "model_card.json").read_text())
    export = card["export"]
    assert export["path"] == "model.onnx" and export["sha256"] == file_sha256(TEAM / "model.onnx")
    assert export["n_rows"] >= MIN_PARITY_ROWS and export["max_abs_logit_diff"] <= MAX_LOGIT_DIFF
    assert all(a["action_agreement"] >= MIN_ACTION_AGREEMENT for a in export["agents"].values())
    runs = [run_backtest(RunSpec(kind="backtest", policy=NAME, runtime=runtime, fees=(0.0002,), **PERIOD))
            for runtime in ("onnx", "torch")]
    assert [r.decider.runtime for r in runs] == ["onnx", "torch"]
    np.testing.assert_array_equal(runs[0].rollout.actions, runs[1].rollout.actions)
    np.testing.assert_array_equal(runs[0].rollout.equity, runs[1].rollout.equity)


def test_paper_trading_the_shipped_team_keeps_its_backtests_ledger(tmp_path: Path) -> None:
    rollout = run_backtest(RunSpec(kind="backtest", policy=NAME, fees=(0.0002,), **PERIOD)).rollout
    result = start_paper(StartOptions(state=tmp_path / "paper", feed="replay:synthetic-5min:SYN000,SYN001",
                                      policy=NAME, start=PERIOD["start"], end=PERIOD["end"], fees=0.0002))
    assert result.status == "finished"
    records, equity = ledger_arrays(tmp_path / "paper")
    assert len(records) == len(rollout.records) >= 2  # at least its entries
    for name in records.dtype.names:
        assert np.array_equal(records[name], rollout.records[name], equal_nan=True), name
    np.testing.assert_array_equal(equity, rollout.equity[:, 0])
    assert load_policy(NAME).runtime == "onnx"


def test_the_app_launches_a_stress_set_of_the_team_and_reviews_it(tmp_path: Path) -> None:
    from workbench.services import app as app_services
    from workbench.store import RunStore

    assert NAME in app_services.policy_choices()
    stress = RunSpec(kind="stress", policy=NAME, fees=(0.0002,), seed=1,
                     options=(("n_bootstrap", 2), ("n_garch", 0)), **PERIOD)
    backtest = RunSpec(kind="backtest", policy=NAME, fees=(0.0002,), **PERIOD)
    with RunStore.open(tmp_path) as store:
        for spec in (stress, backtest):
            app_services.check_spec(spec)
        ids = [app_services.run_and_store(store, spec).run_id for spec in (stress, backtest)]
        assessment = app_services.assess_runs(store, ids, app_services.default_gates(), canary=True)
    results = {r.gate.name: r.status for r in assessment.results}
    assert results["lookahead_canary"] == "PASS" and results["stress_max_drawdown"] in ("PASS", "FAIL")
    assert assessment.verdict.decision == "NO-GO" and "sharpe" in assessment.verdict.rule  # it loses on the period
