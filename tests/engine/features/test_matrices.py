"""Tests of engine.features.matrices: tactical / strategic feature sets and rolling windows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.matrices import (
    STRATEGIC_AGENT_COLUMNS,
    STRATEGIC_COLUMNS,
    STRATEGIC_WINDOW,
    TACTICAL_COLUMNS,
    TACTICAL_WINDOW,
    scaled_momentum,
    strategic_features,
    tactical_features,
    volume_ratio,
    window_tensor,
)
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars

NAN = np.nan


def random_walk_bars(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return make_bars(close, volume=rng.uniform(0, 1e4, n))


def test_column_orders_match_the_seed_matrices():
    assert TACTICAL_COLUMNS == ("fvg_bullish", "fvg_bearish", "fvg_level", "fvg_age",
                                "fvg_mitigation", "momentum", "volume")
    assert len(STRATEGIC_COLUMNS) == 13 and (TACTICAL_WINDOW, STRATEGIC_WINDOW) == (60, 48)
    named = {agent: [STRATEGIC_COLUMNS[i] for i in idx]
             for agent, idx in STRATEGIC_AGENT_COLUMNS.items()}
    assert named == {
        "mlmi": ["mlmi_value", "mlmi_signal", "momentum_20", "momentum_50"],
        "nwrqk": ["nwrqk_value", "nwrqk_slope", "lvn_distance", "lvn_strength"],
        "regime": ["mmd_score", "volatility_30", "volume_profile_skew"],
    }


def test_scaled_momentum_by_hand():
    # ln(e^2 / 1) / (0.5 * sqrt(4)) = 2 / 1 = 2 at bar 4; sigma 0 gives 0; NaN sigma stays NaN.
    close = np.exp(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.0]))
    sigma = np.array([NAN, NAN, NAN, NAN, 0.5, 0.0])
    np.testing.assert_allclose(scaled_momentum(close, 4, sigma), [NAN] * 4 + [2.0, 0.0])


def test_volume_ratio_by_hand():
    # Window 2: bar 1 -> 3 / mean(1, 3) = 1.5 -> ln 2.5; bar 2 -> 0 / 1.5 -> ln 1 = 0;
    # bar 3 -> mean(0, 0) = 0 -> defined as 0.
    np.testing.assert_allclose(volume_ratio(np.array([1.0, 3.0, 0.0, 0.0]), 2),
                               [NAN, np.log(2.5), 0.0, 0.0])


def test_tactical_features_columns_and_warm_up():
    out = tactical_features(random_walk_bars(100))
    assert list(out.columns) == list(TACTICAL_COLUMNS)
    assert out.dtypes.eq(np.float64).all()
    # FVG from bar 2, volume ratio from bar 19, 5-bar momentum over 20-bar sigma from bar 20.
    assert [out[c].first_valid_index() for c in ("fvg_level", "volume", "momentum")] == \
        [out.index[2], out.index[19], out.index[20]]
    assert not out.iloc[20:].isna().any().any()


def test_tactical_momentum_on_steady_trend_is_zero_volatility_guarded():
    # Constant prices: every return is 0, sigma is 0, momentum defined as 0 (not NaN or inf).
    out = tactical_features(make_bars(np.full(30, 10.0)))
    assert (out["momentum"].iloc[20:] == 0.0).all()


def test_strategic_features_columns_and_no_nan_after_warm_up():
    out = strategic_features(random_walk_bars(300))
    assert list(out.columns) == list(STRATEGIC_COLUMNS)
    # The longest warm-up is mlmi_signal's (bar 262 with the defaults).
    assert out.iloc[:262]["mlmi_signal"].isna().all()
    assert not out.iloc[262:].isna().any().any()


def test_window_tensor_by_hand():
    features = pd.DataFrame({"a": [0.0, 2.0, 4.0, 6.0], "b": [1.0, 3.0, 5.0, 7.0]})
    windows = window_tensor(features, 3)
    assert windows.shape == (4, 3, 2)
    np.testing.assert_array_equal(windows[0], [[NAN, NAN], [NAN, NAN], [0.0, 1.0]])
    np.testing.assert_array_equal(windows[1], [[NAN, NAN], [0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(windows[3], [[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    assert not windows.flags.writeable


def test_window_tensor_shapes_of_the_seed_matrices():
    bars = random_walk_bars(70)
    assert window_tensor(tactical_features(bars), TACTICAL_WINDOW).shape == (70, 60, 7)
    strategic = strategic_features(bars)
    windows = window_tensor(strategic, STRATEGIC_WINDOW)
    assert windows.shape == (70, 48, 13)
    np.testing.assert_array_equal(windows[-1], strategic.to_numpy()[-48:])


@pytest.mark.parametrize("length", [0, -3, 2.0])
def test_window_tensor_rejects_bad_length(length):
    with pytest.raises(InvalidParameterError):
        window_tensor(pd.DataFrame({"a": [1.0]}), length)


def test_window_tensor_rejects_text_columns():
    with pytest.raises(InvalidParameterError):
        window_tensor(pd.DataFrame({"a": ["x", "y"]}), 2)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_tactical_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(tactical_features, bars, other, cut)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_strategic_no_look_ahead(data):
    # Long enough for every default warm-up (262 bars) so the cut can fall past all of them.
    bars = data.draw(ohlcv_bars(min_size=265, max_size=300))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(strategic_features, bars, other, cut)


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_window_tensor_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))

    def last_window_flat(b: pd.DataFrame) -> pd.DataFrame:
        windows = window_tensor(tactical_features(b), 5)
        return pd.DataFrame(windows.reshape(len(b), -1), index=b.index)

    assert_causal(last_window_flat, bars, other, cut)
