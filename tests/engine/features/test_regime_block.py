"""Tests of engine.features.regime_block: columns, bounds, hand-computed values, warm-up, causality."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS, REGIME_WARMUP, regime_features
from tests.engine.features.builders import make_bars, random_bars, zigzag_closes
from tests.engine.features.strategies import assert_causal, ohlcv_bars

FIRST_VALID = {
    "vol_level": 20, "vol_ratio": 100, "vol_percentile": 271, "trend_sma_spread": 199,
    "trend_adx": 27, "trend_price_sma200": 199, "momentum_20": 100, "momentum_60": 100,
    "volume_trend": 99, "volume_zscore": 99,
}
UNIT_INTERVAL = ("vol_level", "vol_percentile", "trend_adx")


def test_ten_columns():
    out = regime_features(random_bars(300))
    assert len(REGIME_COLUMNS) == 10 == len(set(REGIME_COLUMNS))
    assert tuple(out.columns) == REGIME_COLUMNS
    assert out.shape == (300, 10)
    assert (out.dtypes == np.float64).all()


def test_first_valid_rows_match_the_documentation():
    out = regime_features(random_bars(400, seed=1))
    for column, first in FIRST_VALID.items():
        values = out[column].to_numpy()
        assert np.isnan(values[:first]).all(), column
        assert np.isfinite(values[first:]).all(), column
    assert max(FIRST_VALID.values()) == REGIME_WARMUP


def test_vol_level_and_momentum_by_hand():
    # Returns alternate d + a, d - a with d = 0.001, a = 0.01: over k (even) returns the sample std
    # is a * sqrt(k / (k - 1)) (see zigzag_closes).
    d, a = 0.001, 0.01
    out = regime_features(make_bars(zigzag_closes(200, d, a)))
    s20, s100 = a * math.sqrt(20 / 19), a * math.sqrt(100 / 99)
    row = out.iloc[150]
    # vol_level = tanh(s20 * sqrt(252) / 0.4)
    assert row["vol_level"] == pytest.approx(math.tanh(s20 * math.sqrt(252) / 0.4))
    # vol_ratio = tanh(log(s20 / s100))
    assert row["vol_ratio"] == pytest.approx(math.tanh(math.log(s20 / s100)))
    # momentum_20 = tanh(20 d / (2 s100 sqrt(20))); momentum_60 likewise with 60 (both even spans)
    assert row["momentum_20"] == pytest.approx(math.tanh(20 * d / (2 * s100 * math.sqrt(20))))
    assert row["momentum_60"] == pytest.approx(math.tanh(60 * d / (2 * s100 * math.sqrt(60))))


def test_bars_per_year_only_changes_vol_level():
    bars = random_bars(300, seed=2)
    daily, hourly = regime_features(bars), regime_features(bars, bars_per_year=252 * 6.5)
    others = [c for c in REGIME_COLUMNS if c != "vol_level"]
    pd.testing.assert_frame_equal(daily[others], hourly[others], check_exact=True)
    assert (hourly["vol_level"].dropna() > daily["vol_level"].dropna()).all()


def test_volume_columns_by_hand():
    # volume 100 for 199 bars, then 300 at bar 199. SMA100 over bars 100..199 = (99*100 + 300)/100 = 102;
    # SMA20 over bars 180..199 = (19*100 + 300)/20 = 110 -> volume_trend = tanh(log(110/102)).
    # population std over the same 100 bars: deviations -2 (99 times) and +198 ->
    # var = (99*4 + 198^2)/100 = 396; zscore = tanh((300 - 102) / (2 * sqrt(396)))
    volume = np.full(200, 100.0)
    volume[199] = 300.0
    out = regime_features(make_bars(zigzag_closes(200, 0.0, 0.01), volume=volume))
    assert out["volume_trend"].iloc[199] == pytest.approx(math.tanh(math.log(110 / 102)))
    assert out["volume_zscore"].iloc[199] == pytest.approx(math.tanh(198 / (2 * math.sqrt(396))))
    assert out["volume_trend"].iloc[198] == 0.0 and out["volume_zscore"].iloc[198] == 0.0


def test_flat_market_is_neutral_and_finite():
    out = regime_features(make_bars(np.full(300, 20.0), volume=np.zeros(300)))
    last = out.iloc[-1]
    assert np.isfinite(out.iloc[REGIME_WARMUP:].to_numpy()).all()
    assert last["vol_level"] == 0.0 and last["vol_ratio"] == 0.0 and last["vol_percentile"] == 0.5
    for column in ("trend_sma_spread", "trend_price_sma200", "momentum_20", "momentum_60",
                   "volume_trend", "volume_zscore", "trend_adx"):
        assert last[column] == 0.0, column


def test_trend_columns_have_the_sign_of_the_trend():
    up = regime_features(make_bars(zigzag_closes(300, 0.002, 0.01))).iloc[-1]
    down = regime_features(make_bars(zigzag_closes(300, -0.002, 0.01))).iloc[-1]
    for column in ("trend_sma_spread", "trend_price_sma200", "momentum_20", "momentum_60"):
        assert up[column] > 0 > down[column], column


@pytest.mark.parametrize("bad", [0, -252.0, float("nan"), float("inf"), "252", True])
def test_bad_bars_per_year_raises(bad):
    with pytest.raises(InvalidParameterError, match="bars_per_year"):
        regime_features(random_bars(30), bars_per_year=bad)


def test_five_thousand_bars_are_finite_after_warm_up():
    out = regime_features(random_bars(5000, seed=4))
    assert np.isfinite(out.iloc[REGIME_WARMUP:].to_numpy()).all()


@settings(max_examples=30, deadline=None)
@given(bars=ohlcv_bars(min_size=1, max_size=350))
def test_bounded_and_no_inf(bars):
    out = regime_features(bars)
    values = out.to_numpy()
    assert not np.isinf(values).any()
    finite = values[~np.isnan(values)]
    assert ((finite >= -1) & (finite <= 1)).all()
    for column in UNIT_INTERVAL:
        assert (out[column].dropna() >= 0).all(), column


@settings(max_examples=25, deadline=None)
@given(bars=ohlcv_bars(min_size=1, max_size=320), price_exp=st.integers(-10, 13),
       volume_exp=st.integers(-10, 13))
def test_scale_free_exactly_under_power_of_two_scaling(bars, price_exp, volume_exp):
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 2.0**price_exp
    scaled["volume"] *= 2.0**volume_exp
    pd.testing.assert_frame_equal(regime_features(bars), regime_features(scaled), check_exact=True)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=2, max_size=340))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(max(0, len(bars) - 80), len(bars) - 2))
    assert_causal(regime_features, bars, other, cut)
