"""What the reviewed runs measured, as observations per gate metric.

:func:`collect_evidence` reads stored runs (anything with ``.info.run_id``, ``.info.kind``,
``.summary``, ``.spec``; :class:`StoredRunLike`), a policy's model card and a look-ahead canary
result, and files every number a gate can test under its metric key (:data:`METRICS`). A metric
may be observed many times (each cost scenario of a backtest, each stress scenario); the gate
decides which observation counts (the worst, see ``workbench.review.gates``). A metric that cannot
apply to the decider (ONNX parity of a baseline strategy) is recorded as *not applicable* with the
reason, so the gate says N/A instead of passing silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from engine.errors import InvalidParameterError
from workbench.experiments.variants import variant_label
from workbench.review.canary import CanaryResult
from workbench.runs.registry import run_kind


@dataclass(frozen=True)
class MetricInfo:
    """A metric the gates can test.

    Attributes:
        description: What the number is, with its unit.
        sources: Where it comes from (run kinds, ``model card``, ``canary``), for messages.
        fix: How to produce the evidence when none of the reviewed runs holds it.
    """

    description: str
    sources: str
    fix: str


_BACKTEST_FIX = "add a backtest or compare run of the decider to the review"
METRICS: dict[str, MetricInfo] = {
    "sharpe": MetricInfo("annualized Sharpe ratio of the portfolio", "backtest, compare", _BACKTEST_FIX),
    "max_drawdown": MetricInfo("maximum drawdown of the portfolio (fraction of peak equity)",
                               "backtest, compare", _BACKTEST_FIX),
    "win_rate": MetricInfo("share of closed trades with a profit", "backtest, compare", _BACKTEST_FIX),
    "profit_factor": MetricInfo("gross profit / gross loss of closed trades", "backtest, compare", _BACKTEST_FIX),
    "excess_return": MetricInfo(
        "annualized return minus that of an equal-weight buy-and-hold of the universe",
        "backtest, compare", _BACKTEST_FIX),
    "reality_check_pvalue": MetricInfo(
        "p-value (Hansen's SPA, consistent) of 'some alternative (a variant or a baseline) earns at least the "
        "candidate's mean per-bar return'; small: the candidate beats the best alternative", "compare",
        "add a compare run (`workbench compare`) of the decider to the review"),
    "trades_per_year": MetricInfo("exit trades per year of the portfolio (closed plus open)", "backtest, compare",
                                  _BACKTEST_FIX),
    "time_in_market": MetricInfo("share of bars with any position open", "backtest, compare", _BACKTEST_FIX),
    "stress_max_drawdown": MetricInfo(
        "maximum drawdown in a stress scenario: every synthetic scenario, and each historical stress window "
        "as it went inside the base run", "stress", "add a stress run (`workbench stress`) to the review"),
    "oos_sharpe": MetricInfo("Sharpe ratio of the concatenated out-of-sample walk-forward folds", "walkforward",
                             "add a walk-forward run (`workbench walkforward`) to the review"),
    "walkforward_positive_fraction": MetricInfo(
        "share of walk-forward folds with a positive out-of-sample Sharpe", "walkforward",
        "add a walk-forward run (`workbench walkforward`) to the review"),
    "onnx_max_abs_logit_diff": MetricInfo(
        "largest |torch - onnxruntime| logit of the policy's ONNX export", "model card",
        "export the policy to ONNX (workbench.policies.export.export_policy), which records the report in "
        "its model card"),
    "onnx_action_agreement": MetricInfo(
        "share of observations where the ONNX export picks the torch action", "model card",
        "export the policy to ONNX (workbench.policies.export.export_policy), which records the report in "
        "its model card"),
    "decision_latency_p99_ms": MetricInfo(
        "p99 latency of one decision, milliseconds: a paper session's live figure when the review holds one, "
        "else the model card's offline onnxruntime figure (batch 1)", "paper, model card",
        "add a paper session (`workbench paper`) to the review, or export the policy to ONNX "
        "(workbench.policies.export.export_policy), which measures its latency offline"),
    "lookahead_violations": MetricInfo(
        "cut points at which decisions on truncated data differ from the full run", "canary",
        "run the review with the canary (drop --no-canary)"),
}
_NEURAL_ONLY = ("onnx_max_abs_logit_diff", "onnx_action_agreement", "decision_latency_p99_ms")


class RunInfoLike(Protocol):
    run_id: str
    kind: str
    model_sha: str


class StoredRunLike(Protocol):
    """The part of ``workbench.store`` 's ``StoredRun`` the review reads."""

    info: RunInfoLike
    spec: Mapping[str, Any]
    summary: Mapping[str, Any]
    tables: tuple[str, ...]

    def load_table(self, name: str) -> Any:
        ...


@dataclass(frozen=True)
class Observation:
    """One measured value of a metric.

    Attributes:
        value: The number, or None where the run's metric is undefined (e.g. a profit factor with
            no losing trade).
        run_id: The run that measured it ("" for the model card and the canary).
        where: Which part of the run, for explanations (``"scenario 'fees=0.001'"``).
    """

    value: float | None
    run_id: str
    where: str


@dataclass(frozen=True)
class Evidence:
    """Everything the gates test.

    Attributes:
        run_ids: The reviewed runs, in the order given.
        decider: The strategy or policy they all ran.
        model_sha: Its weights sha256 ("" for a baseline strategy).
        observations: Metric -> observations.
        not_applicable: Metric -> why it does not apply to this decider.
        gaps: Metric -> why it is missing although it applies (e.g. no export in the model card).
        canary: The look-ahead canary's result, when it ran.
    """

    run_ids: tuple[str, ...]
    decider: str
    model_sha: str
    observations: Mapping[str, tuple[Observation, ...]] = field(default_factory=dict)
    not_applicable: Mapping[str, str] = field(default_factory=dict)
    gaps: Mapping[str, str] = field(default_factory=dict)
    canary: CanaryResult | None = None


def _decider_identity(run: StoredRunLike) -> tuple[Any, ...]:
    """What makes two runs' deciders the same: strategy and parameters, or policy and weights."""
    spec = run.spec
    return (spec.get("strategy"), tuple(sorted(dict(spec.get("strategy_params") or {}).items())),
            spec.get("policy"), run.info.model_sha)


def collect_evidence(runs: Sequence[StoredRunLike], model_card: Mapping[str, Any] | None = None,
                     canary: CanaryResult | None = None) -> Evidence:
    """File what ``runs``, the policy's model card and the canary measured under each gate metric.

    Args:
        runs: The reviewed runs; all must run the same decider.
        model_card: The policy's ``model_card.json`` (neural policies); its ``export`` field holds the
            ONNX parity and latency report (``models.onnx_export.ExportReport.to_dict()``).
        canary: The look-ahead canary's result on the runs' decider.

    Raises:
        InvalidParameterError: no runs, or runs of different deciders.
    """
    if not runs:
        raise InvalidParameterError("a review needs at least one run id; see `workbench runs list`")
    first = runs[0]
    for run in runs[1:]:
        if _decider_identity(run) != _decider_identity(first):
            names = [_decider_name(first), _decider_name(run)]
            if names[0] == names[1]:  # same policy, other weights (or the torch vs the ONNX runtime)
                names = [f"{n} model {r.info.model_sha[:12] or '-'}" for n, r in zip(names, (first, run))]
            raise InvalidParameterError(
                f"runs {first.info.run_id} and {run.info.run_id} ran different deciders "
                f"({names[0]} vs {names[1]}); review one decider's runs at a time")
    observations: dict[str, list[Observation]] = {key: [] for key in METRICS}
    for run in runs:
        for metric, value, where in run_kind(run.info.kind).evidence(run):
            observations[metric].append(Observation(value, run.info.run_id, where))
    model_sha = str(first.info.model_sha or "")
    not_applicable: dict[str, str] = {}
    gaps: dict[str, str] = {}
    if not model_sha:
        for key in _NEURAL_ONLY:
            not_applicable[key] = (f"{_decider_name(first)} is a baseline strategy: it has no network to export "
                                   "or serve")
    else:
        _read_model_card(model_card, model_sha, observations, gaps,
                         live_latency=bool(observations["decision_latency_p99_ms"]))
    if canary is not None:
        observations["lookahead_violations"].append(Observation(
            float(canary.violations), "", f"canary on {canary.window} at cuts {list(canary.cuts)}"))
    return Evidence(
        run_ids=tuple(r.info.run_id for r in runs), decider=_decider_name(first), model_sha=model_sha,
        observations={k: tuple(v) for k, v in observations.items() if v},
        not_applicable=not_applicable, gaps=gaps, canary=canary)


def _decider_name(run: StoredRunLike) -> str:
    spec = run.spec
    if spec.get("policy"):
        return str(spec["policy"])
    return variant_label(str(spec.get("strategy")), dict(spec.get("strategy_params") or {}))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _read_model_card(card: Mapping[str, Any] | None, model_sha: str, out: dict[str, list[Observation]],
                     gaps: dict[str, str], live_latency: bool) -> None:
    """The ONNX parity and, unless a paper session measured it live (``live_latency``), the offline
    decision latency of the card's export report."""
    def gap(reason: str) -> None:
        for key in _NEURAL_ONLY:
            if not (live_latency and key == "decision_latency_p99_ms"):
                gaps[key] = reason

    if card is None:
        return gap("the policy's model card was not found")
    export = card.get("export") or {}
    # A run's model sha is that of the weights (torch runtime) or of the ONNX file (ONNX runtime).
    known = {str(card.get("weights_sha256", "")), str(export.get("sha256", ""))} - {""}
    if model_sha not in known:
        return gap(f"the model card describes weights {str(card.get('weights_sha256', ''))[:12]}, the runs "
                   f"used {model_sha[:12]}")
    if not export:
        return gap("the model card holds no ONNX export report")
    where = f"model card export ({export.get('n_rows', '?')} observations)"
    for key, source in (("onnx_max_abs_logit_diff", "max_abs_logit_diff"),
                        ("onnx_action_agreement", "action_agreement")):
        if source in export:
            out[key].append(Observation(_number(export[source]), "", where))
    latency = (export.get("latency_ms") or {}).get("1") or {}
    if "p99" in latency and not live_latency:  # a live figure beats the offline one
        out["decision_latency_p99_ms"].append(Observation(_number(latency["p99"]), "", "model card export, batch 1"))
