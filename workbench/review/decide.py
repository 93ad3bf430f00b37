"""A whole GO/NO-GO review: assess stored runs, write the report, record the decision in the run store."""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from engine.errors import InvalidParameterError
from workbench.review.assess import CANARY_BARS, Assessment, assess
from workbench.review.gates import DECISIONS, Gate
from workbench.review.report import ReviewRecord, render_report, write_report
from workbench.store import RunStore


@dataclass(frozen=True)
class ReviewOutcome:
    """A saved review.

    Attributes:
        review_id: The run store's id of the review.
        assessment: Gate results and the computed verdict.
        record: Reviewer, decision, notes and time.
        report: The HTML report written.
    """

    review_id: int
    assessment: Assessment
    record: ReviewRecord
    report: Path

    def to_dict(self) -> dict[str, object]:
        """The ``workbench review --json`` object."""
        evidence = self.assessment.evidence
        return {
            "review_id": self.review_id,
            "decision": self.record.decision,
            "verdict": self.assessment.verdict.decision,
            "rule": self.assessment.verdict.rule,
            "reviewer": self.record.reviewer,
            "notes": self.record.notes,
            "created_at": self.record.created,
            "run_ids": list(evidence.run_ids),
            "decider": evidence.decider,
            "report": str(self.report),
            "gates": [r.to_dict() for r in self.assessment.results],
            "canary": evidence.canary.to_dict() if evidence.canary else None,
        }


def default_reviewer() -> str:
    """``$USER``, else the login name."""
    return os.environ.get("USER") or getpass.getuser()


def review_runs(store: RunStore, run_ids: Sequence[str], out: str | Path, gates: Sequence[Gate], *,
                reviewer: str | None = None, decision: str | None = None, notes: str = "",
                canary: bool = True, canary_bars: int = CANARY_BARS) -> ReviewOutcome:
    """Review ``run_ids``: test the gates, write the report to ``out`` and save the review.

    Args:
        store: The run store holding the runs; the review is saved there, linked to every run.
        run_ids: Run ids or unambiguous prefixes.
        out: Path of the HTML report (written atomically).
        gates: The gates to test.
        reviewer: Who decides (default :func:`default_reviewer`).
        decision: The reviewer's decision (default the computed verdict); one that differs from
            the verdict needs ``notes`` saying why.
        notes: Free text stored with the review and shown in the report.
        canary: Run the look-ahead canary.
        canary_bars: Bars of the canary's window.

    Raises:
        InvalidParameterError: an unknown decision, an override without notes, or bad runs.
        UnknownRunError: a run id the store does not hold.
    """
    if decision is not None:
        check_decision(decision)
    # Two prefixes of one run name it once.
    runs = list({run.info.run_id: run for run in (store.get_run(r) for r in run_ids)}.values())
    assessment = assess(runs, gates, canary=canary, canary_bars=canary_bars)
    return save_decision(store, assessment, out, reviewer=reviewer or default_reviewer(),
                         decision=decision or assessment.verdict.decision, notes=notes)


def check_decision(decision: str) -> str:
    """``decision`` if it is one of :data:`DECISIONS`."""
    if decision not in DECISIONS:
        raise InvalidParameterError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    return decision


def save_decision(store: RunStore, assessment: Assessment, out: str | Path, *, reviewer: str, decision: str,
                  notes: str = "") -> ReviewOutcome:
    """Write the report of ``assessment`` to ``out`` and save the reviewer's decision with its runs.

    What ``workbench review`` and the app's review page both call: a decision that differs from the
    computed verdict needs notes saying why, and someone must be named as the reviewer.

    Raises:
        InvalidParameterError: no reviewer, an unknown decision, or an override without notes.
    """
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise InvalidParameterError("name the reviewer (--reviewer, or the page's Reviewer field) before saving")
    check_decision(decision)
    if decision != assessment.verdict.decision and not notes.strip():
        raise InvalidParameterError(
            f"the decision {decision!r} overrides the computed verdict {assessment.verdict.decision!r} "
            f"({assessment.verdict.rule}); say why in the notes (--notes)")
    record = ReviewRecord(reviewer, decision, notes, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    report = write_report(out, render_report(assessment, record))
    review_id = store.save_review([r.info.run_id for r in assessment.runs], record.reviewer, record.decision,
                                  assessment.verdict.decision, notes,
                                  [r.to_dict() for r in assessment.results], report_path=str(report.resolve()),
                                  rule=assessment.verdict.rule)
    return ReviewOutcome(review_id, assessment, record, report)
