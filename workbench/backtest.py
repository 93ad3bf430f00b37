"""Backtests as the application runs them: spec -> data -> scenario batch -> rollout -> metrics.

The run id (``workbench.runner.run_id``) hashes the spec, the data fingerprint, the model's weights
sha256 and the code version, so the same spec on the same data with the same code has the same id.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.market import MarketData
from engine.records import OrderStatus
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioParams, from_market
from workbench.runner import cost_grid, evaluate, run_id, spec_data, spec_decider
from workbench.spec import RunSpec


@dataclass
class BacktestResult:
    """A finished backtest: the rollout, its metrics per scenario and the id that names it."""

    run_id: str
    spec: RunSpec
    data: MarketData
    rollout: RolloutResult
    params: list[ScenarioParams]
    metrics: list[dict[str, object]] = field(default_factory=list)

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


def run_backtest(spec: RunSpec) -> BacktestResult:
    """Run ``spec`` (its cost grid, one batch) and compute its metrics."""
    decider = spec_decider(spec)  # before loading data, so a bad name fails fast
    data = spec_data(spec)
    grid = cost_grid(spec)
    params = [p for _, p in grid]
    batch = from_market(data, params, labels=[label for label, _ in grid])
    evaluation = evaluate(batch, decider)
    return BacktestResult(run_id(spec, data.fingerprint(), decider.model_sha), spec, data,
                          evaluation.rollout, params, evaluation.metrics)


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
        _write_atomically(folder / "equity.csv", equity.to_csv(float_format="%.10g")),
        _write_atomically(folder / "orders.csv", orders.to_csv(index=False, float_format="%.10g")),
        _write_atomically(folder / "metrics.json", json.dumps(result.summary(), indent=2) + "\n"),
    ]
    return written


def _write_atomically(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
