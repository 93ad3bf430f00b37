"""GARCH(1,1) paths: valid, reproducible, with plausible volatility and cross-correlation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from engine.scenarios import garch_paths
from tests.engine.scenarios.paths import assert_valid_ohlc, log_returns, make_path, random_path


def garch_history(n_bars: int = 400, seed: int = 0):
    """Two symbols whose common shock follows GARCH(1,1) (omega 0.05, alpha 0.1, beta 0.85, in
    units of 1%), correlated about 0.7, with gaps and wicks."""
    rng = np.random.default_rng(seed)
    var, shocks = 1.0, np.empty(n_bars)
    for t in range(n_bars):
        shocks[t] = np.sqrt(var) * rng.standard_normal()
        var = 0.05 + 0.1 * shocks[t] ** 2 + 0.85 * var
    own = rng.standard_normal((n_bars, 2)) * np.sqrt(var)
    returns = 0.01 * (0.8 * shocks[:, None] + 0.45 * own)
    close = 100 * np.exp(np.cumsum(returns, axis=0))
    open_ = np.vstack([[100.0, 100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, close.shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, close.shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, close.shape)))
    return make_path(close, open_, high, low, rng.lognormal(10, 0.5, close.shape), symbols=["A", "B"])


@pytest.fixture(scope="module")
def history():
    return garch_history()


@pytest.fixture(scope="module")
def simulated(history):
    return garch_paths(history, 40, seed=5)


def test_paths_have_finite_positive_valid_bars(history, simulated):
    assert simulated.close.shape == (40, history.n_bars, 2)
    assert_valid_ohlc(simulated.open, simulated.high, simulated.low, simulated.close, simulated.volume)
    assert (simulated.close[:, 0] == history.close[0]).all()
    # open = previous close (no gaps in simulated bars)
    assert (simulated.open[:, 1:] == simulated.close[:, :-1]).all()
    assert simulated.labels[0] == "base | GARCH 1/40 (t, seed 5)"
    assert simulated.path_ids.tolist() == list(range(40))


def test_volatility_is_within_a_factor_of_three_of_the_history(history, simulated):
    historical = log_returns(history.close).std(axis=0)
    ratio = log_returns(simulated.close).std(axis=1) / historical  # [paths, symbols]
    assert 1 / 3 < np.median(ratio) < 3
    assert ((ratio > 1 / 3) & (ratio < 3)).mean() >= 0.9


def test_drift_is_the_historical_mean_log_return(history, simulated):
    # Regression (issue 5, stress runs): the fitted Student-t location made paths drift about twice
    # as fast as history. Over 40 paths the mean log return is the sample mean up to sampling noise.
    historical = log_returns(history.close)
    simulated_mean = log_returns(simulated.close).mean(axis=(0, 1))
    noise = historical.std(axis=0) / np.sqrt(historical.shape[0] * 40)
    assert (np.abs(simulated_mean - historical.mean(axis=0)) < 5 * noise).all()


def test_cross_correlation_is_kept(history, simulated):
    target = np.corrcoef(log_returns(history.close).T)[0, 1]
    corr = [np.corrcoef(log_returns(simulated.close[p]).T)[0, 1] for p in range(40)]
    assert target > 0.5
    assert abs(np.median(corr) - target) < 0.15


def test_same_seed_same_paths_other_seed_other_paths(history, simulated):
    assert garch_paths(history, 40, seed=5).fingerprint() == simulated.fingerprint()
    assert not np.array_equal(garch_paths(history, 40, seed=6).close, simulated.close)


def test_normal_innovations():
    batch = garch_paths(garch_history(200, seed=1), 3, seed=0, dist="normal")
    assert batch.labels[2] == "base | GARCH 3/3 (normal, seed 0)"
    assert np.isfinite(batch.close).all()


def test_bad_arguments(history):
    with pytest.raises(InvalidParameterError, match="dist 'skewt' must be one of t, normal"):
        garch_paths(history, 2, seed=0, dist="skewt")
    with pytest.raises(InvalidParameterError, match="needs at least 100 returns.*has 49"):
        garch_paths(random_path(50), 2, seed=0)
    with pytest.raises(InvalidParameterError, match="close of S0 never changes"):
        garch_paths(make_path(np.full(150, 10.0)), 2, seed=0)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_symbols=st.integers(1, 3), vol=st.floats(0.002, 0.05),
       dist=st.sampled_from(["t", "normal"]))
def test_garch_paths_are_valid_ohlc(seed, n_symbols, vol, dist):
    base = random_path(120, n_symbols=n_symbols, seed=seed % 1000, vol=vol)
    batch = garch_paths(base, 3, seed=seed, dist=dist)
    assert_valid_ohlc(batch.open, batch.high, batch.low, batch.close, batch.volume)
