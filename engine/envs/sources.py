"""What an environment trades: a dataset or a scenario batch, narrowed to the symbols it asks for."""
from __future__ import annotations

import dataclasses
from typing import Sequence

from engine.data.market import FIELDS, MarketData
from engine.errors import InvalidParameterError
from engine.scenarios import ScenarioBatch, ScenarioParams, from_market

MarketSource = MarketData | ScenarioBatch


def scenario_batch(source: MarketSource, symbols: Sequence[str] | None = None,
                   params: ScenarioParams | Sequence[ScenarioParams] | None = None) -> ScenarioBatch:
    """``source`` as a batch over ``symbols`` (all when None).

    A dataset becomes one path run under ``params`` (the defaults when None; a list gives one
    scenario per parameter set). A batch keeps its own scenarios and parameters.

    Raises:
        InvalidParameterError: ``params`` given with a batch, or an unknown symbol.
    """
    if isinstance(source, MarketData):
        data = source if symbols is None else source.select(list(symbols))
        return from_market(data, params)
    if not isinstance(source, ScenarioBatch):
        raise InvalidParameterError(
            f"an environment trades a MarketData or a ScenarioBatch, got {type(source).__name__}")
    if params is not None:
        raise InvalidParameterError(
            "a ScenarioBatch carries its own parameters; build it with the parameters you want "
            "(engine.scenarios.cross_params) instead of passing params=")
    return source if symbols is None else select_symbols(source, symbols)


def select_symbols(batch: ScenarioBatch, symbols: Sequence[str]) -> ScenarioBatch:
    """The batch restricted to ``symbols``, in that order."""
    unknown = [s for s in symbols if s not in batch.symbols]
    if unknown or not symbols:
        raise InvalidParameterError(
            f"symbols {unknown or list(symbols)} are not in the batch; it has {', '.join(batch.symbols)}")
    columns = [batch.symbols.index(s) for s in symbols]
    return dataclasses.replace(batch, symbols=tuple(symbols),
                               **{f: getattr(batch, f)[:, :, columns] for f in FIELDS})
