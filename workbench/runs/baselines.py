"""The baselines and the benchmark beside a run: their equity and metrics on the run's market.

Every run is judged against the same yardsticks: the baselines of :data:`BASELINES` with default
parameters, each under a cost point of the run's grid (fees x slippage), and the benchmark, an
equal-weight buy and hold without costs. A page shows one cost point at a time, so a backtest stores
them at its first cost point only, the one its summary headlines and the Run detail page opens on
(:meth:`Baselines.table` and :meth:`Baselines.summary`, read back by :meth:`Baselines.from_stored`);
any other point, and a run stored without them, gets them computed for that point alone
(:func:`run_baselines` with ``points``), in about a tenth of a second. Storing every point of a
100-point grid cost two more full-grid simulations, 45% of the backtest's time (issue 19).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.data.market import MarketData
from engine.errors import WorkbenchError
from engine.scenarios import from_market
from strategies.family import Decider
from workbench.runs.evaluate import Evaluation, cost_grid, evaluate, spec_data, spec_decider
from workbench.runs.spec import RunSpec

logger = logging.getLogger(__name__)

BASELINES = ("equal_weight", "sma_cross", "momentum")
BENCHMARK = "benchmark"
TABLE = "baselines"
"""Name of the stored table: ``timestamp``, ``scenario`` (a cost point), one equity column per name."""


@dataclass(frozen=True, eq=False)
class Baselines:
    """Baseline and benchmark results on a run's market, at some of its cost points.

    Attributes:
        labels: The cost points (``fees=0.001 slippage=0.0005``), in the run's grid order.
        costs: ``(fees, slippage)`` of each cost point.
        index: The bars' timestamps (named ``timestamp``).
        names: The baselines and the benchmark, in the curves' column order.
        equity: ``[cost points, bars, names]`` equity of each name under each cost point.
        metrics: One mapping per cost point: name -> metrics row (``engine.metrics.METRIC_KEYS``).
    """

    labels: tuple[str, ...]
    costs: tuple[tuple[float, float], ...]
    index: pd.DatetimeIndex
    names: tuple[str, ...]
    equity: np.ndarray
    metrics: tuple[Mapping[str, Mapping[str, Any]], ...]

    @functools.cached_property
    def curves(self) -> tuple[pd.DataFrame, ...]:
        """One frame per cost point: timestamp index, a column per baseline and the benchmark."""
        return tuple(pd.DataFrame(values, index=self.index, columns=list(self.names)) for values in self.equity)

    def point(self, row: Mapping[str, Any] | None) -> int:
        """The cost point of a run's metrics ``row`` (:func:`cost_point`), else the first."""
        found = cost_point(self.labels, self.costs, row)
        return 0 if found is None else found

    def covers(self, row: Mapping[str, Any] | None) -> bool:
        """Whether the cost point of ``row`` is one of these (a row naming no point is covered by any)."""
        return cost_point(self.labels, self.costs, row) is not None or not names_a_point(row)

    def table(self) -> pd.DataFrame:
        """The stored form: ``timestamp``, ``scenario`` (the cost point) and one equity column per name,
        a cost point's bars after another's."""
        n_points, n_bars, _ = self.equity.shape
        return pd.DataFrame({"timestamp": self.index[np.tile(np.arange(n_bars), n_points)],
                             "scenario": np.repeat(np.arange(n_points), n_bars),
                             **{name: self.equity[:, :, k].reshape(-1) for k, name in enumerate(self.names)}})

    def summary(self) -> list[dict[str, Any]]:
        """The stored form in the run's summary: per cost point its label, costs and metrics rows."""
        return [{"label": label, "fees": fees, "slippage": slippage, "metrics": dict(metrics)}
                for label, (fees, slippage), metrics in zip(self.labels, self.costs, self.metrics)]

    @classmethod
    def from_stored(cls, summary: Mapping[str, Any], table: pd.DataFrame) -> "Baselines":
        """What :meth:`table` and :meth:`summary` stored."""
        points = list(summary)
        names = tuple(c for c in table.columns if c not in ("timestamp", "scenario"))
        table = table.iloc[np.argsort(table["scenario"].to_numpy(), kind="stable")]  # each point's bars in order
        stamps = pd.DatetimeIndex(pd.to_datetime(table["timestamp"], utc=True), name="timestamp")
        n_bars = len(table) // max(len(points), 1)
        equity = table[list(names)].to_numpy(dtype=np.float64).reshape(len(points), n_bars, len(names))
        return cls(tuple(p["label"] for p in points), tuple((float(p["fees"]), float(p["slippage"])) for p in points),
                   stamps[:n_bars], names, equity, tuple(p["metrics"] for p in points))


def names_a_point(row: Mapping[str, Any] | None) -> bool:
    """Whether a metrics ``row`` says which cost point it is: a label, or its fees and slippage."""
    row = row or {}
    return bool(row.get("label")) or (row.get("fees") is not None and row.get("slippage") is not None)


def cost_point(labels: Sequence[str], costs: Sequence[tuple[float, float]],
               row: Mapping[str, Any] | None) -> int | None:
    """The index of a metrics ``row``'s cost point among ``labels`` and their ``(fees, slippage)``:
    same label, else same fees and slippage; None when it is none of them."""
    row = row or {}
    if row.get("label") in labels:
        return list(labels).index(row["label"])
    fees, slippage = row.get("fees"), row.get("slippage")
    for i, (f, s) in enumerate(costs):
        if fees is not None and slippage is not None and np.isclose(f, fees) and np.isclose(s, slippage):
            return i
    return None


def grid_point(spec: RunSpec, row: Mapping[str, Any] | None) -> int:
    """The index in ``spec``'s cost grid of a metrics ``row``'s cost point (the first when it names none)."""
    grid = cost_grid(spec)
    found = cost_point([label for label, _ in grid], [(p.fees, p.slippage) for _, p in grid], row)
    return 0 if found is None else found


def run_baselines(spec: RunSpec, data: MarketData | None = None,
                  own: tuple[Decider, Evaluation] | None = None,
                  points: Sequence[int] | None = None) -> Baselines:
    """Run :data:`BASELINES` under cost points of ``spec`` and the benchmark on its market (one load
    of the data, one batch of cost points per baseline).

    Args:
        spec: The run whose market and cost points the baselines take.
        data: The spec's data when the caller has loaded it already (a backtest has); else loaded here.
        own: The run's decider and its evaluation of the spec's cost grid on ``data`` (a backtest has
            them): a baseline that decides as the run does (a baseline's own backtest) takes the run's
            results at those points instead of running again.
        points: Indices into the spec's cost grid (:func:`~workbench.runs.evaluate.cost_grid`);
            default every point. A point's results do not depend on which others run beside it.

    Raises:
        WorkbenchError: the baselines cannot run on the spec's data (e.g. too few bars).
        IndexError: a point outside the grid.
    """
    data = spec_data(spec) if data is None else data
    grid = cost_grid(spec)
    chosen = list(range(len(grid)) if points is None else points)
    picked = [grid[k] for k in chosen]
    batch = (own[1].batch if own is not None and chosen == list(range(len(grid)))
             else from_market(data, [p for _, p in picked], labels=[label for label, _ in picked]))
    plain = dict(strategy_params=(), policy=None, options=())
    curves, metrics = {}, {}
    for name in BASELINES:
        decider = spec_decider(dataclasses.replace(spec, strategy=name, **plain))
        if own is not None and own[0].policy == decider.policy:
            curves[name] = own[1].rollout.equity[:, chosen].T  # [points, T]
            metrics[name] = [own[1].metrics[k] for k in chosen]
        else:
            result = evaluate(batch, decider)
            curves[name], metrics[name] = result.rollout.equity.T, result.metrics
    costless = from_market(data, [grid[0][1].replace(fees=0.0, slippage=0.0)], labels=[BENCHMARK])
    benchmark = evaluate(costless, spec_decider(dataclasses.replace(spec, strategy="buy_and_hold", **plain)))
    equity = np.stack([*curves.values(), np.repeat(benchmark.rollout.equity.T, len(chosen), axis=0)], axis=2)
    rows = [{**{name: metrics[name][i] for name in curves}, BENCHMARK: benchmark.metrics[0]}
            for i in range(len(chosen))]
    return Baselines(tuple(label for label, _ in picked), tuple((p.fees, p.slippage) for _, p in picked),
                     pd.DatetimeIndex(data.index, name="timestamp"), (*curves, BENCHMARK), equity, tuple(rows))


def try_baselines(spec: RunSpec, data: MarketData | None = None,
                  own: tuple[Decider, Evaluation] | None = None,
                  points: Sequence[int] | None = None) -> tuple[Baselines | None, str]:
    """:func:`run_baselines`, or None and the reason when they cannot run on the spec's data."""
    try:
        return run_baselines(spec, data, own, points), ""
    except WorkbenchError as error:
        logger.info("baselines of %s could not run: %s", spec.decider, error)
        return None, f"baselines could not run on this run's data: {error}"
