"""LTTB and min-max downsampling: hand-checked cases and invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from apps.downsample import downsample_index, lttb, min_max


def test_lttb_keeps_everything_when_short() -> None:
    assert lttb(np.arange(5), np.array([1.0, 3, 2, 5, 4]), 10).tolist() == [0, 1, 2, 3, 4]


def test_lttb_keeps_the_spike() -> None:
    # Flat line with one spike at position 7: the spike's bucket must keep it.
    y = np.zeros(20)
    y[7] = 10.0
    keep = lttb(np.arange(20), y, 5)
    assert keep[0] == 0 and keep[-1] == 19 and 7 in keep
    assert len(keep) == 5


def test_lttb_hand_computed_bucket_choice() -> None:
    # n = 6, n_out = 4: buckets over positions 1..4 are [1, 2] and [3, 4] (edges 1, 3, 5).
    # Bucket 1: previous point (0, 0), next bucket mean (3.5, (0 + 1) / 2 = 0.5); triangle areas
    # |(0 - 3.5)(y - 0) - (0 - x)(0.5 - 0)|: x=1,y=5 -> |-17.5 + 0.5| = 17; x=2,y=0 -> |0 + 1| = 1 -> keeps 1.
    # Bucket 2: previous (1, 5), next = last point (5, 2): x=3,y=0 -> |(1-5)(0-5) - (1-3)(2-5)| = |20 - 6| = 14;
    # x=4,y=1 -> |(-4)(-4) - (-3)(-3)| = |16 - 9| = 7 -> keeps 3.
    y = np.array([0.0, 5.0, 0.0, 0.0, 1.0, 2.0])
    assert lttb(np.arange(6), y, 4).tolist() == [0, 1, 3, 5]


def test_lttb_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        lttb(np.arange(10), np.arange(10.0), 2)
    with pytest.raises(ValueError, match="must match"):
        lttb(np.arange(3), np.arange(4.0), 3)


def test_min_max_keeps_bucket_extremes_and_ignores_nan() -> None:
    y = np.array([1.0, 9.0, 5.0, np.nan, 0.0, 3.0, 4.0, 7.0, 2.0, 6.0, 8.0, 5.0])
    keep = min_max(y, 2)  # buckets 0..5 and 6..11
    assert {0, 1, 4, 8, 10, 11} <= set(keep.tolist())
    assert 3 not in keep


def test_min_max_serves_several_columns() -> None:
    y = np.zeros((100, 2))
    y[10, 0], y[60, 1] = 5.0, -5.0
    keep = min_max(y, 10)
    assert 10 in keep and 60 in keep


def test_downsample_index_skips_nan_of_one_column() -> None:
    y = np.full(5000, np.nan)
    y[1000:3000] = np.sin(np.arange(2000) / 50)
    keep = downsample_index(np.arange(5000), y, 500)
    assert len(keep) == 500 and np.all(np.isfinite(y[keep]))
    assert keep[0] == 1000 and keep[-1] == 2999


@given(arrays(np.float64, st.integers(3, 400), elements=st.floats(-1e6, 1e6)), st.integers(3, 60))
def test_lttb_positions_are_sorted_unique_and_bounded(y: np.ndarray, n_out: int) -> None:
    keep = lttb(np.arange(len(y)), y, n_out)
    assert keep[0] == 0 and keep[-1] == len(y) - 1
    assert np.all(np.diff(keep) > 0)
    assert len(keep) == min(len(y), n_out)


@given(arrays(np.float64, st.integers(1, 400), elements=st.floats(-1e6, 1e6)), st.integers(1, 50))
def test_min_max_keeps_the_global_extremes(y: np.ndarray, n_buckets: int) -> None:
    keep = min_max(y, n_buckets)
    assert np.all(np.diff(keep) > 0)
    assert y[keep].max() == y.max() and y[keep].min() == y.min()
