"""Backtests as the application runs them: spec -> data -> scenario batch -> rollout -> metrics.

The run id (``workbench.runner.run_id``) hashes the spec, the data fingerprint, the model's weights
sha256 and the code version, so the same spec on the same data with the same code has the same id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.atomic_files import write_text_atomically
from engine.data.market import MarketData
from engine.policy import Policy
from engine.records import OrderStatus
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch, ScenarioParams, from_market
from workbench import run_tables
from workbench.policy_extras import AgentExtras, extras_recorder, with_policy
from workbench.reward_replay import replay_rewards
from workbench.runner import code_version, cost_grid, evaluate, run_id, spec_data, spec_decider
from workbench.spec import RunSpec
from workbench.store.record import RunRecord


@dataclass
class BacktestResult:
    """A finished backtest: the rollout, its metrics per scenario and the id that names it.

    ``batch``, ``policy`` and ``model_sha`` are what :meth:`to_record` needs to replay the rewards
    and fill the run's row; ``agent_extras`` holds a symbol agent's values and sampled attention.
    """

    run_id: str
    spec: RunSpec
    data: MarketData
    rollout: RolloutResult
    params: list[ScenarioParams]
    metrics: list[dict[str, object]] = field(default_factory=list)
    batch: ScenarioBatch | None = None
    policy: Policy | None = None
    model_sha: str = ""
    agent_extras: AgentExtras | None = None

    def summary(self) -> dict[str, object]:
        """The JSON object of ``workbench backtest --json`` (also ``metrics.json``)."""
        scenarios = []
        for i, (params, metrics) in enumerate(zip(self.params, self.metrics)):
            scenarios.append({"scenario": i, "label": self.rollout.labels[i],
                              "fees": params.fees, "slippage": params.slippage,
                              "cash": params.init_cash, **metrics})
        return {
            "run_id": self.run_id,
            "kind": self.spec.kind,
            "strategy": self.spec.strategy,
            "policy": self.spec.policy,
            "strategy_params": dict(self.spec.strategy_params),
            "data": {"name": self.data.name, "symbols": list(self.data.symbols),
                     "start": self.data.index[0].isoformat(), "end": self.data.index[-1].isoformat(),
                     "frequency": self.data.frequency, "fingerprint": self.data.fingerprint()},
            "scenarios": scenarios,
        }

    def to_record(self) -> RunRecord:
        """The run as the run store keeps it (``workbench.store``).

        Tables: ``equity``, ``orders`` (every order record), ``actions``, ``rewards`` (the seven
        components and the total, replayed through the training stepper) and, for a symbol agent,
        ``probabilities``, ``values`` and ``attention`` (sampled bars of the first scenario).
        """
        rollout = self.rollout
        tables = {"equity": run_tables.equity_table(rollout), "orders": run_tables.orders_table(rollout)}
        if self.policy is not None:
            scope = self.policy.scope
            tables["actions"] = run_tables.actions_table(rollout, scope)
            if self.batch is not None:
                rewards = replay_rewards(self.batch, self.policy.action_space, scope, rollout)
                tables["rewards"] = run_tables.rewards_table(rollout, rewards)
            if "probabilities" in rollout.extras:
                tables["probabilities"] = run_tables.probabilities_table(rollout, scope)
        if self.agent_extras is not None:
            tables["values"] = run_tables.values_table(rollout, self.agent_extras.values)
            tables["attention"] = run_tables.attention_table(rollout, self.agent_extras.attention)
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=self.summary(),
            dataset=self.data.name, start=self.data.index[0].isoformat(), end=self.data.index[-1].isoformat(),
            decider=self.spec.decider, model_sha=self.model_sha, data_fingerprint=self.data.fingerprint(),
            code_version=code_version(), tables=tables,
        )


def run_backtest(spec: RunSpec, agent_extras: bool = True) -> BacktestResult:
    """Run ``spec`` (its cost grid, one batch) and compute its metrics.

    Args:
        spec: The run.
        agent_extras: For a symbol agent, also keep its critic values and sampled attention maps
            (an extra batched pass of the torch agent; the decisions are the same either way).
    """
    decider = spec_decider(spec)  # before loading data, so a bad name fails fast
    data = spec_data(spec)
    grid = cost_grid(spec)
    params = [p for _, p in grid]
    batch = from_market(data, params, labels=[label for label, _ in grid])
    recorder = extras_recorder(decider, batch) if agent_extras else None
    evaluation = evaluate(batch, decider if recorder is None else with_policy(decider, recorder))
    return BacktestResult(run_id(spec, data.fingerprint(), decider.model_sha), spec, data,
                          evaluation.rollout, params, evaluation.metrics, batch=batch, policy=decider.policy,
                          model_sha=decider.model_sha,
                          agent_extras=None if recorder is None else recorder.finish())


def export_backtest(result: BacktestResult, folder: Path) -> list[Path]:
    """Write ``equity.csv``, ``orders.csv`` and ``metrics.json`` into ``folder``, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    rollout = result.rollout
    equity = pd.DataFrame(rollout.equity, index=rollout.index, columns=list(rollout.labels))
    equity.index.name = "timestamp"
    filled = rollout.records[rollout.records["status"] <= OrderStatus.CLIPPED]
    orders = pd.DataFrame({
        "scenario": filled["scenario"],
        "timestamp": rollout.index[filled["bar"]],
        "symbol": np.asarray(rollout.symbols)[filled["symbol"]],
        "side": np.where(filled["side"] > 0, "buy", "sell"),
        "units": filled["units"],
        "price": filled["price"],
        "fees": filled["fees"],
    })
    written = [
        write_text_atomically(folder / "equity.csv", equity.to_csv(float_format="%.10g")),
        write_text_atomically(folder / "orders.csv", orders.to_csv(index=False, float_format="%.10g")),
        write_text_atomically(folder / "metrics.json", json.dumps(result.summary(), indent=2) + "\n"),
    ]
    return written
