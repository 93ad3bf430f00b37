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
    EULER_GAMMA,
    deflated_sharpe_ratio,
    effective_trials,
    expected_max_sharpe,
    mean_correlation,
    probability_of_backtest_overfitting,
    return_correlation,
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
    logits = np.array(logits)
    assert result.pbo == pytest.approx(np.mean(logits < 0) + 0.5 * np.mean(logits == 0))
    assert result.tie_share == pytest.approx(np.mean(logits == 0))


def _block(means: list[float], bars: int = 4) -> np.ndarray:
    """``bars`` returns per variant with the given means and one spread: mean +- 0.001 alternating, so
    every variant's Sharpe ratio on the block is its mean / (0.001 * sqrt(4/3)), ordered like the means."""
    wiggle = 0.001 * np.array([1.0, -1.0] * (bars // 2))[:, None]
    return np.array(means)[None, :] + wiggle


def test_pbo_counts_a_median_tie_as_one_half() -> None:
    # Two blocks (S = 2), so two splits. Block A ranks the variants 0 > 1 > 2, block B 1 > 2 > 0.
    returns = np.vstack([_block([0.003, 0.002, 0.001]), _block([0.001, 0.003, 0.002])])
    result = probability_of_backtest_overfitting(returns, n_blocks=2)
    # In-sample A picks variant 0, which is worst in B: rank 1, w = 1/4, logit log(1/3) < 0 (overfit).
    # In-sample B picks variant 1, which is the median in A: rank 2, w = 2/4, logit 0 (a tie).
    assert result.logits == pytest.approx([math.log(1 / 3), 0.0])
    assert result.tie_share == 0.5
    assert (result.pbo_low, result.pbo, result.pbo_high) == (0.5, 0.75, 1.0)
    detail = result.to_dict()
    assert (detail["pbo_ties_not_overfit"], detail["pbo_ties_overfit"]) == (0.5, 1.0)


@pytest.mark.parametrize("variants", [3, 4])
def test_the_r_pbo_packages_count_is_the_ties_not_overfit_end(variants: int) -> None:
    # R's pbo: w = rank(R_bar)[n*] / N (averaged ranks), PBO = share of log(w / (1 - w)) <= 0.
    returns = _noise(11, 240, variants)
    result = probability_of_backtest_overfitting(returns, n_blocks=6)
    blocks = np.array_split(np.arange(240), 6)
    overfit = []
    for chosen in itertools.combinations(range(6), 3):
        inside = np.concatenate([blocks[b] for b in chosen])
        outside = np.concatenate([blocks[b] for b in range(6) if b not in chosen])
        perf_in = returns[inside].mean(0) / returns[inside].std(0, ddof=1)
        perf_out = returns[outside].mean(0) / returns[outside].std(0, ddof=1)
        w = rankdata(perf_out)[np.argmax(perf_in)] / variants
        overfit.append(w < 1 and math.log(w / (1 - w)) <= 0)
    assert result.pbo_low == pytest.approx(np.mean(overfit))
    assert result.tie_share > 0 if variants == 3 else result.tie_share == 0


def test_pbo_warns_with_few_variants_for_3_and_not_for_6() -> None:
    three = probability_of_backtest_overfitting(_noise(4, 400, 3), n_blocks=8)
    six = probability_of_backtest_overfitting(_noise(4, 400, 6), n_blocks=8)
    assert len(three.warnings) == 1 and "only 3 variants" in three.warnings[0] and "5 or more" in three.warnings[0]
    assert f"{three.tie_share:.0%} of the splits" in three.warnings[0]
    assert six.warnings == ()
    assert three.to_dict()["warnings"] == list(three.warnings)


def test_pbo_warns_when_the_halves_are_shorter_than_a_year() -> None:
    short = probability_of_backtest_overfitting(_noise(5, 400, 6), n_blocks=8, periods_per_year=252)
    long = probability_of_backtest_overfitting(_noise(5, 504, 6), n_blocks=8, periods_per_year=252)
    assert len(short.warnings) == 1 and "200 bars, less than a year (252 bars)" in short.warnings[0]
    assert f"{math.sqrt(2 * 252 / 400):.2f}" in short.warnings[0]
    assert long.warnings == ()


def test_effective_trials_from_a_hand_made_correlation_matrix() -> None:
    correlation = np.array([[1.0, 0.8, 0.6, 0.7],
                            [0.8, 1.0, 0.5, 0.9],
                            [0.6, 0.5, 1.0, 0.4],
                            [0.7, 0.9, 0.4, 1.0]])
    rho = mean_correlation(correlation)
    assert rho == pytest.approx((0.8 + 0.6 + 0.7 + 0.5 + 0.9 + 0.4) / 6)  # 0.65
    n_eff = effective_trials(4, rho)
    assert n_eff == pytest.approx(0.65 + 0.35 * 4)  # 2.05
    assert effective_trials(10, 0.74) == pytest.approx(3.34)  # the AAPL/MSFT figure
    assert (effective_trials(5, 1.0), effective_trials(5, 0.0), effective_trials(5, -0.3), effective_trials(5, None)) \
        == (1.0, 5.0, 5.0, 5.0)


def test_dsr_at_the_effective_n_equals_the_formula() -> None:
    trials = [0.1, 0.3, 0.2, 0.25]
    n_eff = effective_trials(4, mean_correlation(np.array([[1.0, 0.8, 0.6, 0.7], [0.8, 1.0, 0.5, 0.9],
                                                           [0.6, 0.5, 1.0, 0.4], [0.7, 0.9, 0.4, 1.0]])))
    r, t = RETURNS, len(RETURNS)
    mean = r.mean()
    m2, m3, m4 = (((r - mean) ** k).mean() for k in (2, 3, 4))
    skew, kurt = m3 / m2 ** 1.5, m4 / m2 ** 2
    sr = mean / r.std(ddof=1)
    sr0 = math.sqrt(np.var(trials, ddof=1)) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / 2.05)
                                               + EULER_GAMMA * norm.ppf(1 - 1 / (2.05 * math.e)))
    expected = norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))
    effective = deflated_sharpe_ratio(RETURNS, trials, n_trials=n_eff)
    raw = deflated_sharpe_ratio(RETURNS, trials)
    assert effective.n_trials == pytest.approx(2.05) and raw.n_trials == 4
    assert effective.sr0 == pytest.approx(sr0, rel=1e-12)
    assert effective.value == pytest.approx(expected, rel=1e-12)
    assert effective.value > raw.value  # fewer independent trials, a lower hurdle


def test_more_trials_than_measured_raise_the_hurdle() -> None:
    searched = deflated_sharpe_ratio(RETURNS, [0.1, 0.3, 0.2], n_trials=40)
    assert searched.sr0 == pytest.approx(expected_max_sharpe(40, 0.01))
    assert searched.value < deflated_sharpe_ratio(RETURNS, [0.1, 0.3, 0.2]).value
    with pytest.raises(InvalidParameterError, match="number of trials"):
        deflated_sharpe_ratio(RETURNS, [0.1, 0.3], n_trials=0.5)


def test_expected_max_sharpe_is_never_negative() -> None:
    # The approximation dips below 0 for N just above 1; the expected maximum of mean-0 trials cannot.
    raw = (1 - EULER_GAMMA) * norm.ppf(1 - 1 / 1.1) + EULER_GAMMA * norm.ppf(1 - 1 / (1.1 * math.e))
    assert raw < 0 and expected_max_sharpe(1.1, 0.01) == 0.0
    assert 0.0 < expected_max_sharpe(1.5, 0.01) < expected_max_sharpe(2, 0.01)


def test_return_correlation_leaves_flat_series_out() -> None:
    rng = np.random.default_rng(8)
    moving = rng.normal(0.0, 0.01, (50, 3))
    returns = np.column_stack([moving, np.zeros(50)])
    correlation = return_correlation(returns)
    assert correlation[:3, :3] == pytest.approx(np.corrcoef(moving, rowvar=False), rel=1e-9)
    assert np.isnan(correlation[3]).all() and np.isnan(correlation[:, 3]).all()
    off = np.corrcoef(moving, rowvar=False)[~np.eye(3, dtype=bool)]
    assert mean_correlation(correlation) == pytest.approx(off.mean(), rel=1e-9)
    assert mean_correlation(return_correlation(np.column_stack([moving[:, 0], np.zeros(50)]))) is None


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
