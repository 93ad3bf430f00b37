"""Compare: identical data and fills for every decider, roles, statistics recomputed, errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from arch.bootstrap import SPA

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from strategies.families.baseline import STRATEGIES
from workbench.experiments.compare import SEARCH_TRIALS_KEY, run_compare, search_trials
from workbench.experiments.reality_check import BootstrapSettings, model_confidence_set, superiority_test
from workbench.experiments.statistics import (
    deflated_sharpe_ratio,
    effective_trials,
    mean_correlation,
    probability_of_backtest_overfitting,
    return_correlation,
)
from workbench.policies import shipped_policies
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec

BASE = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2010-01-01", end="2011-06-30")


def spec(**changes) -> RunSpec:
    options = {"n_boot": 200, "pbo_blocks": 8, **changes.pop("options", {})}
    values = {"kind": "compare", "strategy": "sma_cross", "fees": (0.001,), **BASE, **changes}
    return RunSpec(options=tuple(options.items()), **values)


@pytest.fixture(scope="module")
def tuned():
    """sma_cross with two variants of ``fast``."""
    return run_compare(spec(options={"variants": {"fast": [5, 10]}}))


def test_every_decider_runs_on_the_backtests_data_fills_and_cash(tuned) -> None:
    summary = tuned.summary()
    direct = run_backtest(spec().replace(kind="backtest", options=())).summary()["scenarios"][0]
    for key in ("final_equity", "sharpe", "n_orders", "fees_paid", "benchmark_return"):
        assert summary["candidate"][key] == pytest.approx(direct[key], rel=1e-12)
    momentum = next(b for b in summary["baselines"] if b["name"] == "momentum")
    alone = run_backtest(spec(strategy="momentum").replace(kind="backtest", options=())).summary()["scenarios"][0]
    assert momentum["final_equity"] == pytest.approx(alone["final_equity"], rel=1e-12)
    assert summary["benchmark"]["total_return"] == pytest.approx(direct["benchmark_return"])


def test_roles_and_the_baseline_identical_to_the_candidate_is_left_out(tuned) -> None:
    summary = tuned.summary()
    assert summary["candidate"]["name"] == "sma_cross"
    assert [v["name"] for v in summary["variants"]] == ["sma_cross(fast=5)", "sma_cross(fast=10)"]
    assert [b["name"] for b in summary["baselines"]] == [s for s in STRATEGIES if s != "sma_cross"]
    other = run_compare(spec(strategy_params=(("fast", "10"),))).summary()
    assert "sma_cross" in [b["name"] for b in other["baselines"]]
    assert next(b for b in other["baselines"] if b["name"] == "random")["params"] == {"seed": "0"}


def test_sharpe_differences_are_point_estimates_inside_their_intervals(tuned) -> None:
    summary = tuned.summary()
    for baseline in summary["baselines"]:
        diff = baseline["sharpe_diff"]
        assert diff["estimate"] == pytest.approx(summary["candidate"]["sharpe"] - baseline["sharpe"], abs=1e-9)
        assert diff["low"] <= diff["estimate"] <= diff["high"]


def _returns(result) -> tuple[np.ndarray, list[str]]:
    """Every decider's per-bar returns, recomputed from the stored equity table."""
    equity = result.tables()["equity"]
    return equity.pct_change().fillna(equity.iloc[0] / 100_000 - 1).to_numpy(), list(equity.columns)


def test_deflated_sharpe_and_pbo_recomputed_from_the_equity_table(tuned) -> None:
    summary = tuned.summary()
    returns, names = _returns(tuned)
    tried = returns[:, :3]  # the candidate and its two variants; the baselines are not trials by default
    assert summary["trials"] == names[:3] and summary["n_trials"] == 3
    sharpes = [sharpe_ratio(tried[:, i], 1.0) for i in range(3)]
    assert summary["deflated_sharpe"] == pytest.approx(deflated_sharpe_ratio(returns[:, 0], sharpes).value, rel=1e-9)
    detail = summary["deflated_sharpe_detail"]
    rho = mean_correlation(return_correlation(tried))
    assert detail["mean_correlation"] == pytest.approx(rho, rel=1e-9)
    assert detail["n_effective"] == pytest.approx(effective_trials(3, rho), rel=1e-9) and detail["n_effective"] < 3
    effective = deflated_sharpe_ratio(returns[:, 0], sharpes, n_trials=detail["n_effective"])
    assert summary["deflated_sharpe_effective"] == pytest.approx(effective.value, rel=1e-9)
    assert detail["trials_variance"] == pytest.approx(np.var(sharpes, ddof=1), rel=1e-9)
    assert detail["counted"] == {"candidate": 1, "variants": 2, "baselines": 0, "searched": 0}
    assert detail["baselines_counted"] is False and detail["notes"] == []
    pbo = probability_of_backtest_overfitting(tried, n_blocks=8, periods_per_year=252)
    assert summary["pbo"] == pytest.approx(pbo.pbo) and summary["pbo_detail"]["n_variants"] == 3
    assert summary["pbo_detail"]["tie_share"] == pytest.approx(pbo.tie_share) and pbo.tie_share > 0
    assert summary["pbo_detail"]["pbo_ties_not_overfit"] < summary["pbo"] < summary["pbo_detail"]["pbo_ties_overfit"]
    # Three variants and halves of 188 daily bars: both warnings.
    warnings = summary["pbo_detail"]["warnings"]
    assert len(warnings) == 2 and "only 3 variants" in warnings[0] and "less than a year" in warnings[1]
    assert summary["pbo_reason"] is None


def test_reality_check_recomputed_from_the_equity_table(tuned) -> None:
    summary = tuned.summary()
    returns, names = _returns(tuned)
    check = summary["reality_check"]
    assert check["bootstrap"] == {"kind": "stationary", "block_size": 7, "reps": 200, "seed": 0}  # 377 bars
    assert check["loss"] == "negative per-bar return" and check["n_alternatives"] == 6
    settings = BootstrapSettings(7, 200, 0)
    superior = superiority_test(returns[:, 0], returns[:, 1:], names[1:], settings)
    assert [t["name"] for t in check["superior"]["pairwise"]] == names[1:]
    assert {k: check["superior"][k] for k in ("lower", "consistent", "upper")} == superior.pvalues.to_dict()
    assert check["superior"]["closest"] == superior.closest
    # "Is the candidate beaten?" is arch's SPA with the candidate as the benchmark, on the same losses.
    spa = SPA(-returns[:, 0], -returns[:, 1:], block_size=7, reps=200, bootstrap="stationary", seed=0)
    spa.compute()
    assert {k: check["beaten"][k] for k in ("lower", "consistent", "upper")} == spa.pvalues.to_dict()
    expected = model_confidence_set(returns, names, settings, size=0.05)
    assert summary["model_confidence_set"]["pvalues"] == dict(expected.pvalues)
    assert summary["model_confidence_set"]["included"] == list(expected.included)
    table = tuned.tables()["comparison"].set_index("name")
    assert table.loc["momentum", "superior_pvalue"] == next(
        t["consistent"] for t in check["superior"]["pairwise"] if t["name"] == "momentum")
    assert np.isnan(table.loc["sma_cross", "superior_pvalue"])
    assert table.loc["sma_cross", "mcs_pvalue"] == expected.pvalues["sma_cross"]


def test_pbo_is_none_with_a_reason_for_a_single_variant() -> None:
    summary = run_compare(spec(strategy="momentum")).summary()
    assert summary["pbo"] is None and "--variants" in summary["pbo_reason"]
    assert summary["n_trials"] == 1  # momentum alone: the baselines are not trials by default
    detail = summary["deflated_sharpe_detail"]
    assert detail["sr0"] == 0.0 and "one trial measured" in detail["notes"][0]
    assert 0.0 <= summary["deflated_sharpe"] <= 1.0
    counted = run_compare(spec(strategy="momentum", options={"dsr_baselines": True})).summary()
    assert counted["n_trials"] == 5 and counted["deflated_sharpe_detail"]["baselines_counted"] is True
    assert counted["deflated_sharpe_detail"]["counted"] == {"candidate": 1, "variants": 0, "baselines": 4,
                                                            "searched": 0}
    assert counted["deflated_sharpe"] < summary["deflated_sharpe"]  # more trials, a higher hurdle


def test_a_variant_equal_to_a_baseline_is_one_trial() -> None:
    summary = run_compare(spec(strategy_params=(("fast", "10"),), options={"variants": {"fast": [20]},
                                                                          "dsr_baselines": True})).summary()
    assert [v["name"] for v in summary["variants"]] == ["sma_cross(fast=20)"]
    assert "sma_cross" in [b["name"] for b in summary["baselines"]]
    assert summary["n_trials"] == 6  # the default sma_cross counted once
    assert summary["reality_check"]["n_alternatives"] == 5  # and tested once
    assert "sma_cross" not in summary["model_confidence_set"]["pvalues"]


def test_trials_of_a_recorded_hyperparameter_search_are_counted(tmp_path: Path) -> None:
    folder = tmp_path / "searched-agent"
    shutil.copytree(shipped_policies()["symbol-agent-compact-stocks"], folder)
    card = json.loads((folder / "model_card.json").read_text())
    card["search"] = {SEARCH_TRIALS_KEY: 40}  # the search tried 40 configurations
    (folder / "model_card.json").write_text(json.dumps(card))
    result = run_compare(spec(strategy=None, policy=str(folder), options={"dsr_baselines": True}))
    summary = result.summary()
    detail = summary["deflated_sharpe_detail"]
    assert detail["counted"] == {"candidate": 1, "variants": 0, "baselines": 5, "searched": 39}
    assert summary["n_trials"] == 45 and len(summary["trials"]) == 6
    returns, _ = _returns(result)
    sharpes = [sharpe_ratio(returns[:, i], 1.0) for i in range(6)]
    assert summary["deflated_sharpe"] == pytest.approx(
        deflated_sharpe_ratio(returns[:, 0], sharpes, n_trials=45).value, rel=1e-9)
    assert detail["n_effective"] == pytest.approx(effective_trials(45, detail["mean_correlation"]), rel=1e-9)


@pytest.mark.parametrize("card, expected", [
    (None, 1), ({"search": {}}, 1), ({"search": {SEARCH_TRIALS_KEY: 12}}, 12), ({"search": {SEARCH_TRIALS_KEY: 12.0}}, 12),
])
def test_search_trials_read_from_a_model_card(card, expected: int) -> None:
    assert search_trials(card) == expected


@pytest.mark.parametrize("value", [0, 2.5, "40", True])
def test_a_malformed_search_record_is_a_typed_error(value) -> None:
    with pytest.raises(InvalidParameterError, match="whole number of trials"):
        search_trials({"search": {SEARCH_TRIALS_KEY: value}}, "agent")


def test_first_cost_point_and_default_universe_are_noted() -> None:
    result = run_compare(RunSpec(kind="compare", strategy="buy_and_hold", data="stocks", start="2004-01-01",
                                 end="2004-12-31", fees=(0.001, 0.002), options=(("n_boot", 50),)))
    summary = result.summary()
    assert summary["data"]["symbols"] == ["AAPL", "MSFT", "IBM"]
    assert summary["costs"]["fees"] == 0.001
    assert any("GOOG, FB left out" in n for n in summary["notes"])
    assert any("uses the first: fees 0.001" in n for n in summary["notes"])


def test_same_spec_same_summary_and_the_record(tuned) -> None:
    again = run_compare(spec(options={"variants": {"fast": [5, 10]}}))
    assert again.summary() == tuned.summary()
    record = tuned.to_record(["x"])
    assert record.kind == "compare" and record.run_id == tuned.run_id and record.tags == ("x",)
    assert list(record.tables["comparison"]["role"]) == ["candidate", "variant", "variant"] + ["baseline"] * 4
    assert record.tables["equity"].shape[1] == 7 and np.isfinite(record.tables["equity"].to_numpy()).all()
    assert record.spec["options"]["n_boot"] == 200 and record.spec["options"]["confidence"] == 0.95


@pytest.mark.parametrize("changes, match", [
    ({"options": {"variants": {"fsat": [5]}}}, r"--variants fsat: .*Did you mean 'fast'"),
    ({"options": {"variants": {"fast": ["x"]}}}, r"--variants fast='x' is not a number"),
    ({"options": {"variants": {"fast": [5]}}, "strategy": None, "policy": "symbol-agent-compact-stocks"},
     "varies a strategy's parameters"),
    ({"options": {"pbo_blocks": 7}}, r"pbo_blocks \(--pbo-blocks\) 7 must be an even integer"),
    ({"options": {"boot": 10}}, "option 'boot' is unknown"),
    ({"options": {"mcs_size": 1.0}}, r"mcs_size \(--mcs-size\) 1.0 must lie in \(0, 1\)"),
    ({"options": {"dsr_baselines": "yes"}}, r"dsr_baselines \(--dsr-baselines\) 'yes' must be true or false"),
])
def test_bad_input_is_a_typed_error(changes: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        run_compare(spec(**changes))
