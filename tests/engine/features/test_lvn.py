"""Tests of engine.features.lvn: rolling volume profile, low-volume nodes and profile skew."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.lvn import LVN_COLUMNS, low_volume_nodes
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars


def profile_at_last_bar(close, volume, **kwargs):
    out = low_volume_nodes(make_bars(close, volume=volume), window=len(close), bins=4, **kwargs)
    return out.iloc[-1]


def test_empty_bin_is_the_nearest_lvn():
    # Doji prices 10, 11, 13, 14 (volume 100 each): lo = 10, hi = 14, bin width 1; bins hold
    # [100, 100, 0, 200] (14 sits on hi and joins the last bin). Mean bin volume 100, threshold 50:
    # only bin 2 ([12, 13), centre 12.5) is an LVN. Close 14: distance 1.5 / 14; strength 1 - 0/200.
    # Prices 10, 11, 13, 14 are symmetric around 12, so the skew is 0.
    last = profile_at_last_bar([10.0, 11.0, 13.0, 14.0], [100.0] * 4)
    assert list(last.index) == list(LVN_COLUMNS)
    np.testing.assert_allclose(last.to_numpy(), [1.5 / 14, 1.0, 0.0], atol=1e-15)


def test_thin_bin_strength_is_relative_to_the_fullest_bin():
    # Prices 10, 12, 11, 14 with volumes 100, 20, 100, 180: bins [100, 100, 20, 180], mean 100,
    # threshold 50 -> bin 2 (centre 12.5) is the LVN; strength = 1 - 20 / 180 = 8/9.
    last = profile_at_last_bar([10.0, 12.0, 11.0, 14.0], [100.0, 20.0, 100.0, 180.0])
    np.testing.assert_allclose(last[["lvn_distance", "lvn_strength"]].to_numpy(), [1.5 / 14, 8 / 9])


def test_skew_by_hand_and_nearest_of_two_lvns():
    # Prices 10, 10, 10, 14, equal volume: mean 11, deviations -1, -1, -1, 3;
    # m2 = (1 + 1 + 1 + 9) / 4 = 3, m3 = (-1 - 1 - 1 + 27) / 4 = 6, skew = 6 / 3^1.5 = 2 / sqrt(3).
    # Bins [300, 0, 0, 100]: LVNs at centres 11.5 and 12.5; close 14 -> 12.5 is nearer.
    last = profile_at_last_bar([10.0, 10.0, 10.0, 14.0], [1.0] * 4)
    np.testing.assert_allclose(last.to_numpy(), [1.5 / 14, 1.0, 2 / np.sqrt(3)])


def test_no_lvn_reports_the_far_edge_and_zero_strength():
    # Prices 10, 11, 12, 13: lo 10, hi 13, width 0.75 -> one bar per bin, none below half the mean.
    # Distance = max(13 - 13, 13 - 10) / 13 = 3/13.
    last = profile_at_last_bar([10.0, 11.0, 12.0, 13.0], [5.0] * 4)
    np.testing.assert_allclose(last[["lvn_distance", "lvn_strength"]].to_numpy(), [3 / 13, 0.0])


def test_zero_volume_window_has_no_lvn_and_zero_skew():
    last = profile_at_last_bar([10.0, 11.0, 12.0, 13.0], [0.0] * 4)
    np.testing.assert_allclose(last.to_numpy(), [3 / 13, 0.0, 0.0])


def test_constant_prices():
    out = low_volume_nodes(make_bars(np.full(12, 3.0)), window=5)
    assert out.iloc[:4].isna().all().all()
    assert (out.iloc[4:] == 0.0).all().all()


def test_shorter_than_window_is_all_nan():
    assert low_volume_nodes(make_bars([1.0, 2.0]), window=3).isna().all().all()


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"bins": 0}, {"lvn_fraction": 0.0},
                                    {"lvn_fraction": 1.5}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(InvalidParameterError):
        low_volume_nodes(make_bars([1.0, 2.0, 3.0]), **kwargs)


@settings(max_examples=40, deadline=None)
@given(ohlcv_bars(min_size=10, max_size=80))
def test_no_nan_after_warm_up_and_strength_in_unit_interval(bars):
    out = low_volume_nodes(bars, window=10, bins=6)
    assert out.iloc[:9].isna().all().all()
    assert not out.iloc[9:].isna().any().any()
    assert out["lvn_strength"].iloc[9:].between(0.0, 1.0).all()
    assert (out["lvn_distance"].iloc[9:] >= 0.0).all()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(lambda b: low_volume_nodes(b, window=12, bins=5), bars, other, cut)
