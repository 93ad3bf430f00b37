"""A rollout's per-decision arrays as long tables: one row per (decision bar, scenario, symbol).

The rollout stacks per-decision values in its own layout (market scope per distinct path
``[P, T, N, ...]``, portfolio scope per bar ``[T - 1, S * N, ...]``); :func:`decisions` puts both
into ``[T - 1, S, N, ...]`` and :func:`long_table` into rows with the columns ``bar`` (the decision
bar), ``timestamp`` (its close), ``scenario`` and ``symbol`` first. Nothing is decided on a batch's
last bar, so per-decision tables cover bars ``0 .. T - 2``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    values = np.asarray(values)
    flat = values.reshape(int(np.prod(values.shape[:3])), -1)
    if isinstance(columns, str):
        columns = [columns] if values.ndim == 3 else [f"{columns}_{i}" for i in range(flat.shape[1])]
    return _long_frame(rollout, values.shape[:3], {name: flat[:, i] for i, name in enumerate(columns)}, bars)


def long_columns(rollout: RolloutResult, columns: Mapping[str, np.ndarray],
                 bars: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`long_table` of one ``[B, S, N]`` array per column (no stacking into one array first)."""
    shape = np.shape(next(iter(columns.values())))[:3]
    return _long_frame(rollout, shape, {name: np.asarray(v).reshape(-1) for name, v in columns.items()}, bars)


def _long_frame(rollout: RolloutResult, shape: tuple[int, ...], columns: dict[str, np.ndarray],
                bars: np.ndarray | None) -> pd.DataFrame:
    row, scenario, symbol = np.indices(shape).reshape(3, -1)
    bar = row if bars is None else np.asarray(bars, dtype=np.int64)[row]
    return pd.DataFrame({
        "bar": bar,
        "timestamp": rollout.index[bar],
        "scenario": scenario,
        "symbol": text_column(rollout.symbols, symbol),
        **columns,
    })


def text_column(names: Sequence[str], codes: np.ndarray) -> pd.Series:
    """``names[codes]`` as pandas' text column, built by one take from the few names (converting a
    million Python strings one by one costs ten times as much; the column is the same)."""
    return pd.Series([str(n) for n in names], dtype=str).take(np.asarray(codes, dtype=np.int64)).reset_index(drop=True)
