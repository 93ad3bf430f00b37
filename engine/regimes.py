"""Market-regime labels per bar: a trend regime and a volatility regime, both causal.

Stress and sensitivity reports group a policy's results by these labels. The rules are dimensionless
(a t-statistic and a volatility ratio), so the same parameters work on daily, hourly or 5-minute bars
and on any price level.

Trend, over the last ``trend_window`` bars (``W``, default 60):
    ``r = log(c_t / c_{t-W})`` and ``s`` = sample std (ddof 1) of the last ``W`` one-bar log returns.
    ``bull`` if ``r > k * s * sqrt(W)``, ``bear`` if ``r < -k * s * sqrt(W)``, else ``sideways``
    (``k = trend_k``, default 1.0). ``r / (s sqrt(W))`` is the t-statistic of the mean return, so
    ``bull`` reads "the window drifted up by more than one standard error". A flat window
    (``r = s = 0``) is ``sideways``; a noiseless rise (``s = 0 < r``) is ``bull``. Defined from bar ``W``.

Volatility, with ``v`` = sample std of the last ``vol_window`` (20) one-bar log returns and ``m`` the
median of ``v`` over its last ``vol_history`` (252) values, current included:
    ``high`` if ``v > high_ratio * m`` (1.5), ``low`` if ``v < low_ratio * m`` (0.75), else ``normal``.
    The comparison is made without dividing, so ``m = 0`` gives ``normal`` for ``v = 0`` and ``high``
    otherwise. Defined from bar ``vol_window + vol_history - 1`` (271).

Both columns are pandas categoricals with the categories of :data:`REGIME_LABELS`; bars in warm-up
are missing (NaN), never a guessed label.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.features import rolling
from engine.features._ohlcv import ohlcv_arrays

TREND_LABELS: tuple[str, ...] = ("bull", "bear", "sideways")
"""Categories of ``trend_regime``, in category order."""

VOL_LABELS: tuple[str, ...] = ("low", "normal", "high")
"""Categories of ``vol_regime``, in category order."""

REGIME_LABELS: dict[str, tuple[str, ...]] = {"trend_regime": TREND_LABELS, "vol_regime": VOL_LABELS}
"""Label column name -> its categories; the columns of :func:`regime_labels`, in order."""


@dataclass(frozen=True)
class RegimeRule:
    """Parameters of the labelling rule (see the module docstring).

    Attributes:
        trend_window: Bars of the trailing return and its volatility (``W``).
        trend_k: Standard errors the ``W``-bar return must exceed to count as a trend.
        vol_window: Bars of the realized volatility that is classified.
        vol_history: Trailing values of that volatility whose median is the reference.
        low_ratio: Below ``low_ratio * median`` the regime is ``low``.
        high_ratio: Above ``high_ratio * median`` the regime is ``high``.
    """

    trend_window: int = 60
    trend_k: float = 1.0
    vol_window: int = 20
    vol_history: int = 252
    low_ratio: float = 0.75
    high_ratio: float = 1.5

    def __post_init__(self) -> None:
        for name in ("trend_window", "vol_window", "vol_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InvalidParameterError(f"RegimeRule.{name} must be an integer >= 2, got {value!r}")
        for name in ("trend_k", "low_ratio", "high_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidParameterError(f"RegimeRule.{name} must be a finite number, got {value!r}")
        if self.trend_k < 0:
            raise InvalidParameterError(f"RegimeRule.trend_k must be >= 0, got {self.trend_k}")
        if not 0 < self.low_ratio < self.high_ratio:
            raise InvalidParameterError(
                "RegimeRule needs 0 < low_ratio < high_ratio, got "
                f"low_ratio={self.low_ratio}, high_ratio={self.high_ratio} (defaults: 0.75, 1.5)"
            )


def regime_labels(bars: pd.DataFrame, rule: RegimeRule = RegimeRule()) -> pd.DataFrame:
    """Label each bar with a trend regime and a volatility regime.

    Args:
        bars: One symbol's bars: float64 columns ``open, high, low, close, volume``, positive prices.
        rule: Windows and thresholds; the defaults are those in the module docstring.

    Returns:
        Frame on ``bars.index`` with categorical columns ``trend_regime`` (:data:`TREND_LABELS`) and
        ``vol_regime`` (:data:`VOL_LABELS`); missing during each column's warm-up.
    """
    close = ohlcv_arrays(bars, "regime_labels")["close"]

    move = rolling.log_return(close, rule.trend_window)
    band = rule.trend_k * rolling.realized_vol(close, rule.trend_window) * math.sqrt(rule.trend_window)
    trend_codes = _codes(
        defined=~np.isnan(move) & ~np.isnan(band),
        choices=[(move > band, "bull"), (move < -band, "bear")],
        default="sideways",
        labels=TREND_LABELS,
    )

    vol = rolling.realized_vol(close, rule.vol_window)
    reference = rolling.rolling_median(vol, rule.vol_history)
    vol_codes = _codes(
        defined=~np.isnan(vol) & ~np.isnan(reference),
        choices=[(vol > rule.high_ratio * reference, "high"), (vol < rule.low_ratio * reference, "low")],
        default="normal",
        labels=VOL_LABELS,
    )
    return pd.DataFrame(
        {
            "trend_regime": pd.Categorical.from_codes(trend_codes, categories=list(TREND_LABELS)),
            "vol_regime": pd.Categorical.from_codes(vol_codes, categories=list(VOL_LABELS)),
        },
        index=bars.index,
    )


def _codes(
    defined: np.ndarray,
    choices: list[tuple[np.ndarray, str]],
    default: str,
    labels: tuple[str, ...],
) -> np.ndarray:
    """Category codes: the first matching choice, else ``default``; -1 (missing) where not ``defined``."""
    codes = np.select(
        [mask for mask, _ in choices], [labels.index(name) for _, name in choices], labels.index(default)
    )
    return np.where(defined, codes, -1).astype(np.int8)
