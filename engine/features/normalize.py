"""Per-column feature normalization fitted on a training period and frozen for everything after.

``FeatureNormalizer(method).fit(frame, start, end)`` computes one ``center`` and one ``scale`` per
column from the rows with ``start <= timestamp <= end`` only, ignoring NaN, and returns a
:class:`FittedNormalizer`. That object is frozen: transforming validation, test or live rows never
updates its statistics, so no information flows from those rows into the features. It round-trips
through ``to_dict`` / ``from_dict`` (plain JSON types) so a checkpoint can carry it.

Methods (``x' = (x - center) / scale``):
    * ``zscore``: center = mean, scale = population std (ddof 0).
    * ``minmax``: center = min, scale = max - min. Training rows land in ``[0, 1]``; later rows are
      NOT clipped and may fall outside, so a move beyond the training range stays visible.
    * ``robust``: center = median, scale = interquartile range ``q75 - q25`` (linear interpolation).

Zero-scale rule: a column that is constant in the training period (max == min) gets ``center`` =
that constant and ``scale = 1``, so it becomes ``x - center``: exactly 0 on the training rows, the raw
offset elsewhere; a robust scale of 0 (IQR 0 on a non-constant column) also becomes 1. NaN inputs stay
NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from engine.data.market import period_mask
from engine.errors import InvalidParameterError

NORMALIZATION_METHODS: tuple[str, ...] = ("zscore", "minmax", "robust")
"""Names accepted by :class:`FeatureNormalizer`."""

_DICT_KEYS = ("method", "columns", "center", "scale", "fit_start", "fit_end", "n_rows")


@dataclass(frozen=True)
class FeatureNormalizer:
    """An unfitted normalizer: which statistics to fit.

    Attributes:
        method: One of :data:`NORMALIZATION_METHODS`.
    """

    method: str = "zscore"

    def __post_init__(self) -> None:
        _check_method(self.method)

    def fit(
        self,
        frame: pd.DataFrame,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> "FittedNormalizer":
        """Fit per-column statistics on the rows of ``frame`` between ``start`` and ``end`` (inclusive).

        Args:
            frame: Feature frame; a UTC DatetimeIndex when ``start`` or ``end`` is given.
            start: First training timestamp; None starts at the first row. Naive values are UTC.
            end: Last training timestamp; None ends at the last row. A date-only string
                (``"2020-12-31"``) includes that whole day.

        Raises:
            InvalidParameterError: a column is not numeric, the period holds no row, or a column has
                no finite value in it, or holds an infinite value.
        """
        non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise InvalidParameterError(
                f"column(s) {', '.join(non_numeric)} are not numeric; normalize feature columns only "
                "(drop label columns such as trend_regime / vol_regime first)"
            )
        train = frame.loc[_period_mask(frame, start, end)]
        if train.empty:
            raise InvalidParameterError(
                f"the training period {start} .. {end} holds no rows of the frame "
                f"({_describe_span(frame)}); choose start/end inside it"
            )
        values = train.to_numpy(dtype=np.float64)
        _check_training_values(values, list(frame.columns))
        center, scale = _STATISTICS[self.method](values)
        # Compare max with min rather than scale with 0: the mean of equal floats can be off by an ulp,
        # and a std of 1e-17 would blow rounding noise up to O(1) values.
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        constant = (high == low) | (scale == 0)
        center = np.where(high == low, low, center)
        scale = np.where(constant, 1.0, scale)
        return FittedNormalizer(
            method=self.method,
            columns=tuple(str(c) for c in frame.columns),
            center=tuple(float(x) for x in center),
            scale=tuple(float(x) for x in scale),
            fit_start=_iso(train.index[0]),
            fit_end=_iso(train.index[-1]),
            n_rows=int(len(train)),
        )


@dataclass(frozen=True)
class FittedNormalizer:
    """Frozen per-column statistics: ``x' = (x - center) / scale``.

    Attributes:
        method: The method that produced the statistics.
        columns: Column names, in the order of ``center`` and ``scale``.
        center: Per-column value subtracted.
        scale: Per-column divisor, never 0.
        fit_start: First training row's index label (ISO string for timestamps).
        fit_end: Last training row's index label.
        n_rows: Training rows used.
    """

    method: str
    columns: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    fit_start: str
    fit_end: str
    n_rows: int

    def __post_init__(self) -> None:
        _check_method(self.method)
        if not len(self.columns) == len(self.center) == len(self.scale):
            raise InvalidParameterError(
                f"normalizer has {len(self.columns)} columns but {len(self.center)} centers and "
                f"{len(self.scale)} scales; the checkpoint is corrupt, refit the normalizer"
            )
        if not all(np.isfinite(self.center)) or not all(np.isfinite(s) and s > 0 for s in self.scale):
            raise InvalidParameterError(
                "normalizer statistics must be finite with positive scales; refit the normalizer"
            )

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Normalize ``frame`` (same column set as the training frame); keeps its index and column order.

        Raises:
            InvalidParameterError: the columns differ from the fitted ones.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [str(c) for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise InvalidParameterError(
                f"normalizer was fitted on {len(self.columns)} columns; frame lacks {missing or 'none'} "
                f"and has unknown {extra or 'none'}; transform frames with the training columns or refit"
            )
        order = [self.columns.index(str(c)) for c in frame.columns]
        values = frame.to_numpy(dtype=np.float64)
        normalized = (values - np.asarray(self.center)[order]) / np.asarray(self.scale)[order]
        return pd.DataFrame(normalized, index=frame.index, columns=frame.columns)

    def transform_array(self, values: np.ndarray) -> np.ndarray:
        """Normalize an array whose last axis holds the columns in :attr:`columns` order."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-1:] != (len(self.columns),):
            raise InvalidParameterError(
                f"array's last axis has {values.shape[-1:] or 'no'} entries, the normalizer "
                f"{len(self.columns)} columns ({', '.join(self.columns)})"
            )
        return (values - np.asarray(self.center)) / np.asarray(self.scale)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict; :meth:`from_dict` rebuilds an equal normalizer."""
        return {
            "method": self.method,
            "columns": list(self.columns),
            "center": list(self.center),
            "scale": list(self.scale),
            "fit_start": self.fit_start,
            "fit_end": self.fit_end,
            "n_rows": self.n_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FittedNormalizer":
        """Rebuild from :meth:`to_dict` output.

        Raises:
            InvalidParameterError: a key is missing or unknown, or the statistics are inconsistent.
        """
        missing = [k for k in _DICT_KEYS if k not in data]
        unknown = [k for k in data if k not in _DICT_KEYS]
        if missing or unknown:
            raise InvalidParameterError(
                f"normalizer dict lacks {missing or 'nothing'} and has unknown keys {unknown or 'none'}; "
                "pass the output of FittedNormalizer.to_dict()"
            )
        try:
            return cls(
                method=str(data["method"]),
                columns=tuple(str(c) for c in data["columns"]),
                center=tuple(float(x) for x in data["center"]),
                scale=tuple(float(x) for x in data["scale"]),
                fit_start=str(data["fit_start"]),
                fit_end=str(data["fit_end"]),
                n_rows=int(data["n_rows"]),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidParameterError):
                raise
            raise InvalidParameterError(
                f"normalizer dict has a value of the wrong type ({exc}); "
                "pass the output of FittedNormalizer.to_dict()"
            ) from None


def _check_method(method: str) -> None:
    if method not in NORMALIZATION_METHODS:
        raise InvalidParameterError(
            f"unknown normalization method {method!r}; use one of {', '.join(NORMALIZATION_METHODS)}"
        )


def _zscore(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.nanmean(values, axis=0), np.nanstd(values, axis=0)


def _minmax(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.nanmin(values, axis=0)
    return low, np.nanmax(values, axis=0) - low


def _robust(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q25, q50, q75 = np.nanpercentile(values, [25.0, 50.0, 75.0], axis=0)
    return q50, q75 - q25


_STATISTICS = {"zscore": _zscore, "minmax": _minmax, "robust": _robust}


def _check_training_values(values: np.ndarray, columns: list) -> None:
    infinite = [str(c) for c, bad in zip(columns, np.isinf(values).any(axis=0)) if bad]
    if infinite:
        raise InvalidParameterError(
            f"column(s) {', '.join(infinite)} hold infinite values in the training period; "
            "fix the feature or drop those rows before fitting"
        )
    empty = [str(c) for c, ok in zip(columns, (~np.isnan(values)).any(axis=0)) if not ok]
    if empty:
        raise InvalidParameterError(
            f"column(s) {', '.join(empty)} are all NaN in the training period (still in warm-up?); "
            "start the training period later or drop those columns"
        )


def _period_mask(frame: pd.DataFrame, start, end) -> np.ndarray:
    if start is None and end is None:
        return np.ones(len(frame), dtype=bool)
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise InvalidParameterError(
            "fitting on a period (start/end) needs a frame with a timezone-aware DatetimeIndex; "
            "pass the feature frame on its bars' UTC index, or slice the rows yourself"
        )
    return period_mask(frame.index, start, end)


def _iso(label: Any) -> str:
    return label.isoformat() if isinstance(label, pd.Timestamp) else str(label)


def _describe_span(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "the frame is empty"
    return f"it covers {_iso(frame.index[0])} .. {_iso(frame.index[-1])}"
