"""Tests of engine.features.rolling: hand-computed values, NaN rules, causality, bad windows."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.errors import InvalidParameterError
from engine.features import rolling

NAN = np.nan


def test_sma_of_five_values():
    # window 3: (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+8)/3 = 5
    np.testing.assert_allclose(rolling.sma([1, 2, 3, 4, 8], 3), [NAN, NAN, 2, 3, 5])


def test_wma_weights_newest_most():
    # window 3, weights 1, 2, 3 (sum 6): (1*1 + 2*2 + 3*3)/6 = 14/6; (1*2 + 2*3 + 3*6)/6 = 26/6
    np.testing.assert_allclose(rolling.wma([1, 2, 3, 6], 3), [NAN, NAN, 14 / 6, 26 / 6])


def test_ema_is_seeded_with_the_simple_mean():
    # span 3 -> alpha = 2/4 = 0.5; seed = (2+4+6)/3 = 4; then 4 + 0.5*(10-4) = 7; 7 + 0.5*(2-7) = 4.5
    np.testing.assert_allclose(rolling.ema([2, 4, 6, 10, 2], 3), [NAN, NAN, 4, 7, 4.5])


def test_wilder_uses_alpha_one_over_period():
    # period 3 -> alpha = 1/3; seed 4; 4 + (10-4)/3 = 6; 6 + (2-6)/3 = 14/3
    np.testing.assert_allclose(rolling.wilder([2, 4, 6, 10, 2], 3), [NAN, NAN, 4, 6, 14 / 3])


def test_ema_restarts_after_a_nan():
    # span 2 -> alpha 2/3. Run [1, 2]: seed 1.5 at index 1. NaN at 2. Run [3, 5, 7]: index 3 warms up,
    # seed (3+5)/2 = 4 at index 4, then 4 + 2/3*(7-4) = 6.
    np.testing.assert_allclose(rolling.ema([1, 2, NAN, 3, 5, 7], 2), [NAN, 1.5, NAN, NAN, 4, 6])


def test_ema_skips_leading_nans():
    # span 2: seed (4+6)/2 = 5 at index 3; 5 + 2/3*(8-5) = 7
    np.testing.assert_allclose(rolling.ema([NAN, NAN, 4, 6, 8], 2), [NAN, NAN, NAN, 5, 7])


def test_rolling_std_population_and_sample():
    # windows (1,2), (2,4), (4,4): population std 0.5, 1, 0; sample std sqrt(0.5), sqrt(2), 0
    np.testing.assert_allclose(rolling.rolling_std([1, 2, 4, 4], 2), [NAN, 0.5, 1, 0])
    np.testing.assert_allclose(
        rolling.rolling_std([1, 2, 4, 4], 2, ddof=1), [NAN, np.sqrt(0.5), np.sqrt(2), 0]
    )


def test_rolling_max_min_median_sum():
    x = [3, 1, 4, 1, 5]
    np.testing.assert_allclose(rolling.rolling_max(x, 3), [NAN, NAN, 4, 4, 5])
    np.testing.assert_allclose(rolling.rolling_min(x, 3), [NAN, NAN, 1, 1, 1])
    np.testing.assert_allclose(rolling.rolling_median(x, 3), [NAN, NAN, 3, 1, 4])
    np.testing.assert_allclose(rolling.rolling_sum(x, 3), [NAN, NAN, 8, 6, 10])


def test_window_helpers_return_nan_when_the_window_holds_a_nan():
    x = [1, NAN, 3, 4, 5]
    for helper in (rolling.sma, rolling.rolling_max, rolling.rolling_median, rolling.percentile_rank):
        np.testing.assert_allclose(helper(x, 2)[:3], [NAN, NAN, NAN])
        assert np.isfinite(helper(x, 2)[3:]).all()


def test_percentile_rank_uses_mid_ranks():
    # window 3. [3,1,2], current 2: 1 below, 1 equal (itself) -> (1 + 0/2)/2 = 0.5
    # [1,2,2], current 2: 1 below, 2 equal -> (1 + 1/2)/2 = 0.75; [2,2,5], current 5: 2 below -> 1.0
    np.testing.assert_allclose(rolling.percentile_rank([3, 1, 2, 2, 5], 3), [NAN, NAN, 0.5, 0.75, 1.0])
    # all equal -> (0 + 2/2)/2 = 0.5
    assert rolling.percentile_rank([7, 7, 7], 3)[-1] == 0.5


def test_log_return_and_realized_vol():
    close = np.exp([0.0, 0.1, 0.3, 0.3])
    # returns: NaN, 0.1, 0.2, 0.0
    np.testing.assert_allclose(rolling.log_return(close), [NAN, 0.1, 0.2, 0.0], atol=1e-12)
    np.testing.assert_allclose(rolling.log_return(close, 2), [NAN, NAN, 0.3, 0.2], atol=1e-12)
    # sample std of (0.1, 0.2) = sqrt(0.05^2 * 2 / 1) = 0.0707..; of (0.2, 0.0) = 0.1414..
    np.testing.assert_allclose(
        rolling.realized_vol(close, 2), [NAN, NAN, np.sqrt(0.005), np.sqrt(0.02)], atol=1e-12
    )


def test_true_range_uses_previous_close():
    high, low, close = [10, 12, 11], [9, 10, 8], [9.5, 11, 9]
    # bar 1: max(12-10=2, |12-9.5|=2.5, |10-9.5|=0.5) = 2.5; bar 2: max(3, |11-11|=0, |8-11|=3) = 3
    np.testing.assert_allclose(rolling.true_range(high, low, close), [NAN, 2.5, 3.0])


def test_rsi_on_six_bars_by_hand():
    # closes 10, 11, 10.5, 11.5, 11, 12; changes +1, -0.5, +1, -0.5, +1; period 3 (alpha 1/3).
    # bar 3: G = (1+0+1)/3 = 2/3, L = (0+0.5+0)/3 = 1/6 -> RSI = 100 * (2/3) / (2/3 + 1/6) = 80
    # bar 4 (change -0.5): G = 2/3 + (0 - 2/3)/3 = 4/9, L = 1/6 + (0.5 - 1/6)/3 = 5/18
    #   -> RSI = 100 * (8/18) / (13/18) = 800/13
    # bar 5 (change +1): G = 4/9 + (1 - 4/9)/3 = 17/27, L = 5/18 * 2/3 = 5/27 -> RSI = 1700/22
    got = rolling.rsi([10, 11, 10.5, 11.5, 11, 12], 3)
    np.testing.assert_allclose(got, [NAN, NAN, NAN, 80.0, 800 / 13, 1700 / 22])


def test_rsi_flat_is_50_and_rising_is_100():
    assert rolling.rsi(np.full(10, 5.0), 3)[-1] == 50.0
    assert rolling.rsi(np.arange(1.0, 11.0), 3)[-1] == 100.0


def test_adx_of_a_staircase_is_100_and_starts_at_2p_minus_1():
    # Highs and lows both rise by 1 each bar: up = 1 > down = -1, so +DM = 1, -DM = 0 every bar,
    # DX = 100 * |1 - 0| / (1 + 0) = 100, and ADX = 100 from index 2*3 - 1 = 5.
    high = np.arange(10.0, 20.0)
    got = rolling.adx(high, high - 0.5, 3)
    assert np.isnan(got[:5]).all()
    np.testing.assert_allclose(got[5:], 100.0)


def test_adx_of_flat_bars_is_0():
    flat = np.full(12, 3.0)
    assert rolling.adx(flat, flat, 3)[-1] == 0.0


def test_safe_divide_fills_zero_denominators_and_keeps_nan():
    got = rolling.safe_divide([1.0, 0.0, NAN, 4.0], [2.0, 0.0, 1.0, NAN], fill=0.5)
    np.testing.assert_allclose(got, [0.5, 0.5, NAN, NAN])


def test_short_input_is_all_nan():
    assert np.isnan(rolling.sma([1.0, 2.0], 3)).all()
    assert np.isnan(rolling.ema([1.0, 2.0], 3)).all()


@pytest.mark.parametrize("window", [0, -1, 2.5, True, None])
def test_bad_window_raises(window):
    with pytest.raises(InvalidParameterError, match="window must be a positive integer"):
        rolling.sma([1.0, 2.0, 3.0], window)


def test_bad_inputs_raise():
    with pytest.raises(InvalidParameterError, match="1-D"):
        rolling.ema(np.ones((3, 2)), 2)
    with pytest.raises(InvalidParameterError, match="ddof"):
        rolling.rolling_std([1.0, 2.0], 1, ddof=1)
    with pytest.raises(InvalidParameterError, match="window >= 2"):
        rolling.percentile_rank([1.0, 2.0], 1)


_SERIES = hnp.arrays(
    np.float64, st.integers(2, 60), elements=st.floats(0.5, 200.0, allow_nan=False, allow_subnormal=False)
)


@settings(max_examples=60, deadline=None)
@given(x=_SERIES, window=st.integers(1, 8), data=st.data())
def test_every_helper_is_causal(x, window, data):
    cut = data.draw(st.integers(0, len(x) - 1))
    tail = data.draw(hnp.arrays(np.float64, len(x) - cut - 1, elements=st.floats(0.5, 200.0)))
    y = np.concatenate([x[: cut + 1], tail])
    helpers = [
        lambda a: rolling.sma(a, window),
        lambda a: rolling.wma(a, window),
        lambda a: rolling.ema(a, window),
        lambda a: rolling.wilder(a, window),
        lambda a: rolling.rolling_std(a, window + 1, ddof=1),
        lambda a: rolling.rolling_median(a, window),
        lambda a: rolling.percentile_rank(a, window + 1),
        lambda a: rolling.rsi(a, window),
        lambda a: rolling.adx(a * 1.01, a, window),
        lambda a: rolling.realized_vol(a, window + 1),
    ]
    for helper in helpers:
        np.testing.assert_array_equal(helper(x)[: cut + 1], helper(y)[: cut + 1])


@settings(max_examples=60, deadline=None)
@given(x=_SERIES, span=st.integers(1, 8))
def test_ema_matches_its_recursion(x, span):
    got = rolling.ema(x, span)
    alpha = 2.0 / (span + 1)
    if len(x) < span:
        assert np.isnan(got).all()
        return
    expected = [float(np.mean(x[:span]))]
    for value in x[span:]:
        expected.append(expected[-1] + alpha * (value - expected[-1]))
    np.testing.assert_allclose(got[span - 1:], expected, rtol=1e-12)
    assert np.isnan(got[: span - 1]).all()
