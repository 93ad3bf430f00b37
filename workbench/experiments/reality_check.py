"""The reality check of a comparison: does the candidate beat the best alternative once every
alternative looked at is accounted for, and which deciders could be the best at all.

Losses are negative per-bar returns (``loss[t] = -r[t]``), so a lower mean loss is a higher mean
return; every decider ran on the same bars and fills. Three answers, all from the stationary
bootstrap of ``arch.bootstrap`` (Politis & Romano 1994) with one mean block length, one number of
resamples and one seed:

* :func:`superiority_test`: **is the candidate better than every alternative?** For each
  alternative ``k``, Hansen's SPA test with ``k`` as the benchmark and the candidate as the one
  model tests ``H0_k: E[r_candidate] <= E[r_k]``; a small p-value rejects it. The null that some
  alternative is at least as good is the union of the ``H0_k``; rejecting it when every ``H0_k``
  is rejected is an intersection-union test (Berger 1982), of size alpha without a multiplicity
  correction, so its p-value is the largest pairwise p-value (that of the *closest* alternative).
  Adding alternatives can only raise it: looking at more of them never makes a fluke pass.
* :func:`beaten_test`: **is some alternative better than the candidate?** Hansen's SPA test with
  the candidate as the benchmark and every alternative as a model, ``H0: max_k E[r_k - r_candidate]
  <= 0``; a small p-value says some alternative beats the candidate even after the search over all
  of them. A large one does not say the candidate is best (a lucky draw among equals is not beaten
  either); that is what the superiority test is for.
* :func:`model_confidence_set`: the model confidence set of Hansen, Lunde & Nason (2011), the
  deciders that contain the best (lowest mean loss) with probability ``1 - size``.

Each SPA test gives three p-values (Hansen 2005): ``lower`` (alternatives worse than the benchmark
not recentred), ``consistent`` (recentred only within ``sqrt(2 log log T var / T)`` of it) and
``upper`` (all recentred: White's 2000 reality check, the conservative one). ``arch`` (8.x) tests
the largest mean loss differential itself: its ``studentize`` flag does not divide the statistic by
the standard errors, whose estimate enters the consistent p-value's threshold only.

The formulas and conventions are in ``docs/experiments.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from arch.bootstrap import MCS, SPA

from engine.errors import InvalidParameterError

LOSS = "negative per-bar return"
SUPERIOR_HYPOTHESIS = ("H0: some alternative's mean per-bar return is at least the candidate's; a small p-value "
                       "says the candidate's mean per-bar return exceeds every alternative's")
BEATEN_HYPOTHESIS = ("H0: no alternative's mean per-bar return exceeds the candidate's; a small p-value says some "
                     "alternative beats the candidate")


@dataclass(frozen=True)
class SpaPvalues:
    """The three p-values of one SPA test (module docstring): lower <= consistent <= upper."""

    lower: float
    consistent: float
    upper: float

    def to_dict(self) -> dict[str, float]:
        return {"lower": self.lower, "consistent": self.consistent, "upper": self.upper}


NOTHING_TO_REJECT = SpaPvalues(1.0, 1.0, 1.0)
"""The p-values of a test whose data cannot speak against its null (identical returns)."""


@dataclass(frozen=True)
class BootstrapSettings:
    """The stationary bootstrap every test of a comparison uses.

    Attributes:
        block_size: Mean block length in bars (an integer: ``arch`` takes one).
        reps: Bootstrap resamples.
        seed: Seed of ``numpy.random.default_rng``; the same for every test, so every test draws
            the same index sequences.
    """

    block_size: int
    reps: int
    seed: int

    def __post_init__(self) -> None:
        for name in ("block_size", "reps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidParameterError(f"the reality check's {name} must be an integer >= 1, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "stationary", "block_size": self.block_size, "reps": self.reps, "seed": self.seed}


@dataclass(frozen=True)
class PairwiseTest:
    """The candidate against one alternative.

    Attributes:
        name: The alternative.
        mean_difference: ``mean(r_candidate - r_alternative)`` per bar (positive: the candidate earns more).
        pvalues: SPA p-values of ``H0: E[r_candidate] <= E[r_alternative]`` (:data:`NOTHING_TO_REJECT`
            when both return series are identical).
    """

    name: str
    mean_difference: float
    pvalues: SpaPvalues

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mean_difference": self.mean_difference, **self.pvalues.to_dict()}


@dataclass(frozen=True)
class Superiority:
    """The intersection-union test that the candidate beats every alternative (module docstring).

    Attributes:
        pvalues: The largest pairwise p-value of each kind.
        closest: The alternative with the largest consistent p-value (first on ties).
        pairwise: One test per alternative, in the order given.
    """

    pvalues: SpaPvalues
    closest: str
    pairwise: tuple[PairwiseTest, ...]


@dataclass(frozen=True)
class ModelConfidenceSet:
    """The deciders that contain the best one with probability ``1 - size``.

    Attributes:
        size: The test size, e.g. 0.05.
        pvalues: Decider -> its MCS p-value (the largest size at which it stays in the set), in the
            order given. Deciders with identical returns share one p-value.
    """

    size: float
    pvalues: Mapping[str, float]

    @property
    def included(self) -> tuple[str, ...]:
        return tuple(name for name, p in self.pvalues.items() if p > self.size)

    @property
    def excluded(self) -> tuple[str, ...]:
        return tuple(name for name, p in self.pvalues.items() if p <= self.size)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "method": "R", "loss": LOSS, "included": list(self.included),
                "excluded": list(self.excluded), "pvalues": dict(self.pvalues)}


def spa_pvalues(benchmark_losses: np.ndarray, model_losses: np.ndarray, settings: BootstrapSettings) -> SpaPvalues:
    """``arch.bootstrap.SPA`` of ``H0: no model has a lower expected loss than the benchmark``.

    Args:
        benchmark_losses: ``[T]`` losses of the benchmark.
        model_losses: ``[T, k]`` (or ``[T]``) losses of the models.
        settings: Stationary bootstrap block, resamples and seed.
    """
    spa = SPA(benchmark_losses, model_losses, block_size=settings.block_size, reps=settings.reps,
              bootstrap="stationary", studentize=True, nested=False, seed=settings.seed)
    spa.compute()
    p = spa.pvalues
    return SpaPvalues(float(p["lower"]), float(p["consistent"]), float(p["upper"]))


def superiority_test(candidate: np.ndarray, alternatives: np.ndarray, names: Sequence[str],
                     settings: BootstrapSettings) -> Superiority:
    """Whether the candidate's mean per-bar return exceeds every alternative's (module docstring).

    Args:
        candidate: ``[T]`` per-bar returns of the candidate.
        alternatives: ``[T, k]`` per-bar returns of ``k >= 1`` alternatives on the same bars.
        names: The alternatives' names.
        settings: The bootstrap.
    """
    r, others = _checked(candidate, alternatives, names)
    pairwise = []
    for name, other in zip(names, others.T):
        if np.array_equal(r, other):
            pvalues = NOTHING_TO_REJECT
        else:
            pvalues = spa_pvalues(-other, -r, settings)
        pairwise.append(PairwiseTest(str(name), float(np.mean(r - other)), pvalues))
    closest = max(pairwise, key=lambda t: t.pvalues.consistent)
    worst = SpaPvalues(*(max(getattr(t.pvalues, k) for t in pairwise) for k in ("lower", "consistent", "upper")))
    return Superiority(worst, closest.name, tuple(pairwise))


def beaten_test(candidate: np.ndarray, alternatives: np.ndarray, names: Sequence[str],
                settings: BootstrapSettings) -> SpaPvalues:
    """Hansen's SPA test of ``H0: no alternative has a higher mean per-bar return than the candidate``.

    Alternatives with the candidate's very returns cannot beat it and are left out (``arch`` would
    count their zero differences as a rejection); with none left the p-values are 1.
    """
    r, others = _checked(candidate, alternatives, names)
    different = [i for i in range(others.shape[1]) if not np.array_equal(r, others[:, i])]
    if not different:
        return NOTHING_TO_REJECT
    return spa_pvalues(-r, -others[:, different], settings)


def model_confidence_set(returns: np.ndarray, names: Sequence[str], settings: BootstrapSettings,
                         size: float = 0.05) -> ModelConfidenceSet:
    """``arch.bootstrap.MCS`` (method ``R``) of the deciders' losses (negative per-bar returns).

    Deciders with identical returns enter once (their differences have no variance, which the
    method divides by) and share the p-value.

    Args:
        returns: ``[T, k]`` per-bar returns of the deciders.
        names: Their names (distinct).
        settings: The bootstrap.
        size: The test size in (0, 1).
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != len(names) or len(set(names)) != len(names):
        raise InvalidParameterError(f"the model confidence set needs [bars, deciders] returns and one distinct name "
                                    f"per decider, got shape {m.shape} and {len(names)} names")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0.0 < size < 1.0:
        raise InvalidParameterError(f"the model confidence set's size must lie in (0, 1), e.g. 0.05; got {size!r}")
    representative: list[int] = []  # column -> index of its first identical column among the kept ones
    kept: list[int] = []
    for i in range(m.shape[1]):
        same = next((j for j, k in enumerate(kept) if np.array_equal(m[:, k], m[:, i])), None)
        if same is None:
            kept.append(i)
            same = len(kept) - 1
        representative.append(same)
    if len(kept) == 1:
        pvalues = [1.0]
    else:
        mcs = MCS(-m[:, kept], size, reps=settings.reps, block_size=settings.block_size, method="R",
                  bootstrap="stationary", seed=settings.seed)
        mcs.compute()
        table = mcs.pvalues["Pvalue"]
        pvalues = [float(table.loc[j]) for j in range(len(kept))]
    return ModelConfidenceSet(float(size), {str(name): pvalues[representative[i]] for i, name in enumerate(names)})


def _checked(candidate: np.ndarray, alternatives: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(candidate, dtype=np.float64)
    others = np.asarray(alternatives, dtype=np.float64)
    if others.ndim == 1:
        others = others[:, None]
    if r.ndim != 1 or len(r) < 3 or others.ndim != 2 or others.shape[0] != len(r) or others.shape[1] < 1:
        raise InvalidParameterError(f"the reality check needs >= 3 returns of the candidate and [bars, alternatives] "
                                    f"on the same bars, got shapes {r.shape} and {others.shape}")
    if others.shape[1] != len(names):
        raise InvalidParameterError(f"{others.shape[1]} alternatives but {len(names)} names")
    if not (np.isfinite(r).all() and np.isfinite(others).all()):
        raise InvalidParameterError("the reality check got non-finite returns; an equity curve hit 0 or NaN")
    return r, others
