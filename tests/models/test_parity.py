"""ParitySampler: a bounded sample spread over the whole run, measured against a reference (issue 19)."""
from __future__ import annotations

import numpy as np
import pytest

from models.parity import WEIGHT_TOLERANCE, ParitySampler, merge_parity


def logits_sampler(reference, **kwargs) -> ParitySampler:
    return ParitySampler("cuda", "bf16", "logits", lambda: reference, **kwargs)


def test_the_sample_stays_bounded_and_spread_over_every_call() -> None:
    sampler = logits_sampler(lambda x: x[0], max_rows=100, rows_per_call=10)
    for call in range(1_000):
        rows = np.full((40, 7), float(call), dtype=np.float32)
        sampler.record([rows], rows)
    assert 50 < sampler.rows <= 100
    kept = sorted({int(d[0, 0]) for _, _, d in sampler._kept})
    assert len(set(np.diff(kept))) == 1 and sampler.stride == kept[1] - kept[0]  # evenly strided
    assert kept[0] == 0 and kept[-1] >= 1_000 - sampler.stride  # from the first call to the last stride


def test_rows_are_spread_over_the_batch() -> None:
    sampler = logits_sampler(lambda x: x[0], rows_per_call=4)
    batch = np.arange(100, dtype=np.float32)[:, None].repeat(7, axis=1)
    sampler.record([batch], batch)
    assert sampler._kept[0][2][:, 0].tolist() == [0.0, 33.0, 66.0, 99.0]


def test_agreement_and_largest_difference_against_the_reference() -> None:
    """Worked by hand: 4 rows, the reference adds 0.5 to action 1 everywhere; rows 0 and 1 then change argmax."""
    decided = np.array([[1.0, 0.8, 0, 0, 0, 0, 0], [0.0, -0.2, 0, 0, 0, 0, 0],
                        [3.0, 0.0, 0, 0, 0, 0, 0], [0.0, 2.0, 0, 0, 0, 0, 0]], dtype=np.float32)
    shift = np.zeros(7, dtype=np.float32)
    shift[1] = 0.5
    sampler = logits_sampler(lambda x: x[0] + shift)
    sampler.record([decided], decided)
    report = sampler.report()
    assert (report.rows, report.action_agreement) == (4, 0.5) and report.max_abs_diff == pytest.approx(0.5)
    assert not report.passed and report.to_dict()["reference"] == "cpu/fp32"
    assert sampler.report() is report  # measured once until new rows arrive



def test_a_team_row_agrees_only_when_every_agent_votes_the_same() -> None:
    """Logits ``[rows, agents, actions]``: 3 rows of 2 agents; the reference flips agent 1 in row 0 and
    both agents in row 2, so only row 1 agrees."""
    decided = np.array([[[0, 1, 0], [0, 1, 0]], [[2, 0, 0], [0, 0, 2]], [[1, 0, 0], [0, 1, 0]]], dtype=np.float32)
    reference = decided.copy()
    reference[0, 1] = [0, 0, 3]
    reference[2] = [[0, 2, 0], [3, 0, 0]]
    sampler = logits_sampler(lambda x: reference)
    sampler.record([decided], decided)
    report = sampler.report()
    assert report.rows == 3 and report.action_agreement == pytest.approx(1 / 3) and report.max_abs_diff == 3.0

def test_weights_agree_within_the_tolerance() -> None:
    weights = np.array([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]], dtype=np.float32)
    nudged = weights + np.array([[0.5 * WEIGHT_TOLERANCE, 0, 0], [2 * WEIGHT_TOLERANCE, 0, 0]], dtype=np.float32)
    sampler = ParitySampler("cuda", "fp32", "weights", lambda: (lambda x: nudged))
    sampler.record([weights], weights)
    report = sampler.report()
    assert report.action_agreement == 0.5 and report.tolerance == WEIGHT_TOLERANCE
    assert report.max_abs_diff == pytest.approx(2 * WEIGHT_TOLERANCE)


def test_no_call_no_report_and_merged_parts() -> None:
    assert logits_sampler(lambda x: x[0]).report() is None
    parts = [{"device": "cuda", "precision": "bf16", "reference": "cpu/fp32", "rows": rows, "output": "logits",
              "action_agreement": agreement, "max_abs_diff": diff, "tolerance": 0.0,
              "min_action_agreement": 0.999, "passed": agreement >= 0.999}
             for rows, agreement, diff in ((300, 1.0, 0.01), (100, 0.99, 0.03))]
    merged = merge_parity([parts[0], None, parts[1]])
    assert merged["rows"] == 400 and merged["action_agreement"] == pytest.approx(0.9975)
    assert merged["max_abs_diff"] == 0.03 and merged["passed"] is False
    assert merge_parity([None, None]) is None
