"""Statistics of a comparison: Sharpe ratios, a bootstrap interval of their difference, the deflated
Sharpe ratio and the probability of backtest overfitting.

Every function takes per-bar simple returns (``equity[t] / equity[t-1] - 1``, as
``engine.metrics.equity_returns`` computes them) and never looks at prices.

* Sharpe ratios are ``engine.metrics.sharpe_ratio`` (``mean(r) / std(r, ddof=1) * sqrt(A)``, 0 for
  returns that never move); ``A = 1`` gives the per-bar ratio.
* :func:`sharpe_difference_ci`: paired stationary block bootstrap (Politis & Romano 1994) of
  ``Sharpe(a) - Sharpe(b)``: both series are resampled with the same indices, so their correlation
  is kept; percentile interval.
* :func:`deflated_sharpe_ratio`: Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", at a
  number of trials given or counted; :func:`effective_trials` shrinks that number by the trials'
  mean pairwise correlation (:func:`mean_correlation` of :func:`return_correlation`).
* :func:`probability_of_backtest_overfitting`: combinatorially symmetric cross-validation (CSCV) of
  Bailey, Borwein, López de Prado & Zhu (2015), "The Probability of Backtest Overfitting", with
  ties at the median counted as one half and warnings when it cannot carry information.

The reality check and the model confidence set are in :mod:`workbench.experiments.reality_check`.

The formulas are written out in ``docs/experiments.md``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from engine.scenarios.bootstrap import stationary_bootstrap_indices

EULER_GAMMA = 0.5772156649015329
MAX_BLOCKS = 20
"""Most CSCV blocks: C(20, 10) = 184,756 splits; C(24, 12) would be 2.7 million."""
MIN_PBO_VARIANTS = 5
"""Fewer variants than this and the PBO carries little information (a warning says so)."""


@dataclass(frozen=True)
class SharpeDifference:
    """``Sharpe(a) - Sharpe(b)`` (annualized) with a bootstrap percentile interval.

    Attributes:
        estimate: The difference on the original series.
        low, high: Interval bounds at ``confidence``.
        confidence: Two-sided coverage, e.g. 0.95.
        n_boot: Bootstrap resamples.
        mean_block: Mean block length of the stationary bootstrap, in bars.
        seed: Seed of the resampling.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n_boot: int
    mean_block: float
    seed: int

    def to_dict(self) -> dict[str, float]:
        """``{estimate, low, high}``, the shape of ``summary["baselines"][i]["sharpe_diff"]``."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of one return series among ``n_trials`` tried.

    Attributes:
        value: Probability that the true Sharpe ratio exceeds ``sr0`` (in [0, 1]); None when the
            variance term of the formula is not positive (extreme skew with a large Sharpe).
        sharpe: The series' per-bar (not annualized) Sharpe ratio.
        sr0: Expected maximum per-bar Sharpe of ``n_trials`` trials with true Sharpe 0.
        n_trials: Number of trials ``N`` (a float for an effective number, see :func:`effective_trials`).
        trials_variance: Variance (ddof=1) of the trials' per-bar Sharpe ratios (0 for one trial).
        skew: Skewness of the returns (biased estimator, as in the paper).
        kurtosis: Kurtosis of the returns (not excess: 3 for a normal distribution).
        n_obs: Number of returns ``T``.
    """

    value: float | None
    sharpe: float
    sr0: float
    n_trials: float
    trials_variance: float
    skew: float
    kurtosis: float
    n_obs: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "sharpe": self.sharpe, "sr0": self.sr0, "n_trials": self.n_trials,
                "trials_variance": self.trials_variance, "skew": self.skew, "kurtosis": self.kurtosis,
                "n_obs": self.n_obs}


@dataclass(frozen=True)
class Overfitting:
    """The CSCV estimate of the probability of backtest overfitting.

    Attributes:
        pbo: Share of splits whose in-sample best variant ranks below the median out of sample, a
            split where it ranks exactly at the median counted as one half.
        logits: Per split ``log(w / (1 - w))`` with ``w`` the out-of-sample relative rank of the
            in-sample best variant (``rank / (N + 1)``, ranks 1..N, ties averaged); 0 is the median.
        n_blocks: Blocks the bars were cut into (``S``).
        n_variants: Variants compared (``N``).
        tie_share: Share of splits whose in-sample best sits exactly at the out-of-sample median.
        warnings: Why this PBO carries little information (too few variants, too short halves);
            empty when nothing is wrong.
    """

    pbo: float
    logits: np.ndarray
    n_blocks: int
    n_variants: int
    tie_share: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def n_splits(self) -> int:
        return len(self.logits)

    @property
    def pbo_low(self) -> float:
        """The PBO with median ties counted as not overfit (share of logits < 0)."""
        return float(np.mean(self.logits < 0.0))

    @property
    def pbo_high(self) -> float:
        """The PBO with median ties counted as overfit (share of logits <= 0)."""
        return float(np.mean(self.logits <= 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"pbo": self.pbo, "n_blocks": self.n_blocks, "n_variants": self.n_variants,
                "n_splits": self.n_splits, "median_logit": float(np.median(self.logits)),
                "tie_share": self.tie_share, "pbo_ties_not_overfit": self.pbo_low,
                "pbo_ties_overfit": self.pbo_high, "warnings": list(self.warnings)}


def default_mean_block(n_returns: int) -> float:
    """The bootstrap's default mean block length: ``max(1, round(T ** (1/3)))`` bars."""
    return float(max(1, round(n_returns ** (1.0 / 3.0))))


def sharpe_difference_ci(a: np.ndarray, b: np.ndarray, *, periods_per_year: float = 1.0, n_boot: int = 1000,
                         confidence: float = 0.95, mean_block: float | None = None,
                         seed: int = 0) -> SharpeDifference:
    """Paired stationary block bootstrap interval of ``Sharpe(a) - Sharpe(b)``.

    Each resample draws one index sequence (``engine.scenarios.bootstrap.stationary_bootstrap_indices``:
    geometric blocks of mean ``mean_block``, wrapping around the end) and applies it to both series.

    Args:
        a, b: Per-bar returns of equal length ``T >= 2`` on the same bars.
        periods_per_year: Annualization factor of both Sharpe ratios.
        n_boot: Resamples (>= 1).
        confidence: Two-sided coverage in (0, 1).
        mean_block: Mean block length in bars (>= 1); default :func:`default_mean_block`.
        seed: Seed of the resampling (same seed, same interval).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise InvalidParameterError(
            f"the paired bootstrap needs two return series of equal length >= 2, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidParameterError("the paired bootstrap got non-finite returns; an equity curve hit 0 or NaN")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InvalidParameterError(f"bootstrap resamples must be an integer >= 1, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError(f"confidence must lie in (0, 1), e.g. 0.95; got {confidence!r}")
    block = default_mean_block(len(a)) if mean_block is None else float(mean_block)
    if not block >= 1.0:
        raise InvalidParameterError(f"the mean block length must be >= 1 bar, got {mean_block!r}")
    rng = np.random.default_rng(seed)
    index = stationary_bootstrap_indices(len(a), int(n_boot), block, rng)
    diffs = sharpe_ratio(a[index], periods_per_year, axis=-1) - sharpe_ratio(b[index], periods_per_year, axis=-1)
    alpha = 1.0 - confidence
    low, high = np.quantile(diffs, [alpha / 2.0, 1.0 - alpha / 2.0])
    estimate = sharpe_ratio(a, periods_per_year) - sharpe_ratio(b, periods_per_year)
    return SharpeDifference(float(estimate), float(low), float(high), float(confidence), int(n_boot), block, seed)


def expected_max_sharpe(n_trials: float, trials_variance: float) -> float:
    """``E[max SR]`` of ``n_trials`` trials with true Sharpe 0 (the deflated Sharpe's ``SR0``).

    ``sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))``, ``g`` the Euler-Mascheroni
    constant, floored at 0: the largest of trials that each have mean 0 has a mean of at least 0,
    while the approximation turns negative for an effective ``N`` below about 1.3. 0 for one trial
    (nothing was selected). ``N`` may be fractional (:func:`effective_trials`).
    """
    if not n_trials >= 1.0:
        raise InvalidParameterError(f"the number of trials must be >= 1, got {n_trials}")
    if n_trials == 1:
        return 0.0
    value = math.sqrt(trials_variance) * ((1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n_trials)
                                          + EULER_GAMMA * stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e)))
    return max(0.0, float(value))


def deflated_sharpe_ratio(returns: np.ndarray, trial_sharpes: np.ndarray,
                          n_trials: float | None = None) -> DeflatedSharpe:
    """The deflated Sharpe ratio of ``returns``, one of the trials whose Sharpe ratios are given.

    ``DSR = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))`` with ``SR`` the
    per-bar Sharpe ratio of ``returns``, ``SR0 = expected_max_sharpe(N, var(trial_sharpes))``,
    ``skew``/``kurt`` the returns' (biased, non-excess) third and fourth standardized moments.

    Args:
        returns: Per-bar returns of the tested series, ``T >= 2``.
        trial_sharpes: Per-bar (not annualized) Sharpe ratios of every trial measured, the tested
            one included; their variance is ``V``.
        n_trials: ``N``, >= 1; default ``len(trial_sharpes)``. Give more when trials were run that
            were not measured here (a hyperparameter search) or an effective number (fewer,
            :func:`effective_trials`).
    """
    r = np.asarray(returns, dtype=np.float64)
    trials = np.asarray(trial_sharpes, dtype=np.float64).reshape(-1)
    if r.ndim != 1 or len(r) < 2 or not np.isfinite(r).all():
        raise InvalidParameterError(f"the deflated Sharpe ratio needs >= 2 finite returns, got shape {r.shape}")
    if len(trials) < 1 or not np.isfinite(trials).all():
        raise InvalidParameterError("the deflated Sharpe ratio needs the finite Sharpe ratio of at least one trial")
    n = len(trials) if n_trials is None else n_trials
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)) or not n >= 1:
        raise InvalidParameterError(f"the deflated Sharpe ratio's number of trials must be >= 1, got {n_trials!r}")
    sr = float(sharpe_ratio(r, 1.0))
    if r.std() > 0.0:
        skew, kurt = float(stats.skew(r)), float(stats.kurtosis(r, fisher=False))
    else:  # flat returns: no shape to estimate; the normal case keeps the formula defined
        skew, kurt = 0.0, 3.0
    variance = float(trials.var(ddof=1)) if len(trials) > 1 else 0.0
    sr0 = expected_max_sharpe(n, variance)
    spread = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    value = float(stats.norm.cdf((sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(spread))) if spread > 0 else None
    return DeflatedSharpe(value, sr, float(sr0), n, variance, skew, kurt, len(r))


def return_correlation(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of the columns of ``[T, k]`` returns; NaN in the rows and columns
    of a series that never moves (its correlation is undefined)."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise InvalidParameterError(f"a correlation needs [bars >= 2, series] returns, got shape {m.shape}")
    centred = m - m.mean(axis=0)
    scale = np.sqrt((centred * centred).sum(axis=0))
    moves = scale > 0.0
    unit = np.divide(centred, scale, out=np.zeros_like(centred), where=moves)
    correlation = unit.T @ unit
    correlation[~moves, :] = np.nan
    correlation[:, ~moves] = np.nan
    return correlation


def mean_correlation(correlation: np.ndarray) -> float | None:
    """Mean of the defined off-diagonal entries of a correlation matrix; None when there are none
    (a single series, or no pair of series that both move)."""
    c = np.asarray(correlation, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise InvalidParameterError(f"a correlation matrix is square, got shape {c.shape}")
    pairs = c[~np.eye(len(c), dtype=bool)]
    pairs = pairs[np.isfinite(pairs)]
    return float(pairs.mean()) if len(pairs) else None


def effective_trials(n_trials: float, correlation: float | None) -> float:
    """The effective number of independent trials: ``rho + (1 - rho) * N``.

    ``rho`` is the trials' mean pairwise correlation clipped to [0, 1]: independent trials
    (``rho = 0``) count ``N`` times, identical ones (``rho = 1``) once. None (no correlation could
    be measured) keeps ``N``.
    """
    if not n_trials >= 1:
        raise InvalidParameterError(f"the number of trials must be >= 1, got {n_trials}")
    if correlation is None:
        return float(n_trials)
    rho = min(1.0, max(0.0, float(correlation)))
    return rho + (1.0 - rho) * float(n_trials)


def probability_of_backtest_overfitting(returns: np.ndarray, n_blocks: int = 16,
                                        periods_per_year: float | None = None) -> Overfitting:
    """CSCV estimate of the probability that the in-sample best variant underperforms out of sample.

    The ``T`` bars are cut into ``S = n_blocks`` contiguous blocks (``numpy.array_split``: the first
    ``T mod S`` blocks are one bar longer). Every choice of ``S/2`` blocks is an in-sample set and
    its complement the out-of-sample set; performance is the per-bar Sharpe ratio of each variant on
    the set's bars. For each split the in-sample best variant (first on ties) gets its
    out-of-sample rank ``r`` among the ``N`` variants (1 = worst, ties averaged), ``w = r / (N + 1)``
    and the logit ``log(w / (1 - w))``. The PBO is the share of splits with a logit < 0 plus half the
    share with a logit of exactly 0 (the pick landed on the median: neither better nor worse than a
    random pick, so it counts as one half).

    The R ``pbo`` package (Barry, ``R/pbo.R``) scores ``w = rank / N`` with R's averaged ranks and
    counts ``logit <= 0``; ranks being multiples of 1/2, ``rank / N <= 1/2`` exactly when
    ``rank < (N + 1) / 2``, so its PBO is :attr:`Overfitting.pbo_low` here (ties as not overfit).
    The paper's ``w = rank / (N + 1)`` puts the median at 1/2, where the convention has to be chosen.

    Args:
        returns: ``[T, N]`` per-bar returns of ``N >= 2`` variants on the same bars.
        n_blocks: ``S``, even, in [2, MAX_BLOCKS]; every block needs at least 2 bars (``T >= 2 S``).
        periods_per_year: Bars per year; with it, halves shorter than a year are warned about
            (:func:`pbo_warnings`). None: no check of the halves' length.
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise InvalidParameterError(
            f"the probability of backtest overfitting compares >= 2 variants ([bars, variants]), got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InvalidParameterError("the probability of backtest overfitting got non-finite returns")
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2 \
            or n_blocks % 2 or n_blocks > MAX_BLOCKS:
        raise InvalidParameterError(
            f"pbo_blocks {n_blocks!r} must be an even integer in [2, {MAX_BLOCKS}], e.g. 16")
    n_bars, n_variants = m.shape
    if n_bars < 2 * n_blocks:
        raise InvalidParameterError(
            f"{n_bars} bars are too few for {n_blocks} CSCV blocks of >= 2 bars; use fewer blocks "
            f"(pbo_blocks <= {max(2, (n_bars // 4) * 2)}) or a longer period")
    pieces = np.array_split(m, n_blocks, axis=0)
    sums = np.stack([p.sum(axis=0) for p in pieces])
    squares = np.stack([(p * p).sum(axis=0) for p in pieces])
    counts = np.array([len(p) for p in pieces], dtype=np.float64)
    chosen = np.zeros((math.comb(n_blocks, n_blocks // 2), n_blocks))
    for row, combo in enumerate(itertools.combinations(range(n_blocks), n_blocks // 2)):
        chosen[row, list(combo)] = 1.0
    in_perf = _sharpe_from_sums(chosen @ sums, chosen @ squares, chosen @ counts)
    rest = 1.0 - chosen
    out_perf = _sharpe_from_sums(rest @ sums, rest @ squares, rest @ counts)
    best = np.argmax(in_perf, axis=1)
    best_out = out_perf[np.arange(len(best)), best][:, None]
    rank = (out_perf < best_out).sum(axis=1) + ((out_perf == best_out).sum(axis=1) + 1) / 2.0
    w = rank / (n_variants + 1.0)
    logits = np.log(w / (1.0 - w))  # exactly 0 at the median: ranks are halves, w = 0.5 exactly
    below, tie = float(np.mean(logits < 0.0)), float(np.mean(logits == 0.0))
    warnings = pbo_warnings(n_variants, n_bars, tie, periods_per_year)
    return Overfitting(below + tie / 2.0, logits, int(n_blocks), int(n_variants), tie, warnings)


def pbo_warnings(n_variants: int, n_bars: int, tie_share: float,
                 periods_per_year: float | None = None) -> tuple[str, ...]:
    """Why a PBO over ``n_variants`` variants and ``n_bars`` bars carries little information.

    * fewer than :data:`MIN_PBO_VARIANTS` variants: the pick's out-of-sample rank takes only ``N``
      values, so the PBO is a coarse count that moves with the tie convention;
    * halves (``T / 2`` bars) shorter than a year of bars: the standard error of an annualized
      Sharpe ratio measured on a half is about ``sqrt(2 A / T)`` (Lo 2002, returns i.i.d.), 1 or
      more, as large as the differences between the variants being ranked.
    """
    out = []
    if n_variants < MIN_PBO_VARIANTS:
        out.append(f"only {n_variants} variants (PBO needs {MIN_PBO_VARIANTS} or more to carry information): the "
                   f"in-sample best's out-of-sample rank takes {n_variants} values and {tie_share:.0%} of the "
                   f"splits put it exactly at the median; add variants (--variants, --policy A,B)")
    if periods_per_year is not None and n_bars / 2.0 < periods_per_year:
        error = math.sqrt(2.0 * periods_per_year / n_bars)
        out.append(f"each CSCV half holds {n_bars / 2:.0f} bars, less than a year ({periods_per_year:.0f} bars): "
                   f"an annualized Sharpe ratio measured on a half has a standard error of about {error:.2f}, so "
                   "the in-sample ranking is mostly noise; use a longer period")
    return tuple(out)


def _sharpe_from_sums(sums: np.ndarray, squares: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe (ddof=1) from sums and sums of squares; 0 where the variance vanishes."""
    n = counts[:, None]
    mean = sums / n
    variance = (squares - n * mean * mean) / (n - 1.0)
    # Relative floor: the sums of a constant series leave a rounding crumb, not a real variance.
    flat = variance <= 1e-12 * (squares / n)
    return np.where(flat, 0.0, mean / np.sqrt(np.where(flat, 1.0, variance)))
