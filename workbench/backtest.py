"""Backtests as the application runs them: spec -> data -> scenario batch -> rollout -> metrics.

The run id is the SHA-256 (first 16 hex digits) of the canonical spec, the data fingerprint, the
model's weights sha256 (for a policy) and the code version, so the same spec on the same data with the same code always has the same id.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.market import MarketData
from engine.metrics import scenario_metrics
from engine.paths import engine_source_hash
from engine.records import OrderStatus
from engine.rollout import RolloutResult, run_rollout
from engine.scenarios import ScenarioParams, from_market, parameter_grid
from engine.errors import InvalidParameterError
from strategies.registry import make_strategy
from workbench import __version__
from workbench.datasets import load_dataset
from workbench.policies import load_symbol_policy, symbol_observer


@dataclass(frozen=True)
class BacktestSpec:
    """What to run: a strategy with parameters on data, over a grid of costs.

    Attributes:
        strategy: Baseline name (``strategies.registry.STRATEGIES``), or None with ``policy``.
        strategy_params: ``KEY=VALUE`` parameters of the strategy.
        policy: A shipped policy's name or a checkpoint folder (instead of ``strategy``).
        data: Dataset name or file path.
        symbols: Symbols to trade (default: every symbol of the dataset).
        start, end: Inclusive date range (default: the whole dataset).
        fees, slippage: Grid axes; each combination is one scenario.
        cash: Initial cash of every scenario.
    """

    strategy: str | None
    data: str
    strategy_params: tuple[tuple[str, str], ...] = ()
    policy: str | None = None
    symbols: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    fees: tuple[float, ...] = (0.0,)
    slippage: tuple[float, ...] = (0.0,)
    cash: float = 100_000.0

    def canonical(self) -> str:
        """The spec as canonical JSON (sorted keys), the input of the run id."""
        return json.dumps(asdict(self), sort_keys=True, default=list)


@dataclass
class BacktestResult:
    """A finished backtest: the rollout, its metrics per scenario and the id that names it."""

    run_id: str
    spec: BacktestSpec
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
            "strategy": self.spec.strategy,
            "policy": self.spec.policy,
            "strategy_params": dict(self.spec.strategy_params),
            "data": {"name": self.data.name, "symbols": list(self.data.symbols),
                     "start": self.data.index[0].isoformat(), "end": self.data.index[-1].isoformat(),
                     "frequency": self.data.frequency, "fingerprint": self.data.fingerprint()},
            "scenarios": scenarios,
        }


def code_version() -> str:
    """Package version plus a hash of the engine's source."""
    return f"{__version__}+{engine_source_hash()}"


def run_backtest(spec: BacktestSpec) -> BacktestResult:
    """Run ``spec`` and compute its metrics."""
    if (spec.strategy is None) == (spec.policy is None):
        raise InvalidParameterError("give exactly one of a strategy (--strategy) and a policy (--policy)")
    # Resolve what decides before loading data, so a bad name fails fast.
    if spec.policy is not None:
        policy, card, normalizer = load_symbol_policy(spec.policy)
        model_sha = card.weights_sha256
    else:
        policy, normalizer, model_sha = make_strategy(spec.strategy, dict(spec.strategy_params)), None, ""
    data = load_dataset(spec.data, symbols=list(spec.symbols) if spec.symbols else None,
                        start=spec.start, end=spec.end)
    grid = parameter_grid(ScenarioParams(init_cash=spec.cash), fees=list(spec.fees), slippage=list(spec.slippage))
    params = [p for _, p in grid]
    batch = from_market(data, params, labels=[label for label, _ in grid])
    observer = symbol_observer(batch, normalizer) if spec.policy is not None else None
    rollout = run_rollout(batch, policy, observer=observer)
    metrics = scenario_metrics(rollout.equity, rollout.records, batch.close, batch.index,
                               batch.param_array("init_cash"), batch.frequency, symbols=batch.symbols)
    run_id = hashlib.sha256(
        "\n".join([spec.canonical(), data.fingerprint(), model_sha, code_version()]).encode()
    ).hexdigest()[:16]
    return BacktestResult(run_id, spec, data, rollout, params, metrics)


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
