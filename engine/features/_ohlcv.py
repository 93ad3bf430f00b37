"""Input plumbing shared by the feature families: OHLCV arrays, parameter checks, output frames.

Rolling statistics live in :mod:`engine.features.rolling`; ``lagged`` here is the one shift every
family uses, causal by construction (the value at bar ``t`` reads bar ``t - lag``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError

OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def ohlcv_arrays(bars: pd.DataFrame, caller: str) -> dict[str, np.ndarray]:
    """The OHLCV columns of ``bars`` as contiguous float64 arrays.

    Args:
        bars: Per-symbol bars (validated upstream: positive prices, ordered OHLC, volume >= 0).
        caller: Name of the feature function, for the error message.

    Raises:
        InvalidParameterError: ``bars`` is not a DataFrame or lacks an OHLCV column.
    """
    if not isinstance(bars, pd.DataFrame):
        raise InvalidParameterError(f"{caller} takes a bars DataFrame, got {type(bars).__name__}")
    missing = [c for c in OHLCV if c not in bars.columns]
    if missing:
        raise InvalidParameterError(
            f"{caller}: bars lack column(s) {missing}; expected {list(OHLCV)} "
            "(use MarketData.symbol_frame(symbol) to get one symbol's bars)"
        )
    return {c: np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in OHLCV}


def check_int(name: str, value: int, minimum: int) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else raise InvalidParameterError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise InvalidParameterError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
        np.isfinite(value) and value > 0
    ):
        raise InvalidParameterError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def lagged(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` shifted ``lag`` bars into the future (value at ``t`` is ``x[t - lag]``), NaN-padded."""
    out = np.full_like(x, np.nan, dtype=np.float64)
    if lag < len(x):
        out[lag:] = x[: len(x) - lag]
    return out


def frame(
    columns: tuple[str, ...], values: np.ndarray | list[np.ndarray], index: pd.Index
) -> pd.DataFrame:
    """A float64 DataFrame with ``columns`` over ``index`` from a ``[T, k]`` array or k arrays."""
    data = np.column_stack(values) if isinstance(values, list) else values
    return pd.DataFrame(data.astype(np.float64, copy=False), index=index, columns=list(columns))
