"""The baselines and the benchmark beside a run: their equity and metrics on the run's market.

Every run is judged against the same yardsticks: the baselines of :data:`BASELINES` with default
parameters, each under every cost point of the run's grid (fees x slippage), and the benchmark, an
equal-weight buy and hold without costs. Market-scope baselines run compiled in well under a second,
so a backtest stores them with itself (:meth:`Baselines.table` and :meth:`Baselines.summary`) and the
Run detail page and the report read them back (:meth:`Baselines.from_stored`); a run stored without
them gets them computed (:func:`run_baselines`).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass
from typing import Any, Mapping

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
    """Baseline and benchmark results on a run's market.

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
        """The cost point of a run's metrics ``row``: same label, else same fees and slippage, else the first."""
        row = row or {}
        if row.get("label") in self.labels:
            return self.labels.index(row["label"])
        fees, slippage = row.get("fees"), row.get("slippage")
        for i, (f, s) in enumerate(self.costs):
            if fees is not None and slippage is not None and np.isclose(f, fees) and np.isclose(s, slippage):
                return i
        return 0

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


def run_baselines(spec: RunSpec, data: MarketData | None = None,
                  own: tuple[Decider, Evaluation] | None = None) -> Baselines:
    """Run :data:`BASELINES` under each cost point of ``spec`` and the benchmark on its market (one
    load of the data, one batch of cost points per baseline).

    Args:
        spec: The run whose market and cost points the baselines take.
        data: The spec's data when the caller has loaded it already (a backtest has); else loaded here.
        own: The run's decider and its evaluation of the spec's cost grid on ``data`` (a backtest has
            them): the baselines run on its batch, and a baseline that decides as the run does (a
            baseline's own backtest) takes the run's evaluation instead of running again.

    Raises:
        WorkbenchError: the baselines cannot run on the spec's data (e.g. too few bars).
    """
    data = spec_data(spec) if data is None else data
    grid = cost_grid(spec)
    batch = own[1].batch if own is not None else from_market(data, [p for _, p in grid],
                                                               labels=[label for label, _ in grid])
    plain = dict(strategy_params=(), policy=None, options=())
    results = {}
    for name in BASELINES:
        decider = spec_decider(dataclasses.replace(spec, strategy=name, **plain))
        if own is not None and own[0].policy == decider.policy:
            results[name] = own[1]
        else:
            results[name] = evaluate(batch, decider)
    costless = from_market(data, [grid[0][1].replace(fees=0.0, slippage=0.0)], labels=[BENCHMARK])
    benchmark = evaluate(costless, spec_decider(dataclasses.replace(spec, strategy="buy_and_hold", **plain)))
    curves = [result.rollout.equity.T for result in results.values()]  # [points, T] each
    equity = np.stack([*curves, np.repeat(benchmark.rollout.equity.T, len(grid), axis=0)], axis=2)
    metrics = [{**{name: result.metrics[point] for name, result in results.items()}, BENCHMARK: benchmark.metrics[0]}
               for point in range(len(grid))]
    return Baselines(tuple(label for label, _ in grid), tuple((p.fees, p.slippage) for _, p in grid),
                     pd.DatetimeIndex(data.index, name="timestamp"), (*results, BENCHMARK), equity, tuple(metrics))


def try_baselines(spec: RunSpec, data: MarketData | None = None,
                  own: tuple[Decider, Evaluation] | None = None) -> tuple[Baselines | None, str]:
    """:func:`run_baselines`, or None and the reason when they cannot run on the spec's data."""
    try:
        return run_baselines(spec, data, own), ""
    except WorkbenchError as error:
        logger.info("baselines of %s could not run: %s", spec.decider, error)
        return None, f"baselines could not run on this run's data: {error}"
