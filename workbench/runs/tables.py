"""The tables every run kind stores in one shape: equity, orders, actions and reward components.

Per-decision tables are long (``engine.decision_tables``): one row per (bar, scenario, symbol), the
columns ``bar`` (the decision bar), ``timestamp`` (its close), ``scenario`` and ``symbol`` first.
The orders table has one schema for every kind and for ``--export`` (:data:`ORDER_COLUMNS`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from engine.decision_tables import decisions, long_columns, long_table, text_column
from engine.records import OrderReason, OrderStatus
from engine.rewards import REWARD_COMPONENTS
from engine.rollout import RolloutResult

ORDER_COLUMNS: tuple[str, ...] = ("scenario", "bar", "timestamp", "symbol", "side", "units", "price", "fees",
                                  "status", "reason")
"""Every order record, filled or not: ``bar``/``timestamp`` are the fill bar's; ``side`` is ``buy``,
``sell`` or ``none`` (nothing filled); ``status`` and ``reason`` are ``engine.records`` names in
lowercase."""


def equity_table(rollout: RolloutResult) -> pd.DataFrame:
    """``timestamp`` and one column of close equity per scenario label."""
    labels = [str(label) for label in rollout.labels] or [f"scenario_{s}" for s in range(rollout.equity.shape[1])]
    equity = pd.DataFrame(rollout.equity, columns=labels)
    return pd.concat([pd.DataFrame({"timestamp": rollout.index}), equity], axis=1)


def orders_table(records: np.ndarray, symbols: Sequence[str],
                 timestamps: pd.DatetimeIndex | Sequence[pd.DatetimeIndex]) -> pd.DataFrame:
    """Every order record in execution order with :data:`ORDER_COLUMNS`.

    Args:
        records: ``engine.records.order_dt`` records.
        symbols: Symbol names by index.
        timestamps: The bars' timestamps, or one index per scenario (a stress set's windows and
            synthetic paths run on their own dates).
    """
    status_names = np.array([s.name.lower() for s in OrderStatus])
    reason_names = np.array([r.name.lower() for r in OrderReason])
    bars = records["bar"].astype(np.int64)
    if isinstance(timestamps, pd.DatetimeIndex):
        stamps = timestamps[bars]
    else:
        stamps = pd.DatetimeIndex([timestamps[s][b] for s, b in zip(records["scenario"], bars)], tz="UTC") \
            if len(records) else pd.DatetimeIndex([], tz="UTC")
    return pd.DataFrame({
        "scenario": records["scenario"].astype(np.int64),
        "bar": bars,
        "timestamp": stamps,
        "symbol": text_column(symbols, records["symbol"]),
        "side": np.where(records["side"] > 0, "buy", np.where(records["side"] < 0, "sell", "none")),
        "units": records["units"],
        "price": records["price"],
        "fees": records["fees"],
        "status": status_names[records["status"]],
        "reason": reason_names[records["reason"]],
    }, columns=list(ORDER_COLUMNS))


def actions_table(rollout: RolloutResult, scope: str) -> pd.DataFrame:
    """``bar, timestamp, scenario, symbol, action`` (``action_0 ..`` for vector actions)."""
    return long_table(rollout, decisions(rollout, rollout.actions, scope), "action")


def rewards_table(rollout: RolloutResult) -> pd.DataFrame:
    """The reward components and ``total`` of each decision the rollout measured."""
    return long_columns(rollout, {name: rollout.rewards[name] for name in (*REWARD_COMPONENTS, "total")})
