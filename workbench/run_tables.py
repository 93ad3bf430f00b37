"""A rollout's arrays as the tables a stored run keeps (``workbench.store``).

Every per-decision table is in long format, one row per (bar, scenario, symbol), with the columns
``bar`` (the decision bar), ``timestamp`` (its close), ``scenario`` and ``symbol`` first. Nothing is
decided on a batch's last bar, so per-decision tables cover bars ``0 .. T - 2``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.actions import SymbolAction
from engine.records import OrderReason, OrderStatus
from engine.rewards import REWARD_COMPONENTS
from engine.rollout import RolloutResult
from workbench.policy_extras import AttentionSamples


def equity_table(rollout: RolloutResult) -> pd.DataFrame:
    """``timestamp`` and one column of close equity per scenario label."""
    labels = [str(label) for label in rollout.labels] or [f"scenario_{s}" for s in range(rollout.equity.shape[1])]
    equity = pd.DataFrame(rollout.equity, columns=labels)
    return pd.concat([pd.DataFrame({"timestamp": rollout.index}), equity], axis=1)


def orders_table(rollout: RolloutResult) -> pd.DataFrame:
    """Every order record, filled or not, in execution order, with names for codes and symbols.

    ``bar``/``timestamp`` are the fill bar's; ``side`` is ``buy``, ``sell`` or ``none`` (nothing
    filled); ``status`` and ``reason`` are ``engine.records`` names in lowercase.
    """
    records = rollout.records
    status_names = np.array([s.name.lower() for s in OrderStatus])
    reason_names = np.array([r.name.lower() for r in OrderReason])
    return pd.DataFrame({
        "scenario": records["scenario"].astype(np.int64),
        "bar": records["bar"].astype(np.int64),
        "timestamp": rollout.index[records["bar"]],
        "symbol": np.asarray(rollout.symbols, dtype=object)[records["symbol"]].astype(str),
        "side": np.where(records["side"] > 0, "buy", np.where(records["side"] < 0, "sell", "none")),
        "units": records["units"],
        "price": records["price"],
        "fees": records["fees"],
        "status": status_names[records["status"]],
        "reason": reason_names[records["reason"]],
    })


def decisions(rollout: RolloutResult, values: np.ndarray, scope: str) -> np.ndarray:
    """Per-decision ``values`` as ``[T - 1, S, N, ...]`` from the rollout's layout.

    Market scope stacks per distinct path ``[P, T, N, ...]`` (each scenario reads its path's row);
    portfolio scope stacks per bar ``[T - 1, S * N, ...]`` (scenario-major rows).
    """
    n_scenarios, n_symbols, n_decisions = len(rollout.path_ids), len(rollout.symbols), len(rollout.index) - 1
    values = np.asarray(values)
    if scope == "portfolio":
        return values.reshape((n_decisions, n_scenarios, n_symbols) + values.shape[2:])
    position = np.searchsorted(np.unique(rollout.path_ids), rollout.path_ids)
    return np.moveaxis(values[position], 0, 1)[:n_decisions]  # [S, T, N, ...] -> [T - 1, S, N, ...]


def actions_table(rollout: RolloutResult, scope: str) -> pd.DataFrame:
    """``bar, timestamp, scenario, symbol, action`` (``action_0 ..`` for vector actions)."""
    return long_table(rollout, decisions(rollout, rollout.actions, scope), "action")


def probabilities_table(rollout: RolloutResult, scope: str) -> pd.DataFrame:
    """Action probabilities per decision, one column per action (``hold``, ``buy_small``, ...)."""
    probabilities = decisions(rollout, rollout.extras["probabilities"], scope)
    n_actions = probabilities.shape[-1]
    names = [a.name.lower() for a in SymbolAction] if n_actions == len(SymbolAction) else \
        [f"action_{i}" for i in range(n_actions)]
    return long_table(rollout, probabilities, names)


def values_table(rollout: RolloutResult, values: np.ndarray) -> pd.DataFrame:
    """The critic's value estimate per decision (``values`` ``[T - 1, S * N]``, portfolio layout)."""
    return long_table(rollout, decisions(rollout, values, "portfolio"), "value")


def rewards_table(rollout: RolloutResult, rewards: dict[str, np.ndarray]) -> pd.DataFrame:
    """The reward components and ``total`` of each decision (``[T - 1, S, N]`` arrays each)."""
    names = [*REWARD_COMPONENTS, "total"]
    return long_table(rollout, np.stack([rewards[n] for n in names], axis=-1), names)


def attention_table(rollout: RolloutResult, samples: AttentionSamples) -> pd.DataFrame:
    """Sampled attention maps: one row per (bar, symbol, layer, head, query token) of scenario 0,
    one column per key token."""
    weights = samples.weights  # [K, L, N, H, Q, Q]
    n_bars, n_layers, n_symbols, n_heads, n_tokens, _ = weights.shape
    grid = np.indices((n_bars, n_symbols, n_layers, n_heads, n_tokens)).reshape(5, -1)
    rows = np.moveaxis(weights, 2, 1).reshape(-1, n_tokens)  # [K, N, L, H, Q] rows
    bars = samples.bars[grid[0]]
    frame = pd.DataFrame({
        "bar": bars,
        "timestamp": rollout.index[bars],
        "scenario": np.zeros(len(bars), dtype=np.int64),
        "symbol": np.asarray(rollout.symbols, dtype=object)[grid[1]].astype(str),
        "layer": grid[2],
        "head": grid[3],
        "query": np.asarray(samples.tokens, dtype=object)[grid[4]].astype(str),
    })
    return pd.concat([frame, pd.DataFrame(rows, columns=list(samples.tokens))], axis=1)


def long_table(rollout: RolloutResult, values: np.ndarray, columns: str | list[str]) -> pd.DataFrame:
    """``values`` ``[B, S, N, ...]`` (decision bars from 0) as rows of (bar, scenario, symbol).

    ``columns`` names the value column, or the columns of a trailing axis; a single name over a
    trailing axis becomes ``name_0, name_1, ...``.
    """
    n_bars, n_scenarios, n_symbols = values.shape[:3]
    bar, scenario, symbol = np.indices((n_bars, n_scenarios, n_symbols)).reshape(3, -1)
    frame = pd.DataFrame({
        "bar": bar,
        "timestamp": rollout.index[bar],
        "scenario": scenario,
        "symbol": np.asarray(rollout.symbols, dtype=object)[symbol].astype(str),
    })
    flat = values.reshape(len(bar), -1)
    if isinstance(columns, str):
        columns = [columns] if values.ndim == 3 else [f"{columns}_{i}" for i in range(flat.shape[1])]
    return pd.concat([frame, pd.DataFrame(flat, columns=columns)], axis=1)

