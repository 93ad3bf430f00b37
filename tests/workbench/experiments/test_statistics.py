"""Paired bootstrap interval, deflated Sharpe ratio and PBO against hand computations."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm, rankdata

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from engine.scenarios.bootstrap import stationary_bootstrap_indices
from workbench.experiments.statistics import (
    EULER_GAMMA, deflated_sharpe_ratio, expected_max_sharpe, probability_of_backtest_overfitting,
    sharpe_difference_ci,
)

RETURNS = np.array([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])


def test_deflated_sharpe_ratio_by_hand() -> None:
    trials = [0.1, 0.3, 0.2]
    r, t = RETURNS, len(RETURNS)
    mean = r.mean()
    m2, m3, m4 = (((r - mean) ** k).mean() for k in (2, 3, 4))
    skew, kurt = m3 / m2 ** 1.5, m4 / m2 ** 2
    sr = mean / r.std(ddof=1)
    variance = np.var(trials, ddof=1)  # 0.01
    sr0 = math.sqrt(variance) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / 3) + EULER_GAMMA * norm.ppf(1 - 1 / (3 * math.e)))
    expected = norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))
    result = deflated_sharpe_ratio(RETURNS, trials)
    assert variance == pytest.approx(0.01)
    assert result.sr0 == pytest.approx(sr0, rel=1e-12)
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert (result.skew, result.kurtosis, result.n_trials, result.n_obs) == pytest.approx((skew, kurt, 3, 6))


def test_one_trial_is_the_probabilistic_sharpe_ratio_against_zero() -> None:
    result = deflated_sharpe_ratio(RETURNS, [0.7])
    assert result.sr0 == 0.0 and result.trials_variance == 0.0
    spread = 1 - result.skew * result.sharpe + (result.kurtosis - 1) / 4 * result.sharpe ** 2
    assert result.value == pytest.approx(norm.cdf(result.sharpe * math.sqrt(5) / math.sqrt(spread)))


def test_more_trials_raise_the_hurdle() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.001, 0.01, 500)
    few = deflated_sharpe_ratio(returns, [0.0, 0.1])
    many = deflated_sharpe_ratio(returns, [0.0, 0.1] * 20)
    assert expected_max_sharpe(40, 0.01) > expected_max_sharpe(2, 0.01) > 0.0
    assert many.value < few.value


def test_flat_returns_keep_the_formula_defined() -> None:
    result = deflated_sharpe_ratio(np.zeros(10), [0.0, 0.1])
    assert result.sharpe == 0.0 and (result.skew, result.kurtosis) == (0.0, 3.0)
    assert result.value == pytest.approx(norm.cdf(-result.sr0 * 3.0))


def _noise(seed: int, bars: int, variants: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, (bars, variants))


def test_pbo_is_zero_when_one_variant_dominates_every_split() -> None:
    returns = _noise(1, 400, 5)
    returns[:, 2] += 0.02  # mean 0.02 against noise of 0.01: the best in and out of sample, everywhere
    result = probability_of_backtest_overfitting(returns, n_blocks=8)
    assert result.pbo == 0.0
    assert result.n_splits == math.comb(8, 4)
    assert np.all(result.logits == pytest.approx(math.log(5 / 1)))  # rank N of N: w = N / (N + 1)


def test_pbo_of_pure_noise_is_high() -> None:
    result = probability_of_backtest_overfitting(_noise(0, 1000, 10), n_blocks=16)
    assert 0.4 <= result.pbo <= 1.0


def test_pbo_matches_a_plain_implementation() -> None:
    returns = _noise(7, 37, 3)  # 37 bars: uneven blocks (10, 9, 9, 9)
    result = probability_of_backtest_overfitting(returns, n_blocks=4)
    blocks = np.array_split(np.arange(37), 4)
    logits = []
    for chosen in itertools.combinations(range(4), 2):
        inside = np.concatenate([blocks[b] for b in chosen])
        outside = np.concatenate([blocks[b] for b in range(4) if b not in chosen])
        perf_in = returns[inside].mean(0) / returns[inside].std(0, ddof=1)
        perf_out = returns[outside].mean(0) / returns[outside].std(0, ddof=1)
        w = rankdata(perf_out)[np.argmax(perf_in)] / 4
        logits.append(math.log(w / (1 - w)))
    assert result.logits == pytest.approx(logits, rel=1e-9)
    assert result.pbo == pytest.approx(np.mean(np.array(logits) <= 0))


@pytest.mark.parametrize("blocks, shape, match", [
    (7, (100, 3), "even integer"), (16, (20, 3), "too few"), (4, (100, 1), ">= 2 variants"),
    (22, (1000, 3), "even integer"),
])
def test_pbo_rejects_bad_input(blocks: int, shape: tuple[int, int], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        probability_of_backtest_overfitting(np.zeros(shape) + 0.01, n_blocks=blocks)


def _pair(seed: int, bars: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.normal(0.0003, 0.01, bars)
    return b + rng.normal(0.0005, 0.005, bars), b


def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_data() -> None:
    short = sharpe_difference_ci(*_pair(0, 250), periods_per_year=252, seed=0)
    long = sharpe_difference_ci(*_pair(0, 4000), periods_per_year=252, seed=0)
    for result in (short, long):
        assert result.low <= result.estimate <= result.high
    assert long.high - long.low < 0.5 * (short.high - short.low)
    a, b = _pair(0, 250)
    assert short.estimate == pytest.approx(sharpe_ratio(a, 252) - sharpe_ratio(b, 252), rel=1e-12)


def test_bootstrap_is_seeded_and_paired() -> None:
    a, b = _pair(1, 300)
    first = sharpe_difference_ci(a, b, n_boot=200, seed=5)
    assert first == sharpe_difference_ci(a, b, n_boot=200, seed=5)
    assert first.low != sharpe_difference_ci(a, b, n_boot=200, seed=6).low
    same = sharpe_difference_ci(a, a.copy(), n_boot=200, seed=5)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)  # one index sequence for both series


def test_one_resample_is_the_hand_resampled_difference() -> None:
    a, b = _pair(2, 64)
    result = sharpe_difference_ci(a, b, n_boot=1, mean_block=4.0, seed=9)
    index = stationary_bootstrap_indices(64, 1, 4.0, np.random.default_rng(9))[0]
    expected = sharpe_ratio(a[index], 1.0) - sharpe_ratio(b[index], 1.0)
    assert result.low == pytest.approx(expected, rel=1e-12) and result.high == pytest.approx(expected, rel=1e-12)
    assert sharpe_difference_ci(a, b, n_boot=1).mean_block == 4.0  # round(64 ** (1/3))


@pytest.mark.parametrize("kwargs, match", [
    ({"confidence": 1.5}, "confidence"), ({"n_boot": 0}, "resamples"), ({"mean_block": 0.5}, "block"),
])
def test_bootstrap_rejects_bad_settings(kwargs: dict, match: str) -> None:
    a, b = _pair(0, 50)
    with pytest.raises(InvalidParameterError, match=match):
        sharpe_difference_ci(a, b, **kwargs)


def test_bootstrap_rejects_unequal_or_broken_series() -> None:
    a, b = _pair(0, 50)
    with pytest.raises(InvalidParameterError, match="equal length"):
        sharpe_difference_ci(a, b[:-1])
    with pytest.raises(InvalidParameterError, match="non-finite"):
        sharpe_difference_ci(np.where(np.arange(50) == 3, np.nan, a), b)
