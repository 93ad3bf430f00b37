"""Compare: the candidate against every baseline and the benchmark, on identical data, fills and cash.

Every decider runs over the same one-scenario batch (:mod:`workbench.experiments.single_path`: the
spec's data, first cost point, cash and risk limits). Roles:

- ``candidate``: the spec's strategy (with its parameters) or policy;
- ``variant``: the other configurations tried: each combination of ``variants`` (a strategy's
  parameter lists) or each further policy of ``policies``;
- ``baseline``: every strategy of ``strategies.families.baseline`` with its default parameters (``random``
  takes the spec's seed), except one identical to the candidate;
- the benchmark, an equal-weight buy-and-hold of the universe, is in every metrics row
  (``benchmark_*``) and in ``summary["benchmark"]``.

Statistics (:mod:`workbench.experiments.statistics`, :mod:`workbench.experiments.reality_check`),
every bootstrap seeded with the spec's seed:

- per baseline, the paired stationary block bootstrap interval of
  ``Sharpe(candidate) - Sharpe(baseline)`` (annualized);
- the reality check: whether the candidate's mean per-bar return beats every *alternative* (each
  distinct variant and baseline), whether some alternative beats it (Hansen's SPA), and the model
  confidence set of all deciders;
- the deflated Sharpe ratio of the candidate over the *trials*: the candidate and its variants
  (and the baselines with ``dsr_baselines``), each distinct configuration once, a trial that came
  out of a hyperparameter search counted as the search's trials (:data:`SEARCH_TRIALS_KEY`); at
  the raw number of trials and at the effective number their correlation implies;
- the probability of backtest overfitting over the candidate and its variants, each distinct
  configuration once (the set one would pick the best from; baselines are not tuned
  alternatives), None with a reason when fewer than two; warnings when it carries little information.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from strategies.families import make_baseline
from strategies.families.baseline import STRATEGIES, strategy_parameters
from strategies.family import Decider
from workbench.experiments.common import regime_history
from workbench.experiments.reality_check import (
    BEATEN_HYPOTHESIS,
    LOSS,
    SUPERIOR_HYPOTHESIS,
    BootstrapSettings,
    ModelConfidenceSet,
    SpaPvalues,
    Superiority,
    beaten_test,
    model_confidence_set,
    superiority_test,
)
from workbench.experiments.regimes import regime_breakdown
from workbench.experiments.single_path import SinglePath, load_single_path
from workbench.experiments.statistics import (
    DeflatedSharpe,
    Overfitting,
    SharpeDifference,
    default_mean_block,
    deflated_sharpe_ratio,
    effective_trials,
    mean_correlation,
    probability_of_backtest_overfitting,
    return_correlation,
    sharpe_difference_ci,
)
from workbench.experiments.variants import check_value_lists, expand_variants, value_lists, variant_label
from workbench.policies import resolve_decider
from workbench.runs.evaluate import Evaluation, code_version, decider_run_id, spec_decider
from workbench.runs.spec import RunSpec, parse_options
from workbench.store.record import RunRecord

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]

SEARCH_TRIALS_KEY = "n_trials"
"""The key of a model card's ``search`` record (``models.symbol_agent.search``) that says how many
configurations the hyperparameter search that produced the checkpoint tried, pruned ones included."""


MAX_N_BOOT = 100_000
"""Bootstrap resamples at most: each draws a resampled copy of every contender's returns."""


@dataclass(frozen=True)
class CompareOptions:
    """Options of a compare run (spec ``options``; the CLI flag in brackets).

    Attributes:
        variants: ``{parameter: [values]}`` of the candidate strategy [--variants KEY=LIST]; each
            combination is one variant tried. Strategies only.
        policies: Further policies tried beside the spec's policy [--policy A,B]. Policies only.
        n_boot: Bootstrap resamples of each Sharpe difference, of the reality check and of the model
            confidence set [--n-boot] (default 1000).
        confidence: Two-sided coverage of the intervals [--confidence] (default 0.95).
        mean_block: Mean block length of the bootstrap in bars [--block]; None: ``round(T ** (1/3))``
            (the reality check and the confidence set round it to whole bars).
        pbo_blocks: CSCV blocks ``S`` of the overfitting probability, even [--pbo-blocks] (default 16).
        mcs_size: Size of the model confidence set [--mcs-size] (default 0.05: it holds the best
            decider with probability 0.95).
        dsr_baselines: Count the baselines as trials of the deflated Sharpe ratio [--dsr-baselines]
            (default False: the candidate and its variants, the configurations tried).
    """

    variants: Any = None
    policies: tuple[str, ...] = ()
    n_boot: int = 1000
    confidence: float = 0.95
    mean_block: float | None = None
    pbo_blocks: int = 16
    mcs_size: float = 0.05
    dsr_baselines: bool = False

    def __post_init__(self) -> None:
        variants = dict(self.variants) if isinstance(self.variants, tuple) else self.variants
        object.__setattr__(self, "variants", value_lists("variants", variants))
        policies = [self.policies] if isinstance(self.policies, str) else list(self.policies or ())
        object.__setattr__(self, "policies", tuple(str(p).strip() for p in policies if str(p).strip()))
        if isinstance(self.n_boot, bool) or not isinstance(self.n_boot, int) or not 1 <= self.n_boot <= MAX_N_BOOT:
            raise InvalidParameterError(
                f"compare option n_boot (--n-boot) {self.n_boot!r} must be an integer from 1 to {MAX_N_BOOT:_}")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)) \
                or not 0.0 < self.confidence < 1.0:
            raise InvalidParameterError(
                f"compare option confidence (--confidence) {self.confidence!r} must lie in (0, 1), e.g. 0.95")
        if self.mean_block is not None and (isinstance(self.mean_block, bool)
                                            or not isinstance(self.mean_block, (int, float))
                                            or not 1 <= self.mean_block < math.inf):
            raise InvalidParameterError(
                f"compare option mean_block (--block) {self.mean_block!r} must be a finite number of bars >= 1")
        if isinstance(self.pbo_blocks, bool) or not isinstance(self.pbo_blocks, int) \
                or self.pbo_blocks < 2 or self.pbo_blocks % 2:
            raise InvalidParameterError(
                f"compare option pbo_blocks (--pbo-blocks) {self.pbo_blocks!r} must be an even integer >= 2, e.g. 16")
        if isinstance(self.mcs_size, bool) or not isinstance(self.mcs_size, (int, float)) \
                or not 0.0 < self.mcs_size < 1.0:
            raise InvalidParameterError(
                f"compare option mcs_size (--mcs-size) {self.mcs_size!r} must lie in (0, 1), e.g. 0.05")
        if not isinstance(self.dsr_baselines, bool):
            raise InvalidParameterError(
                f"compare option dsr_baselines (--dsr-baselines) {self.dsr_baselines!r} must be true or false")

    def to_spec_options(self) -> dict[str, Any]:
        """Every option as plain JSON types, for the resolved spec."""
        out = asdict(self)
        out["variants"] = {k: list(v) for k, v in self.variants}
        out["policies"] = list(self.policies)
        return out


@dataclass
class Contender:
    """One decider of the comparison: its role, label, parameters, evaluation and returns."""

    role: str
    name: str
    params: dict[str, str]
    decider: Decider
    evaluation: Evaluation
    returns: np.ndarray

    @property
    def metrics(self) -> dict[str, Any]:
        return self.evaluation.metrics[0]

    def key(self) -> tuple:
        """Identity of the configuration: a policy's weights, or a strategy's name and typed parameters."""
        if self.decider.model_sha:
            return ("policy", self.decider.model_sha)
        policy = self.decider.policy
        return ("strategy", policy.name, tuple((k, getattr(policy, k)) for k in strategy_parameters(policy.name)))


@dataclass(frozen=True)
class TrialCount:
    """The trials the deflated Sharpe ratio counts.

    Attributes:
        measured: The distinct configurations measured on these bars: the candidate and its
            variants, and the baselines when ``baselines_counted``.
        search: Trials beyond the measured ones: for each measured trial that a hyperparameter
            search produced, the search's trials but itself (:data:`SEARCH_TRIALS_KEY`).
        baselines_counted: Whether the baselines are among ``measured``.
        mean_correlation: Mean pairwise correlation of the measured trials' per-bar returns; None
            with fewer than two (or no two that move).
    """

    measured: tuple[Contender, ...]
    search: int
    baselines_counted: bool
    mean_correlation: float | None

    @property
    def n_raw(self) -> int:
        """``N``: every trial counted once."""
        return len(self.measured) + self.search

    @property
    def n_effective(self) -> float:
        """``rho + (1 - rho) N`` (``statistics.effective_trials``)."""
        return effective_trials(self.n_raw, self.mean_correlation)

    def counted(self) -> dict[str, int]:
        """How many trials each role and the searches contribute."""
        roles = [c.role for c in self.measured]
        return {"candidate": roles.count("candidate"), "variants": roles.count("variant"),
                "baselines": roles.count("baseline"), "searched": self.search}


@dataclass(frozen=True)
class RealityCheckResult:
    """The reality check of a comparison (``workbench.experiments.reality_check``).

    Attributes:
        alternatives: The alternatives' names: each distinct variant and baseline.
        superior: Whether the candidate beats every alternative.
        beaten: Whether some alternative beats the candidate.
        confidence_set: The model confidence set of the candidate and the alternatives.
        settings: The bootstrap all three used.
    """

    alternatives: tuple[str, ...]
    superior: Superiority
    beaten: SpaPvalues
    confidence_set: ModelConfidenceSet
    settings: BootstrapSettings

    def to_dict(self) -> dict[str, Any]:
        """``summary["reality_check"]`` (keys in ``docs/experiments.md``)."""
        return {"loss": LOSS, "n_alternatives": len(self.alternatives), "bootstrap": self.settings.to_dict(),
                "superior": {"hypothesis": SUPERIOR_HYPOTHESIS, **self.superior.pvalues.to_dict(),
                             "closest": self.superior.closest,
                             "pairwise": [t.to_dict() for t in self.superior.pairwise]},
                "beaten": {"hypothesis": BEATEN_HYPOTHESIS, **self.beaten.to_dict()}}


@dataclass
class CompareResult:
    """A finished comparison; :meth:`summary` is what ``workbench compare --json`` prints."""

    run_id: str
    spec: RunSpec
    options: CompareOptions
    path: SinglePath
    candidate: Contender
    variants: list[Contender]
    baselines: list[Contender]
    differences: list[SharpeDifference]
    reality: RealityCheckResult
    deflated: DeflatedSharpe
    deflated_effective: DeflatedSharpe
    trials: TrialCount
    overfitting: Overfitting | None
    pbo_reason: str | None
    regimes: list[dict]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict[str, Any]:
        """The run as one JSON object (keys in ``docs/experiments.md``)."""
        metrics = self.candidate.metrics
        return {
            "run_id": self.run_id,
            "kind": self.spec.kind,
            "decider": self.candidate.decider.name,
            "placement": self.candidate.decider.placement_summary(),
            "spec": self.spec.to_dict(),
            "data": self.path.describe(),
            "costs": self.path.costs(),
            "candidate": _row(self.candidate),
            "variants": [_row(c) for c in self.variants],
            "baselines": [{**_row(c), "sharpe_diff": d.to_dict()} for c, d in zip(self.baselines, self.differences)],
            "benchmark": {"total_return": metrics["benchmark_return"],
                          "annualized_return": metrics["benchmark_annualized_return"]},
            "reality_check": self.reality.to_dict(),
            "model_confidence_set": self.reality.confidence_set.to_dict(),
            "deflated_sharpe": self.deflated.value,
            "deflated_sharpe_effective": self.deflated_effective.value,
            "deflated_sharpe_detail": self._deflated_detail(),
            "pbo": None if self.overfitting is None else self.overfitting.pbo,
            "pbo_reason": self.pbo_reason,
            "pbo_detail": None if self.overfitting is None else self.overfitting.to_dict(),
            "n_trials": self.trials.n_raw,
            "trials": [c.name for c in self.trials.measured],
            "bootstrap": {"n_boot": self.options.n_boot, "confidence": self.options.confidence,
                          "mean_block": self.differences[0].mean_block if self.differences else None,
                          "seed": self.spec.seed},
            "regimes": self.regimes,
            "notes": list(self.notes),
        }

    def _deflated_detail(self) -> dict[str, Any]:
        notes = []
        if len(self.trials.measured) < 2:
            notes.append("one trial measured here: its Sharpe variance V is 0, so SR0 = 0 and the DSR is the "
                         "probabilistic Sharpe ratio against 0 whatever N is; add variants (--variants, --policy A,B) "
                         "or count the baselines (--dsr-baselines) to measure V")
        effective = self.deflated_effective
        return {**self.deflated.to_dict(), "n_effective": effective.n_trials, "sr0_effective": effective.sr0,
                "value_effective": effective.value, "mean_correlation": self.trials.mean_correlation,
                "counted": self.trials.counted(), "baselines_counted": self.trials.baselines_counted,
                "notes": notes}

    def tables(self) -> dict[str, pd.DataFrame]:
        """``equity`` (timestamp index, one column per decider) and ``comparison`` (one row each)."""
        contenders = [self.candidate, *self.variants, *self.baselines]
        equity = pd.DataFrame({c.name: c.evaluation.rollout.equity[:, 0] for c in contenders},
                              index=self.path.batch.index)
        equity.index.name = "timestamp"
        diffs = {c.name: d for c, d in zip(self.baselines, self.differences)}
        pairwise = {t.name: t.pvalues.consistent for t in self.reality.superior.pairwise}
        mcs = self.reality.confidence_set.pvalues
        rows = []
        for c in contenders:
            diff = diffs.get(c.name)
            rows.append({"role": c.role, "name": c.name, "params": json.dumps(c.params, sort_keys=True),
                         **c.metrics,
                         "sharpe_diff": None if diff is None else diff.estimate,
                         "sharpe_diff_low": None if diff is None else diff.low,
                         "sharpe_diff_high": None if diff is None else diff.high,
                         "superior_pvalue": pairwise.get(c.name), "mcs_pvalue": mcs.get(c.name)})
        return {"equity": equity, "comparison": pd.DataFrame(rows)}

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The run as the run store keeps it."""
        data = self.path.data
        decider = self.candidate.decider
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=self.summary(),
            dataset=data.name, start=data.index[0].isoformat(), end=data.index[-1].isoformat(),
            decider=decider.name, model_sha=decider.model_sha, data_fingerprint=data.fingerprint(),
            code_version=code_version(), tables=self.tables(), tags=tuple(tags))


def run_compare(spec: RunSpec, progress: Progress | None = None) -> CompareResult:
    """Run the comparison ``spec`` (kind ``compare``) describes."""
    options = parse_options(spec, CompareOptions)
    spec = spec.replace(options=tuple(options.to_spec_options().items()))
    candidate_decider = spec_decider(spec)  # a bad name fails before any data is loaded
    variant_deciders, variant_notes = _variant_deciders(spec, options, candidate_decider)
    path = load_single_path(spec)
    baseline_deciders = _baseline_deciders(spec, candidate_decider)
    planned = ([("candidate", *_candidate_naming(spec), candidate_decider)] + variant_deciders
               + baseline_deciders)
    contenders = []
    for i, (role, name, params, decider) in enumerate(planned):
        if progress is not None:
            progress(f"compare: {i + 1}/{len(planned)} {name}")
        evaluation = path.run(decider)
        contenders.append(Contender(role, name, params, decider, evaluation, path.returns(evaluation)))
    candidate = contenders[0]
    variants = [c for c in contenders if c.role == "variant"]
    baselines = [c for c in contenders if c.role == "baseline"]
    annual = path.periods_per_year
    differences = [sharpe_difference_ci(candidate.returns, b.returns, periods_per_year=annual,
                                        n_boot=options.n_boot, confidence=options.confidence,
                                        mean_block=options.mean_block, seed=spec.seed) for b in baselines]
    block = options.mean_block if options.mean_block is not None else default_mean_block(len(candidate.returns))
    settings = BootstrapSettings(max(1, round(block)), options.n_boot, spec.seed)
    reality = _reality_check(candidate, _distinct(contenders)[1:], settings, options.mcs_size)
    tried = _distinct([candidate, *variants])
    trials = _trial_count(tried if not options.dsr_baselines else _distinct(contenders), options.dsr_baselines)
    sharpes = [sharpe_ratio(c.returns, 1.0) for c in trials.measured]
    deflated = deflated_sharpe_ratio(candidate.returns, sharpes, n_trials=trials.n_raw)
    deflated_effective = deflated_sharpe_ratio(candidate.returns, sharpes, n_trials=trials.n_effective)
    overfitting, reason = None, None
    if len(tried) < 2:
        reason = ("only one configuration of the candidate was tried; give --variants KEY=LIST (a strategy) "
                  "or --policy A,B (policies) to estimate the probability of backtest overfitting")
    else:
        overfitting = probability_of_backtest_overfitting(np.column_stack([c.returns for c in tried]),
                                                          options.pbo_blocks, periods_per_year=annual)
    regimes = regime_breakdown(candidate.evaluation, path.data, policy=candidate.decider.policy,
                               history=regime_history(spec, path.data))
    identity = decider_run_id(spec, path.data.fingerprint(), candidate.decider)
    return CompareResult(identity, spec, options, path, candidate, variants, baselines, differences, reality,
                         deflated, deflated_effective, trials, overfitting, reason, regimes,
                         path.notes + variant_notes)


def _reality_check(candidate: Contender, alternatives: list[Contender], settings: BootstrapSettings,
                   size: float) -> RealityCheckResult:
    names = [c.name for c in alternatives]
    others = np.column_stack([c.returns for c in alternatives])
    everyone = np.column_stack([candidate.returns, others])
    return RealityCheckResult(
        tuple(names), superiority_test(candidate.returns, others, names, settings),
        beaten_test(candidate.returns, others, names, settings),
        model_confidence_set(everyone, [candidate.name, *names], settings, size), settings)


def _trial_count(measured: list[Contender], baselines_counted: bool) -> TrialCount:
    correlation = (mean_correlation(return_correlation(np.column_stack([c.returns for c in measured])))
                   if len(measured) > 1 else None)
    search = sum(search_trials(c.decider.card, c.name) - 1 for c in measured)
    return TrialCount(tuple(measured), search, baselines_counted, correlation)


def search_trials(card: Any, name: str = "the policy") -> int:
    """How many configurations the hyperparameter search behind a checkpoint evaluated: its model
    card's ``search[SEARCH_TRIALS_KEY]``; 1 (the checkpoint alone) without a record.

    Raises:
        InvalidParameterError: a recorded count that is not a whole number >= 1.
    """
    search = getattr(card, "search", None)
    if search is None and isinstance(card, Mapping):
        search = card.get("search")
    value = (search or {}).get(SEARCH_TRIALS_KEY)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer() or value < 1:
        raise InvalidParameterError(
            f"{name}: model card search[{SEARCH_TRIALS_KEY!r}] = {value!r} is not a whole number of "
            "trials >= 1; the training that wrote it recorded its search wrongly")
    return int(value)


def _distinct(contenders: list[Contender]) -> list[Contender]:
    """The first contender of each configuration: one met twice (a variant equal to a baseline,
    a policy given by name and by path) is one trial."""
    seen: dict[tuple, Contender] = {}
    for contender in contenders:
        seen.setdefault(contender.key(), contender)
    return list(seen.values())


def _candidate_naming(spec: RunSpec) -> tuple[str, dict[str, str]]:
    if spec.policy is not None:
        return spec.policy, {}
    params = dict(spec.strategy_params)
    return variant_label(spec.strategy, params), params


def _variant_deciders(spec: RunSpec, options: CompareOptions, candidate: Decider,
                      ) -> tuple[list[tuple[str, str, dict[str, str], Decider]], tuple[str, ...]]:
    """The variants as ``(role, name, params, decider)`` and notes on the combinations left out."""
    if options.variants and spec.strategy is None:
        raise InvalidParameterError(
            "--variants (compare option variants) varies a strategy's parameters; for policies list "
            "several with --policy A,B (compare option policies)")
    if options.policies and spec.policy is None:
        raise InvalidParameterError(
            "compare option policies (--policy A,B) lists further policies; with --strategy use "
            "--variants KEY=LIST")
    out, notes = [], ()
    if options.variants:
        check_value_lists("--variants", spec.strategy, options.variants)
        valid, rejected = expand_variants(spec.strategy, dict(spec.strategy_params), options.variants)
        if not valid:
            raise InvalidParameterError(
                f"every variant is rejected by {spec.strategy} ("
                + "; ".join(variant_label(spec.strategy, p) for p in rejected)
                + "); give valid values with --variants KEY=LIST")
        if rejected:
            shown = "; ".join(variant_label(spec.strategy, p) for p in rejected)
            notes = (f"{len(rejected)} variant(s) left out because {spec.strategy} rejects them: {shown}",)
        for params in valid:
            decider = make_baseline(spec.strategy, params)
            if decider.policy != candidate.policy:
                out.append(("variant", variant_label(spec.strategy, params), params, decider))
    for name in dict.fromkeys(options.policies):
        if name != spec.policy:
            out.append(("variant", name, {}, spec_decider(spec.replace(policy=name))))
    return out, notes


def _baseline_deciders(spec: RunSpec, candidate: Decider) -> list[tuple[str, str, dict[str, str], Decider]]:
    out = []
    for name in STRATEGIES:
        params = {"seed": str(spec.seed)} if name == "random" else {}
        decider = resolve_decider(name, params)
        if spec.strategy is not None and decider.policy == candidate.policy:
            continue
        out.append(("baseline", name, params, decider))
    return out


def _row(contender: Contender) -> dict[str, Any]:
    return {"name": contender.name, "role": contender.role, "params": contender.params, **contender.metrics}
