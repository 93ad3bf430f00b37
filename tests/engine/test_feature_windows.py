"""FeatureWindows: windows gathered per row, zero warm-up, clipping, normalizer checks."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidParameterError
from engine.feature_windows import FeatureWindows, compute_family, fit_normalizer
from engine.features.normalize import FittedNormalizer
from engine.scenarios import from_market
from tests.engine.envs.helpers import hand_market


def values() -> np.ndarray:
    # 1 path, 4 bars, 2 symbols, 1 column: symbol 0 = 10, 20, 30, 40; symbol 1 = NaN, 2, 3, 400.
    v = np.array([[10.0, np.nan], [20.0, 2.0], [30.0, 3.0], [40.0, 400.0]])
    return v[None, :, :, None]


def test_windows_read_the_last_rows_with_zeros_before_bar_zero() -> None:
    windows = FeatureWindows(values(), ("x",), length=3, clip=100.0)
    out = windows.windows(np.array([0, 0, 0]), np.array([0, 1, 1]), np.array([1, 1, 3]))
    assert out.dtype == np.float32 and out.shape == (3, 3, 1)
    assert out[..., 0].tolist() == [[0.0, 10.0, 20.0],   # row before bar 0 reads 0
                                    [0.0, 0.0, 2.0],     # warm-up NaN reads 0
                                    [2.0, 3.0, 100.0]]   # 400 clipped to 100
    assert windows.rows(np.array([0]), np.array([0]), np.array([2])).tolist() == [[30.0]]
    assert windows.warmup == 1 + 3 - 1  # last NaN at bar 0; a full window from bar 3


def test_a_normalizer_is_applied_and_must_match_the_columns() -> None:
    normalizer = FittedNormalizer("zscore", ("x",), (10.0,), (10.0,), "", "", 1)
    windows = FeatureWindows(values(), ("x",), length=1, normalizer=normalizer)
    assert windows.rows(np.array([0]), np.array([0]), np.array([3])).tolist() == [[3.0]]  # (40 - 10) / 10
    with pytest.raises(InvalidParameterError, match="fitted on columns"):
        FeatureWindows(values(), ("y",), length=1, normalizer=normalizer)


def test_the_normalizer_fits_on_the_training_period_only() -> None:
    data = hand_market([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    batch = from_market(data)
    raw, columns = compute_family(batch, lambda bars: bars[["close"]])
    fitted = fit_normalizer(batch, raw, columns, (None, data.index[1]))
    # Closes 1 and 2: mean 1.5, population std 0.5.
    assert fitted.center == (1.5,) and fitted.scale == (0.5,) and fitted.n_rows == 2
    with pytest.raises(InvalidParameterError, match="holds no bar"):
        fit_normalizer(batch, raw, columns, ("2030-01-01", None))
