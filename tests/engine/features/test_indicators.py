"""Tests of engine.features.indicators: per-bar steps by hand, and the scalar rules' edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.features import indicators

NAN = np.nan


def test_an_ema_step_by_step_is_seeded_with_the_mean():
    # span 3 -> alpha 0.5: NaN, NaN, seed (2 + 4 + 6) / 3 = 4, then 4 + 0.5 * (10 - 4) = 7
    state = np.zeros(1, indicators.smoothing_dt)
    got = [indicators.ema_step_nb(state[0], x, 3) for x in (2.0, 4.0, 6.0, 10.0)]
    np.testing.assert_array_equal(got, [NAN, NAN, 4.0, 7.0])


def test_a_nan_restarts_the_smoothing():
    state = np.zeros(1, indicators.smoothing_dt)
    got = [indicators.wilder_step_nb(state[0], x, 2) for x in (1.0, 3.0, NAN, 5.0, 7.0)]
    np.testing.assert_array_equal(got, [NAN, 2.0, NAN, NAN, 6.0])


def test_rsi_steps_by_hand():
    # changes +1, -0.5, +1 with period 3: G = 2/3, L = 1/6 -> RSI = 100 * (2/3) / (5/6) = 80
    state = np.zeros(1, indicators.rsi_dt)
    got = [indicators.rsi_step_nb(state[0], change, 3) for change in (NAN, 1.0, -0.5, 1.0)]
    assert np.isnan(got[:3]).all()
    assert got[3] == pytest.approx(80.0)


def test_adx_of_a_falling_staircase_is_100():
    # Lows fall by 1 a bar, highs too: down = 1 > up = -1 -> -DM = 1, +DM = 0, DX = 100 from bar 2,
    # ADX (period 2) = 100 from bar 2 * 2 - 1 = 3.
    state = np.zeros(1, indicators.adx_dt)
    got = [indicators.adx_step_nb(state[0], 20.0 - t, 19.0 - t, 2) for t in range(6)]
    assert np.isnan(got[:3]).all()
    np.testing.assert_array_equal(got[3:], 100.0)


def test_safe_ratio_and_tanh_ratio_at_zero_denominators():
    assert indicators.safe_ratio_nb(3.0, 0.0, 0.5) == 0.5
    assert np.isnan(indicators.safe_ratio_nb(NAN, 0.0, 0.5))
    assert indicators.tanh_ratio_nb(-2.0, 0.0) == -1.0 and indicators.tanh_ratio_nb(0.0, 0.0) == 0.0
    assert indicators.tanh_ratio_nb(1.0, 2.0) == math.tanh(0.5)
    assert np.isnan(indicators.tanh_ratio_nb(1.0, NAN))


def test_scalar_rules_follow_numpy_on_signed_zeros_and_nan():
    # np.sign(-0.0) is +0.0; numba's np.sign would keep the sign of the zero.
    for x in (-0.0, 0.0, 2.5, -2.5, NAN):
        expected = np.sign(x)
        got = indicators.sign_nb(x)
        assert (np.isnan(got) and np.isnan(expected)) or np.float64(got).view(np.int64) == expected.view(np.int64)
    assert np.isnan(indicators.maximum_nb(NAN, 1.0)) and np.isnan(indicators.minimum_nb(1.0, NAN))
    assert indicators.true_range_nb(12.0, 10.0, 13.0) == 3.0
    assert np.isnan(indicators.true_range_nb(12.0, 10.0, NAN))
