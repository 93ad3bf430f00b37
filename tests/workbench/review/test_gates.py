"""Gates: operators and thresholds on hand-made evidence, the worst-observation rule, the verdict
rules, and the YAML file (defaults equal to the shipped asset; bad files rejected with typed errors)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.review.evidence import METRICS, Evidence, Observation
from workbench.review.gates import (
    CONDITIONAL_GO,
    DEFAULT_GATES,
    DEFAULT_GATES_FILE,
    FAIL,
    GO,
    MISSING,
    NO_GO,
    NOT_APPLICABLE,
    PASS,
    Gate,
    GateFileError,
    GateResult,
    evaluate_gates,
    load_gates,
    verdict,
)


def evidence(**values: float | list[float | None]) -> Evidence:
    observations = {}
    for metric, value in values.items():
        items = value if isinstance(value, list) else [value]
        observations[metric] = tuple(Observation(v, f"run{i}", f"scenario {i}") for i, v in enumerate(items))
    return Evidence(run_ids=("run0",), decider="sma_cross", model_sha="", observations=observations)


def result(gate: Gate, observed: float | list[float | None]) -> GateResult:
    return evaluate_gates([gate], evidence(**{gate.metric: observed}))[0]


@pytest.mark.parametrize(("op", "value", "status"), [
    (">", 1.01, PASS), (">", 1.0, FAIL), (">", 0.99, FAIL),
    (">=", 1.0, PASS), (">=", 0.999, FAIL),
    ("<", 0.99, PASS), ("<", 1.0, FAIL),
    ("<=", 1.0, PASS), ("<=", 1.001, FAIL),
])
def test_each_operator_at_and_around_the_threshold(op: str, value: float, status: str) -> None:
    out = result(Gate("g", "sharpe", op, 1.0, True), value)
    assert (out.status, out.value, out.run_ids) == (status, value, ("run0",))


def test_default_thresholds_match_the_seed_plan() -> None:
    got = {g.name: (g.metric, g.op, g.threshold, g.critical) for g in DEFAULT_GATES}
    assert got == {
        "sharpe": ("sharpe", ">", 1.0, True),
        "max_drawdown": ("max_drawdown", "<", 0.30, True),
        "win_rate": ("win_rate", ">", 0.50, False),
        "profit_factor": ("profit_factor", ">", 1.3, False),
        "excess_return": ("excess_return", ">", 0.05, False),
        "beats_best_alternative": ("reality_check_pvalue", "<=", 0.05, False),
        "min_trades": ("trades_per_year", ">=", 5.0, True),
        "min_time_in_market": ("time_in_market", ">=", 0.30, True),
        "stress_max_drawdown": ("stress_max_drawdown", "<=", 0.40, True),
        "oos_sharpe": ("oos_sharpe", ">", 0.6, True),
        "walkforward_stability": ("walkforward_positive_fraction", ">=", 0.6, False),
        "onnx_parity": ("onnx_max_abs_logit_diff", "<=", 1e-4, False),
        "onnx_action_agreement": ("onnx_action_agreement", ">=", 0.999, False),
        "decision_latency": ("decision_latency_p99_ms", "<", 10.0, False),
        "lookahead_canary": ("lookahead_violations", "<=", 0.0, True),
    }


def test_the_worst_observation_decides() -> None:
    sharpe = result(Gate("s", "sharpe", ">", 1.0, True), [1.5, 0.8, 1.2])
    assert (sharpe.status, sharpe.value) == (FAIL, 0.8)
    assert "1 of 3 fail" in sharpe.explanation and "scenario 1" in sharpe.explanation
    assert sharpe.run_ids == ("run0", "run1", "run2")
    drawdown = result(Gate("d", "max_drawdown", "<", 0.3, True), [0.1, 0.29, 0.2])
    assert (drawdown.status, drawdown.value) == (PASS, 0.29)


def test_undefined_observations_are_ignored_and_all_undefined_is_missing() -> None:
    partly = result(Gate("p", "profit_factor", ">", 1.3, False), [None, 1.5])
    assert (partly.status, partly.value) == (PASS, 1.5) and "1 undefined" in partly.explanation
    none = result(Gate("p", "profit_factor", ">", 1.3, False), [None, None])
    assert none.status == MISSING and "undefined in all 2" in none.explanation


def test_missing_and_not_applicable_say_why() -> None:
    gate = Gate("oos", "oos_sharpe", ">", 0.6, True)
    missing = evaluate_gates([gate], evidence())[0]
    assert missing.status == MISSING and missing.value is None and "walk-forward" in missing.explanation
    na = Evidence(("r",), "sma_cross", "", not_applicable={"onnx_max_abs_logit_diff": "a baseline strategy"})
    out = evaluate_gates([Gate("onnx", "onnx_max_abs_logit_diff", "<=", 1e-4, False)], na)[0]
    assert out.status == NOT_APPLICABLE and "a baseline strategy" in out.explanation
    gap = Evidence(("r",), "agent", "abc", gaps={"decision_latency_p99_ms": "the model card holds no ONNX export"})
    out = evaluate_gates([Gate("lat", "decision_latency_p99_ms", "<", 10.0, False)], gap)[0]
    assert out.status == MISSING and "holds no ONNX export" in out.explanation and "export" in out.explanation


def _results(statuses: dict[str, str]) -> list[GateResult]:
    gates = {g.name: g for g in DEFAULT_GATES}
    return [GateResult(gates[name], status, None, (), "") for name, status in statuses.items()]


def test_verdict_rules() -> None:
    all_pass = {g.name: PASS for g in DEFAULT_GATES}
    assert verdict(_results(all_pass)).decision == GO
    na = {**all_pass, "onnx_parity": NOT_APPLICABLE, "decision_latency": NOT_APPLICABLE}
    got = verdict(_results(na))
    assert got.decision == GO and "all 13 applicable gates passed (2 not applicable)" in got.rule
    soft = verdict(_results({**all_pass, "win_rate": FAIL, "decision_latency": MISSING}))
    assert soft.decision == CONDITIONAL_GO and "win_rate (FAIL), decision_latency (MISSING)" in soft.rule
    hard = verdict(_results({**all_pass, "win_rate": FAIL, "sharpe": FAIL}))
    assert hard.decision == NO_GO and "sharpe (FAIL)" in hard.rule and "win_rate" not in hard.rule
    assert verdict(_results({**all_pass, "lookahead_canary": MISSING})).decision == NO_GO


_RANK = {GO: 0, CONDITIONAL_GO: 1, NO_GO: 2}


@given(st.lists(st.sampled_from([PASS, FAIL, MISSING, NOT_APPLICABLE]), min_size=len(DEFAULT_GATES),
                max_size=len(DEFAULT_GATES)), st.integers(0, len(DEFAULT_GATES) - 1))
def test_a_failing_gate_never_improves_the_verdict(statuses: list[str], index: int) -> None:
    names = [g.name for g in DEFAULT_GATES]
    before = verdict(_results(dict(zip(names, statuses))))
    after = verdict(_results(dict(zip(names, statuses[:index] + [FAIL] + statuses[index + 1:]))))
    assert _RANK[after.decision] >= _RANK[before.decision]
    assert (before.decision == GO) == all(s in (PASS, NOT_APPLICABLE) for s in statuses)


def test_the_shipped_yaml_equals_the_defaults() -> None:
    assert load_gates(DEFAULT_GATES_FILE) == DEFAULT_GATES
    assert load_gates(None) == DEFAULT_GATES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(text)
    return path


def test_a_file_overrides_adds_and_drops_gates(tmp_path: Path) -> None:
    gates = load_gates(write(tmp_path, """
gates:
  sharpe: {threshold: 0.8}
  win_rate: {enabled: false}
  sortino_floor: {metric: sharpe, op: ">=", threshold: 0.5, critical: true, description: extra}
"""))
    by_name = {g.name: g for g in gates}
    assert by_name["sharpe"].threshold == 0.8 and by_name["sharpe"].op == ">" and by_name["sharpe"].critical
    assert "win_rate" not in by_name
    assert by_name["sortino_floor"] == Gate("sortino_floor", "sharpe", ">=", 0.5, True, "extra")
    assert [g.name for g in gates][-1] == "sortino_floor" and len(gates) == len(DEFAULT_GATES)


@pytest.mark.parametrize(("text", "expected"), [
    ("gates:\n  sharpe: {treshold: 0.8}\n",
     "gates.sharpe: key 'treshold' is unknown; allowed: metric, op, threshold, critical, description, enabled. "
     "Did you mean 'threshold'?"),
    ("gate:\n  sharpe: {threshold: 0.8}\n", "top-level key 'gate' is unknown; allowed: gates. Did you mean 'gates'?"),
    ("gates:\n  sharpe: {threshold: high}\n", "gates.sharpe.threshold: 'high' is not a finite number"),
    ("gates:\n  onnx_parity: {threshold: 1e-4}\n", "write 1.0e-4"),
    ("gates:\n  sharpe: {threshold: true}\n", "gates.sharpe.threshold: True is not a finite number"),
    ("gates:\n  sharpe: {threshold: .nan}\n", "is not a finite number"),
    ("gates:\n  sharpe: {op: '=>'}\n", "gates.sharpe.op: '=>' is not an operator"),
    ("gates:\n  sharpe: {op: '=='}\n", "gates.sharpe.op: '==' is not an operator"),
    ("gates:\n  sharpe: {metric: sharp}\n", "lookahead_violations. Did you mean 'sharpe'?"),
    ("gates:\n  sharpe: {critical: 'yes please'}\n", "gates.sharpe.critical: 'yes please' is not true or false"),
    ("gates:\n  sharpe: {enabled: 0}\n", "gates.sharpe.enabled: 0 is not true or false"),
    ("gates:\n  fresh: {metric: sharpe, op: '>'}\n", "gates.fresh: a new gate needs threshold"),
    ("gates:\n  sharpe: 1.0\n", "gates.sharpe: must be a mapping"),
    ("gates: [sharpe]\n", "'gates' must map gate names"),
    ("- gates\n", "a gates file is a mapping"),
    ("gates: {sharpe: [\n", "not valid YAML"),
])
def test_bad_gate_files_raise_typed_errors_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(GateFileError) as error:
        load_gates(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_a_missing_gates_file_points_at_the_default(tmp_path: Path) -> None:
    with pytest.raises(GateFileError, match="no such gates file.*default.yaml"):
        load_gates(tmp_path / "nope.yaml")


def test_gate_constructor_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="operator '!=' is not one of"):
        Gate("g", "sharpe", "!=", 1.0, True)
    with pytest.raises(ValueError, match="metric 'sharp' is unknown"):
        Gate("g", "sharp", ">", 1.0, True)
    with pytest.raises(ValueError, match="critical must be true or false"):
        Gate("g", "sharpe", ">", 1.0, "yes")


def test_every_metric_has_a_fix_and_a_source() -> None:
    assert all(info.fix and info.sources and info.description for info in METRICS.values())
    assert {g.metric for g in DEFAULT_GATES} == set(METRICS)
