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

Statistics (:mod:`workbench.experiments.statistics`):

- per baseline, the paired stationary block bootstrap interval of
  ``Sharpe(candidate) - Sharpe(baseline)`` (annualized, seeded with the spec's seed);
- the deflated Sharpe ratio of the candidate over the *trials*: candidate, variants and baselines,
  each distinct configuration counted once (every Sharpe ratio looked at on this data);
- the probability of backtest overfitting over the candidate and its variants, each distinct
  configuration once (the set one would pick the best from; baselines are not tuned
  alternatives), None with a reason when fewer than two.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from strategies.families import make_baseline
from strategies.families.baseline import STRATEGIES, strategy_parameters
from strategies.family import Decider
from workbench.experiments.common import regime_history
from workbench.experiments.regimes import regime_breakdown
from workbench.experiments.single_path import SinglePath, load_single_path
from workbench.experiments.statistics import (
    DeflatedSharpe,
    Overfitting,
    SharpeDifference,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_difference_ci,
)
from workbench.experiments.variants import check_value_lists, expand_variants, value_lists, variant_label
from workbench.policies import resolve_decider
from workbench.runs.evaluate import Evaluation, code_version, run_id, spec_decider
from workbench.runs.spec import RunSpec, parse_options
from workbench.store.record import RunRecord

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


MAX_N_BOOT = 100_000
"""Bootstrap resamples at most: each draws a resampled copy of every contender's returns."""


@dataclass(frozen=True)
class CompareOptions:
    """Options of a compare run (spec ``options``; the CLI flag in brackets).

    Attributes:
        variants: ``{parameter: [values]}`` of the candidate strategy [--variants KEY=LIST]; each
            combination is one variant tried. Strategies only.
        policies: Further policies tried beside the spec's policy [--policy A,B]. Policies only.
        n_boot: Bootstrap resamples of each Sharpe difference [--n-boot] (default 1000).
        confidence: Two-sided coverage of the intervals [--confidence] (default 0.95).
        mean_block: Mean block length of the bootstrap in bars [--block]; None: ``round(T ** (1/3))``.
        pbo_blocks: CSCV blocks ``S`` of the overfitting probability, even [--pbo-blocks] (default 16).
    """

    variants: Any = None
    policies: tuple[str, ...] = ()
    n_boot: int = 1000
    confidence: float = 0.95
    mean_block: float | None = None
    pbo_blocks: int = 16

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
    deflated: DeflatedSharpe
    trials: list[Contender]
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
            "spec": self.spec.to_dict(),
            "data": self.path.describe(),
            "costs": self.path.costs(),
            "candidate": _row(self.candidate),
            "variants": [_row(c) for c in self.variants],
            "baselines": [{**_row(c), "sharpe_diff": d.to_dict()} for c, d in zip(self.baselines, self.differences)],
            "benchmark": {"total_return": metrics["benchmark_return"],
                          "annualized_return": metrics["benchmark_annualized_return"]},
            "deflated_sharpe": self.deflated.value,
            "deflated_sharpe_detail": self.deflated.to_dict(),
            "pbo": None if self.overfitting is None else self.overfitting.pbo,
            "pbo_reason": self.pbo_reason,
            "pbo_detail": None if self.overfitting is None else self.overfitting.to_dict(),
            "n_trials": len(self.trials),
            "trials": [c.name for c in self.trials],
            "bootstrap": {"n_boot": self.options.n_boot, "confidence": self.options.confidence,
                          "mean_block": self.differences[0].mean_block if self.differences else None,
                          "seed": self.spec.seed},
            "regimes": self.regimes,
            "notes": list(self.notes),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """``equity`` (timestamp index, one column per decider) and ``comparison`` (one row each)."""
        contenders = [self.candidate, *self.variants, *self.baselines]
        equity = pd.DataFrame({c.name: c.evaluation.rollout.equity[:, 0] for c in contenders},
                              index=self.path.batch.index)
        equity.index.name = "timestamp"
        diffs = {c.name: d for c, d in zip(self.baselines, self.differences)}
        rows = []
        for c in contenders:
            diff = diffs.get(c.name)
            rows.append({"role": c.role, "name": c.name, "params": json.dumps(c.params, sort_keys=True),
                         **c.metrics,
                         "sharpe_diff": None if diff is None else diff.estimate,
                         "sharpe_diff_low": None if diff is None else diff.low,
                         "sharpe_diff_high": None if diff is None else diff.high})
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
    trials = _distinct(contenders)
    deflated = deflated_sharpe_ratio(candidate.returns, [sharpe_ratio(c.returns, 1.0) for c in trials])
    overfitting, reason = None, None
    tried = _distinct([candidate, *variants])
    if len(tried) < 2:
        reason = ("only one configuration of the candidate was tried; give --variants KEY=LIST (a strategy) "
                  "or --policy A,B (policies) to estimate the probability of backtest overfitting")
    else:
        overfitting = probability_of_backtest_overfitting(np.column_stack([c.returns for c in tried]),
                                                          options.pbo_blocks)
    regimes = regime_breakdown(candidate.evaluation, path.data, policy=candidate.decider.policy,
                               history=regime_history(spec, path.data))
    identity = run_id(spec, path.data.fingerprint(), candidate.decider.model_sha)
    return CompareResult(identity, spec, options, path, candidate, variants, baselines, differences, deflated,
                         trials, overfitting, reason, regimes, path.notes + variant_notes)


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
