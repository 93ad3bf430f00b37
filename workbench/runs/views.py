"""Stored runs as the app shows them: the runs table, a run's curves and metrics rows, its summary
block, its worst drawdowns, the baselines and benchmark beside it, its prices and its per-regime results.

``workbench.services.app`` hands these to the app; they only read the run store, the run's data and,
for a run stored without its baselines, run them (``workbench.runs.baselines``, cached per spec).
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
from workbench.runs.baselines import TABLE as BASELINES_TABLE
from workbench.runs.baselines import Baselines, grid_point, try_baselines
from workbench.runs.evaluate import spec_data
from workbench.runs.kind import DetailTable, StoredRunLike
from workbench.runs.registry import run_kind
from workbench.runs.spec import RunSpec
from workbench.runs.summary_block import SummaryBlock, reward_shares, summary_block, years_between
from workbench.store import RunInfo, StoredRun

HEADLINE = ("sharpe", "total_return", "max_drawdown", "excess_return")
RUN_METRICS = ("sharpe", "annualized_return", "annualized_volatility", "sortino", "total_return", "max_drawdown",
               "excess_return", "time_in_market", "exposure", "n_trades", "turnover", "win_rate", "profit_factor")
"""The metrics of a run's main result the runs table offers as columns."""
RUNS_COLUMNS = ("run_id", "kind", "decider", "dataset", "start", "end", "scenario", *RUN_METRICS, "scenarios",
                "verdict", "tags", "created_at")


# -- the runs table ------------------------------------------------------------------------------

def headline(info: RunInfo) -> dict[str, float | None]:
    """The metrics of :data:`RUN_METRICS` of a run's main result.

    The main result is the first scenario (backtest, stress, sweep), the candidate (compare) or the
    stitched out-of-sample curve (walk-forward); :func:`main_label` names it.
    """
    row = main_row(info.kind, info.summary)
    return {key: _number(row.get(key)) for key in RUN_METRICS}


def main_label(info: RunInfo) -> str:
    """Which scenario, decider or curve a run's headline figures come from."""
    row = main_row(info.kind, info.summary)
    return str(row.get("label") or row.get("name") or "")


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
            "scenario": main_label(info), "scenarios": scenario_count(info), **headline(info),
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


def scenario_rows(run: StoredRunLike) -> list[dict[str, Any]]:
    """The metrics rows a run reports: its scenarios, deciders or folds."""
    return run_kind(run.info.kind).rows(run.summary)


def scenario_row(run: StoredRunLike, scenario: str | None) -> Mapping[str, Any]:
    """The metrics row labelled ``scenario`` (its label, or its name), else the run's main row."""
    rows = scenario_rows(run)
    position = _labelled(rows, scenario)
    return main_row(run.info.kind, run.summary) if position is None else rows[position]


def _labelled(rows: Sequence[Mapping[str, Any]], scenario: str | None) -> int | None:
    """The position of the row labelled ``scenario`` (its label, or its name) among ``rows``, or None."""
    return next((i for i, r in enumerate(rows) if scenario is not None
                 and str(r.get("label", r.get("name"))) == scenario), None)


def detail_tables(run: StoredRun) -> list[DetailTable]:
    """The tables of a run's findings its kind adds to the Run detail page (a comparison's statistics)."""
    return run_kind(run.info.kind).detail_tables(run.summary)


def worst_drawdowns(curve: pd.Series, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdown episodes of one equity curve (NaN bars left out), deepest first."""
    curve = curve.dropna()
    if len(curve) < 2:
        return []
    return drawdown_episodes(curve.to_numpy(np.float64), pd.DatetimeIndex(curve.index), top=top)


def baselines(run: StoredRunLike, row: Mapping[str, Any] | None = None) -> tuple[Baselines | None, str]:
    """The baselines and benchmark beside a run (``workbench.runs.baselines``) at the cost point of its
    metrics ``row`` (default its main row): stored with it, else computed for that point on its market
    (cached); None and the reason when they cannot run there."""
    row = run_kind(run.info.kind).main_row(run.summary) if row is None else row
    stored = _stored_baselines(run)
    if stored is not None and stored.covers(row):
        return stored, ""
    spec, point, key = _computed_point(run, row)
    if key not in _BASELINES:
        _remember(key, try_baselines(spec, points=(point,)))
    return _BASELINES[key]


def baselines_at_hand(run: StoredRunLike, row: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`baselines` has nothing to run for ``row``: they are stored with the run at its
    cost point, already computed for it, or not drawn for its kind at all."""
    if not run_kind(run.info.kind).view().baselines:
        return True
    row = run_kind(run.info.kind).main_row(run.summary) if row is None else row
    stored = _stored_baselines(run)
    return (stored is not None and stored.covers(row)) or _computed_point(run, row)[2] in _BASELINES


def _computed_point(run: StoredRunLike, row: Mapping[str, Any]) -> tuple[RunSpec, int, str]:
    """The run's spec, the index of ``row``'s cost point in its grid, and the cache key of the
    baselines computed there."""
    spec = RunSpec.from_dict(run.spec, source="stored run spec")
    point = grid_point(spec, row)
    return spec, point, f"spec:{json.dumps(dict(run.spec), sort_keys=True)}:{point}"


def _stored_baselines(run: StoredRunLike) -> Baselines | None:
    """The baselines stored with ``run`` (read once per process), or None."""
    stored = run.summary.get("baselines")
    if not stored or BASELINES_TABLE not in run.tables:
        return None
    key = "stored:" + str(getattr(run.info, "folder", run.run_id))  # a stored run never changes
    if key not in _BASELINES:
        _remember(key, (Baselines.from_stored(stored, run.load_table(BASELINES_TABLE)), ""))
    return _BASELINES[key][0]


_BASELINES: dict[str, tuple[Baselines | None, str]] = {}
"""Baselines read or computed in this process, the oldest dropped past 32."""


def _remember(key: str, value: tuple[Baselines | None, str]) -> None:
    if len(_BASELINES) >= 32:
        _BASELINES.pop(next(iter(_BASELINES)))
    _BASELINES[key] = value


def run_summary_block(run: StoredRunLike, scenario: str | None = None,
                      with_baselines: bool = True) -> SummaryBlock:
    """The summary block of the run's ``scenario`` (a label of its metrics rows; default its main
    result): its figures beside the benchmark and the best baseline, with the warnings."""
    rows = scenario_rows(run)
    position = _labelled(rows, scenario)
    row = main_row(run.info.kind, run.summary) if position is None else rows[position]
    label = str(row.get("label") or row.get("name") or main_label(run.info) or scenario or "")
    comparisons, costs, notes = None, "", []
    if with_baselines and run_kind(run.info.kind).view().baselines:
        found, reason = baselines(run, row)
        if found is not None:
            point = found.point(row)
            comparisons, costs = found.metrics[point], found.labels[point]
        elif reason:
            notes.append(reason)
    shares = None
    if "rewards" in run.tables:
        shares = reward_shares(run.load_table("rewards"), position or 0)
    years = years_between(getattr(run.info, "start", ""), getattr(run.info, "end", ""))
    block = summary_block(row, label, comparisons, shares, years, costs)
    return dataclasses.replace(block, notes=block.notes + tuple(notes)) if notes else block


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
