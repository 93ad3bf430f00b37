"""What a trained policy looked at when it decided at one bar: attention maps and feature attribution.

A stored backtest of a symbol agent keeps sampled attention maps (its ``attention`` table, written by
the same forward pass that decided). Bars between the samples and runs of other kinds have none, so
:func:`explain_bar` rebuilds the bar's observation instead:

1. the run's spec is re-run with its own decider (same runtime, so the same decisions) on the
   run's market up to bar ``t + 1``, with the scenario's costs and limits; decisions are causal and
   the normalizer is frozen, so every observation up to bar ``t`` equals the stored run's;
2. the observation of bar ``t`` is captured from the decider's observer;
3. the decider's policy family explains the decision on it (``PolicyFamily.explain``: attention per
   layer and head, probabilities, and a gradient x input attribution).

Only scenarios on the real market can be replayed; which ones a run has is its kind's business
(``RunKind.replayable``: a backtest's cost scenarios, a sweep's grid points, otherwise the base
scenario).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from strategies.family import Explanation
from workbench.runs.evaluate import spec_data, spec_decider
from workbench.runs.registry import run_kind
from workbench.runs.spec import RunSpec


@dataclass(frozen=True)
class BarExplanation:
    """The explanation of one decision bar of a stored run.

    Attributes:
        bar: The decision bar (0 = the run's first bar).
        timestamp: Its close.
        scenario: The scenario label replayed.
        symbols: The run's symbols, in row order.
        explanation: What the policy family says about the decision (attention, probabilities,
            actions, attribution).
    """

    bar: int
    timestamp: pd.Timestamp
    scenario: str
    symbols: tuple[str, ...]
    explanation: Explanation


def scenario_params(spec: RunSpec, label: str | None) -> tuple[str, ScenarioParams]:
    """The label and parameters of the scenario to replay (the first when ``label`` is None).

    Raises:
        InvalidParameterError: ``label`` names no replayable scenario of the run.
    """
    grid = run_kind(spec.kind).replayable(spec)
    if label is None:
        return grid[0]
    for name, params in grid:
        if name == label:
            return name, params
    raise InvalidParameterError(
        f"scenario {label!r} is not one of the run's scenarios on the real market: "
        f"{', '.join(name for name, _ in grid)}")


def explain_bar(spec_values: Mapping[str, Any], bar: int, scenario: str | None = None) -> BarExplanation:
    """Attention and attribution of the decision at ``bar`` of the run whose spec is ``spec_values``.

    Args:
        spec_values: The stored run's spec (JSON).
        bar: Decision bar, ``0 .. T - 2`` of the run's data.
        scenario: Label of the scenario (None: the first).

    Raises:
        InvalidParameterError: the run's decider has no network to explain, the bar is outside the
            run, or the scenario cannot be replayed.
    """
    spec = RunSpec.from_dict(spec_values, source="stored run spec")
    decider = spec_decider(spec)
    if not decider.is_trained:
        raise InvalidParameterError(
            f"run decided by strategy {decider.name!r} has no attention; attention belongs to trained policies")
    label, params = scenario_params(spec, scenario)
    data = spec_data(spec)
    if isinstance(bar, bool) or not isinstance(bar, (int, np.integer)) or not 0 <= bar <= data.n_bars - 2:
        raise InvalidParameterError(
            f"bar {bar!r} is not a decision bar of the run; choose 0 .. {data.n_bars - 2} "
            "(nothing is decided on the last bar)")
    window = data.slice(None, data.index[bar + 1])
    batch = from_market(window, [params], labels=[label])
    observer = _CapturingObserver(decider.observer(batch), int(bar))
    run_rollout(batch, decider.policy, observer=observer)
    if observer.captured is None:
        raise RuntimeError("the replay never observed the requested bar")
    explanation = decider.family.explain(decider, observer.captured, tuple(data.symbols))
    return BarExplanation(int(bar), data.index[bar], label, tuple(data.symbols), explanation)


class _CapturingObserver:
    """An observer that keeps a copy of the rows it builds at one bar."""

    def __init__(self, builder, bar: int) -> None:
        self.builder = builder
        self.bar = bar
        self.captured: dict[str, np.ndarray] | None = None

    def observe(self, bar: int, context) -> dict[str, np.ndarray]:
        observation = self.builder.observe(bar, context)
        if bar == self.bar:
            self.captured = {k: np.array(v, copy=True) for k, v in observation.items()}
        return observation


def stored_attention(table: pd.DataFrame, bar: int, symbols: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The sampled maps of ``bar`` from a run's ``attention`` table as ``[layers, symbols, heads, Q, Q]``.

    Raises:
        InvalidParameterError: the table has no sample at ``bar``.
    """
    rows = table[table["bar"] == bar]
    if rows.empty:
        raise InvalidParameterError(
            f"the run's attention table has no sample at bar {bar}; sampled bars: "
            f"{_bars_text(np.unique(table['bar']))}")
    tokens = tuple(c for c in table.columns if c not in ("bar", "timestamp", "scenario", "symbol", "layer",
                                                          "head", "query"))
    n_layers, n_heads = int(rows["layer"].max()) + 1, int(rows["head"].max()) + 1
    out = np.zeros((n_layers, len(symbols), n_heads, len(tokens), len(tokens)), np.float32)
    position = {t: i for i, t in enumerate(tokens)}
    index = {s: i for i, s in enumerate(symbols)}
    values = rows[list(tokens)].to_numpy(np.float32)
    for k, (layer, symbol, head, query) in enumerate(rows[["layer", "symbol", "head", "query"]].itertuples(index=False)):
        out[int(layer), index[symbol], int(head), position[query]] = values[k]
    return out, tokens


def _bars_text(bars: np.ndarray) -> str:
    shown = ", ".join(str(int(b)) for b in bars[:8])
    return shown + (", ..." if len(bars) > 8 else "")
