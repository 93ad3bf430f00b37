"""The synthetic generator: seeded, valid bars, real regime structure, New York sessions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.synthetic import REGIME_NAMES, SyntheticConfig, generate_synthetic, session_index
from engine.errors import InvalidParameterError

LONG = SyntheticConfig(n_symbols=6, frequency="1D", start="2000-01-03", end="2019-12-31", seed=3)


def test_same_config_gives_bit_identical_data() -> None:
    config = SyntheticConfig(n_symbols=3, frequency="30min", start="2024-01-02", end="2024-02-28", seed=9)
    first, second = generate_synthetic(config), generate_synthetic(config)
    assert first.fingerprint() == second.fingerprint()
    assert np.array_equal(first.regimes, second.regimes)
    other = generate_synthetic(config.with_overrides(seed=10))
    assert other.fingerprint() != first.fingerprint()


@settings(max_examples=15)
@given(
    n_symbols=st.integers(1, 5),
    frequency=st.sampled_from(["5min", "30min", "1h", "1D"]),
    seed=st.integers(0, 2**31),
    days=st.integers(1, 30),
)
def test_bars_are_always_valid(n_symbols: int, frequency: str, seed: int, days: int) -> None:
    end = str((pd.Timestamp("2024-03-04") + pd.offsets.BDay(days)).date())
    data = generate_synthetic(SyntheticConfig(n_symbols, frequency, "2024-03-04", end, seed))
    assert np.isfinite(data.close).all() and (data.low > 0).all()
    assert (data.high >= np.maximum(data.open, data.close)).all()
    assert (data.low <= np.minimum(data.open, data.close)).all()
    assert (data.volume >= 0).all()
    assert data.index.is_monotonic_increasing and data.index.is_unique


def test_every_regime_occurs_and_crashes_are_the_most_volatile_and_correlated() -> None:
    data = generate_synthetic(LONG)
    regimes = data.regimes[1:, 0]
    assert set(np.unique(regimes)) == set(range(len(REGIME_NAMES)))
    returns = np.diff(np.log(data.close), axis=0)
    vol = {r: returns[regimes == r].std() for r in range(4)}
    assert vol[3] > vol[2] > vol[0]  # crash > volatile > calm
    corr = {r: np.corrcoef(returns[regimes == r].T)[np.triu_indices(6, 1)].mean() for r in (0, 3)}
    assert corr[3] > corr[0] + 0.2


def test_crash_regime_loses_money_on_average() -> None:
    data = generate_synthetic(LONG)
    returns = np.diff(np.log(data.close), axis=0)
    assert returns[data.regimes[1:, 0] == 3].mean() < 0 < returns[data.regimes[1:, 0] == 0].mean()


def test_hourly_sessions_follow_new_york_time_across_dst() -> None:
    index, first = session_index("1h", "2024-03-08", "2024-03-11")
    # 09:30 New York is 14:30 UTC in winter (EST) and 13:30 UTC after the 2024-03-10 DST switch.
    assert index[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert index[7] == pd.Timestamp("2024-03-11 13:30", tz="UTC")
    assert len(index) == 14 and first.sum() == 2 and first[0] and first[7]


def test_five_minute_session_has_78_bars() -> None:
    index, first = session_index("5min", "2024-01-02", "2024-01-02")
    assert len(index) == 78 and index[-1] == pd.Timestamp("2024-01-02 20:55", tz="UTC")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"frequency": "2h"}, "not supported"),
        ({"n_symbols": 0}, "n_symbols"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "before start"),
        ({"start_price": -1.0}, "start_price"),
    ],
)
def test_bad_config_is_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        SyntheticConfig(**overrides)
