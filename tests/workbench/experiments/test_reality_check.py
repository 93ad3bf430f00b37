"""The reality check against ``arch`` called directly, on constructed winners, lucky draws and twins."""
from __future__ import annotations

import numpy as np
import pytest
from arch.bootstrap import MCS, SPA

from engine.errors import InvalidParameterError
from workbench.experiments.reality_check import (
    NOTHING_TO_REJECT,
    BootstrapSettings,
    beaten_test,
    model_confidence_set,
    superiority_test,
)

SETTINGS = BootstrapSettings(block_size=5, reps=500, seed=3)
NAMES = ["a", "b", "c", "d", "e"]


def _arch_spa(benchmark_losses: np.ndarray, model_losses: np.ndarray) -> dict[str, float]:
    spa = SPA(benchmark_losses, model_losses, block_size=5, reps=500, bootstrap="stationary", seed=3)
    spa.compute()
    return spa.pvalues.to_dict()


def _market(seed: int, bars: int, columns: int, mean: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 0.01, (bars, columns))


def test_pvalues_equal_arch_called_directly_on_the_same_losses() -> None:
    alternatives = _market(0, 300, 5)
    candidate = _market(1, 300, 1, 0.0008)[:, 0]
    superior = superiority_test(candidate, alternatives, NAMES, SETTINGS)
    for k, test in enumerate(superior.pairwise):
        # Each alternative is the benchmark, the candidate the one model: losses are negative returns.
        expected = _arch_spa(-alternatives[:, k], -candidate)
        assert test.pvalues.to_dict() == expected
        assert test.name == NAMES[k] and test.mean_difference == pytest.approx(np.mean(candidate - alternatives[:, k]))
    assert superior.pvalues.consistent == max(t.pvalues.consistent for t in superior.pairwise)
    assert superior.pvalues.upper == max(t.pvalues.upper for t in superior.pairwise)
    assert superior.closest == max(superior.pairwise, key=lambda t: t.pvalues.consistent).name
    beaten = beaten_test(candidate, alternatives, NAMES, SETTINGS)
    assert beaten.to_dict() == _arch_spa(-candidate, -alternatives)


def test_model_confidence_set_equals_arch_called_directly() -> None:
    returns = np.column_stack([_market(1, 300, 1, 0.0008), _market(0, 300, 5)])
    names = ["cand", *NAMES]
    ours = model_confidence_set(returns, names, SETTINGS, size=0.1)
    mcs = MCS(-returns, 0.1, reps=500, block_size=5, method="R", bootstrap="stationary", seed=3)
    mcs.compute()
    expected = mcs.pvalues["Pvalue"]
    assert list(ours.pvalues) == names
    assert [ours.pvalues[n] for n in names] == [float(expected.loc[i]) for i in range(6)]
    assert ours.included == tuple(names[i] for i in sorted(mcs.included))
    assert set(ours.included) | set(ours.excluded) == set(names)


def test_a_truly_best_candidate_gets_a_small_pvalue() -> None:
    alternatives = _market(2, 1000, 5)
    candidate = _market(3, 1000, 1, 0.002)[:, 0]  # 20 bp a bar more than every alternative
    superior = superiority_test(candidate, alternatives, NAMES, SETTINGS)
    assert superior.pvalues.upper <= 0.01
    assert beaten_test(candidate, alternatives, NAMES, SETTINGS).consistent > 0.5  # nobody beats it
    confidence = model_confidence_set(np.column_stack([candidate, alternatives]), ["cand", *NAMES], SETTINGS)
    assert confidence.included == ("cand",)


def test_a_lucky_draw_among_equals_gets_a_large_pvalue() -> None:
    names = [f"v{i}" for i in range(7)]
    for seed in range(10):
        equals = _market(seed, 1000, 8, 0.0003)  # eight deciders with one true mean
        best = int(np.argmax(equals.mean(axis=0)))  # the candidate: the one that happened to do best
        others = np.delete(equals, best, axis=1)
        superior = superiority_test(equals[:, best], others, names, SETTINGS)
        assert superior.pvalues.lower > 0.05, seed  # never "beats the best alternative at 5%"
    # Neither the test that the candidate is beaten nor the confidence set tells the lucky draw from
    # the true winner above: nobody beats it, and everybody may be the best.
    assert beaten_test(equals[:, best], others, names, SETTINGS).consistent > 0.5
    confidence = model_confidence_set(equals, [f"d{i}" for i in range(8)], SETTINGS)
    assert len(confidence.included) == 8


def test_identical_returns_cannot_be_superior_or_beat_the_candidate() -> None:
    candidate = _market(5, 200, 1, 0.001)[:, 0]
    twin = np.column_stack([candidate, _market(6, 200, 1)])
    superior = superiority_test(candidate, twin, ["twin", "other"], SETTINGS)
    assert superior.pairwise[0].pvalues == NOTHING_TO_REJECT and superior.pvalues == NOTHING_TO_REJECT
    assert superior.closest == "twin"
    assert beaten_test(candidate, twin, ["twin", "other"], SETTINGS).to_dict() == _arch_spa(-candidate, -twin[:, 1])
    assert beaten_test(candidate, candidate[:, None], ["twin"], SETTINGS) == NOTHING_TO_REJECT
    confidence = model_confidence_set(np.column_stack([candidate, twin]), ["cand", "twin", "other"], SETTINGS)
    assert confidence.pvalues["cand"] == confidence.pvalues["twin"]


@pytest.mark.parametrize("call, match", [
    (lambda: superiority_test(np.zeros(2), np.zeros((2, 1)), ["a"], SETTINGS), ">= 3 returns"),
    (lambda: superiority_test(np.zeros(10), np.zeros((9, 1)), ["a"], SETTINGS), "same bars"),
    (lambda: superiority_test(np.zeros(10), np.zeros((10, 2)), ["a"], SETTINGS), "2 alternatives but 1 names"),
    (lambda: superiority_test(np.full(10, np.nan), np.zeros((10, 1)), ["a"], SETTINGS), "non-finite"),
    (lambda: model_confidence_set(np.zeros((10, 2)), ["a", "a"], SETTINGS), "one distinct name"),
    (lambda: model_confidence_set(np.zeros((10, 2)), ["a", "b"], SETTINGS, size=1.5), r"size must lie in \(0, 1\)"),
    (lambda: BootstrapSettings(0, 100, 0), "block_size must be an integer >= 1"),
])
def test_bad_input_is_a_typed_error(call, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        call()
