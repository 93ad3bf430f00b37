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


@dataclass(frozen=True)
class Baselines:
    """Baseline and benchmark results on a run's market.

    Attributes:
        labels: The cost points (``fees=0.001 slippage=0.0005``), in the run's grid order.
        costs: ``(fees, slippage)`` of each cost point.
        curves: One frame per cost point: timestamp index, a column per baseline and the benchmark.
        metrics: One mapping per cost point: name -> metrics row (``engine.metrics.METRIC_KEYS``).
    """

    labels: tuple[str, ...]
    costs: tuple[tuple[float, float], ...]
    curves: tuple[pd.DataFrame, ...]
    metrics: tuple[Mapping[str, Mapping[str, Any]], ...]

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
        """The stored form: ``timestamp``, ``scenario`` and one equity column per name."""
        frames = [curves.reset_index().assign(scenario=i) for i, curves in enumerate(self.curves)]
        frame = pd.concat(frames, ignore_index=True)
        return frame[["timestamp", "scenario", *[c for c in frames[0].columns if c not in ("timestamp", "scenario")]]]

    def summary(self) -> list[dict[str, Any]]:
        """The stored form in the run's summary: per cost point its label, costs and metrics rows."""
        return [{"label": label, "fees": fees, "slippage": slippage, "metrics": dict(metrics)}
                for label, (fees, slippage), metrics in zip(self.labels, self.costs, self.metrics)]

    @classmethod
    def from_stored(cls, summary: Mapping[str, Any], table: pd.DataFrame) -> "Baselines":
        """What :meth:`table` and :meth:`summary` stored."""
        points = list(summary)
        frame = table.copy()
        frame["timestamp"] = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
        curves = []
        for i in range(len(points)):
            part = frame[frame["scenario"] == i].drop(columns=["scenario"]).set_index("timestamp")
            curves.append(part)
        return cls(tuple(p["label"] for p in points), tuple((float(p["fees"]), float(p["slippage"])) for p in points),
                   tuple(curves), tuple(p["metrics"] for p in points))


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
    curves, metrics = [], []
    for point in range(len(grid)):
        frame = pd.DataFrame({name: result.rollout.equity[:, point] for name, result in results.items()},
                             index=pd.DatetimeIndex(data.index, name="timestamp"))
        frame[BENCHMARK] = benchmark.rollout.equity[:, 0]
        curves.append(frame)
        metrics.append({**{name: result.metrics[point] for name, result in results.items()},
                        BENCHMARK: benchmark.metrics[0]})
    return Baselines(tuple(label for label, _ in grid), tuple((p.fees, p.slippage) for _, p in grid),
                     tuple(curves), tuple(metrics))


def try_baselines(spec: RunSpec, data: MarketData | None = None,
                  own: tuple[Decider, Evaluation] | None = None) -> tuple[Baselines | None, str]:
    """:func:`run_baselines`, or None and the reason when they cannot run on the spec's data."""
    try:
        return run_baselines(spec, data, own), ""
    except WorkbenchError as error:
        logger.info("baselines of %s could not run: %s", spec.decider, error)
        return None, f"baselines could not run on this run's data: {error}"
