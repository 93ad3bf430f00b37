"""What a symbol agent looked at when it decided at one bar: attention maps and feature attribution.

A stored backtest of a symbol agent run by torch keeps sampled attention maps (``attention`` table,
:mod:`workbench.policy_extras`). Runs made with the ONNX export, runs of other kinds and bars
between the samples have none, so :func:`explain_bar` rebuilds the bar's observation instead:

1. the run's spec is re-run with its own decider (same runtime, so the same decisions) on the
   run's market up to bar ``t + 1``, with the scenario's costs and limits; decisions are causal and
   the normalizer is frozen, so every observation up to bar ``t`` equals the stored run's;
2. the observation of bar ``t`` is captured from the observation builder;
3. the checkpoint's torch :class:`~models.symbol_agent.SymbolAgent` is run once on it with
   ``return_attention=True`` (attention per layer and head) and differentiated for the attribution.

Attribution is gradient x input of the chosen action's logit, summed in absolute value over the
technical window's time steps, so each input feature gets one score per symbol; scores are shares
of the symbol's total (they add up to 1).

Only scenarios on the real market can be replayed: a backtest's cost scenarios and a sweep's grid
points. Other runs (stress, compare, walk-forward) are explained on their base scenario: the
spec's period under its first fee and slippage value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from engine.actions import SymbolAction
from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS
from engine.features.technical import TECHNICAL_COLUMNS
from engine.observation import PORTFOLIO_FIELDS, POSITION_FIELDS, SL_MODELS
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market, parameter_grid
from models.checkpoint import load_checkpoint
from models.spec import OBSERVATION_DTYPES, OBSERVATION_NAMES
from models.symbol_agent import SymbolAgent
from models.training import build_symbol_agent
from workbench.policies import resolve_policy, symbol_observer
from workbench.runner import cost_grid, spec_data, spec_decider
from workbench.experiments.sweep import SweepOptions, sweep_axes
from workbench.spec import RunSpec, parse_options

FEATURES: dict[str, tuple[str, ...]] = {
    "technical": TECHNICAL_COLUMNS, "sl_probs": SL_MODELS, "position": POSITION_FIELDS,
    "portfolio": PORTFOLIO_FIELDS, "regime": REGIME_COLUMNS,
}
ACTION_NAMES: tuple[str, ...] = tuple(a.name.lower() for a in SymbolAction)


@dataclass(frozen=True)
class BarExplanation:
    """Attention and attribution of one decision bar.

    Attributes:
        bar: The decision bar (0 = the run's first bar).
        timestamp: Its close.
        scenario: The scenario label replayed.
        symbols: The run's symbols, in row order.
        tokens: Token names (``t-23`` .. ``t``, ``sl_probs``, ``position``, ``portfolio``, ``regime``).
        attention: ``[layers, symbols, heads, tokens, tokens]`` softmax weights (query row, key column).
        probabilities: ``[symbols, 7]`` action probabilities.
        actions: Chosen action name per symbol.
        attribution: Rows ``symbol, block, feature, score`` (share of the symbol's total).
    """

    bar: int
    timestamp: pd.Timestamp
    scenario: str
    symbols: tuple[str, ...]
    tokens: tuple[str, ...]
    attention: np.ndarray
    probabilities: np.ndarray
    actions: tuple[str, ...]
    attribution: pd.DataFrame


def token_names(steps: int) -> tuple[str, ...]:
    """Token names of an encoder with ``steps`` technical rows (as ``workbench.policy_extras``)."""
    return tuple(f"t-{steps - 1 - i}" if i < steps - 1 else "t" for i in range(steps)) + (
        "sl_probs", "position", "portfolio", "regime")


def scenario_params(spec: RunSpec, label: str | None) -> tuple[str, ScenarioParams]:
    """The label and parameters of the scenario to replay (module docstring for which ones can be).

    Raises:
        InvalidParameterError: ``label`` names no replayable scenario of the run.
    """
    if spec.kind == "backtest":
        grid = cost_grid(spec)
    elif spec.kind == "sweep":
        axes = sweep_axes(spec, parse_options(spec, SweepOptions))
        grid = parameter_grid(spec.base_params(), **{name: list(values) for name, values in axes})
    else:
        base = spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0])
        grid = [(str(label or "base"), base)] if label in (None, "base") else []
        if not grid:
            raise InvalidParameterError(
                f"a {spec.kind} run is explained on its base scenario only, not {label!r}; pick 'base'")
    if label is None:
        return grid[0]
    for name, params in grid:
        if name == label:
            return name, params
    raise InvalidParameterError(
        f"scenario {label!r} is not one of the run's scenarios on the real market: "
        f"{', '.join(name for name, _ in grid)}")


def explain_bar(spec_values: Mapping[str, Any], bar: int, scenario: str | None = None) -> BarExplanation:
    """Attention per layer and head and the feature attribution of the decision at ``bar``.

    Args:
        spec_values: The stored run's spec (JSON).
        bar: Decision bar, ``0 .. T - 2`` of the run's data.
        scenario: Label of the scenario (None: the first).

    Raises:
        InvalidParameterError: the run has no policy, the bar is outside the run, or the scenario
            cannot be replayed.
    """
    spec = RunSpec.from_dict(spec_values, source="stored run spec")
    if spec.policy is None:
        raise InvalidParameterError(
            f"run decided by strategy {spec.strategy!r} has no attention; attention belongs to neural policies")
    label, params = scenario_params(spec, scenario)
    data = spec_data(spec)
    if isinstance(bar, bool) or not isinstance(bar, (int, np.integer)) or not 0 <= bar <= data.n_bars - 2:
        raise InvalidParameterError(
            f"bar {bar!r} is not a decision bar of the run; choose 0 .. {data.n_bars - 2} "
            "(nothing is decided on the last bar)")
    decider = spec_decider(spec)
    window = data.slice(None, data.index[bar + 1])
    batch = from_market(window, [params], labels=[label])
    observer = _CapturingObserver(symbol_observer(batch, decider.normalizer), int(bar))
    run_rollout(batch, decider.policy, observer=observer)
    agent = _torch_agent(spec.policy)
    attention, probabilities, chosen, attribution = _explain(agent, observer.captured, data.symbols)
    steps = agent.config.encoder.technical_steps
    return BarExplanation(int(bar), data.index[bar], label, tuple(data.symbols), token_names(steps),
                          attention, probabilities, chosen, attribution)


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


_AGENTS: dict[str, SymbolAgent] = {}


def _torch_agent(policy: str) -> SymbolAgent:
    """The checkpoint's torch agent (verified on load, then kept for later bars)."""
    folder = resolve_policy(policy)
    key = str(folder.resolve())
    if key not in _AGENTS:
        agent, _, _ = load_checkpoint(folder, build_symbol_agent)
        _AGENTS[key] = agent.eval()
    return _AGENTS[key]


def _explain(agent: SymbolAgent, observation: dict[str, np.ndarray] | None,
             symbols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], pd.DataFrame]:
    if observation is None:
        raise RuntimeError("the replay never observed the requested bar")
    inputs = {n: torch.from_numpy(np.ascontiguousarray(observation[n], dtype=OBSERVATION_DTYPES[n]))
              for n in OBSERVATION_NAMES}
    for name in FEATURES:
        inputs[name].requires_grad_(True)
    logits, _, attention = agent(inputs, return_attention=True)
    chosen = logits.argmax(dim=1)
    logits.gather(1, chosen[:, None]).sum().backward()
    rows = []
    for name, features in FEATURES.items():
        score = (inputs[name].grad * inputs[name]).detach().abs()
        if score.dim() == 3:  # technical: [N, steps, features] -> [N, features]
            score = score.sum(dim=1)
        for s, symbol in enumerate(symbols):
            for f, feature in enumerate(features):
                rows.append((symbol, name, feature, float(score[s, f])))
    attribution = pd.DataFrame(rows, columns=["symbol", "block", "feature", "score"])
    totals = attribution.groupby("symbol")["score"].transform("sum")
    attribution["score"] = np.where(totals > 0, attribution["score"] / totals.where(totals > 0, 1.0), 0.0)
    probabilities = torch.softmax(logits.detach().double(), dim=1).numpy()
    weights = np.stack([w.detach().numpy() for w in attention]).astype(np.float32)  # [L, N, H, Q, Q]
    names = tuple(ACTION_NAMES[int(a)] for a in chosen)
    if not math.isclose(float(probabilities.sum(axis=1).mean()), 1.0, rel_tol=1e-6):
        raise RuntimeError("action probabilities do not add up to 1")
    return weights, probabilities, names, attribution


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
