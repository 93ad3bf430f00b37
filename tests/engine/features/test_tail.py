"""Tests of engine.features.tail: the kept newest values and the window statistics over them."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.features import tail

NAN = np.nan


def pushed(values, keep: int) -> np.ndarray:
    """A one-element array of a tail record (``keep`` values) after pushing ``values``."""
    state = np.zeros(1, tail.tail_dt(keep))
    for value in values:
        tail.push_nb(state[0], float(value))
    return state


def bits_equal(a: float, b: float) -> bool:
    return np.float64(a).view(np.int64) == np.float64(b).view(np.int64)


def test_a_tail_wraps_and_keeps_the_newest_values_oldest_first():
    state = pushed(range(1, 12), keep=4)  # 11 pushes through 4 slots: wrapped twice
    record = state[0]
    np.testing.assert_array_equal(tail.newest_nb(record, 4), [8.0, 9.0, 10.0, 11.0])
    np.testing.assert_array_equal(tail.newest_nb(record, 2), [10.0, 11.0])
    assert tail.lag_nb(record, 0) == 11.0 and tail.lag_nb(record, 3) == 8.0
    assert record["count"] == 11


def test_statistics_are_nan_until_the_window_is_full():
    record = pushed([1.0, 2.0], keep=5)[0]
    assert np.isnan(tail.mean_nb(record, 3)) and tail.mean_nb(record, 2) == 1.5
    assert np.isnan(tail.lag_nb(record, 2)) and tail.lag_nb(record, 1) == 1.0


def test_window_statistics_by_hand():
    # window (3, 1, 4, 1, 5): sum 14, mean 2.8, max 5, min 1; population var = (0.04 + 3.24 + 1.44 +
    # 3.24 + 4.84) / 5 = 2.56 -> std 1.6; 5 is the strict maximum -> rank 1; 1 of (3, 1, 4, 1) has one
    # equal value below it -> rank (0 + (2 - 1) / 2) / 3 = 1/6.
    record = pushed([9.0, 3.0, 1.0, 4.0, 1.0, 5.0], keep=6)[0]
    assert tail.sum_nb(record, 5) == 14.0
    assert tail.mean_nb(record, 5) == pytest.approx(2.8)
    assert tail.std_nb(record, 5, 0) == pytest.approx(1.6)
    assert tail.max_nb(record, 5) == 5.0 and tail.min_nb(record, 5) == 1.0
    assert tail.rank_nb(record, 5) == 1.0
    assert tail.rank_nb(pushed([3.0, 1.0, 4.0, 1.0], keep=4)[0], 4) == pytest.approx(1 / 6)


def test_a_constant_window_has_its_value_as_mean_and_zero_std():
    # 0.1 * 3 / 3 is not 0.1 in floats; the constant window must give 0.1 and a std of exactly 0.
    record = pushed([5.0, 0.1, 0.1, 0.1], keep=4)[0]
    assert tail.mean_nb(record, 3) == 0.1
    assert tail.std_nb(record, 3, 1) == 0.0
    assert tail.std_nb(record, 4, 1) > 0.0


def test_a_nan_in_the_window_gives_nan_and_leaves_with_it():
    record = pushed([1.0, NAN, 2.0, 2.0], keep=4)[0]
    for statistic in (tail.sum_nb, tail.mean_nb, tail.max_nb, tail.min_nb, tail.rank_nb):
        assert np.isnan(statistic(record, 3)), statistic
    assert tail.mean_nb(record, 2) == 2.0 and tail.std_nb(record, 2, 0) == 0.0


_VALUES = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(2, 600))
def test_window_statistics_equal_numpy_bit_for_bit(data, n):
    # Lengths past 128 and 263 take NumPy's pairwise sum through one and several splits.
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    window = rng.normal(0.0, 1.0, n) * 10.0 ** rng.uniform(-3, 3, n)
    window[rng.random(n) < 0.2] = data.draw(_VALUES)  # repeated values: ties for the rank
    constant = bool(window.max() == window.min())
    assert bits_equal(tail.window_sum_nb(window), window.sum())
    assert bits_equal(tail.window_mean_nb(window, constant), window.mean())
    assert bits_equal(tail.window_std_nb(window, 0, constant), window.std())
    assert bits_equal(tail.window_std_nb(window, 1, constant), window.std(ddof=1))
    assert tail.window_max_nb(window) == window.max() and tail.window_min_nb(window) == window.min()
    current = window[-1]
    rank = ((window < current).sum() + ((window == current).sum() - 1) / 2) / (n - 1)
    assert tail.window_rank_nb(window) == rank


@settings(max_examples=40, deadline=None)
@given(values=hnp.arrays(np.float64, st.integers(1, 80), elements=_VALUES), keep=st.integers(1, 12))
def test_the_newest_window_of_a_tail_is_the_array_suffix(values, keep):
    record = pushed(values, keep)[0]
    n = min(keep, len(values))
    np.testing.assert_array_equal(tail.newest_nb(record, n), values[-n:])
    run = 1
    while run < len(values) and values[-run - 1] == values[-1]:
        run += 1
    assert record["equal_run"] == run
