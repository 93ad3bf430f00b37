"""A review's assessment: evidence from the runs, model card and canary, gate results and the verdict."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from engine.errors import InvalidParameterError
from workbench.policies import resolve_policy
from workbench.review.canary import CanaryResult, run_canary
from workbench.review.evidence import Evidence, StoredRunLike, collect_evidence
from workbench.review.gates import DEFAULT_GATES, Gate, GateResult, Verdict, evaluate_gates, verdict
from workbench.runs.evaluate import spec_data, spec_decider
from workbench.runs.spec import RunSpec

logger = logging.getLogger(__name__)

# The canary runs the decider len(cuts) + 1 times; a few hundred bars keep a neural policy to seconds.
CANARY_BARS = 300


@dataclass(frozen=True)
class Assessment:
    """Everything a review decides on.

    Attributes:
        runs: The reviewed runs.
        gates: The gates tested.
        evidence: What the runs, the model card and the canary measured.
        results: One result per gate, in gate order.
        verdict: The computed decision and its rule.
    """

    runs: tuple[StoredRunLike, ...]
    gates: tuple[Gate, ...]
    evidence: Evidence
    results: tuple[GateResult, ...]
    verdict: Verdict


def assess(runs: Sequence[StoredRunLike], gates: Sequence[Gate] = DEFAULT_GATES, *, canary: bool = True,
           canary_bars: int = CANARY_BARS) -> Assessment:
    """Collect the evidence of ``runs``, test ``gates`` and compute the verdict.

    Args:
        runs: Stored runs of one decider.
        gates: The gates (``workbench.review.gates.load_gates``).
        canary: Run the look-ahead canary on the runs' decider (without it the canary gate is MISSING).
        canary_bars: Bars of the canary's window: the last ``canary_bars`` of the first run's data.

    Raises:
        InvalidParameterError: no runs, runs of different deciders, or a spec that no longer resolves.
    """
    runs = tuple(runs)
    if not runs:
        raise InvalidParameterError("a review needs at least one run id; see `workbench runs list`")
    card = _model_card(runs[0].spec)
    result = lookahead_canary(runs[0].spec, canary_bars) if canary else None
    evidence = collect_evidence(runs, model_card=card, canary=result)
    results = tuple(evaluate_gates(gates, evidence))
    return Assessment(runs, tuple(gates), evidence, results, verdict(results))


def lookahead_canary(spec_values: Mapping[str, Any], bars: int = CANARY_BARS) -> CanaryResult:
    """The canary on a run's decider over the last ``bars`` bars of the run's data."""
    spec = RunSpec.from_dict(spec_values, source="stored run spec")
    data = spec_data(spec)
    if bars < 3:
        raise InvalidParameterError(f"canary bars {bars} must be at least 3")
    window = data.slice(data.index[max(0, len(data.index) - bars)], None)
    return run_canary(spec_decider(spec), window)


def _model_card(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The policy's ``model_card.json`` as JSON, None for a baseline or a checkpoint that is gone."""
    policy = spec.get("policy")
    if not policy:
        return None
    try:
        folder = resolve_policy(str(policy))
    except InvalidParameterError:
        logger.warning("policy %s no longer resolves; its ONNX gates have no evidence", policy)
        return None
    path = folder / "model_card.json"
    return json.loads(path.read_text()) if path.is_file() else None
