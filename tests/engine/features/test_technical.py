"""Tests of engine.features.technical: column set, hand-computed values, warm-up, scale, causality."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.technical import (
    TECHNICAL_COLUMNS,
    TECHNICAL_WARMUP,
    TECHNICAL_WINDOW,
    technical_features,
)
from tests.engine.features.builders import make_bars, random_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars

# First row (0-based) where each column is defined, as the module docstring states.
FIRST_VALID = {
    "log_return_1": 1, "log_return_5": 5, "log_return_20": 20, "range_hl": 0, "body": 0,
    "upper_wick": 0, "lower_wick": 0, "gap": 1, "close_sma_10": 9, "close_sma_20": 19,
    "close_sma_50": 49, "macd": 25, "macd_signal": 33, "macd_hist": 33, "rsi_14": 14,
    "stoch_k_14": 13, "atr_14": 14, "bb_position_20": 19, "bb_width_20": 19, "volume_ratio_20": 19,
    "obv_flow_20": 20, "realized_vol_20": 20, "adx_14": 27,
}


def test_columns_and_window():
    out = technical_features(random_bars(80))
    assert len(TECHNICAL_COLUMNS) == 23 == len(set(TECHNICAL_COLUMNS))
    assert tuple(out.columns) == TECHNICAL_COLUMNS
    assert out.shape == (80, 23)
    assert TECHNICAL_WINDOW == 24
    assert (out.dtypes == np.float64).all()
    assert out.index.equals(random_bars(80).index)


def test_first_valid_rows_match_the_documentation():
    out = technical_features(random_bars(120))
    for column, first in FIRST_VALID.items():
        values = out[column].to_numpy()
        assert np.isnan(values[:first]).all(), column
        assert np.isfinite(values[first:]).all(), column
    assert max(FIRST_VALID.values()) == TECHNICAL_WARMUP


def test_candle_shape_by_hand():
    # bar 0: o=100, h=110, l=95, c=105 -> range 15/105, body 5/105, upper 5/105, lower 5/105
    # bar 1: o=104, h=106, l=96, c=98 (down bar) -> body -6/98, upper (106-104)/98, lower (98-96)/98,
    #        gap log(104/105), log_return_1 log(98/105)
    bars = make_bars(close=[105, 98], open_=[100, 104], high=[110, 106], low=[95, 96])
    out = technical_features(bars)
    np.testing.assert_allclose(out.loc[:, "range_hl"], [15 / 105, 10 / 98])
    np.testing.assert_allclose(out.loc[:, "body"], [5 / 105, -6 / 98])
    np.testing.assert_allclose(out.loc[:, "upper_wick"], [5 / 105, 2 / 98])
    np.testing.assert_allclose(out.loc[:, "lower_wick"], [5 / 105, 2 / 98])
    assert np.isnan(out["gap"].iloc[0])
    assert out["gap"].iloc[1] == pytest.approx(np.log(104 / 105))
    assert out["log_return_1"].iloc[1] == pytest.approx(np.log(98 / 105))


def test_moving_average_ratios_by_hand():
    # closes 1..20: SMA10 at bar 9 = 5.5 -> 10/5.5 - 1 = 0.8181..; SMA20 at bar 19 = 10.5 -> 20/10.5 - 1
    out = technical_features(make_bars(np.arange(1.0, 21.0)))
    assert out["close_sma_10"].iloc[9] == pytest.approx(10 / 5.5 - 1)
    assert out["close_sma_20"].iloc[19] == pytest.approx(20 / 10.5 - 1)
    # log_return_5 at bar 19: log(20/15)
    assert out["log_return_5"].iloc[19] == pytest.approx(np.log(20 / 15))
    # a steady rise closes at the top of every 14-bar range (stochastic 1) with only gains (RSI 1)
    assert out["stoch_k_14"].iloc[19] == 1.0
    assert out["rsi_14"].iloc[19] == 1.0


def test_bollinger_volume_and_obv_by_hand():
    # 20 closes alternating 9, 11: m = 10, population std s = 1; last close 11 ->
    # position (11 - (10 - 2)) / 4 = 0.75, width 4 * 1 / 10 = 0.4
    close = np.tile([9.0, 11.0], 11)[:21]  # 21 bars: 9, 11, ..., 9 (bar 20 closes at 9)
    volume = np.full(21, 100.0)
    volume[20] = 300.0
    out = technical_features(make_bars(close, volume=volume))
    assert out["bb_position_20"].iloc[19] == pytest.approx(0.75)
    assert out["bb_width_20"].iloc[19] == pytest.approx(0.4)
    # bar 20: SMA20(volume) over bars 1..20 = (19*100 + 300)/20 = 110 -> 300/110
    assert out["volume_ratio_20"].iloc[20] == pytest.approx(300 / 110)
    # bars 1..20 alternate up (odd bars, +100 volume) and down (even bars); bar 20 is down with 300:
    # up volume 10*100 = 1000, down 9*100 + 300 = 1200, total 2200 -> (1000 - 1200)/2200
    assert out["obv_flow_20"].iloc[20] == pytest.approx(-200 / 2200)


def test_flat_prices_and_zero_volume_give_neutral_finite_values():
    out = technical_features(make_bars(np.full(60, 42.0), volume=np.zeros(60)))
    last = out.iloc[-1]
    assert np.isfinite(out.iloc[TECHNICAL_WARMUP:].to_numpy()).all()
    assert last["stoch_k_14"] == 0.5 and last["bb_position_20"] == 0.5 and last["rsi_14"] == 0.5
    assert last["volume_ratio_20"] == 1.0 and last["obv_flow_20"] == 0.0
    assert last["adx_14"] == 0.0 and last["atr_14"] == 0.0 and last["macd"] == 0.0


def test_missing_column_raises():
    with pytest.raises(InvalidParameterError, match="volume"):
        technical_features(random_bars(30).drop(columns="volume"))


def test_five_thousand_bars_are_finite_after_warm_up():
    out = technical_features(random_bars(5000, seed=3))
    assert np.isfinite(out.iloc[TECHNICAL_WARMUP:].to_numpy()).all()
    assert out["rsi_14"].between(0, 1).iloc[TECHNICAL_WARMUP:].all()


def test_scale_free_on_realistic_bars():
    bars = random_bars(300, seed=5)
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 37.3
    scaled["volume"] *= 0.013
    a, b = technical_features(bars).to_numpy(), technical_features(scaled).to_numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(bars=ohlcv_bars(min_size=1, max_size=120), price_exp=st.integers(-10, 13),
       volume_exp=st.integers(-10, 13))
def test_scale_free_exactly_under_power_of_two_scaling(bars, price_exp, volume_exp):
    # Multiplying by 2**k rounds nothing, so every ratio is bit-identical, even on near-flat bars where
    # a general factor would let rounding noise move ratios of ulp-sized ranges.
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 2.0**price_exp
    scaled["volume"] *= 2.0**volume_exp
    pd.testing.assert_frame_equal(technical_features(bars), technical_features(scaled), check_exact=True)


@settings(max_examples=40, deadline=None)
@given(bars=ohlcv_bars(min_size=1, max_size=120))
def test_bounded_columns_and_no_inf(bars):
    out = technical_features(bars)
    assert not np.isinf(out.to_numpy()).any()
    for column in ("rsi_14", "stoch_k_14", "adx_14"):
        values = out[column].dropna()
        assert ((values >= 0) & (values <= 1)).all(), column
    flow = out["obv_flow_20"].dropna()
    assert ((flow >= -1) & (flow <= 1)).all()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=2, max_size=120))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(0, len(bars) - 2))
    assert_causal(technical_features, bars, other, cut)
