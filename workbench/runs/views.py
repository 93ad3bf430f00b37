"""Stored runs as the app shows them: the runs table, a run's curves and metrics rows, its worst
drawdowns, the baselines and benchmark beside it, its prices and its per-regime results.

``workbench.services.app`` hands these to the app; they only read the run store, the run's data and,
for baselines, run ``run_backtest`` (cached per spec).
"""
from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.metrics import drawdown_episodes
from workbench.experiments.regimes import market_regimes, regime_metrics
from workbench.runs.backtest import run_backtest
from workbench.runs.evaluate import spec_data
from workbench.runs.kind import DetailTable
from workbench.runs.registry import run_kind
from workbench.runs.spec import RunSpec
from workbench.store import RunInfo, StoredRun

HEADLINE = ("sharpe", "total_return", "max_drawdown", "excess_return")
BASELINES = ("equal_weight", "sma_cross", "momentum")
BENCHMARK = "benchmark"
RUNS_COLUMNS = ("run_id", "kind", "decider", "dataset", "start", "end", *HEADLINE, "scenarios", "verdict", "tags",
                "created_at")


# -- the runs table ------------------------------------------------------------------------------

def headline(info: RunInfo) -> dict[str, float | None]:
    """Sharpe, total return, max drawdown and excess return of a run's main result.

    The main result is the first scenario (backtest, stress, sweep), the candidate (compare) or the
    stitched out-of-sample curve (walk-forward).
    """
    row = main_row(info.kind, info.summary)
    return {key: _number(row.get(key)) for key in HEADLINE}


def main_row(kind: str, summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metrics row of a run's main result (see :func:`headline`), as its kind defines it."""
    return run_kind(kind).main_row(summary)


def scenario_count(info: RunInfo) -> int:
    """How many metrics rows a run reports (scenarios, deciders or folds; a walk-forward's stitched
    out-of-sample row is not a fold)."""
    return run_kind(info.kind).count(info.summary)


def runs_frame(infos: Sequence[RunInfo]) -> pd.DataFrame:
    """One row per run with the columns of :data:`RUNS_COLUMNS` (dates as ``YYYY-MM-DD``)."""
    rows = []
    for info in infos:
        rows.append({
            "run_id": info.run_id, "kind": info.kind, "decider": info.decider, "dataset": info.dataset,
            "start": info.start[:10], "end": info.end[:10], "tags": ", ".join(info.tags),
            "verdict": info.verdict or "", "created_at": info.created_at[:19].replace("T", " "),
            "scenarios": scenario_count(info), **headline(info),
        })
    return pd.DataFrame(rows, columns=list(RUNS_COLUMNS))


# -- one run ---------------------------------------------------------------------------------------

def equity_curves(run: StoredRun) -> pd.DataFrame:
    """A run's equity: timestamp index (UTC), one float column per scenario, decider or fold curve."""
    if "equity" not in run.tables:
        raise InvalidParameterError(f"run {run.run_id} has no equity table")
    frame = run.load_table("equity")
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    frame.index = pd.DatetimeIndex(frame.index, name="timestamp")
    numeric = [c for c in frame.columns if c != "fold" and pd.api.types.is_float_dtype(frame[c])]
    return frame[numeric]


def scenario_rows(run: StoredRun) -> list[dict[str, Any]]:
    """The metrics rows a run reports: its scenarios, deciders or folds."""
    return run_kind(run.info.kind).rows(run.summary)


def detail_tables(run: StoredRun) -> list[DetailTable]:
    """The tables of a run's findings its kind adds to the Run detail page (a comparison's statistics)."""
    return run_kind(run.info.kind).detail_tables(run.summary)


def worst_drawdowns(curve: pd.Series, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdown episodes of one equity curve (NaN bars left out), deepest first."""
    curve = curve.dropna()
    if len(curve) < 2:
        return []
    return drawdown_episodes(curve.to_numpy(np.float64), pd.DatetimeIndex(curve.index), top=top)


def baseline_curves(spec_values: Mapping[str, Any]) -> pd.DataFrame:
    """Equity of the baselines and of the benchmark on a run's market, period, cash and first costs.

    Baselines (:data:`BASELINES`, default parameters) trade under the run's first fee and slippage;
    the benchmark is an equal-weight buy-and-hold without costs. Results are cached by spec.
    """
    return _baseline_curves(json.dumps(dict(spec_values), sort_keys=True)).copy()


@lru_cache(maxsize=32)
def _baseline_curves(spec_json: str) -> pd.DataFrame:
    spec = RunSpec.from_dict(json.loads(spec_json), source="stored run spec")
    base = dict(kind="backtest", strategy=None, policy=None, strategy_params=(), options=(),
                fees=(spec.fees[0],), slippage=(spec.slippage[0],))
    curves = {}
    for name in (*BASELINES, BENCHMARK):
        changes = dict(base, strategy=name)
        if name == BENCHMARK:
            changes.update(strategy="buy_and_hold", fees=(0.0,), slippage=(0.0,))
        result = run_backtest(dataclasses.replace(spec, **changes), extras=False)
        curves[name] = pd.Series(result.rollout.equity[:, 0], index=result.rollout.index)
    frame = pd.DataFrame(curves)
    frame.index.name = "timestamp"
    return frame


def close_prices(spec_values: Mapping[str, Any]) -> pd.DataFrame:
    """Close prices of a run's symbols over its period (timestamp index, one column per symbol)."""
    data = _run_data(json.dumps(dict(spec_values), sort_keys=True))
    return pd.DataFrame(np.asarray(data.close), index=data.index, columns=list(data.symbols))


@lru_cache(maxsize=16)
def _run_data(spec_json: str):
    return spec_data(RunSpec.from_dict(json.loads(spec_json), source="stored run spec"))


def regime_table(run: StoredRun, curve: pd.Series) -> pd.DataFrame:
    """Per-regime results: the run's own (experiments keep them in the summary) or, for a run
    without them, the equity curve ``curve`` split by the market's trend and volatility labels.

    The split is ``workbench.experiments.regimes.regime_metrics``, the one experiments store: a bar
    carries the return from its close to the next close, annualized at the run's bar frequency.
    """
    stored = run.summary.get("regimes")
    if stored:
        frame = pd.DataFrame(stored)
        keep = [c for c in ("column", "label", "bars", "share", "total_return", "sharpe", "max_drawdown",
                            "exposure") if c in frame.columns]
        return frame[keep]
    data = _run_data(json.dumps(dict(run.spec), sort_keys=True))
    equity = curve.reindex(data.index).to_numpy(np.float64)
    return pd.DataFrame(regime_metrics(equity, market_regimes(data), data.frequency))


def action_names(run: StoredRun) -> tuple[str, ...] | None:
    """Names of the decider's discrete actions (0 = hold ...) as its backtest stored them, None for
    target weights (a baseline's or a master agent's)."""
    actions = (run.summary.get("decider") or {}).get("actions") or {}
    return tuple(actions["names"]) if actions.get("kind") == "discrete" else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
