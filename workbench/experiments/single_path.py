"""The market that compare and walk-forward run on: one path (the spec's data) under one cost point.

Both experiments put several deciders side by side on identical data, fills and cash rules, so each
builds one single-scenario batch here and rolls every decider out over it.

Defaults that make ``--data stocks`` work alone:

* Universe: without ``symbols`` in the spec, every symbol priced on every bar of the period
  (the engine needs a price for every symbol on every bar); the symbols left out are named in the
  notes. Late listings (GOOG in 2004, FB in 2012 in ``stocks``) are the usual reason.
* Costs: the spec's first fees value and first slippage value; when the spec lists several, the
  notes say which were used (a cost grid is ``workbench sweep``'s job).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.data.market import FIELDS, MarketData, bars_per_year
from engine.errors import InvalidParameterError
from engine.metrics import equity_returns
from engine.rollout import ProgressCallback
from engine.scenarios import ScenarioBatch, ScenarioParams, from_market
from workbench.runs.evaluate import Decider, Evaluation, evaluate, spec_data
from workbench.runs.spec import RunSpec
from workbench.services.datasets import describe_data, load_dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SinglePath:
    """The data, its one-scenario batch and what was decided on the way.

    Attributes:
        data: The selected symbols and period.
        batch: One scenario of ``data`` under ``params``.
        params: Cash, risk limits and the one cost point.
        notes: Sentences about defaults applied (symbols left out, costs chosen).
    """

    data: MarketData
    batch: ScenarioBatch
    params: ScenarioParams
    notes: tuple[str, ...]

    @property
    def periods_per_year(self) -> float:
        return bars_per_year(self.batch.frequency)

    def run(self, decider: Decider, progress: ProgressCallback | None = None) -> Evaluation:
        """``decider`` rolled out over the batch (``workbench.runs.evaluate.evaluate``)."""
        return evaluate(self.batch, decider, progress=progress)

    def returns(self, evaluation: Evaluation) -> np.ndarray:
        """Per-bar returns ``[T]`` of the evaluation's one scenario (``engine.metrics.equity_returns``)."""
        return equity_returns(evaluation.rollout.equity, self.batch.param_array("init_cash"))[:, 0]

    def describe(self) -> dict[str, object]:
        """The data and cost point as the summaries show them."""
        return {**describe_data(self.data), "bars": int(self.data.n_bars)}

    def costs(self) -> dict[str, float]:
        return {"fees": self.params.fees, "slippage": self.params.slippage, "cash": self.params.init_cash}


def load_single_path(spec: RunSpec) -> SinglePath:
    """The spec's data (default universe as the module describes) under its first cost point."""
    notes = []
    if spec.symbols is None:
        data = load_dataset(spec.data, start=spec.start, end=spec.end)
        data, dropped = complete_symbols(data)
        if dropped:
            notes.append(f"symbols {', '.join(dropped)} left out: they have no price on some bars of the "
                         "period; choose --symbols and --start/--end to include them")
    else:
        data = spec_data(spec)
    if len(spec.fees) > 1 or len(spec.slippage) > 1:
        notes.append(f"the spec lists several costs; this run uses the first: fees {spec.fees[0]:g}, "
                     f"slippage {spec.slippage[0]:g}")
    for note in notes:
        logger.info(note)
    params = spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0])
    batch = from_market(data, [("base", params)])
    return SinglePath(data, batch, params, tuple(notes))


def complete_symbols(data: MarketData) -> tuple[MarketData, list[str]]:
    """``data`` restricted to the symbols with every field on every bar, and the names left out."""
    missing = np.zeros(data.close.shape, dtype=bool)
    for name in FIELDS:
        missing |= np.isnan(getattr(data, name))
    keep = [s for j, s in enumerate(data.symbols) if not missing[:, j].any()]
    if not keep:
        raise InvalidParameterError(
            f"no symbol of dataset {data.name!r} has a price on every bar of {data.index[0].date()} to "
            f"{data.index[-1].date()}; choose --symbols and a period where they all trade (--start/--end)")
    dropped = [s for s in data.symbols if s not in keep]
    return (data.select(keep) if dropped else data), dropped
