"""Stationary bootstrap: block structure, joint resampling of whole bars, determinism, validity."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.scenarios import ScenarioParams, stationary_bootstrap
from engine.scenarios.bootstrap import stationary_bootstrap_indices
from engine.scenarios.path import relative_bars
from tests.engine.scenarios.paths import assert_valid_ohlc, price_paths, random_path


@pytest.fixture(scope="module")
def base():
    return random_path(60, n_symbols=3, seed=7)


def test_indices_run_on_in_blocks_of_geometric_length():
    idx = stationary_bootstrap_indices(500, 200, 5.0, np.random.default_rng(0))
    assert idx.shape == (200, 500) and idx.min() >= 0 and idx.max() <= 499
    breaks = np.diff(idx, axis=1) % 500 != 1  # a new block (or a restart that happens to continue)
    # Block starts occur with probability 1/5 per bar, so blocks average 5 bars (4000-sample mean).
    mean_block = idx.shape[1] / (1 + breaks.sum(axis=1))
    assert 4.6 < mean_block.mean() < 5.4
    # Within a block the index moves on by one and wraps from 499 to 0.
    wraps = (idx[:, :-1] == 499) & ~breaks
    assert (idx[:, 1:][wraps] == 0).all() and wraps.any()


def test_every_bootstrapped_bar_is_one_historical_bar_of_all_symbols_at_once(base):
    batch = stationary_bootstrap(base, 8, 4, seed=1)
    history = relative_bars(base).reshape(base.n_bars - 1, -1)  # [M, N * 4]: one row per bar
    for s in range(batch.n_scenarios):
        path = batch.path(s)
        resampled = relative_bars(path).reshape(path.n_bars - 1, -1)
        # The historical bar each resampled bar matches: nearest row, which must match exactly.
        distance = np.abs(resampled[:, None, :] - history[None, :, :]).max(axis=2)
        source = distance.argmin(axis=1)
        assert distance.min(axis=1).max() < 1e-12
        assert (path.volume[1:] == base.volume[1:][source]).all()
    assert (batch.close[:, 0] == base.close[0]).all() and (batch.open[:, 0] == base.open[0]).all()


def test_same_seed_same_paths_other_seed_other_paths(base):
    first = stationary_bootstrap(base, 5, 3, seed=11)
    assert first.fingerprint() == stationary_bootstrap(base, 5, 3, seed=11).fingerprint()
    assert (first.close == stationary_bootstrap(base, 5, 3, seed=np.random.default_rng(11)).close).all()
    assert not np.array_equal(first.close, stationary_bootstrap(base, 5, 3, seed=12).close)


def test_batch_shape_labels_and_path_ids(base):
    batch = stationary_bootstrap(base, 4, 2.5, seed=3, params=ScenarioParams(fees=0.001))
    assert batch.close.shape == (4, 60, 3)
    assert batch.path_ids.tolist() == [0, 1, 2, 3]
    assert batch.labels[1] == "base | bootstrap 2/4 (mean block 2.5, seed 3)"
    assert all(ts.equals(base.index) for ts in batch.timestamps)
    assert batch.param_array("fees").tolist() == [0.001] * 4


@pytest.mark.parametrize("kwargs, message", [
    ({"n_paths": 0}, "n_paths must be an integer >= 1"),
    ({"mean_block": 0.5}, "mean_block must be a number >= 1"),
    ({"seed": -1}, "seed must be an integer >= 0"),
])
def test_bad_arguments(base, kwargs, message):
    args = {"n_paths": 2, "mean_block": 3, "seed": 0} | kwargs
    with pytest.raises(InvalidParameterError, match=message):
        stationary_bootstrap(base, **args)


@settings(max_examples=40, deadline=None)
@given(path=price_paths(min_bars=2), n_paths=st.integers(1, 4), mean_block=st.floats(1.0, 8.0),
       seed=st.integers(0, 2**32 - 1))
def test_bootstrap_paths_are_valid_ohlc(path, n_paths, mean_block, seed):
    batch = stationary_bootstrap(path, n_paths, mean_block, seed)
    assert batch.close.shape == (n_paths, path.n_bars, path.n_symbols)
    assert_valid_ohlc(batch.open, batch.high, batch.low, batch.close, batch.volume)
