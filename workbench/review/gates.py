"""GO/NO-GO gates: thresholds on what the reviewed runs measured, and the rule that turns them into a decision.

The defaults are the acceptance thresholds of the program plan (docs/design.md, program plan: "Final
Success Metrics", Phase 6 and Phase 7 success criteria) and the reality check of a comparison: the
candidate must beat the best alternative at 5%. A review may change them with a YAML file
(``assets/gates/default.yaml`` is the annotated default; see docs/review.md): a gate named in the
file overrides the default's fields it gives, a new name adds a gate, ``enabled: false`` drops one.

Each gate tests the *worst* observation of its metric: the lowest value for ``>``/``>=`` gates, the
highest for ``<``/``<=`` gates, so a threshold must hold in every cost scenario, stress scenario and
run the reviewer put forward.

The verdict rule (:func:`verdict`):

1. **NO-GO** when any critical gate fails or has no evidence;
2. **GO** when every gate passes (gates that do not apply to the decider, N/A, are left out);
3. **CONDITIONAL GO** otherwise: every critical gate passes, some non-critical gate fails or is missing.

Critical by default: portfolio Sharpe, max drawdown, the activity minimums (trades a year, time in
market), stress max drawdown, out-of-sample Sharpe and the look-ahead canary (the program plan makes
Sharpe/drawdown the gate to validation, drawdowns <= 40% under stress and OOS Sharpe > 0.6 the exit of
Phase 6, and lists a policy that only holds among its training warning signs; a policy that peeks at
the future has no valid result at all).
"""
from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from engine.errors import InvalidParameterError
from engine.names import unknown_name
from engine.yaml_files import read_yaml
from workbench.review.evidence import METRICS, Evidence, Observation

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
PASS, FAIL, MISSING, NOT_APPLICABLE = "PASS", "FAIL", "MISSING", "N/A"
GO, CONDITIONAL_GO, NO_GO = "GO", "CONDITIONAL GO", "NO-GO"
DECISIONS = (GO, CONDITIONAL_GO, NO_GO)

# assets/ ships beside workbench/ as data, located rather than imported (as workbench.policies does).
DEFAULT_GATES_FILE = Path(__file__).resolve().parents[2] / "assets" / "gates" / "default.yaml"


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


class GateFileError(InvalidParameterError):
    """A gates YAML file is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Gate:
    """One GO/NO-GO criterion: ``worst(metric) op threshold``.

    Attributes:
        name: Identifier (the key in a gates file).
        metric: The evidence metric it tests (``workbench.review.evidence.METRICS``).
        op: ``>``, ``>=``, ``<`` or ``<=``.
        threshold: The bound.
        critical: A failing or missing critical gate makes the verdict NO-GO.
        description: The criterion in words, with its source.
    """

    name: str
    metric: str
    op: str
    threshold: float
    critical: bool
    description: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InvalidParameterError(f"gate {self.name!r}: {unknown_name('metric', self.metric, METRICS)}")
        if self.op not in OPERATORS:
            raise InvalidParameterError(f"gate {self.name!r}: operator {self.op!r} is not one of "
                                        f"{', '.join(OPERATORS)}")
        if not _is_number(self.threshold):
            raise InvalidParameterError(f"gate {self.name!r}: threshold {self.threshold!r} is not a finite number")
        if not isinstance(self.critical, bool):
            raise InvalidParameterError(f"gate {self.name!r}: critical must be true or false, got {self.critical!r}")
        object.__setattr__(self, "threshold", float(self.threshold))

    @property
    def evidence(self) -> str:
        """Where the metric comes from (run kinds, model card, canary)."""
        return METRICS[self.metric].sources

    def holds(self, value: float) -> bool:
        """Whether ``value op threshold``."""
        return OPERATORS[self.op](value, self.threshold)

    def worst(self, observations: Sequence[Observation]) -> Observation:
        """The observation that decides: lowest for ``>``/``>=``, highest for ``<``/``<=``."""
        pick = min if self.op.startswith(">") else max
        return pick(observations, key=lambda o: o.value)


DEFAULT_GATES: tuple[Gate, ...] = (
    Gate("sharpe", "sharpe", ">", 1.0, True, "portfolio Sharpe > 1.0 (program plan, final success metrics)"),
    Gate("max_drawdown", "max_drawdown", "<", 0.30, True, "max drawdown < 30% (program plan, final success metrics)"),
    Gate("win_rate", "win_rate", ">", 0.50, False, "win rate > 50% (program plan, final success metrics)"),
    Gate("profit_factor", "profit_factor", ">", 1.3, False,
         "profit factor > 1.3 (program plan, final success metrics)"),
    Gate("excess_return", "excess_return", ">", 0.05, False,
         "annualized return > 5% above the equal-weight buy-and-hold benchmark (program plan: >5% over SPY)"),
    Gate("beats_best_alternative", "reality_check_pvalue", "<=", 0.05, False,
         "the candidate beats the best alternative at 5%: SPA p-value of 'some variant or baseline earns at least "
         "its mean per-bar return' <= 0.05 (docs/experiments.md, reality check)"),
    Gate("min_trades", "trades_per_year", ">=", 5.0, True,
         "at least 5 trades a year, so that the other gates judge a policy that trades (the program plan's "
         "warning sign: 'all actions = HOLD')"),
    Gate("min_time_in_market", "time_in_market", ">=", 0.30, True,
         "a position open at least 30% of the time, so that a drawdown gate cannot pass by sitting in cash"),
    Gate("stress_max_drawdown", "stress_max_drawdown", "<=", 0.40, True,
         "drawdown <= 40% in every stress scenario (program plan, Phase 6)"),
    Gate("oos_sharpe", "oos_sharpe", ">", 0.6, True, "out-of-sample Sharpe > 0.6 (program plan, Phase 6)"),
    Gate("walkforward_stability", "walkforward_positive_fraction", ">=", 0.6, False,
         "at least 60% of walk-forward folds with a positive OOS Sharpe (program plan: 'stable, no major "
         "degradation')"),
    Gate("onnx_parity", "onnx_max_abs_logit_diff", "<=", 1e-4, False,
         "ONNX logits within 1e-4 of torch (models.onnx_export)"),
    Gate("onnx_action_agreement", "onnx_action_agreement", ">=", 0.999, False,
         "ONNX picks the torch action on >= 99.9% of observations (models.onnx_export)"),
    Gate("decision_latency", "decision_latency_p99_ms", "<", 10.0, False,
         "p99 decision latency < 10 ms (program plan, Phase 7)"),
    Gate("lookahead_canary", "lookahead_violations", "<=", 0, True,
         "decisions unchanged when later bars are removed (look-ahead canary)"),
)


@dataclass(frozen=True)
class GateResult:
    """A gate tested on the evidence.

    Attributes:
        gate: The gate.
        status: ``PASS``, ``FAIL``, ``MISSING`` (no evidence) or ``N/A`` (cannot apply to the decider).
        value: The deciding (worst) observed value, or None.
        run_ids: Runs whose observations were considered.
        explanation: One sentence: which observation decided, or why there is none.
    """

    gate: Gate
    status: str
    value: float | None
    run_ids: tuple[str, ...]
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the gate's fields plus status, value, run ids, explanation and evidence."""
        return {**asdict(self.gate), "evidence": self.gate.evidence, "status": self.status,
                "value": self.value, "run_ids": list(self.run_ids), "explanation": self.explanation}


@dataclass(frozen=True)
class Verdict:
    """The decision and the rule that produced it."""

    decision: str
    rule: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def evaluate_gates(gates: Sequence[Gate], evidence: Evidence) -> list[GateResult]:
    """Test every gate on ``evidence`` (see the module docstring for the worst-observation rule)."""
    return [_evaluate(gate, evidence) for gate in gates]


def _evaluate(gate: Gate, evidence: Evidence) -> GateResult:
    if gate.metric in evidence.not_applicable:
        return GateResult(gate, NOT_APPLICABLE, None, (), f"not applicable: {evidence.not_applicable[gate.metric]}")
    observed = evidence.observations.get(gate.metric, ())
    run_ids = tuple(dict.fromkeys(o.run_id for o in observed if o.run_id))
    defined = [o for o in observed if o.value is not None and math.isfinite(o.value)]
    if not defined:
        info = METRICS[gate.metric]
        if gate.metric in evidence.gaps:
            why = f"{evidence.gaps[gate.metric]}; {info.fix}"
        elif observed:
            why = f"undefined in all {len(observed)} observations (e.g. no closed or no losing trade)"
        else:
            why = f"no reviewed run measures {info.description} (comes from: {info.sources}); {info.fix}"
        return GateResult(gate, MISSING, None, run_ids, why)
    worst = gate.worst(defined)
    failing = sum(not gate.holds(o.value) for o in defined)
    status = PASS if gate.holds(worst.value) else FAIL
    source = f"{worst.where}, run {worst.run_id}" if worst.run_id else worst.where
    text = f"worst of {len(defined)}: {worst.value:.4g} ({source}) {gate.op} {gate.threshold:g}"
    if status == FAIL:
        text = f"{failing} of {len(defined)} fail; {text} does not hold"
    if len(defined) < len(observed):
        text += f"; {len(observed) - len(defined)} undefined observation(s) ignored"
    return GateResult(gate, status, worst.value, run_ids, text)


def verdict(results: Sequence[GateResult]) -> Verdict:
    """GO, CONDITIONAL GO or NO-GO from gate results, with the rule that applied (module docstring)."""
    def listed(rows: list[GateResult]) -> str:
        return ", ".join(f"{r.gate.name} ({r.status})" for r in rows)

    critical = [r for r in results if r.gate.critical and r.status in (FAIL, MISSING)]
    if critical:
        return Verdict(NO_GO, f"NO-GO because critical gate(s) did not pass: {listed(critical)}")
    open_ = [r for r in results if r.status in (FAIL, MISSING)]
    applicable = sum(r.status != NOT_APPLICABLE for r in results)
    skipped = len(results) - applicable
    if not open_:
        note = f" ({skipped} not applicable)" if skipped else ""
        return Verdict(GO, f"GO because all {applicable} applicable gates passed{note}")
    return Verdict(CONDITIONAL_GO, "CONDITIONAL GO because every critical gate passed but non-critical gate(s) "
                                   f"did not: {listed(open_)}")


_GATE_KEYS = ("metric", "op", "threshold", "critical", "description", "enabled")
_REQUIRED_FOR_NEW = ("metric", "op", "threshold")


def load_gates(path: str | Path | None = None) -> tuple[Gate, ...]:
    """The default gates, changed by the YAML file at ``path`` (None: the defaults unchanged).

    The file holds one key, ``gates``: a mapping of gate name to fields (``metric``, ``op``,
    ``threshold``, ``critical``, ``description``, ``enabled``). A default gate's name overrides the
    fields given; a new name must give ``metric``, ``op`` and ``threshold``; ``enabled: false``
    removes the gate.

    Raises:
        GateFileError: a missing or unparsable file, an unknown key, a wrong type, an unknown
            operator or metric; the message names the file and the key.
    """
    if path is None:
        return DEFAULT_GATES
    path = Path(path)
    if not path.is_file():
        raise GateFileError(f"{path}: no such gates file; start from {DEFAULT_GATES_FILE}")
    document = read_yaml(path, GateFileError)
    if not isinstance(document, Mapping):
        raise GateFileError(f"{path}: a gates file is a mapping with one key, 'gates'")
    for key in document:
        if key != "gates":
            raise GateFileError(f"{path}: {unknown_name('top-level key', key, ['gates'])}")
    entries = document.get("gates") or {}
    if not isinstance(entries, Mapping):
        raise GateFileError(f"{path}: 'gates' must map gate names to their fields")
    gates = {g.name: g for g in DEFAULT_GATES}
    for name, entry in entries.items():
        updated = _gate_from_entry(path, str(name), entry, gates.get(str(name)))
        if updated is None:
            gates.pop(str(name), None)
        else:
            gates[str(name)] = updated
    return tuple(gates.values())


def _gate_from_entry(path: Path, name: str, entry: Any, default: Gate | None) -> Gate | None:
    where = f"{path}: gates.{name}"
    if not isinstance(entry, Mapping):
        raise GateFileError(f"{where}: must be a mapping of fields ({', '.join(_GATE_KEYS)})")
    for key in entry:
        if key not in _GATE_KEYS:
            raise GateFileError(f"{where}: {unknown_name('key', key, _GATE_KEYS)}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise GateFileError(f"{where}.enabled: {enabled!r} is not true or false")
    if not enabled:
        return None
    if default is None:
        missing = [k for k in _REQUIRED_FOR_NEW if k not in entry]
        if missing:
            raise GateFileError(f"{where}: a new gate needs {', '.join(missing)} (known gates: "
                                f"{', '.join(g.name for g in DEFAULT_GATES)})")
    if "threshold" in entry and not _is_number(entry["threshold"]):
        raise GateFileError(f"{where}.threshold: {entry['threshold']!r} is not a finite number; write e.g. "
                            "threshold: 1.0 (YAML reads 1e-4 as text: write 1.0e-4)")
    if "op" in entry and entry["op"] not in OPERATORS:
        raise GateFileError(f"{where}.op: {entry['op']!r} is not an operator; use one of "
                            f"{', '.join(repr(o) for o in OPERATORS)} (quoted)")
    if "metric" in entry and entry["metric"] not in METRICS:
        raise GateFileError(f"{where}.metric: {unknown_name('metric', entry['metric'], METRICS)}")
    if "critical" in entry and not isinstance(entry["critical"], bool):
        raise GateFileError(f"{where}.critical: {entry['critical']!r} is not true or false")
    if "description" in entry and not isinstance(entry["description"], str):
        raise GateFileError(f"{where}.description: must be text")
    values = {k: v for k, v in entry.items() if k != "enabled"}
    if default is not None:
        return replace(default, **values)
    return Gate(name=name, critical=bool(values.pop("critical", False)), **values)


def with_thresholds(thresholds: Mapping[str, Any], gates: Sequence[Gate] = DEFAULT_GATES) -> tuple[Gate, ...]:
    """``gates`` with the thresholds named in ``thresholds`` changed (validated by ``Gate``): what the
    app's review page edits; a gates file (:func:`load_gates`) can change every field.

    Raises:
        InvalidParameterError: an unknown gate name or a threshold that is not a finite number.
    """
    names = {g.name for g in gates}
    unknown = sorted(set(thresholds) - names)
    if unknown:
        raise InvalidParameterError(f"gate {unknown[0]!r} is unknown; gates: {', '.join(sorted(names))}")
    out = []
    for gate in gates:
        if gate.name in thresholds:
            value = thresholds[gate.name]
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"gate {gate.name!r}: threshold {value!r} is not a number; type e.g. {gate.threshold:g}") from None
            gate = replace(gate, threshold=value)
        out.append(gate)
    return tuple(out)
