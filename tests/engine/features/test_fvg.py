"""Tests of engine.features.fvg: fair value gap state machine."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.fvg import FVG_COLUMNS, fair_value_gaps
from tests.engine.features.builders import make_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars

NAN = np.nan


def bars_from_rows(rows: list[tuple[float, float, float, float]]):
    """Bars from hand-written ``(open, high, low, close)`` rows."""
    open_, high, low, close = (np.array(col) for col in zip(*rows))
    return make_bars(close, open_, high, low)


def test_bullish_gap_half_mitigated_then_filled():
    bars = bars_from_rows([
        # open, high, low, close
        (10.0, 10.5, 9.5, 10.0),
        (10.2, 11.8, 10.0, 11.5),
        (11.6, 12.5, 11.5, 12.2),  # low 11.5 > high_0 10.5: bullish gap [10.5, 11.5], mid 11
        (12.2, 12.4, 11.0, 11.2),  # low 11.0: fill = (11.5 - 11.0) / (11.5 - 10.5) = 0.5
        (11.2, 11.6, 10.4, 10.6),  # low 10.4 < bottom 10.5: fully filled, gap dropped
    ])
    out = fair_value_gaps(bars, max_age=10)
    assert list(out.columns) == list(FVG_COLUMNS)
    expected = np.array([
        [NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, NAN, NAN, NAN],
        [1.0, 0.0, 11.0 / 12.2 - 1.0, 0.0, 0.0],
        [1.0, 0.0, 11.0 / 11.2 - 1.0, 1 / 10, 0.5],  # age 1 bar / max_age 10
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ])
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-12)


def test_bearish_gap_expires_after_max_age():
    bars = bars_from_rows([
        (20.0, 20.5, 19.5, 20.0),
        (20.0, 20.2, 18.0, 18.3),
        (18.3, 18.5, 18.0, 18.2),  # high 18.5 < low_0 19.5: bearish gap [18.5, 19.5], mid 19
        (18.2, 18.4, 18.0, 18.2),  # highs stay below 18.5: fill 0; ages 1, 2, then 3 > 2
        (18.2, 18.4, 18.0, 18.2),
        (18.2, 18.4, 18.0, 18.2),
    ])
    out = fair_value_gaps(bars, max_age=2)
    np.testing.assert_array_equal(out["fvg_bearish"].to_numpy()[2:], [1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(out["fvg_bullish"].to_numpy()[2:], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(out["fvg_age"].to_numpy()[2:], [0.0, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(out["fvg_level"].to_numpy()[2:4], [19 / 18.2 - 1, 19 / 18.2 - 1])
    np.testing.assert_array_equal(out["fvg_mitigation"].to_numpy()[2:], [0.0, 0.0, 0.0, 0.0])


def test_new_gap_replaces_older_one_of_its_side():
    # Doji closes 1..5: every bar from 2 on has low_t = t+1 > high_{t-2} = t-1, so a fresh gap
    # [t-1, t+1] forms each bar; at bar 4 the zone is [3, 5], mid 4: level 4/5 - 1 = -0.2, age 0.
    out = fair_value_gaps(make_bars([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_allclose(out["fvg_level"].to_numpy()[2:], [2 / 3 - 1, 3 / 4 - 1, 4 / 5 - 1])
    np.testing.assert_array_equal(out["fvg_age"].to_numpy()[2:], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(out["fvg_bullish"].to_numpy()[2:], [1.0, 1.0, 1.0])


def test_constant_prices_have_no_gaps():
    out = fair_value_gaps(make_bars(np.full(10, 7.0)))
    assert out.iloc[:2].isna().all().all()
    assert (out.iloc[2:] == 0.0).all().all()


def test_bad_max_age_raises():
    with pytest.raises(InvalidParameterError):
        fair_value_gaps(make_bars([1.0, 2.0, 3.0]), max_age=0)


@settings(max_examples=60, deadline=None)
@given(ohlcv_bars(min_size=3, max_size=120))
def test_outputs_stay_in_their_ranges(bars):
    out = fair_value_gaps(bars, max_age=5).iloc[2:]
    assert not out.isna().any().any()
    assert out["fvg_bullish"].isin([0.0, 1.0]).all() and out["fvg_bearish"].isin([0.0, 1.0]).all()
    assert out["fvg_age"].between(0.0, 1.0).all()
    assert out["fvg_mitigation"].between(0.0, 1.0).all()
    none_active = (out["fvg_bullish"] == 0.0) & (out["fvg_bearish"] == 0.0)
    assert (out.loc[none_active, ["fvg_level", "fvg_age", "fvg_mitigation"]] == 0.0).all().all()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_look_ahead(data):
    bars = data.draw(ohlcv_bars(min_size=1, max_size=80))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 1))
    assert_causal(lambda b: fair_value_gaps(b, max_age=7), bars, other, cut)
