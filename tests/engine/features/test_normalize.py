"""Tests of engine.features.normalize: fitted statistics by hand, frozen state, round trip, errors."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.normalize import FeatureNormalizer, FittedNormalizer
from engine.features.technical import TECHNICAL_WARMUP, technical_features
from tests.engine.features.builders import random_bars
from tests.engine.features.strategies import assert_causal, ohlcv_bars


def daily_frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = pd.date_range("2022-01-03", periods=n, freq="1D", tz="UTC")
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}, index=index)


def test_zscore_fitted_on_the_first_three_rows():
    frame = daily_frame(a=[1.0, 2.0, 3.0, 100.0, 2.0])
    fitted = FeatureNormalizer("zscore").fit(frame, end="2022-01-05")
    # rows 1, 2, 3: mean 2, population std sqrt(((1-2)^2 + 0 + (3-2)^2)/3) = sqrt(2/3)
    assert fitted.center == (2.0,) and fitted.scale[0] == pytest.approx(np.sqrt(2 / 3))
    out = fitted.transform(frame)["a"].to_numpy()
    sd = np.sqrt(2 / 3)
    np.testing.assert_allclose(out, [-1 / sd, 0.0, 1 / sd, 98 / sd, 0.0])
    assert fitted.n_rows == 3 and fitted.fit_end == "2022-01-05T00:00:00+00:00"


def test_minmax_is_not_clipped_outside_the_training_range():
    frame = daily_frame(a=[2.0, 4.0, 6.0, 8.0, 0.0])
    fitted = FeatureNormalizer("minmax").fit(frame, end="2022-01-05")
    # min 2, max 6 -> (x - 2)/4: 0, 0.5, 1, then 1.5 and -0.5 beyond the training range
    np.testing.assert_allclose(fitted.transform(frame)["a"], [0.0, 0.5, 1.0, 1.5, -0.5])


def test_robust_uses_median_and_iqr():
    frame = daily_frame(a=[1.0, 2.0, 3.0, 4.0, 100.0, 7.0])
    fitted = FeatureNormalizer("robust").fit(frame, end="2022-01-07")
    # first five: median 3, q25 = 2, q75 = 4 (linear interpolation on 5 points) -> IQR 2; 7 -> (7-3)/2
    assert fitted.center == (3.0,) and fitted.scale == (2.0,)
    assert fitted.transform(frame)["a"].iloc[-1] == 2.0


def test_nan_is_ignored_when_fitting_and_kept_when_transforming():
    frame = daily_frame(a=[np.nan, 1.0, 3.0, np.nan])
    fitted = FeatureNormalizer("zscore").fit(frame)
    # mean of (1, 3) = 2, std 1
    assert fitted.center == (2.0,) and fitted.scale == (1.0,)
    np.testing.assert_allclose(fitted.transform(frame)["a"], [np.nan, -1.0, 1.0, np.nan])


@pytest.mark.parametrize("method", ["zscore", "minmax", "robust"])
def test_constant_column_gets_scale_one_and_exact_zero(method):
    # 0.1 three times: the float mean is not exactly 0.1, the rule must still give exactly 0
    frame = daily_frame(a=[0.1, 0.1, 0.1, 0.6], b=[1.0, 2.0, 3.0, 4.0])
    fitted = FeatureNormalizer(method).fit(frame, end="2022-01-05")
    out = fitted.transform(frame)["a"].to_numpy()
    assert fitted.scale[0] == 1.0 and fitted.center[0] == 0.1
    assert (out[:3] == 0.0).all() and out[3] == pytest.approx(0.5)
    assert np.isfinite(fitted.transform(frame).to_numpy()).all()


def test_start_and_end_select_the_training_rows():
    index = pd.date_range("2022-01-01", periods=72, freq="1h", tz="UTC")
    frame = pd.DataFrame({"a": np.arange(72.0)}, index=index)
    # a date-only end includes that whole day: 2022-01-02 00:00 .. 23:00 -> values 24..47
    fitted = FeatureNormalizer("minmax").fit(frame, start="2022-01-02", end="2022-01-02")
    assert fitted.center == (24.0,) and fitted.scale == (23.0,) and fitted.n_rows == 24
    # a timestamp end is exact
    fitted = FeatureNormalizer("minmax").fit(frame, start="2022-01-02", end="2022-01-02 05:00")
    assert fitted.n_rows == 6


def test_transform_keeps_the_frame_column_order():
    frame = daily_frame(a=[1.0, 3.0], b=[10.0, 30.0])
    fitted = FeatureNormalizer("zscore").fit(frame)
    swapped = fitted.transform(frame[["b", "a"]])
    assert list(swapped.columns) == ["b", "a"]
    np.testing.assert_allclose(swapped.to_numpy(), [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(fitted.transform_array(frame.to_numpy()), [[-1.0, -1.0], [1.0, 1.0]])


def test_round_trip_through_json():
    frame = technical_features(random_bars(200))
    fitted = FeatureNormalizer("robust").fit(frame, end=frame.index[120])
    restored = FittedNormalizer.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert restored == fitted
    pd.testing.assert_frame_equal(restored.transform(frame), fitted.transform(frame), check_exact=True)


def test_statistics_are_frozen_against_data_outside_the_period():
    frame = technical_features(random_bars(300, seed=7))
    end = frame.index[150]
    fitted = FeatureNormalizer("zscore").fit(frame, end=end)
    changed = frame.copy()
    changed.iloc[151:] = changed.iloc[151:] * 3.0 + 1.0
    assert FeatureNormalizer("zscore").fit(changed, end=end) == fitted
    with pytest.raises(dataclasses.FrozenInstanceError):
        fitted.center = (0.0,) * len(fitted.columns)
    # transforming later rows never refits
    before = fitted.to_dict()
    fitted.transform(changed)
    assert fitted.to_dict() == before


def test_unknown_method_raises():
    with pytest.raises(InvalidParameterError, match="unknown normalization method 'standard'.*zscore"):
        FeatureNormalizer("standard")


def test_column_mismatch_raises():
    fitted = FeatureNormalizer().fit(daily_frame(a=[1.0, 2.0], b=[1.0, 2.0]))
    with pytest.raises(InvalidParameterError, match=r"lacks \['b'\] and has unknown \['c'\]"):
        fitted.transform(daily_frame(a=[1.0], c=[1.0]))
    with pytest.raises(InvalidParameterError, match="2 columns"):
        fitted.transform_array(np.ones((4, 3)))


def test_empty_training_period_raises():
    frame = daily_frame(a=[1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="holds no rows.*choose start/end inside it"):
        FeatureNormalizer().fit(frame, start="2030-01-01")


def test_all_nan_or_infinite_training_column_raises():
    with pytest.raises(InvalidParameterError, match="'?b'? are all NaN.*start the training period later"):
        FeatureNormalizer().fit(daily_frame(a=[1.0, 2.0], b=[np.nan, np.nan]))
    with pytest.raises(InvalidParameterError, match="infinite"):
        FeatureNormalizer().fit(daily_frame(a=[1.0, np.inf]))


def test_label_columns_raise():
    frame = daily_frame(a=[1.0, 2.0]).assign(trend_regime=pd.Categorical(["bull", "bear"]))
    with pytest.raises(InvalidParameterError, match="trend_regime are not numeric"):
        FeatureNormalizer().fit(frame)


def test_period_on_a_frame_without_timestamps_raises():
    with pytest.raises(InvalidParameterError, match="DatetimeIndex"):
        FeatureNormalizer().fit(pd.DataFrame({"a": [1.0, 2.0]}), end="2022-01-01")


def test_bad_dicts_raise():
    good = FeatureNormalizer().fit(daily_frame(a=[1.0, 2.0])).to_dict()
    with pytest.raises(InvalidParameterError, match="unknown keys \\['extra'\\]"):
        FittedNormalizer.from_dict({**good, "extra": 1})
    with pytest.raises(InvalidParameterError, match="1 columns but 2 centers"):
        FittedNormalizer.from_dict({**good, "center": [0.0, 1.0]})
    with pytest.raises(InvalidParameterError, match="positive scales"):
        FittedNormalizer.from_dict({**good, "scale": [0.0]})
    with pytest.raises(InvalidParameterError, match="wrong type"):
        FittedNormalizer.from_dict({**good, "center": [None]})


@settings(max_examples=30, deadline=None)
@given(data=st.data(), method=st.sampled_from(["zscore", "minmax", "robust"]))
def test_no_look_ahead_when_fitted_on_a_period_ending_at_or_before_the_cut(data, method):
    bars = data.draw(ohlcv_bars(min_size=TECHNICAL_WARMUP + 2, max_size=120))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    cut = data.draw(st.integers(TECHNICAL_WARMUP, len(bars) - 2))
    end = bars.index[data.draw(st.integers(TECHNICAL_WARMUP, cut))]

    def normalized(b: pd.DataFrame) -> pd.DataFrame:
        features = technical_features(b)
        return FeatureNormalizer(method).fit(features, end=end).transform(features)

    assert_causal(normalized, bars, other, cut)
