"""Tests of engine.features.nwrqk: rational quadratic kernel regression of close."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.nwrqk import NWRQK_COLUMNS, nwrqk, rational_quadratic_weights
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars


def test_weights_by_hand():
    # h = 1, alpha = 1: K(i) = (1 + i^2 / 2)^-1 -> K(0) = 1, K(1) = 2/3, K(2) = 1/3; sum = 2,
    # so the normalized weights are 1/2, 1/3, 1/6.
    np.testing.assert_allclose(rational_quadratic_weights(1.0, 1.0, 2), [1 / 2, 1 / 3, 1 / 6])


def test_large_alpha_approaches_gaussian_kernel():
    # (1 + d^2 / (2 alpha h^2))^-alpha -> exp(-d^2 / (2 h^2)) as alpha -> infinity.
    gaussian = np.exp(-np.arange(26) ** 2 / (2 * 8.0**2))
    np.testing.assert_allclose(
        rational_quadratic_weights(8.0, 1e7, 25), gaussian / gaussian.sum(), rtol=1e-5
    )


def test_value_and_slope_by_hand():
    # Weights 1/2, 1/3, 1/6 on close_t, close_{t-1}, close_{t-2}:
    #   bar 2: yhat = 12/2 + 11/3 + 10/6 = 34/3;  value = (34/3) / 12 - 1 = -1/18
    #   bar 3: yhat = 13/2 + 12/3 + 11/6 = 37/3;  value = (37/3) / 13 - 1 = -2/39
    #   slope at bar 3 = (37/3) / (34/3) - 1 = 3/34
    out = nwrqk(make_bars([10.0, 11.0, 12.0, 13.0]), bandwidth=1.0, alpha=1.0, lookback=2)
    assert list(out.columns) == list(NWRQK_COLUMNS)
    np.testing.assert_allclose(out["nwrqk_value"].to_numpy(), [np.nan, np.nan, -1 / 18, -2 / 39])
    np.testing.assert_allclose(out["nwrqk_slope"].to_numpy(), [np.nan, np.nan, np.nan, 3 / 34])


def test_constant_price_gives_zero_after_warm_up():
    out = nwrqk(make_bars(np.full(40, 50.0)))
    assert out.iloc[:25].isna().all().all()
    np.testing.assert_allclose(out["nwrqk_value"].iloc[25:], 0.0, atol=1e-15)
    np.testing.assert_allclose(out["nwrqk_slope"].iloc[26:], 0.0, atol=1e-15)


def test_shorter_than_warm_up_is_all_nan():
    out = nwrqk(make_bars([1.0, 2.0, 3.0]))
    assert out.shape == (3, 2) and out.isna().all().all()


@pytest.mark.parametrize("kwargs", [{"bandwidth": 0.0}, {"alpha": -1.0}, {"lookback": -1},
                                    {"lookback": 2.5}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(InvalidParameterError):
        nwrqk(make_bars([1.0, 2.0, 3.0]), **kwargs)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=60))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(lambda b: nwrqk(b, lookback=6), bars, other, cut)
