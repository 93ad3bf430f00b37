"""A rollout's per-decision arrays as long tables: one row per (decision bar, scenario, symbol).

The rollout stacks per-decision values in its own layout (market scope per distinct path
``[P, T, N, ...]``, portfolio scope per bar ``[T - 1, S * N, ...]``); :func:`decisions` puts both
into ``[T - 1, S, N, ...]`` and :func:`long_table` into rows with the columns ``bar`` (the decision
bar), ``timestamp`` (its close), ``scenario`` and ``symbol`` first. Nothing is decided on a batch's
last bar, so per-decision tables cover bars ``0 .. T - 2``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.rollout import RolloutResult


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


def long_table(rollout: RolloutResult, values: np.ndarray, columns: str | list[str],
               bars: np.ndarray | None = None) -> pd.DataFrame:
    """``values`` ``[B, S, N, ...]`` as rows of (bar, scenario, symbol).

    ``bars`` are the decision bars of the ``B`` rows (default ``0 .. B - 1``). ``columns`` names
    the value column, or the columns of a trailing axis; a single name over a trailing axis becomes
    ``name_0, name_1, ...``.
    """
    n_bars, n_scenarios, n_symbols = values.shape[:3]
    row, scenario, symbol = np.indices((n_bars, n_scenarios, n_symbols)).reshape(3, -1)
    bar = row if bars is None else np.asarray(bars, dtype=np.int64)[row]
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
