"""One feature family precomputed for every market path and symbol of a batch, read as windows.

Observations read the last ``length`` rows of a feature family at a bar (the 24 x 23 technical block,
the 60 x 7 tactical and 48 x 13 strategic matrices, the regime block as a window of one). The family
is computed once per distinct market path (``ScenarioBatch.path_ids``) and symbol, optionally
normalized with a frozen :class:`~engine.features.normalize.FittedNormalizer`, stored as float32 with
``length - 1`` rows of zeros in front, and gathered for a whole batch of rows in one indexing step.

Warm-up: a value that is NaN (the family's warm-up) and a row before bar 0 both read as 0, the
center of a normalized feature. Values are clipped to ``[-clip, clip]`` after normalization, so
one extreme bar cannot dominate a network's input. Row ``t`` of a window is the family's row
``t``, a pure function of bars ``0..t``: reading a window at ``t`` never sees a later bar.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from engine.data.market import FIELDS, period_mask
from engine.errors import InvalidParameterError
from engine.features.normalize import FeatureNormalizer, FittedNormalizer
from engine.scenarios import ScenarioBatch

Family = Callable[[pd.DataFrame], pd.DataFrame]
Period = tuple[str | pd.Timestamp | None, str | pd.Timestamp | None]


def path_bars(batch: ScenarioBatch, path: int, symbol: int) -> pd.DataFrame:
    """One symbol's bars on one distinct path of ``batch`` (padding included), as a bars frame."""
    s = int(np.flatnonzero(batch.path_ids == path)[0])
    frame = pd.DataFrame({f: getattr(batch, f)[s, :, symbol] for f in FIELDS}, index=batch.timestamps[s])
    frame.index.name = "timestamp"
    return frame


def compute_family(batch: ScenarioBatch, family: Family) -> tuple[np.ndarray, tuple[str, ...]]:
    """``family`` on every distinct path and symbol: values ``[P, T, N, k]`` float64 and the columns."""
    values = None
    columns: tuple[str, ...] = ()
    for p in range(batch.n_paths):
        for n in range(batch.n_symbols):
            frame = family(path_bars(batch, p, n))
            if values is None:
                columns = tuple(str(c) for c in frame.columns)
                values = np.empty((batch.n_paths, batch.n_bars, batch.n_symbols, len(columns)))
            values[p, :, n] = frame.to_numpy(dtype=np.float64)
    return values, columns


def fit_normalizer(batch: ScenarioBatch, values: np.ndarray, columns: Sequence[str], period: Period,
                   method: str = "zscore") -> FittedNormalizer:
    """Fit one normalizer on the real (unpadded) rows of every path and symbol inside ``period``.

    Symbols are pooled: the families are scale-free ratios, and one policy shares its weights over
    symbols, so it should see one scale per column.

    Raises:
        InvalidParameterError: ``period`` is not a ``(start, end)`` pair or holds no bar of the batch.
    """
    if not isinstance(period, (tuple, list)) or len(period) != 2:
        raise InvalidParameterError(
            f"fit_period must be a (start, end) pair of dates (None for an open end), got {period!r}")
    start, end = period
    parts = []
    for p in range(batch.n_paths):
        s = int(np.flatnonzero(batch.path_ids == p)[0])
        index = batch.timestamps[s]
        rows = period_mask(index, start, end) & (np.arange(batch.n_bars) < batch.n_valid[s])
        for n in range(batch.n_symbols):
            parts.append(pd.DataFrame(values[p, rows, n], index=index[rows], columns=list(columns)))
    frame = pd.concat(parts).sort_index(kind="stable")
    if frame.empty:
        raise InvalidParameterError(
            f"the normalizer's training period {start} .. {end} holds no bar of the data "
            f"({batch.index[0]} .. {batch.index[-1]}); choose a period inside it")
    return FeatureNormalizer(method).fit(frame)


def check_normalizer(normalizer: FittedNormalizer | None, columns: Sequence[str]) -> None:
    """Refuse a normalizer fitted on other columns than ``columns``."""
    if normalizer is not None and tuple(normalizer.columns) != tuple(columns):
        raise InvalidParameterError(
            f"the normalizer was fitted on columns {list(normalizer.columns)}, the features are "
            f"{list(columns)}; pass the normalizer stored with this observation layout")


def observed_values(values: np.ndarray, normalizer: FittedNormalizer | None, clip: float) -> np.ndarray:
    """Raw feature values (last axis = columns) as an observation reads them, float32: normalized
    (when a normalizer is given), NaN as 0, clipped to ``[-clip, clip]``."""
    if normalizer is not None:
        values = normalizer.transform_array(values)
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=clip, neginf=-clip), -clip, clip).astype(np.float32)


class FeatureWindows:
    """A feature family of every path and symbol, read as its last ``length`` rows at any bar.

    Args:
        values: ``[P, T, N, k]`` raw feature values (NaN during warm-up).
        columns: The ``k`` column names.
        length: Rows per window.
        normalizer: Frozen statistics applied before clipping; None keeps raw values.
        clip: Bound of the stored values.
    """

    def __init__(self, values: np.ndarray, columns: Sequence[str], length: int,
                 normalizer: FittedNormalizer | None = None, clip: float = 10.0) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 4 or values.shape[-1] != len(columns):
            raise InvalidParameterError(
                f"feature values must be [paths, bars, symbols, {len(columns)}], got {values.shape}")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise InvalidParameterError(f"window length must be an integer >= 1, got {length!r}")
        check_normalizer(normalizer, columns)
        n_paths, n_bars, n_symbols, k = values.shape
        undefined = np.flatnonzero(np.isnan(values).any(axis=(0, 2, 3)))
        self.first_defined = int(undefined[-1]) + 1 if len(undefined) else 0
        self.columns = tuple(columns)
        self.length = int(length)
        self.normalizer = normalizer
        stored = np.zeros((n_paths, n_symbols, n_bars + self.length - 1, k), dtype=np.float32)
        stored[:, :, self.length - 1:] = observed_values(values, normalizer, clip).transpose(0, 2, 1, 3)
        self._values = stored
        self._offsets = np.arange(self.length)

    @property
    def warmup(self) -> int:
        """First bar whose whole window holds defined values on every path and symbol."""
        return self.first_defined + self.length - 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(length, k)`` of one window."""
        return self.length, len(self.columns)

    def windows(self, paths: np.ndarray, symbols: np.ndarray, bars: np.ndarray) -> np.ndarray:
        """``[B, length, k]`` float32: for each row, feature rows ``bar - length + 1 .. bar``."""
        rows = np.asarray(bars)[:, None] + self._offsets[None, :]  # padded index of row bar - length + 1 + i
        return self._values[np.asarray(paths)[:, None], np.asarray(symbols)[:, None], rows]

    def rows(self, paths: np.ndarray, symbols: np.ndarray, bars: np.ndarray) -> np.ndarray:
        """``[B, k]`` float32: each row's feature values at its bar."""
        return self._values[np.asarray(paths), np.asarray(symbols), np.asarray(bars) + self.length - 1]
