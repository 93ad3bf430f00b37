"""Streaming feature rows equal the batch feature functions bit for bit (the paper loop relies on it)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS, REGIME_WARMUP, regime_features
from engine.features.streaming import StreamingFeatures
from engine.features.technical import TECHNICAL_COLUMNS, technical_features
from tests.engine.features.builders import make_bars, random_bars
from tests.engine.features.strategies import ohlcv_bars
from tests.engine.features.test_regime_block import FIRST_VALID as REGIME_FIRST_VALID
from tests.engine.features.test_technical import FIRST_VALID as TECHNICAL_FIRST_VALID

FIELDS = ("open", "high", "low", "close", "volume")


def stream(symbols: list[pd.DataFrame], bars_per_year: float = 252.0) -> tuple[np.ndarray, np.ndarray]:
    """Every bar's rows from :class:`StreamingFeatures`: ``[T, N, 23]`` and ``[T, N, 10]``."""
    features = StreamingFeatures(len(symbols), bars_per_year)
    technical, regime = [], []
    for t in range(len(symbols[0])):
        row = [np.array([frame[f].iloc[t] for frame in symbols]) for f in FIELDS]
        tech, reg = features.append(*row)
        technical.append(tech)
        regime.append(reg)
    return np.array(technical), np.array(regime)


def assert_identical(streamed: np.ndarray, batch: np.ndarray, columns) -> None:
    """Bitwise equality, NaN equal to NaN; names the first differing bar and column."""
    same = (streamed.view(np.int64) == batch.view(np.int64)) | (np.isnan(streamed) & np.isnan(batch))
    if not same.all():
        t, k = np.argwhere(~same)[0]
        raise AssertionError(f"bar {t}, column {columns[k]}: streamed {streamed[t, k]!r} != batch {batch[t, k]!r}")


def check_symbols(symbols: list[pd.DataFrame], bars_per_year: float = 252.0) -> None:
    technical, regime = stream(symbols, bars_per_year)
    for n, frame in enumerate(symbols):
        batch_technical = technical_features(frame)
        batch_regime = regime_features(frame, bars_per_year=bars_per_year)
        assert_identical(technical[:, n], batch_technical.to_numpy(), list(batch_technical.columns))
        assert_identical(regime[:, n], batch_regime.to_numpy(), list(batch_regime.columns))


def test_a_long_path_of_three_symbols_streams_the_batch_rows() -> None:
    # Longer than the tails kept (twice the 252-bar percentile window), so the buffers wrap around.
    symbols = [random_bars(700, seed=s) for s in range(3)]
    check_symbols(symbols)
    technical, regime = stream(symbols)
    assert np.isfinite(regime[REGIME_WARMUP:]).all() and np.isfinite(technical[49:]).all()


def test_flat_prices_and_zero_volume_take_the_documented_fallbacks_in_both() -> None:
    close = np.r_[np.full(120, 10.0), 10.0 * np.exp(np.cumsum(np.full(200, 0.01))), np.full(300, 30.0)]
    volume = np.where(np.arange(close.size) % 7 == 0, 0.0, 1000.0)
    volume[400:] = 0.0
    check_symbols([make_bars(close, volume=volume), random_bars(close.size, seed=4)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bars=ohlcv_bars(min_size=1, max_size=330), bars_per_year=st.sampled_from([252.0, 252.0 * 78, 365.0 * 24]))
def test_any_path_streams_the_batch_rows(bars: pd.DataFrame, bars_per_year: float) -> None:
    check_symbols([bars], bars_per_year)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=ohlcv_bars(min_size=280, max_size=320), seed=st.integers(0, 2**16))
def test_symbols_streamed_together_keep_their_own_state(first: pd.DataFrame, seed: int) -> None:
    # Each symbol's rows depend on its own bars only, whatever the other symbols of the bar do.
    check_symbols([first, random_bars(len(first), seed=seed), first.iloc[::-1].set_axis(first.index)])


def test_warm_up_rows_are_nan_exactly_where_documented() -> None:
    technical, regime = stream([random_bars(300, seed=5)])
    for rows, first_valid, columns in ((technical[:, 0], TECHNICAL_FIRST_VALID, TECHNICAL_COLUMNS),
                                       (regime[:, 0], REGIME_FIRST_VALID, REGIME_COLUMNS)):
        for k, column in enumerate(columns):
            assert np.isnan(rows[:first_valid[column], k]).all(), column
            assert np.isfinite(rows[first_valid[column]:, k]).all(), column


def test_the_first_rows_by_hand() -> None:
    # bar 0: o=100, h=110, l=95, c=105 -> range_hl 15/105; bar 1: o=104, h=106, l=96, c=98, volume 0
    # -> gap log(104/105), log_return_1 log(98/105), range_hl 10/98, body -6/98.
    features = StreamingFeatures(1, 252.0)
    first, _ = features.append(*(np.array([x]) for x in (100.0, 110.0, 95.0, 105.0, 1000.0)))
    second, _ = features.append(*(np.array([x]) for x in (104.0, 106.0, 96.0, 98.0, 0.0)))
    column = {name: k for k, name in enumerate(TECHNICAL_COLUMNS)}
    assert first[0, column["range_hl"]] == 15 / 105 and np.isnan(first[0, column["gap"]])
    assert second[0, column["gap"]] == pytest.approx(np.log(104 / 105))
    assert second[0, column["log_return_1"]] == pytest.approx(np.log(98 / 105))
    assert second[0, column["range_hl"]] == 10 / 98 and second[0, column["body"]] == -6 / 98
    assert features.n_bars == 2


def test_read_only_bars_give_the_same_rows() -> None:
    # Built-in datasets hand out read-only arrays, which Numba compiles as a separate specialization.
    bars = random_bars(300, seed=6)
    frozen = {}
    for field in FIELDS:
        values = bars[field].to_numpy(copy=True)
        values.flags.writeable = False
        frozen[field] = values
    locked = pd.DataFrame(frozen, index=bars.index)
    assert_identical(technical_features(locked).to_numpy(), technical_features(bars).to_numpy(), TECHNICAL_COLUMNS)
    assert_identical(regime_features(locked).to_numpy(), regime_features(bars).to_numpy(), REGIME_COLUMNS)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="n_symbols"):
        StreamingFeatures(0, 252.0)
    with pytest.raises(InvalidParameterError, match="bars_per_year"):
        StreamingFeatures(2, 0.0)
    with pytest.raises(InvalidParameterError, match="'close' has shape"):
        StreamingFeatures(2, 252.0).append(*(np.ones(2),) * 3, np.ones(3), np.ones(2))
