"""Tests of engine.features.mlmi: quickselect, the causal kNN label vote, and the MLMI frame."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.mlmi import MLMI_COLUMNS, knn_label_sum_nb, kth_smallest_nb, mlmi
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars

SMALL = dict(fast_period=2, slow_period=3, smooth_period=2, neighbors=3, memory=5, horizon=1,
             signal_period=2)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_kth_smallest_matches_sorting(data):
    # Small integer values force many ties, the case the three-way partition exists for.
    values = data.draw(st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=40))
    k = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    work = np.array(values, dtype=np.float64)
    assert kth_smallest_nb(work, k) == sorted(values)[k]


# Closes 10, 11, 10, 10, 12, 13 with horizon 1 give labels sign(c_{i+1} - c_i):
#   i:      0   1   2   3   4
#   label: +1  -1   0  +1  +1
# Feature a = 0, 5, 1, 5, 9, 5 (b = 0). Query at bar 5 (a = 5), squared distances to i = 0..4:
#   25, 0, 16, 0, 16
CLOSE = np.array([10.0, 11.0, 10.0, 10.0, 12.0, 13.0])
FEAT_A = np.array([0.0, 5.0, 1.0, 5.0, 9.0, 5.0])
FEAT_B = np.zeros(6)


@pytest.mark.parametrize("neighbors, expected", [
    (1, 1.0),  # tie at 0 between i = 1 and i = 3: the newer, i = 3 (+1)
    (2, 0.0),  # i = 1 (-1) and i = 3 (+1)
    (3, 1.0),  # plus the newer of the tie at 16: i = 4 (+1), not i = 2 (0)
    (5, 2.0),  # every candidate: +1 - 1 + 0 + 1 + 1
])
def test_knn_vote_by_hand(neighbors, expected):
    out = knn_label_sum_nb(FEAT_A, FEAT_B, CLOSE, neighbors, 5, 1)
    assert out[5] == expected


def test_knn_waits_for_enough_labelled_bars_and_respects_horizon():
    out = knn_label_sum_nb(FEAT_A, FEAT_B, CLOSE, 3, 5, 1)
    # Bar t can use bars i <= t - 1: three candidates first exist at bar 3 (i = 0, 1, 2:
    # +1 - 1 + 0 = 0).
    assert np.isnan(out[:3]).all() and out[3] == 0.0
    # With horizon 2, bar 5 may only use i <= 3 (label of i = 3 needs close_5), and the labels are
    # sign(c_{i+2} - c_i) = 0, -1, +1, +1 for i = 0..3. Distances 25, 0, 16, 0 -> the 3 nearest are
    # i = 3 (+1), i = 1 (-1), i = 2 (+1): sum 1.
    assert knn_label_sum_nb(FEAT_A, FEAT_B, CLOSE, 3, 5, 2)[5] == 1.0


def test_memory_limits_the_candidates():
    # memory 2 at bar 5 keeps only i = 4 and i = 3: labels +1 and +1.
    assert knn_label_sum_nb(FEAT_A, FEAT_B, CLOSE, 2, 2, 1)[5] == 2.0


def test_rising_prices_vote_all_up():
    # Every RSI is 100, so every candidate ties; every label is +1: value = neighbors.
    out = mlmi(make_bars(np.arange(1.0, 31.0)), **SMALL)
    # First value at max(2, 3) + 2 - 2 + horizon 1 + neighbors 3 = 7; signal one bar later.
    assert out["mlmi_value"].iloc[:7].isna().all()
    assert (out["mlmi_value"].iloc[7:] == 3.0).all()
    assert out["mlmi_signal"].iloc[:8].isna().all()
    np.testing.assert_allclose(out["mlmi_signal"].iloc[8:], 3.0)


def test_flat_prices_vote_zero():
    out = mlmi(make_bars(np.full(20, 9.0)), **SMALL)
    assert list(out.columns) == list(MLMI_COLUMNS)
    assert (out.iloc[8:] == 0.0).all().all()


def test_default_warm_up_length():
    rng = np.random.default_rng(3)
    out = mlmi(make_bars(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))))
    # 20 (slow RSI) + 20 (WMA) - 2 + 5 (horizon) + 200 (neighbors) = 243; signal + 19 = 262.
    assert out["mlmi_value"].first_valid_index() == out.index[243]
    assert out["mlmi_signal"].first_valid_index() == out.index[262]
    assert out["mlmi_value"].iloc[243:].abs().max() <= 200


def test_shorter_than_warm_up_is_all_nan():
    assert mlmi(make_bars(np.arange(1.0, 50.0))).isna().all().all()


@pytest.mark.parametrize("kwargs", [{"neighbors": 0}, {"memory": 10, "neighbors": 20},
                                    {"horizon": 0}, {"fast_period": 1.5}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(InvalidParameterError):
        mlmi(make_bars([1.0, 2.0, 3.0]), **kwargs)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    params = dict(fast_period=3, slow_period=6, smooth_period=3, neighbors=5, memory=20, horizon=2,
                  signal_period=3)
    assert_causal(lambda b: mlmi(b, **params), bars, other, cut)
