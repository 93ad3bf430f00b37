"""The teams' observation matrices (docs/design.md): tactical 60x7 (5-minute) and strategic 48x13 (30-minute).

``tactical_features`` and ``strategic_features`` build one row of features per bar;
``window_tensor`` stacks the last ``length`` rows of each bar into the ``[T, length, k]`` tensor the
agents read (``TACTICAL_WINDOW = 60``, ``STRATEGIC_WINDOW = 48``).

Columns defined here (the others come from their families):

- ``momentum`` (tactical): ``ln(close_t / close_{t-5}) / (sigma20_t * sqrt(5))``, the 5-bar log
  return in units of its own expected noise, where ``sigma20_t`` is the sample std of the last 20
  one-bar log returns. 0 where ``sigma20_t == 0`` (flat prices). Warm-up 20 bars.
- ``volume`` (tactical): ``ln(1 + volume_t / mean(volume_{t-19..t}))``; the mean includes bar ``t``,
  so the value lies in ``[0, ln 21]`` and is ``ln 2`` for an average bar; 0 where the 20-bar mean
  volume is 0. Warm-up 19 bars.
- ``volatility_30`` (strategic): sample std of the last 30 one-bar log returns (per bar, not
  annualized). Warm-up 30 bars.
- ``momentum_20`` / ``momentum_50`` (strategic):
  ``ln(close_t / close_{t-n}) / (volatility_30_t * sqrt(n))`` for ``n = 20, 50``; 0 where
  ``volatility_30 == 0``. Warm-up 30 and 50 bars.

Memory (``TACTICAL_LOOKBACK = 52``): a tactical row at bar ``t`` is a function of bars ``t - 52 .. t``
alone, so the same function run on any stretch of bars that holds those gives the same row bit for
bit (the live observation relies on it, ``engine.tactical_observation``). Momentum reads 21 closes,
volume 20 bars, both computed window by window (``engine.features.rolling``: no running sums);
a fair value gap active at ``t`` formed at ``f >= t - max_age`` from bars ``f - 2 .. f`` and its fill
reads bars ``f + 1 .. t``, and a gap formed earlier has expired by ``t`` whether it was seen or not:
``max_age + 2 = 52`` bars.

Strategic column order and agent groups: the strategic-team specification (docs/design.md,
strategic team) gives the MLMI agent indices ``[0, 1, 9, 10]``, NWRQK ``[2, 3, 4, 5]`` and Regime
``[10, 11, 12]``: MLMI and Regime overlap at 10, and 6-8 are unused. We resolve it by giving MLMI
``[0, 1, 8, 9]`` (``momentum_20``, ``momentum_50`` at 8, 9), keeping NWRQK and Regime as written;
6 and 7 (the FVG flags) belong to no agent and are shared context for the critic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from engine.errors import InvalidParameterError
from engine.features import rolling
from engine.features._ohlcv import check_int, frame, ohlcv_arrays
from engine.features.fvg import FVG_MAX_AGE, fair_value_gaps, fair_value_gaps_nb
from engine.features.lvn import low_volume_nodes
from engine.features.mlmi import mlmi
from engine.features.mmd import mmd_regime_score
from engine.features.nwrqk import nwrqk

TACTICAL_WINDOW = 60
TACTICAL_LOOKBACK = FVG_MAX_AGE + 2
"""A tactical row at bar ``t`` depends on bars ``t - TACTICAL_LOOKBACK .. t`` only (module docstring)."""
STRATEGIC_WINDOW = 48

TACTICAL_COLUMNS: tuple[str, ...] = (
    "fvg_bullish", "fvg_bearish", "fvg_level", "fvg_age", "fvg_mitigation", "momentum", "volume",
)
STRATEGIC_COLUMNS: tuple[str, ...] = (
    "mlmi_value", "mlmi_signal", "nwrqk_value", "nwrqk_slope", "lvn_distance", "lvn_strength",
    "fvg_bullish", "fvg_bearish", "momentum_20", "momentum_50", "mmd_score", "volatility_30",
    "volume_profile_skew",
)
STRATEGIC_AGENT_COLUMNS: dict[str, tuple[int, ...]] = {
    "mlmi": (0, 1, 8, 9),
    "nwrqk": (2, 3, 4, 5),
    "regime": (10, 11, 12),
}

_TACTICAL_MOMENTUM_PERIOD = 5
_TACTICAL_VOL_WINDOW = 20
_TACTICAL_VOLUME_WINDOW = 20
_STRATEGIC_VOL_WINDOW = 30


def scaled_momentum(close: np.ndarray, period: int, sigma: np.ndarray) -> np.ndarray:
    """``ln(close_t / close_{t-period}) / (sigma_t * sqrt(period))``, 0 where ``sigma_t == 0``.

    NaN wherever either the return or ``sigma_t`` is still warming up.
    """
    move = rolling.log_return(close, period)
    return rolling.safe_divide(move, sigma * np.sqrt(period), fill=0.0)


def volume_ratio(volume: np.ndarray, window: int) -> np.ndarray:
    """``ln(1 + volume_t / mean(volume_{t-window+1..t}))``, 0 where that mean is 0."""
    return np.log1p(rolling.safe_divide(volume, rolling.sma(volume, window), fill=0.0))


def tactical_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 7 tactical features per bar (columns ``TACTICAL_COLUMNS``), default family parameters."""
    arrays = ohlcv_arrays(bars, "tactical_features")
    values = tactical_values(arrays["high"], arrays["low"], arrays["close"], arrays["volume"])
    return frame(TACTICAL_COLUMNS, values, bars.index)


def tactical_values(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """:func:`tactical_features` on float64 arrays of one symbol: ``[T, 7]`` (no frame; the live
    observation calls it on every bar)."""
    out = np.empty((len(close), len(TACTICAL_COLUMNS)))
    out[:, :5] = fair_value_gaps_nb(high, low, close, FVG_MAX_AGE)
    out[:, 5] = scaled_momentum(close, _TACTICAL_MOMENTUM_PERIOD, rolling.realized_vol(close, _TACTICAL_VOL_WINDOW))
    out[:, 6] = volume_ratio(volume, _TACTICAL_VOLUME_WINDOW)
    return out


def strategic_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 13 strategic features per bar (``STRATEGIC_COLUMNS``), default family parameters."""
    close = ohlcv_arrays(bars, "strategic_features")["close"]
    sigma = rolling.realized_vol(close, _STRATEGIC_VOL_WINDOW)
    own = frame(
        ("momentum_20", "momentum_50", "volatility_30"),
        [scaled_momentum(close, 20, sigma), scaled_momentum(close, 50, sigma), sigma],
        bars.index,
    )
    parts = [mlmi(bars), nwrqk(bars), low_volume_nodes(bars), fair_value_gaps(bars),
             mmd_regime_score(bars), own]
    return pd.concat(parts, axis=1)[list(STRATEGIC_COLUMNS)]


def window_tensor(features: pd.DataFrame, length: int) -> np.ndarray:
    """Rolling windows ``[T, length, k]``: row ``t`` holds feature rows ``t-length+1..t``.

    Rows before bar 0 are NaN. The result is a read-only strided view over one NaN-padded float64
    copy of the features (``(T + length - 1) * k`` values), so the windows cost no extra memory;
    call ``.copy()`` for a writable, contiguous array.

    Raises:
        InvalidParameterError: ``length`` < 1 or a feature column is not numeric.
    """
    check_int("length", length, 1)
    try:
        values = features.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"window_tensor needs numeric feature columns: {exc}") from None
    padded = np.full((len(values) + length - 1, values.shape[1]), np.nan)
    padded[length - 1 :] = values
    # sliding_window_view puts the window axis last: [T, k, length] -> [T, length, k].
    return sliding_window_view(padded, length, axis=0).transpose(0, 2, 1)
