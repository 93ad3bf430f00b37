"""Synthetic shocks: hand-computed small cases and OHLC validity as a property."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from engine.errors import InvalidParameterError
from engine.scenarios import (
    ScenarioParams,
    correlation_spike,
    liquidity_shock,
    overnight_gap,
    scale_volatility,
    trend_reversal,
)
from engine.scenarios.path import relative_bars
from tests.engine.scenarios.paths import (
    assert_valid_ohlc,
    log_returns,
    make_path,
    price_paths,
    random_path,
)

# Four daily bars of one symbol, 2024-01-01 .. 2024-01-04.
OPEN = [99.0, 101.0, 103.0, 100.0]
HIGH = [101.0, 103.0, 104.0, 104.0]
LOW = [98.0, 100.0, 100.0, 99.0]
CLOSE = [100.0, 102.0, 101.0, 103.0]


@pytest.fixture
def four_bars():
    return make_path(CLOSE, OPEN, HIGH, LOW, label="base")


def test_gap_down_multiplies_every_price_from_the_gap_bar_open_on(four_bars):
    gapped = overnight_gap(four_bars, 2, -0.10)
    # Bars 0 and 1 unchanged; bars 2 and 3 times 0.9: open 103 -> 92.7, 100 -> 90; close 101 -> 90.9.
    assert_allclose(gapped.open[:, 0], [99, 101, 92.7, 90.0], rtol=1e-15)
    assert_allclose(gapped.high[:, 0], [101, 103, 93.6, 93.6], rtol=1e-15)
    assert_allclose(gapped.low[:, 0], [98, 100, 90.0, 89.1], rtol=1e-15)
    assert_allclose(gapped.close[:, 0], [100, 102, 90.9, 92.7], rtol=1e-15)
    assert (gapped.volume == four_bars.volume).all()
    assert gapped.label == "base | gap -10% at 2024-01-03"


def test_gap_at_a_date_and_on_some_symbols_only():
    path = make_path(np.array([[10.0, 20.0], [11.0, 21.0], [12.0, 22.0]]), symbols=["A", "B"])
    gapped = overnight_gap(path, "2024-01-02", 0.5, symbols=["B"])
    assert gapped.close.tolist() == [[10.0, 20.0], [11.0, 31.5], [12.0, 33.0]]
    assert gapped.label.endswith("gap +50% at 2024-01-02 (B)")


def test_gap_rejects_bar_zero_and_a_total_loss(four_bars):
    with pytest.raises(InvalidParameterError, match="first bar has no previous close"):
        overnight_gap(four_bars, 0, -0.1)
    with pytest.raises(InvalidParameterError, match="must be > -1"):
        overnight_gap(four_bars, 1, -1.0)
    with pytest.raises(InvalidParameterError, match="after the last bar"):
        overnight_gap(four_bars, "2024-02-01", -0.1)


def test_volatility_times_two_doubles_each_returns_deviation_from_the_mean(four_bars):
    scaled = scale_volatility(four_bars, 2.0)
    r, r2 = log_returns(four_bars.close)[:, 0], log_returns(scaled.close)[:, 0]
    # r = ln(102/100), ln(101/102), ln(103/101); m = mean(r); r' = m + 2 (r - m).
    m = np.log(103 / 100) / 3
    assert_allclose(r2, m + 2 * (r - m), atol=1e-15)
    assert_allclose(r2 - r2.mean(), 2 * (r - r.mean()), atol=1e-15)
    # Open, high and low offsets from the previous close scale around the same mean.
    assert_allclose(relative_bars(scaled), m + 2 * (relative_bars(four_bars) - m), atol=1e-14)
    assert scaled.close[0, 0] == 100.0 and scaled.open[0, 0] == 99.0  # bar 0 has no return
    # The mean is kept, so the last close is unchanged: 100 * exp(3 m) = 103.
    assert_allclose(scaled.close[-1, 0], 103.0, rtol=1e-14)


def test_volatility_zero_is_a_straight_line_at_the_mean_return(four_bars):
    flat = scale_volatility(four_bars, 0.0)
    assert_allclose(flat.close[:, 0], 100 * (1.03 ** (np.arange(4) / 3)), rtol=1e-14)
    assert_allclose(flat.high[1:], flat.close[1:], rtol=1e-14)


def test_volatility_window_leaves_bars_before_it_and_returns_after_it():
    path = random_path(20, n_symbols=2, seed=4)
    scaled = scale_volatility(path, 3.0, start=5, end="2024-01-11")  # bars 5..10
    assert (scaled.close[:5] == path.close[:5]).all()
    r, r3 = log_returns(path.close), log_returns(scaled.close)
    inside = slice(4, 10)  # returns of bars 5..10
    assert_allclose(r3[inside] - r3[inside].mean(0), 3 * (r[inside] - r[inside].mean(0)), atol=1e-13)
    assert_allclose(r3[10:], r[10:], atol=1e-13)
    assert scaled.label == "base | volatility x3 2024-01-06 to 2024-01-11"


def test_reversal_mirrors_the_path_after_the_pivot(four_bars):
    mirrored = trend_reversal(four_bars, 1)
    # c = close[1] = 102; after bar 1 every price X becomes 102^2 / X and high and low swap:
    # close 101 -> 10404/101, 103 -> 10404/103; high 104 (bar 2) comes from low 100 -> 104.04.
    c2 = 102.0 ** 2
    assert_allclose(mirrored.close[:, 0], [100, 102, c2 / 101, c2 / 103], rtol=1e-15)
    assert_allclose(mirrored.open[:, 0], [99, 101, c2 / 103, c2 / 100], rtol=1e-15)
    assert_allclose(mirrored.high[:, 0], [101, 103, c2 / 100, c2 / 99], rtol=1e-15)
    assert_allclose(mirrored.low[:, 0], [98, 100, c2 / 104, c2 / 104], rtol=1e-15)
    r, rr = log_returns(four_bars.close), log_returns(mirrored.close)
    assert_allclose(rr[1:], -r[1:], atol=1e-15)
    assert rr[0] == r[0]
    with pytest.raises(InvalidParameterError, match="nothing to reverse"):
        trend_reversal(four_bars, 3)


def test_full_correlation_spike_gives_every_symbol_the_same_returns():
    path = random_path(15, n_symbols=3, seed=5, corr=0.1)
    spiked = correlation_spike(path, 1.0, start=3, end=9)
    r = log_returns(spiked.close)
    assert_allclose(r[2:9], np.repeat(r[2:9, :1], 3, axis=1), atol=1e-14)  # bars 3..9
    assert_allclose(relative_bars(spiked)[2:9], relative_bars(path)[2:9].mean(1, keepdims=True)
                    .repeat(3, axis=1), atol=1e-14)
    assert not np.allclose(r[:2, 0], r[:2, 1])  # bars before the window keep their own returns
    assert_allclose(r[9:], log_returns(path.close)[9:], atol=1e-13)


def test_partial_correlation_spike_mixes_toward_the_cross_sectional_mean():
    path = random_path(10, n_symbols=2, seed=6)
    half = correlation_spike(path, 0.5)
    r, rh = log_returns(path.close), log_returns(half.close)
    assert_allclose(rh, 0.5 * r + 0.5 * r.mean(axis=1, keepdims=True), atol=1e-14)
    assert_allclose(correlation_spike(path, 0.0).close, path.close, rtol=1e-13)
    with pytest.raises(InvalidParameterError, match=r"must lie in \[0, 1\]"):
        correlation_spike(path, 1.5)
    with pytest.raises(InvalidParameterError, match="at least two symbols"):
        correlation_spike(make_path([1.0, 2.0, 3.0]), 0.5)


def test_liquidity_shock_multiplies_the_three_costs():
    base = ScenarioParams(fees=0.001, slippage=0.0005, spread=0.0002, stop_loss=0.05)
    shocked = liquidity_shock(base, 3.0)
    assert (shocked.fees, shocked.slippage, shocked.spread) == pytest.approx((0.003, 0.0015, 0.0006), rel=1e-15)
    assert shocked.stop_loss == 0.05
    with pytest.raises(InvalidParameterError, match=r"liquidity_shock x2000: ScenarioParams\.slippage = 1\.0"):
        liquidity_shock(ScenarioParams(slippage=0.0005), 2000.0)
    with pytest.raises(InvalidParameterError, match="must be >= 0"):
        liquidity_shock(base, -1.0)


@settings(max_examples=60, deadline=None)
@given(path=price_paths(min_bars=3), data=st.data())
def test_every_shock_keeps_prices_positive_and_ohlc_ordered(path, data):
    n = path.n_bars
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(max(start, 1), n - 1))
    shocked = [
        overnight_gap(path, data.draw(st.integers(1, n - 1)), data.draw(st.floats(-0.9, 2.0))),
        scale_volatility(path, data.draw(st.floats(0.0, 5.0)), start, end),
        trend_reversal(path, data.draw(st.integers(0, n - 2))),
    ]
    if path.n_symbols > 1:
        shocked.append(correlation_spike(path, data.draw(st.floats(0.0, 1.0)), start, end))
    for out in shocked:
        assert out.close.shape == path.close.shape and out.index.equals(path.index)
        assert_valid_ohlc(out.open, out.high, out.low, out.close, out.volume)
