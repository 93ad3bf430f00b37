"""Fair value gaps (FVG): three-bar imbalances and how far price has come back into them.

A bullish gap forms at bar ``t`` when ``low_t > high_{t-2}`` (zone ``[high_{t-2}, low_t]``,
below price); a bearish gap when ``high_t < low_{t-2}`` (zone ``[high_t, low_{t-2}]``, above
price). Only the most recent gap of each side is tracked: a new gap replaces the older one of its
side. From the bar after formation, price trading back into a gap fills it::

    bullish fill_t = clip((top - min(low_{f+1..t})) / (top - bottom), 0, 1)
    bearish fill_t = clip((max(high_{f+1..t}) - bottom) / (top - bottom), 0, 1)

(``f`` = formation bar). At each bar the tracked gaps are updated first (fill, age), then a gap
that is fully filled (``fill >= 1``) or older than ``max_age`` bars (``t - f > max_age``) is
dropped, then new gaps formed by bar ``t`` are registered. Columns:

- ``fvg_bullish`` / ``fvg_bearish``: 1.0 while a gap of that side is active, else 0.0.
- ``fvg_level``: midpoint of the most recently formed active gap (either side) over close, minus 1;
  0.0 when no gap is active.
- ``fvg_age``: ``(t - f) / max_age`` of that gap, in ``[0, 1]``; 0.0 when none.
- ``fvg_mitigation``: its fill fraction in ``[0, 1]``; 0.0 when none.

Default ``max_age=50`` bars (about four hours on 5-minute bars). Warm-up: bars 0 and 1 are NaN
(the pattern needs three bars).
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from engine.features._ohlcv import check_int, frame, ohlcv_arrays

FVG_COLUMNS: tuple[str, ...] = (
    "fvg_bullish", "fvg_bearish", "fvg_level", "fvg_age", "fvg_mitigation",
)
FVG_MAX_AGE = 50
"""Default ``max_age``: a gap older than this many bars is dropped."""


@numba.njit(cache=True)
def _fill_fraction_nb(top: float, bottom: float, reach: float, bullish: bool) -> float:
    # `reach` is the deepest price seen inside the zone's direction since formation.
    filled = (top - reach) if bullish else (reach - bottom)
    return min(1.0, max(0.0, filled / (top - bottom)))


@numba.njit(cache=True)
def fair_value_gaps_nb(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, max_age: int
) -> np.ndarray:
    """State machine over bars; returns ``[T, 5]`` in the order of ``FVG_COLUMNS``.

    Side 0 is bullish, side 1 bearish. Per side the state is: active flag, zone top and bottom,
    formation bar, and the reach (lowest low for bullish, highest high for bearish) since formation.
    """
    n = high.shape[0]
    out = np.full((n, 5), np.nan)
    active = np.zeros(2, dtype=np.bool_)
    top = np.zeros(2)
    bottom = np.zeros(2)
    formed = np.zeros(2, dtype=np.int64)
    reach = np.zeros(2)
    fill = np.zeros(2)
    for t in range(n):
        for side in range(2):
            if not active[side]:
                continue
            if side == 0:
                reach[side] = min(reach[side], low[t])
            else:
                reach[side] = max(reach[side], high[t])
            fill[side] = _fill_fraction_nb(top[side], bottom[side], reach[side], side == 0)
            if fill[side] >= 1.0 or t - formed[side] > max_age:
                active[side] = False
        if t < 2:
            continue
        if low[t] > high[t - 2]:
            active[0] = True
            bottom[0] = high[t - 2]
            top[0] = low[t]
            formed[0] = t
            reach[0] = low[t]
            fill[0] = 0.0
        if high[t] < low[t - 2]:
            active[1] = True
            bottom[1] = high[t]
            top[1] = low[t - 2]
            formed[1] = t
            reach[1] = high[t]
            fill[1] = 0.0
        out[t, 0] = 1.0 if active[0] else 0.0
        out[t, 1] = 1.0 if active[1] else 0.0
        # Both sides cannot form on the same bar (low_t > high_{t-2} >= low_{t-2} > high_t is
        # impossible), so "most recent" is unambiguous.
        latest = -1
        if active[0]:
            latest = 0
        if active[1] and (latest == -1 or formed[1] > formed[0]):
            latest = 1
        if latest == -1:
            out[t, 2] = 0.0
            out[t, 3] = 0.0
            out[t, 4] = 0.0
        else:
            out[t, 2] = 0.5 * (top[latest] + bottom[latest]) / close[t] - 1.0
            out[t, 3] = (t - formed[latest]) / max_age
            out[t, 4] = fill[latest]
    return out


def fair_value_gaps(bars: pd.DataFrame, *, max_age: int = FVG_MAX_AGE) -> pd.DataFrame:
    """Fair value gap features (columns ``FVG_COLUMNS``) of one symbol's bars.

    Args:
        bars: Per-symbol OHLCV bars (``high``, ``low`` and ``close`` are read).
        max_age: A gap older than this many bars is dropped.

    Returns:
        Float64 DataFrame on ``bars.index``; bars 0 and 1 are NaN.
    """
    arrays = ohlcv_arrays(bars, "fair_value_gaps")
    values = fair_value_gaps_nb(
        arrays["high"], arrays["low"], arrays["close"], check_int("max_age", max_age, 1)
    )
    return frame(FVG_COLUMNS, values, bars.index)
