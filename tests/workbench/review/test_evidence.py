"""Evidence: what each run kind, the model card and the canary contribute, on hand-made runs."""
from __future__ import annotations

import pytest

from engine.errors import InvalidParameterError
from tests.workbench.review import fakes
from workbench.review.canary import CanaryResult
from workbench.review.evidence import collect_evidence
from workbench.review.gates import (
    CONDITIONAL_GO,
    DEFAULT_GATES,
    GO,
    MISSING,
    NO_GO,
    NOT_APPLICABLE,
    PASS,
    evaluate_gates,
    verdict,
)

PASSED = CanaryResult(True, "sma_cross", "stocks AAPL 2005..2006, 300 bars", 300, (75, 150, 225))
PEEKED = CanaryResult(False, "sma_cross", "stocks AAPL 2005..2006, 300 bars", 300, (75, 150, 225), (150, 225),
                      120, "2005-06-20T00:00:00+00:00")
POLICY_SPEC = {**fakes.SMA_SPEC, "strategy": None, "policy": "symbol-agent-compact-stocks"}
EXPORT = {"max_abs_logit_diff": 3e-7, "action_agreement": 1.0, "n_rows": 20000, "sha256": "onnxsha",
          "latency_ms": {"1": {"p50": 0.3, "p99": 0.6}, "256": {"p50": 20.0, "p99": 35.0}}}


def values(evidence, metric: str) -> list:
    return [o.value for o in evidence.observations.get(metric, ())]


def test_each_run_kind_files_its_metrics() -> None:
    runs = [fakes.backtest(), fakes.compare(sharpe=1.1), fakes.stress(), fakes.walkforward(), fakes.sweep()]
    evidence = collect_evidence(runs, canary=PASSED)
    assert values(evidence, "sharpe") == [1.5, 1.2, 1.1]
    assert values(evidence, "max_drawdown") == [0.2, 0.2, 0.22]
    assert values(evidence, "stress_max_drawdown") == [0.1, 0.25, 0.35]
    assert values(evidence, "oos_sharpe") == [0.9]
    assert values(evidence, "walkforward_positive_fraction") == [0.75]
    assert values(evidence, "lookahead_violations") == [0.0]
    assert values(evidence, "reality_check_pvalue") == [0.03]
    where = evidence.observations["reality_check_pvalue"][0].where
    assert where == "candidate vs 2 alternatives (closest: buy_and_hold)"
    assert evidence.run_ids == ("bt01", "cmp01", "st01", "wf01", "sw01")
    where = {o.where for o in evidence.observations["sharpe"]}
    assert where == {"scenario 'fees=0'", "scenario 'fees=0.001'", "candidate"}


def test_a_baseline_strategy_gets_onnx_and_latency_not_applicable_and_can_go() -> None:
    runs = [fakes.backtest(), fakes.compare(), fakes.stress(), fakes.walkforward()]
    results = evaluate_gates(DEFAULT_GATES, collect_evidence(runs, canary=PASSED))
    status = {r.gate.name: r.status for r in results}
    assert status["onnx_parity"] == status["onnx_action_agreement"] == status["decision_latency"] == NOT_APPLICABLE
    assert all(s == PASS for name, s in status.items() if name not in ("onnx_parity", "onnx_action_agreement",
                                                                        "decision_latency"))
    assert verdict(results).decision == GO


def test_a_soft_failure_is_conditional_and_a_peeking_decider_is_no_go() -> None:
    runs = [fakes.backtest(scenarios=[fakes.scenario("a", win_rate=0.45)]), fakes.stress(), fakes.walkforward()]
    assert verdict(evaluate_gates(DEFAULT_GATES, collect_evidence(runs, canary=PASSED))).decision == CONDITIONAL_GO
    results = evaluate_gates(DEFAULT_GATES, collect_evidence(runs, canary=PEEKED))
    canary = next(r for r in results if r.gate.name == "lookahead_canary")
    assert canary.value == 2.0 and canary.status == "FAIL"
    assert verdict(results).decision == NO_GO


def test_the_reality_check_gate_reads_the_largest_superiority_pvalue() -> None:
    runs = [fakes.backtest(), fakes.stress(), fakes.walkforward()]
    # Issue 18: the candidate must beat the best alternative of a comparison at 5%.
    passing = evaluate_gates(DEFAULT_GATES, collect_evidence([*runs, fakes.compare()], canary=PASSED))
    gate = next(r for r in passing if r.gate.name == "beats_best_alternative")
    assert (gate.status, gate.value) == (PASS, 0.03)
    two = [fakes.compare(), fakes.compare("cmp02", superior_pvalue=0.2)]
    failing = evaluate_gates(DEFAULT_GATES, collect_evidence([*runs, *two], canary=PASSED))
    gate = next(r for r in failing if r.gate.name == "beats_best_alternative")
    assert (gate.status, gate.value) == ("FAIL", 0.2) and "cmp02" in gate.explanation
    assert verdict(failing).decision == CONDITIONAL_GO  # not critical
    missing = evaluate_gates(DEFAULT_GATES, collect_evidence(runs, canary=PASSED))
    gate = next(r for r in missing if r.gate.name == "beats_best_alternative")
    assert gate.status == MISSING and "workbench compare" in gate.explanation
    assert verdict(missing).decision == CONDITIONAL_GO


def test_a_comparison_stored_before_the_reality_check_gives_no_pvalue() -> None:
    old = fakes.compare()
    old.summary.pop("reality_check")
    evidence = collect_evidence([old], canary=PASSED)
    assert "reality_check_pvalue" not in evidence.observations and values(evidence, "sharpe") == [1.4]


def test_without_a_stress_run_the_critical_gate_is_missing() -> None:
    results = evaluate_gates(DEFAULT_GATES, collect_evidence([fakes.backtest(), fakes.walkforward()], canary=PASSED))
    stress = next(r for r in results if r.gate.name == "stress_max_drawdown")
    assert stress.status == MISSING and "workbench stress" in stress.explanation
    assert verdict(results).decision == NO_GO


def test_policy_parity_and_latency_come_from_a_matching_model_card() -> None:
    run = fakes.backtest(spec=POLICY_SPEC, model_sha="weightsha")
    card = {"weights_sha256": "weightsha", "export": EXPORT}
    evidence = collect_evidence([run], model_card=card)
    assert values(evidence, "onnx_max_abs_logit_diff") == [3e-7]
    assert values(evidence, "onnx_action_agreement") == [1.0]
    assert values(evidence, "decision_latency_p99_ms") == [0.6]
    onnx_run = fakes.backtest(spec=POLICY_SPEC, model_sha="onnxsha")  # run on the ONNX runtime
    assert values(collect_evidence([onnx_run], model_card=card), "decision_latency_p99_ms") == [0.6]


@pytest.mark.parametrize(("card", "reason"), [
    (None, "model card was not found"),
    ({"weights_sha256": "other", "export": EXPORT}, "describes weights other"),
    ({"weights_sha256": "weightsha", "export": {}}, "holds no ONNX export report"),
])
def test_a_policy_without_usable_export_evidence_is_missing_with_the_reason(card, reason: str) -> None:
    run = fakes.backtest(spec=POLICY_SPEC, model_sha="weightsha")
    evidence = collect_evidence([run], model_card=card)
    result = next(r for r in evaluate_gates(DEFAULT_GATES, evidence) if r.gate.name == "onnx_parity")
    assert result.status == MISSING and reason in result.explanation and "export_policy" in result.explanation


def test_runs_of_different_deciders_are_refused() -> None:
    other = fakes.backtest("bt02", spec={**fakes.SMA_SPEC, "strategy_params": {"fast": "10"}})
    with pytest.raises(InvalidParameterError, match="bt01 and bt02 ran different deciders.*sma_cross\\(fast=10\\)"):
        collect_evidence([fakes.backtest(), other])
    torch_run = fakes.backtest("bt03", spec=POLICY_SPEC, model_sha="weightsha")
    onnx_run = fakes.backtest("bt04", spec=POLICY_SPEC, model_sha="onnxsha")
    with pytest.raises(InvalidParameterError, match="model weightsha vs symbol-agent-compact-stocks model onnxsha"):
        collect_evidence([torch_run, onnx_run])
    with pytest.raises(InvalidParameterError, match="at least one run"):
        collect_evidence([])


def test_issue15_the_inactivity_gates_fail_a_run_that_sat_in_cash() -> None:
    """A cash-only run has no drawdown to fail on; the activity minimums make it NO-GO."""
    cash = fakes.scenario("fees=0.001", sharpe=0.0, max_drawdown=0.0, total_return=0.0, win_rate=None,
                          profit_factor=None, excess_return=-0.1, trades_per_year=0.0, time_in_market=0.0)
    runs = [fakes.backtest(scenarios=[cash]), fakes.stress(), fakes.walkforward()]
    results = {r.gate.name: r for r in evaluate_gates(DEFAULT_GATES, collect_evidence(runs, canary=PASSED))}
    assert results["max_drawdown"].status == PASS  # sitting in cash passes the drawdown gate...
    assert results["min_trades"].status == "FAIL" and results["min_trades"].value == 0.0
    assert results["min_time_in_market"].status == "FAIL" and results["min_time_in_market"].gate.critical
    decision = verdict(list(results.values()))
    assert decision.decision == NO_GO and "min_trades (FAIL)" in decision.rule  # ...and still cannot go


def test_issue15_stress_windows_are_judged_inside_the_base_run() -> None:
    run = fakes.stress(drawdowns=(0.1, 0.2))
    replay = {"label": "Lehman weeks", "family": "historical", "max_drawdown": 0.02, "total_return": 0.0}
    run.summary["scenarios"].append(replay)
    run.summary["periods"] = [{"key": "lehman", "name": "Lehman weeks", "start": "2008-09-12", "end": "2008-10-10",
                               "in_base_run": {"total_return": -0.3, "max_drawdown": 0.45}}]
    evidence = collect_evidence([run])
    assert values(evidence, "stress_max_drawdown") == [0.1, 0.2, 0.45]  # the replay from cash is left out
    inside = evidence.observations["stress_max_drawdown"][-1]
    assert inside.where == "historical window 'Lehman weeks' inside the base run"
    gate = next(r for r in evaluate_gates(DEFAULT_GATES, evidence) if r.gate.name == "stress_max_drawdown")
    assert gate.status == "FAIL" and gate.value == 0.45  # the replay from cash (2%) would have passed


def test_issue15_a_paper_session_s_live_latency_replaces_the_offline_figure() -> None:
    card = {"weights_sha256": "weightsha", "export": EXPORT}  # offline p99 0.6 ms
    paper = fakes.FakeRun(fakes.FakeInfo("pp01", "paper", "weightsha"), {**POLICY_SPEC, "kind": "paper"},
                          {"latency_ms": {"n": 250, "p50": 1.0, "p99": 4.5, "max": 9.0}, "scenarios": []})
    backtest = fakes.backtest(spec=POLICY_SPEC, model_sha="weightsha")
    evidence = collect_evidence([backtest, paper], model_card=card)
    assert values(evidence, "decision_latency_p99_ms") == [4.5]
    assert evidence.observations["decision_latency_p99_ms"][0].where == "paper session, live p99 over 250 bars"
    assert values(evidence, "onnx_max_abs_logit_diff") == [3e-7]  # parity still comes from the card
    faster_live = fakes.FakeRun(paper.info, paper.spec, {**paper.summary, "latency_ms": {"n": 250, "p99": 0.2}})
    assert values(collect_evidence([backtest, faster_live], model_card=card), "decision_latency_p99_ms") == [0.2]
    assert values(collect_evidence([backtest], model_card=card), "decision_latency_p99_ms") == [0.6]
