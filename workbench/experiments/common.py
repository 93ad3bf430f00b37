"""What stress and sweep share: the default universe, the
per-scenario summary parts (scenario rows, distributions, worst cases), the stored tables and the
run record. ``--export`` goes through ``workbench.experiments.files.export_summary``.

An experiment is one :class:`ScenarioRun`: a scenario batch evaluated once, each scenario tagged
with a *family* (``base``, ``historical``, ``shock``, ``bootstrap``, ``garch``, ``grid``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from engine.data.market import MarketData
from engine.metrics import drawdown_episodes
from strategies.family import Decider
from workbench.experiments.single_path import complete_symbols
from workbench.runs.evaluate import Evaluation, code_version, placement_summary, spec_data
from workbench.runs.spec import RunSpec
from workbench.runs.tables import orders_table
from workbench.services.datasets import describe_data, load_dataset
from workbench.store.record import RunRecord

QUANTILES = (5, 25, 50, 75, 95)
DISTRIBUTION_METRICS = ("max_drawdown", "total_return")
SYNTHETIC_FAMILIES = ("bootstrap", "garch")
"""Families of paths drawn at random: their bars have no calendar date of their own (they sit on the base
period's bars only to share its length), so their episodes are reported by bar number."""


def load_universe(spec: RunSpec) -> tuple[MarketData, list[str]]:
    """The spec's data and notes; without ``symbols``, only the symbols priced on every bar of the
    period (``single_path.complete_symbols``), the others named in the notes."""
    if spec.symbols is not None:
        return spec_data(spec), []
    data, dropped = complete_symbols(load_dataset(spec.data, start=spec.start, end=spec.end))
    notes = [f"symbols {', '.join(dropped)} left out: they have no price on some bars of the period; "
             "choose --symbols and --start/--end to include them"] if dropped else []
    return data, notes


def regime_history(spec: RunSpec, data: MarketData) -> MarketData | None:
    """The run's symbols from the dataset's first bar to the run's end, for regime labels; None
    when the run already starts at the dataset's first bar."""
    if spec.start is None:
        return None
    return load_dataset(spec.data, symbols=list(data.symbols), end=spec.end)


def quantile_summary(values: Sequence[float | None]) -> dict[str, float | None]:
    """``p5, p25, p50, p75, p95, min, max`` (linear interpolation) of the finite values; None if none."""
    finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    keys = [f"p{q}" for q in QUANTILES] + ["min", "max"]
    if finite.size == 0:
        return dict.fromkeys(keys)
    out = {f"p{q}": float(np.percentile(finite, q)) for q in QUANTILES}
    out.update(min=float(finite.min()), max=float(finite.max()))
    return out


@dataclass
class ScenarioRun:
    """One evaluated experiment batch and what identifies it.

    Attributes:
        run_id: ``workbench.runs.evaluate.run_id`` of spec, data and model.
        spec: The run's spec.
        data: The bars of the base market (every scenario's timestamps lie among them).
        decider: What decided.
        evaluation: The evaluated batch.
        families: Family of each scenario.
        regimes: :func:`workbench.experiments.regimes.regime_breakdown` of the base scenario.
        notes: What the defaults left out and why (e.g. GARCH on a short period).
        worst_n: How many worst cases the summary lists.
        extra_columns: Per scenario, columns added to its row (a sweep's grid values).
    """

    run_id: str
    spec: RunSpec
    data: MarketData
    decider: Decider
    evaluation: Evaluation
    families: tuple[str, ...]
    regimes: list[dict]
    notes: tuple[str, ...] = ()
    worst_n: int = 5
    extra_columns: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def scenarios(self) -> list[dict[str, Any]]:
        """One row per scenario: ``scenario, label, family, start, end``, extra columns, metrics."""
        batch = self.evaluation.batch
        rows = []
        for s, metrics in enumerate(self.evaluation.metrics):
            n = int(batch.n_valid[s])
            extra = self.extra_columns[s] if self.extra_columns else {}
            rows.append({"scenario": s, "label": batch.labels[s], "family": self.families[s],
                         "start": batch.timestamps[s][0].isoformat(),
                         "end": batch.timestamps[s][n - 1].isoformat(), **extra, **metrics})
        return rows

    def distribution(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Quantiles of max drawdown and total return over every scenario, and per family."""
        out: dict[str, Any] = {key: quantile_summary([r[key] for r in rows]) for key in DISTRIBUTION_METRICS}
        out["n"] = len(rows)
        out["by_family"] = {
            family: {"n": sum(r["family"] == family for r in rows),
                     **{key: quantile_summary([r[key] for r in rows if r["family"] == family])
                        for key in DISTRIBUTION_METRICS}}
            for family in dict.fromkeys(self.families)
        }
        return out

    def worst(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ``worst_n`` scenarios by max drawdown, deepest first, with the deepest episode's dates."""
        ranked = sorted(rows, key=lambda r: (-(r["max_drawdown"] or 0.0), r["scenario"]))[: self.worst_n]
        return [self.worst_row(row) for row in ranked]

    def worst_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """One scenario as a worst case: its figures and its deepest episode, dated on a real calendar
        (``peak_date`` ...) or, for a synthetic path, by bar number only (``peak_bar`` ...)."""
        batch, equity = self.evaluation.batch, self.evaluation.rollout.equity
        s, n = row["scenario"], int(batch.n_valid[row["scenario"]])
        episodes = drawdown_episodes(equity[:n, s], batch.timestamps[s][:n], top=1)
        episode = episodes[0] if episodes else {}
        dated = row["family"] not in SYNTHETIC_FAMILIES
        return {"scenario": s, "label": row["label"], "family": row["family"],
                "max_drawdown": row["max_drawdown"], "total_return": row["total_return"],
                "n_trades": row.get("n_trades"),
                **{f"{point}_date": episode.get(f"{point}_date") if dated else None
                   for point in ("peak", "trough", "recovery")},
                **{f"{point}_bar": episode.get(f"{point}_bar") for point in ("peak", "trough", "recovery")}}

    def summary_base(self) -> dict[str, Any]:
        """The summary keys every experiment shares (``run_id`` ... ``regimes``, ``notes``)."""
        rows = self.scenarios()
        data = self.data
        return {
            "run_id": self.run_id,
            "kind": self.spec.kind,
            "decider": self.decider.name,
            "placement": placement_summary(self.decider, self.evaluation),
            "spec": self.spec.to_dict(),
            "data": describe_data(data),
            "scenarios": rows,
            "distribution": self.distribution(rows),
            "worst": self.worst(rows),
            "regimes": self.regimes,
            "notes": list(self.notes),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """``scenario_metrics`` (one row per scenario), ``equity`` and ``orders``."""
        return {"scenario_metrics": pd.DataFrame(self.scenarios()),
                "equity": self.equity_table(), "orders": self.orders_table()}

    def equity_table(self) -> pd.DataFrame:
        """``timestamp`` (the base market's bars) and one equity column per scenario label.

        A historical window sits at its own dates and is NaN outside them (after its end too).
        """
        batch, equity = self.evaluation.batch, self.evaluation.rollout.equity
        columns: dict[str, np.ndarray] = {"timestamp": self.data.index}
        for s, label in enumerate(_unique(batch.labels)):
            n = int(batch.n_valid[s])
            rows = self.data.index.get_indexer(batch.timestamps[s][:n])
            values = np.full(self.data.n_bars, np.nan)
            values[rows[rows >= 0]] = equity[:n, s][rows >= 0]
            columns[label] = values
        return pd.DataFrame(columns)

    def orders_table(self) -> pd.DataFrame:
        """Every order record, filled or not, on each scenario's own dates (``workbench.runs.tables``)."""
        batch = self.evaluation.batch
        return orders_table(self.evaluation.rollout.records, batch.symbols, batch.timestamps)

    def record(self, summary: dict[str, Any], tags: Sequence[str] = ()) -> RunRecord:
        """The run as the run store keeps it."""
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=summary,
            dataset=self.data.name, start=self.data.index[0].isoformat(),
            end=self.data.index[-1].isoformat(), decider=self.decider.name,
            model_sha=self.decider.model_sha, data_fingerprint=self.data.fingerprint(),
            code_version=code_version(), tables=self.tables(), tags=tuple(tags))


def _unique(labels: Sequence[str]) -> list[str]:
    """Labels made unique (``"x"``, ``"x #2"``) so each can name a table column."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out
