"""The technical block of the observation: 23 scale-free indicators per bar.

The policy sees the last ``TECHNICAL_WINDOW`` rows of this frame (a ``24 x 23`` matrix). Every column
is a ratio, a log return or a bounded oscillator, so two symbols at different price levels or volume
units give comparable values; none is annualized, so values do depend on the bar frequency. Bar ``t``
uses bars ``0..t`` only.

Columns (``c, o, h, l, v`` = close, open, high, low, volume of the bar; ``c_{t-k}`` k bars earlier;
first valid row in brackets, 0-based):

====================  ===========================================================================  ====
log_return_1          ``log(c / c_{t-1})``                                                          [1]
log_return_5          ``log(c / c_{t-5})``                                                          [5]
log_return_20         ``log(c / c_{t-20})``                                                         [20]
range_hl              ``(h - l) / c``                                                               [0]
body                  ``(c - o) / c``  (signed: positive for an up bar)                            [0]
upper_wick            ``(h - max(o, c)) / c``                                                       [0]
lower_wick            ``(min(o, c) - l) / c``                                                       [0]
gap                   ``log(o / c_{t-1})``                                                          [1]
close_sma_10          ``c / SMA10(c) - 1``                                                          [9]
close_sma_20          ``c / SMA20(c) - 1``                                                          [19]
close_sma_50          ``c / SMA50(c) - 1``                                                          [49]
macd                  ``EMA12(c) / EMA26(c) - 1`` (MACD as a fraction of price, i.e. PPO / 100)     [25]
macd_signal           ``EMA9(macd)``                                                                [33]
macd_hist             ``macd - macd_signal``                                                        [33]
rsi_14                ``RSI14(c) / 100`` (Wilder; 0.5 on a flat window)                             [14]
stoch_k_14            ``(c - min14(l)) / (max14(h) - min14(l))``; 0.5 when the range is 0          [13]
atr_14                ``Wilder14(true range) / c``                                                  [14]
bb_position_20        ``(c - (m - 2s)) / (4s)`` with ``m = SMA20(c)``, ``s = std20(c)`` (ddof 0);   [19]
                      0.5 when ``s = 0``
bb_width_20           ``4s / m``                                                                    [19]
volume_ratio_20       ``v / SMA20(v)``; 1 when ``SMA20(v) = 0``                                     [19]
obv_flow_20           ``sum20(sign(c - c_{t-1}) v) / sum20(v)`` (20-bar OBV change per unit         [20]
                      volume, in [-1, 1]); 0 when ``sum20(v) = 0``
realized_vol_20       sample std (ddof 1) of the last 20 ``log_return_1``                           [20]
adx_14                ``ADX14 / 100`` (Wilder)                                                      [27]
====================  ===========================================================================  ====

EMAs are seeded with the simple mean of their first ``span`` inputs (see
:mod:`engine.features.rolling`). Every row from ``TECHNICAL_WARMUP`` on is finite.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.features import rolling
from engine.features._ohlcv import ohlcv_arrays

TECHNICAL_COLUMNS: tuple[str, ...] = (
    "log_return_1",
    "log_return_5",
    "log_return_20",
    "range_hl",
    "body",
    "upper_wick",
    "lower_wick",
    "gap",
    "close_sma_10",
    "close_sma_20",
    "close_sma_50",
    "macd",
    "macd_signal",
    "macd_hist",
    "rsi_14",
    "stoch_k_14",
    "atr_14",
    "bb_position_20",
    "bb_width_20",
    "volume_ratio_20",
    "obv_flow_20",
    "realized_vol_20",
    "adx_14",
)
"""Column names of :func:`technical_features`, in order."""

TECHNICAL_WINDOW = 24
"""Bars of the technical block the policy sees at each step (the observation is ``24 x 23``)."""

TECHNICAL_WARMUP = 49
"""Index of the first row where every column is defined (``close_sma_50`` needs 50 closes)."""


def technical_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 23 technical features of one symbol's bars.

    Args:
        bars: One symbol's bars: float64 columns ``open, high, low, close, volume``, positive prices.

    Returns:
        Float64 frame on ``bars.index`` with columns :data:`TECHNICAL_COLUMNS`; NaN during warm-up.
    """
    arrays = ohlcv_arrays(bars, "technical_features")
    o, h, l, c, v = (arrays[f] for f in ("open", "high", "low", "close", "volume"))
    prev_close = np.concatenate(([np.nan], c[:-1]))
    body_top, body_bottom = np.maximum(o, c), np.minimum(o, c)

    macd = rolling.ema(c, 12) / rolling.ema(c, 26) - 1.0
    macd_signal = rolling.ema(macd, 9)

    lowest, highest = rolling.rolling_min(l, 14), rolling.rolling_max(h, 14)
    mid, std = rolling.sma(c, 20), rolling.rolling_std(c, 20, ddof=0)

    # sign(0) = 0: a bar that closes unchanged moves OBV by nothing, as in Granville's definition.
    signed_volume = np.sign(c - prev_close) * v

    columns = {
        "log_return_1": rolling.log_return(c, 1),
        "log_return_5": rolling.log_return(c, 5),
        "log_return_20": rolling.log_return(c, 20),
        "range_hl": (h - l) / c,
        "body": (c - o) / c,
        "upper_wick": (h - body_top) / c,
        "lower_wick": (body_bottom - l) / c,
        "gap": np.log(o / prev_close),
        "close_sma_10": c / rolling.sma(c, 10) - 1.0,
        "close_sma_20": c / mid - 1.0,
        "close_sma_50": c / rolling.sma(c, 50) - 1.0,
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd - macd_signal,
        "rsi_14": rolling.rsi(c, 14) / 100.0,
        "stoch_k_14": rolling.safe_divide(c - lowest, highest - lowest, fill=0.5),
        "atr_14": rolling.wilder(rolling.true_range(h, l, c), 14) / c,
        "bb_position_20": rolling.safe_divide(c - (mid - 2.0 * std), 4.0 * std, fill=0.5),
        "bb_width_20": 4.0 * std / mid,
        "volume_ratio_20": rolling.safe_divide(v, rolling.sma(v, 20), fill=1.0),
        "obv_flow_20": rolling.safe_divide(
            rolling.rolling_sum(signed_volume, 20), rolling.rolling_sum(v, 20), fill=0.0
        ),
        "realized_vol_20": rolling.realized_vol(c, 20),
        "adx_14": rolling.adx(h, l, 14) / 100.0,
    }
    return pd.DataFrame(columns, index=bars.index, columns=list(TECHNICAL_COLUMNS), dtype=np.float64)
