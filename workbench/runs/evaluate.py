"""The steps every run shares: resolve the decider, load the data, evaluate a scenario batch, name the run.

Backtests and experiments (stress, sweep, compare, walk-forward) compose these, so a policy is
loaded, observed and measured the same way everywhere.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from engine.data.market import MarketData
from engine.metrics import scenario_metrics
from engine.paths import engine_source_hash
from engine.reward_meter import RewardSettings
from engine.rollout import ProgressCallback, RolloutResult, run_rollout
from engine.scenarios import ScenarioBatch, ScenarioParams, parameter_grid
from strategies.family import Decider, Placement
from workbench import __version__
from workbench.policies import resolve_decider
from workbench.runs.spec import RunSpec
from workbench.services.datasets import load_dataset


@dataclass
class Evaluation:
    """A rolled-out batch and its metrics per scenario (``engine.metrics.METRIC_KEYS``)."""

    batch: ScenarioBatch
    rollout: RolloutResult
    metrics: list[dict[str, object]]
    parity: Mapping[str, Any] | None = None
    """The parity report of chunks rolled out elsewhere (``workbench.experiments.executors``); None
    when the decider in this process decided (its own report counts)."""


def code_version() -> str:
    """Package version plus a hash of the engine's source."""
    return f"{__version__}+{engine_source_hash()}"


def spec_decider(spec: RunSpec) -> Decider:
    """The decider a spec names, its network (if any) on the spec's device and precision."""
    return resolve_decider(spec.strategy, dict(spec.strategy_params), spec.policy, spec.runtime,
                           spec_placement(spec))


def spec_placement(spec: RunSpec) -> Placement:
    """Where the spec asks a policy's network to decide."""
    return Placement(spec.device, spec.precision)


def placement_summary(decider: Decider, evaluation: Evaluation | None = None) -> dict[str, Any] | None:
    """What a run records of where its network decided (``Decider.placement_summary``), with the
    parity of chunks rolled out elsewhere when ``evaluation`` carries it; None for a baseline."""
    summary = decider.placement_summary()
    if summary is not None and evaluation is not None and evaluation.parity is not None:
        summary["parity"] = dict(evaluation.parity)
    return summary


def spec_data(spec: RunSpec) -> MarketData:
    """The spec's dataset, restricted to its symbols and period."""
    return load_dataset(spec.data, symbols=list(spec.symbols) if spec.symbols else None,
                        start=spec.start, end=spec.end)


def cost_grid(spec: RunSpec, base: ScenarioParams | None = None) -> list[tuple[str, ScenarioParams]]:
    """``(label, params)`` for each fees x slippage combination of the spec, on ``base``."""
    return parameter_grid(base or spec.base_params(), fees=list(spec.fees), slippage=list(spec.slippage))


def evaluate(batch: ScenarioBatch, decider: Decider, progress: ProgressCallback | None = None, *,
             rewards: RewardSettings | None = None, explain_every: int = 0) -> Evaluation:
    """Roll ``decider`` out over every scenario of ``batch`` and compute the metrics (:func:`measure`)."""
    rollout = roll_out(batch, decider, progress, rewards=rewards, explain_every=explain_every)
    return Evaluation(batch, rollout, measure(batch, rollout))


def roll_out(batch: ScenarioBatch, decider: Decider, progress: ProgressCallback | None = None, *,
             rewards: RewardSettings | None = None, explain_every: int = 0) -> RolloutResult:
    """Run ``decider`` over every scenario of ``batch``, observed as its family observes.

    ``rewards`` and ``explain_every`` are passed to ``engine.rollout.run_rollout``.
    """
    return run_rollout(batch, decider.policy, observer=decider.observer(batch), progress=progress,
                       rewards=rewards, explain_every=explain_every)


def measure(batch: ScenarioBatch, rollout: RolloutResult) -> list[dict[str, object]]:
    """The metrics of each scenario of a rolled-out batch.

    A padded scenario (a short historical window in a batch of longer ones) is measured on its real
    bars ``0 .. n_valid - 1`` and its own timestamps: over the whole batch its Sharpe, annualized
    return and exposure would be diluted by flat bars that never happened.
    """
    init_cash = batch.param_array("init_cash")
    metrics = scenario_metrics(rollout.equity, rollout.records, batch.close, batch.index,
                               init_cash, batch.frequency, symbols=batch.symbols, paths=batch.path_ids)
    for s in np.flatnonzero(batch.n_valid < batch.n_bars):
        n = int(batch.n_valid[s])
        records = rollout.records[rollout.records["scenario"] == s].copy()
        records["scenario"] = 0
        metrics[s] = scenario_metrics(rollout.equity[:n, [s]], records, batch.close[[s], :n],
                                      batch.timestamps[s][:n], init_cash[[s]], batch.frequency,
                                      symbols=batch.symbols)[0]
    return metrics


def run_id(spec: RunSpec, data_fingerprint: str, model_sha: str, placement: str = "") -> str:
    """SHA-256 (first 16 hex digits) of spec, data fingerprint, model sha256 and code version, and of
    the placement the network decided on when it is not CPU fp32 (``Decider.placement_key``)."""
    parts = [spec.canonical(), data_fingerprint, model_sha, code_version()]
    if placement:
        parts.append(placement)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def decider_run_id(spec: RunSpec, data_fingerprint: str, decider: Decider) -> str:
    """:func:`run_id` of ``spec`` decided by ``decider`` (its model sha and placement)."""
    return run_id(spec, data_fingerprint, decider.model_sha, decider.placement_key)

