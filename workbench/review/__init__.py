"""GO/NO-GO review of stored runs: gates, evidence, the look-ahead canary, the HTML report.

``workbench review RUN_ID... --out report.html`` (``workbench.commands.review``) calls
:func:`review_runs`; docs/review.md describes the gates, the verdict rule and the report.
"""
from workbench.review.assess import Assessment, assess
from workbench.review.canary import CanaryResult, run_canary
from workbench.review.decide import ReviewOutcome, review_runs
from workbench.review.evidence import METRICS, Evidence, Observation, collect_evidence
from workbench.review.gates import (
                                    DEFAULT_GATES,
                                    Gate,
                                    GateFileError,
                                    GateResult,
                                    Verdict,
                                    evaluate_gates,
                                    load_gates,
                                    verdict,
)
from workbench.review.report import ReviewRecord, render_report, write_report

__all__ = [
    "Assessment", "CanaryResult", "DEFAULT_GATES", "Evidence", "Gate", "GateFileError", "GateResult", "METRICS",
    "Observation", "ReviewOutcome", "ReviewRecord", "Verdict", "assess", "collect_evidence", "evaluate_gates",
    "load_gates", "render_report", "review_runs", "run_canary", "verdict", "write_report",
]
