"""Tests of engine.regimes: hand-made trends and volatility spikes, warm-up, parameters, causality."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.regimes import REGIME_LABELS, TREND_LABELS, VOL_LABELS, RegimeRule, regime_labels
from tests.engine.features.builders import make_bars, random_bars, zigzag_closes
from tests.engine.features.strategies import ohlcv_bars, splice_after


def trend_after_warm_up(closes: np.ndarray, rule: RegimeRule = RegimeRule()) -> set[str]:
    return set(regime_labels(make_bars(closes), rule)["trend_regime"].iloc[rule.trend_window:])


def test_columns_and_categories():
    out = regime_labels(random_bars(300))
    assert tuple(out.columns) == tuple(REGIME_LABELS) == ("trend_regime", "vol_regime")
    assert list(out["trend_regime"].cat.categories) == list(TREND_LABELS) == ["bull", "bear", "sideways"]
    assert list(out["vol_regime"].cat.categories) == list(VOL_LABELS) == ["low", "normal", "high"]


def test_warm_up_is_missing():
    out = regime_labels(random_bars(300))
    # trend needs 60 returns (bar 60); volatility needs 20 returns then 252 of them (bar 20 + 251)
    assert out["trend_regime"].iloc[:60].isna().all() and out["trend_regime"].iloc[60:].notna().all()
    assert out["vol_regime"].iloc[:271].isna().all() and out["vol_regime"].iloc[271:].notna().all()


def test_rising_path_is_bull_falling_is_bear_flat_is_sideways():
    assert trend_after_warm_up(zigzag_closes(150, 0.01, 0.005)) == {"bull"}
    assert trend_after_warm_up(zigzag_closes(150, -0.01, 0.005)) == {"bear"}
    assert trend_after_warm_up(np.full(150, 30.0)) == {"sideways"}
    assert trend_after_warm_up(zigzag_closes(150, 0.0, 0.02)) == {"sideways"}


def test_noiseless_rise_is_bull():
    # s = 0 < r: any positive drift clears a zero band
    assert trend_after_warm_up(100.0 * 1.001 ** np.arange(100)) == {"bull"}


def test_trend_threshold_by_hand():
    # drift d = 0.001, swing a = 0.01: r = 60 d = 0.06; s = a sqrt(60/59) = 0.010084, so the
    # one-standard-error band is s sqrt(60) = 0.0781. k = 1: 0.06 < 0.0781 -> sideways;
    # k = 0.5: band 0.0391 < 0.06 -> bull.
    closes = zigzag_closes(130, 0.001, 0.01)
    assert trend_after_warm_up(closes, RegimeRule(trend_k=1.0)) == {"sideways"}
    assert trend_after_warm_up(closes, RegimeRule(trend_k=0.5)) == {"bull"}


def test_volatility_spike_is_high_and_calm_is_low():
    # Zero-drift zigzag returns of size 0.01 up to bar 399, 0.03 for bars 400..429, 0.005 from 430.
    # Over 20 alternating returns of size a the sample std is a sqrt(20/19).
    # Bar 425: v = 0.03 sqrt(20/19); 226 of its last 252 values are the calm 0.01 sqrt(20/19), so the
    #   median is that and the ratio is 3 > 1.5 -> high.
    # Bar 465: v = 0.005 sqrt(20/19); 186 of the last 252 values are still 0.01 sqrt(20/19) ->
    #   ratio 0.5 < 0.75 -> low. Bar 399: v equals the median -> normal.
    n = 470
    size = np.where(np.arange(1, n) < 400, 0.01, np.where(np.arange(1, n) < 430, 0.03, 0.005))
    returns = size * np.where(np.arange(1, n) % 2 == 1, 1.0, -1.0)
    closes = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))
    vol = regime_labels(make_bars(closes))["vol_regime"]
    assert vol.iloc[399] == "normal"
    assert vol.iloc[425] == "high"
    assert vol.iloc[465] == "low"
    assert set(vol.iloc[271:400]) == {"normal"}


def test_flat_prices_have_normal_volatility():
    assert set(regime_labels(make_bars(np.full(300, 5.0)))["vol_regime"].iloc[271:]) == {"normal"}


def test_frequency_and_price_level_do_not_change_labels():
    daily = random_bars(400, seed=11)
    hourly = random_bars(400, seed=11, freq="1h")
    scaled = daily.copy()
    scaled[["open", "high", "low", "close"]] *= 1024.0
    expected = regime_labels(daily)
    pd.testing.assert_frame_equal(regime_labels(hourly).set_axis(daily.index), expected)
    pd.testing.assert_frame_equal(regime_labels(scaled), expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"trend_window": 1}, "trend_window must be an integer >= 2"),
        ({"vol_history": 10.5}, "vol_history must be an integer >= 2"),
        ({"trend_k": -1.0}, "trend_k must be >= 0"),
        ({"trend_k": float("nan")}, "trend_k must be a finite number"),
        ({"low_ratio": 2.0}, "0 < low_ratio < high_ratio"),
        ({"low_ratio": 0.0}, "0 < low_ratio < high_ratio"),
    ],
)
def test_bad_rule_raises(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        RegimeRule(**kwargs)


def test_missing_close_raises():
    with pytest.raises(InvalidParameterError, match="close"):
        regime_labels(random_bars(10).drop(columns="close"))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=2, max_size=340))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(max(0, len(bars) - 80), len(bars) - 2))
    before = regime_labels(bars)
    after = regime_labels(splice_after(bars, other, cut))
    for column in REGIME_LABELS:
        np.testing.assert_array_equal(
            before[column].cat.codes.to_numpy()[: cut + 1], after[column].cat.codes.to_numpy()[: cut + 1]
        )
