"""Tests of engine.features.mmd: biased MMD^2 between recent and reference log returns."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.mmd import MMD_COLUMNS, mmd_regime_score
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars


def closes_from_returns(returns):
    return 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


def test_two_single_returns_by_hand():
    # recent = reference = 1: X = {x}, Y = {y}, x != y. sigma = std{x, y} = |x - y| / 2, so
    # k(x, y) = exp(-(x - y)^2 / (2 (x - y)^2 / 4)) = exp(-2) and MMD^2 = 1 + 1 - 2 exp(-2).
    out = mmd_regime_score(make_bars([100.0, 101.0, 99.0]), recent=1, reference=1)
    assert list(out.columns) == list(MMD_COLUMNS)
    np.testing.assert_allclose(out["mmd_score"].to_numpy(), [np.nan, np.nan, 2 - 2 * np.exp(-2)])


def test_shifted_windows_by_hand():
    # Reference returns a, a, a, a then recent returns b, b (recent = 2, reference = 4).
    # Pooled: 4 of a, 2 of b -> sigma = |a - b| sqrt(4/6 * 2/6) = |a - b| sqrt(2) / 3,
    # k(a, b) = exp(-(a - b)^2 / (2 * 2 (a - b)^2 / 9)) = exp(-9/4); within-sample kernels are 1.
    # MMD^2 = 1 + 1 - 2 exp(-2.25).
    close = closes_from_returns([0.01] * 4 + [-0.02] * 2)
    out = mmd_regime_score(make_bars(close), recent=2, reference=4)
    assert out["mmd_score"].iloc[:6].isna().all()
    assert out["mmd_score"].iloc[6] == pytest.approx(2 - 2 * np.exp(-2.25), rel=1e-9)


def test_identical_distributions_score_zero():
    # Returns alternate +a, -a: X = {a, -a} and Y = {a, -a, a, -a} are the same distribution.
    close = closes_from_returns([0.01, -0.01] * 5)
    score = mmd_regime_score(make_bars(close), recent=2, reference=4)["mmd_score"].iloc[6:]
    np.testing.assert_allclose(score, 0.0, atol=1e-12)


def test_regime_change_scores_higher_than_same_regime():
    rng = np.random.default_rng(7)
    calm = rng.normal(0.0, 0.001, 150)
    wild = rng.normal(0.0, 0.02, 30)
    score = mmd_regime_score(make_bars(closes_from_returns(np.concatenate([calm, wild]))))
    # Bar 150 closes the calm stretch; bar 180 has 24 wild returns against a mostly calm reference.
    assert score["mmd_score"].iloc[180] > 5 * score["mmd_score"].iloc[150]


def test_constant_prices_score_zero_after_warm_up():
    out = mmd_regime_score(make_bars(np.full(10, 5.0)), recent=2, reference=3)
    assert out["mmd_score"].iloc[:5].isna().all()
    assert (out["mmd_score"].iloc[5:] == 0.0).all()


def test_shorter_than_warm_up_is_all_nan():
    assert mmd_regime_score(make_bars(np.arange(1.0, 100.0))).isna().all().all()


@pytest.mark.parametrize("kwargs", [{"recent": 0}, {"reference": 0}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(InvalidParameterError):
        mmd_regime_score(make_bars([1.0, 2.0, 3.0]), **kwargs)


@settings(max_examples=40, deadline=None)
@given(ohlcv_bars(min_size=9, max_size=60))
def test_score_lies_in_zero_two(bars):
    score = mmd_regime_score(bars, recent=3, reference=5)["mmd_score"].iloc[8:]
    assert score.between(0.0, 2.0).all()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(lambda b: mmd_regime_score(b, recent=4, reference=8), bars, other, cut)
