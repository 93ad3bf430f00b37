"""Backtests: spec -> data -> one batch of cost scenarios -> one rollout -> metrics, tables, record.

One rollout does everything a stored backtest keeps: the decisions, the extras of the forward pass
that made them (the policy family's tables: probabilities, values, sampled attention, ...) and the
reward components each decision earned in training terms (``engine.reward_meter``). The run id
(``workbench.runs.evaluate.run_id``) hashes the spec, the data fingerprint, the model's sha256 and
the code version, so the same spec on the same data with the same code has the same id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from engine.atomic_files import write_text_atomically
from engine.data.market import MarketData
from engine.reward_meter import RewardSettings
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch, ScenarioParams, from_market
from strategies.family import Decider
from workbench.runs import report_html, tables
from workbench.runs.baselines import TABLE as BASELINES_TABLE
from workbench.runs.baselines import Baselines, try_baselines
from workbench.runs.evaluate import code_version, cost_grid, decider_run_id, evaluate, spec_data, spec_decider
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, ScenarioRows, StoredRunLike, as_number
from workbench.runs.spec import RunSpec
from workbench.services.datasets import describe_data
from workbench.store.record import RunRecord

PORTFOLIO_KEYS = ("sharpe", "max_drawdown", "win_rate", "profit_factor", "excess_return", "trades_per_year",
                  "time_in_market")
"""Per-scenario metrics that feed the portfolio gates (the activity ones keep a drawdown gate from passing
on a run that sat in cash)."""


@dataclass
class BacktestResult:
    """A finished backtest: the rollout, its metrics per scenario and the id that names it."""

    run_id: str
    spec: RunSpec
    data: MarketData
    rollout: RolloutResult
    params: list[ScenarioParams]
    metrics: list[dict[str, object]] = field(default_factory=list)
    batch: ScenarioBatch | None = None
    decider: Decider | None = None
    baselines: Baselines | None = None
    baselines_note: str = ""

    def summary(self) -> dict[str, object]:
        """The JSON object of ``workbench backtest --json`` (also ``metrics.json``)."""
        scenarios = []
        for i, (params, metrics) in enumerate(zip(self.params, self.metrics)):
            scenarios.append({"scenario": i, "label": self.rollout.labels[i],
                              "fees": params.fees, "slippage": params.slippage,
                              "cash": params.init_cash, **metrics})
        out = {
            "run_id": self.run_id,
            "kind": self.spec.kind,
            "strategy": self.spec.strategy,
            "policy": self.spec.policy,
            "strategy_params": dict(self.spec.strategy_params),
            "data": describe_data(self.data),
            "scenarios": scenarios,
        }
        if self.decider is not None:
            out["decider"] = {"family": self.decider.family.name, "runtime": self.decider.runtime,
                              "actions": self.decider.family.actions(self.decider).to_dict()}
            out["placement"] = self.decider.placement_summary()
        if self.baselines is not None:
            out["baselines"] = self.baselines.summary()
        elif self.baselines_note:
            out["baselines_note"] = self.baselines_note
        return out

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The run as the run store keeps it (``workbench.store``).

        Tables: ``equity``, ``orders`` (every order record), ``actions``, ``rewards`` (the seven
        components and the total, measured by the rollout) and the decider's family's extras
        (a symbol agent's ``probabilities``, ``values`` and sampled ``attention``; a master agent's
        ``weights``, ``values`` and ``pooling_attention``), and ``baselines`` (the baselines' and the
        benchmark's equity on the run's market, ``workbench.runs.baselines``).
        """
        rollout = self.rollout
        stored = {"equity": tables.equity_table(rollout),
                  "orders": tables.orders_table(rollout.records, rollout.symbols, rollout.index)}
        if self.decider is not None:
            stored["actions"] = tables.actions_table(rollout, self.decider.policy.scope)
            if rollout.rewards:
                stored["rewards"] = tables.rewards_table(rollout)
            stored.update(self.decider.family.extras_tables(self.decider, rollout))
        if self.baselines is not None:
            stored[BASELINES_TABLE] = self.baselines.table()
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=self.summary(),
            dataset=self.data.name, start=self.data.index[0].isoformat(), end=self.data.index[-1].isoformat(),
            decider=self.spec.decider, model_sha="" if self.decider is None else self.decider.model_sha,
            data_fingerprint=self.data.fingerprint(), code_version=code_version(), tables=stored, tags=tuple(tags),
        )


def run_backtest(spec: RunSpec, progress: Progress | None = None, extras: bool = True) -> BacktestResult:
    """Run ``spec`` (its cost grid, one batch) and compute its metrics.

    Args:
        spec: The run.
        progress: Called with ``(bars done, bars)`` by a policy's rollout.
        extras: Also measure the reward components, keep the decider's detailed extras and run the
            baselines and the benchmark beside its first cost point (what a stored backtest shows); the
            decisions are the same either way.
    """
    decider = spec_decider(spec)  # before loading data, so a bad name fails fast
    data = spec_data(spec)
    grid = cost_grid(spec)
    params = [p for _, p in grid]
    batch = from_market(data, params, labels=[label for label, _ in grid])
    explain = decider.family.explain_every(decider, batch.n_bars - 1, batch.n_symbols) if extras else 0
    evaluation = evaluate(batch, decider, progress, rewards=RewardSettings() if extras else None,
                          explain_every=explain)
    # The first cost point's: the one the summary headlines; a page computes any other on demand.
    baselines, note = try_baselines(spec, data, (decider, evaluation), points=(0,)) if extras else (None, "")
    return BacktestResult(decider_run_id(spec, data.fingerprint(), decider), spec, data,
                          evaluation.rollout, params, evaluation.metrics, batch=batch, decider=decider,
                          baselines=baselines, baselines_note=note)


def export_backtest(result: BacktestResult, folder: Path) -> list[Path]:
    """Write ``equity.csv``, ``orders.csv`` (the stored orders' schema) and ``metrics.json`` into
    ``folder``, each atomically, floats at full precision."""
    folder.mkdir(parents=True, exist_ok=True)
    rollout = result.rollout
    equity = pd.DataFrame(rollout.equity, index=rollout.index, columns=list(rollout.labels))
    equity.index.name = "timestamp"
    orders = tables.orders_table(rollout.records, rollout.symbols, rollout.index)
    return [
        write_text_atomically(folder / "equity.csv", equity.to_csv()),
        write_text_atomically(folder / "orders.csv", orders.to_csv(index=False)),
        write_text_atomically(folder / "metrics.json", json.dumps(result.summary(), indent=2) + "\n"),
    ]


class BacktestKind(ScenarioRows):
    """A decider over a grid of costs on the real market, every scenario one rollout."""

    name = "backtest"
    title = "Backtest"
    options = None

    def run(self, spec: RunSpec, progress: Progress | None = None) -> BacktestResult:
        return run_backtest(spec, progress)

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """Every portfolio metric of every cost scenario."""
        out = []
        for i, scenario in enumerate(run.summary.get("scenarios") or []):
            where = f"scenario {scenario.get('label', i)!r}"
            out += [(key, as_number(scenario[key]), where) for key in PORTFOLIO_KEYS if key in scenario]
        return out

    def report_curves(self, run: StoredRunLike) -> tuple[pd.DataFrame, list[str]] | None:
        """Every scenario's equity; all of them are the candidate's."""
        table = report_html.stored_table(run, "equity")
        if table is None:
            return None
        curves = report_html.as_curves(table)
        return curves, list(curves.columns)

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """Backtests feed the report's equity chart and gates; they have no section of their own."""
        return ""

    def view(self) -> RunView:
        return RunView(pages=("rewards", "attention"))

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """None beyond the metrics rows."""
        return []

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """Every cost scenario."""
        return cost_grid(spec)


BACKTEST = BacktestKind()
