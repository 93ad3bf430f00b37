"""How a run's decisions off the reference (CPU, float32) compare with the reference's.

:class:`ParitySampler` keeps a bounded, evenly spread sample of the inputs a policy decided on and
what it decided; asked for a report, it runs the reference forward on the sample and measures the
share of rows that decide the same (the argmax of the logits; weight vectors within
:data:`WEIGHT_TOLERANCE`) and the largest difference of the deciding output, like the ONNX export's
parity report. Numpy only: a run spec or a report reads it without torch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from models.devices import REFERENCE_DEVICE, REFERENCE_PRECISION

logger = logging.getLogger(__name__)

MIN_PARITY_AGREEMENT = 0.999
"""Share of sampled rows that must decide as the reference does (the ONNX export's threshold)."""
PARITY_ROWS = 10_000
"""Rows a parity sample keeps at most."""
PARITY_ROWS_PER_CALL = 32
"""Rows a parity sample takes from one call, evenly spread over its batch."""
WEIGHT_TOLERANCE = 5e-3
"""Two weight vectors decide the same when no weight differs by more than this: half a percent of
equity, a quarter of the master agent's 2% rebalance threshold (bf16 alone moves a weight of 0.25 by
about 1e-3)."""


@dataclass(frozen=True)
class ParityReport:
    """How a run's decisions compare with the reference's (CPU, float32) on the same inputs.

    Attributes:
        device, precision: Where and how the run decided.
        reference: ``"cpu/fp32"``.
        rows: Rows compared (an even sample over the run, at most :data:`PARITY_ROWS`).
        output: The deciding output compared (``logits`` or ``weights``).
        action_agreement: Share of rows that decide the same (argmax of logits; weights within
            ``tolerance``).
        max_abs_diff: Largest ``|run - reference|`` of the deciding output.
        tolerance: Weight tolerance of a same decision (0 for argmax).
        min_action_agreement: The required agreement.
    """

    device: str
    precision: str
    reference: str
    rows: int
    output: str
    action_agreement: float
    max_abs_diff: float
    tolerance: float
    min_action_agreement: float = MIN_PARITY_AGREEMENT

    @property
    def passed(self) -> bool:
        """Whether the agreement reaches :attr:`min_action_agreement`."""
        return self.action_agreement >= self.min_action_agreement

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for a run's summary."""
        return {"device": self.device, "precision": self.precision, "reference": self.reference,
                "rows": self.rows, "output": self.output, "action_agreement": self.action_agreement,
                "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance,
                "min_action_agreement": self.min_action_agreement, "passed": self.passed}


class ParitySampler:
    """An evenly spread sample of a run's inputs and decisions, measured against the reference on demand.

    Every ``stride``-th call is kept (up to :data:`PARITY_ROWS_PER_CALL` rows of it, spread over its
    batch); when the sample holds more than ``max_rows`` rows, every other kept call is dropped and
    the stride doubles, so the sample stays bounded and spread over the whole run.

    Args:
        device, precision: What the report names.
        output: ``logits`` (argmax decides) or ``weights``.
        reference: Builds the reference forward (called once, when a report is asked for): inputs
            -> the deciding output.
        max_rows: Rows kept at most.
        rows_per_call: Rows taken from one call at most.
    """

    def __init__(self, device: str, precision: str, output: str,
                 reference: Callable[[], Callable[[Sequence[np.ndarray]], np.ndarray]],
                 max_rows: int = PARITY_ROWS, rows_per_call: int = PARITY_ROWS_PER_CALL) -> None:
        self.device, self.precision, self.output = device, precision, output
        self._reference_factory = reference
        self._reference: Callable[[Sequence[np.ndarray]], np.ndarray] | None = None
        self.max_rows, self.rows_per_call = max_rows, rows_per_call
        self.stride, self.calls = 1, 0
        self._kept: list[tuple[int, list[np.ndarray], np.ndarray]] = []
        self._report: ParityReport | None = None

    @property
    def rows(self) -> int:
        """Rows kept."""
        return sum(len(decided) for _, _, decided in self._kept)

    def record(self, inputs: Sequence[np.ndarray], decided: np.ndarray) -> None:
        """Keep (a part of) one call's ``inputs`` and deciding output when the call is sampled."""
        call, self.calls = self.calls, self.calls + 1
        if call % self.stride:
            return
        n = len(decided)
        rows = np.unique(np.linspace(0, n - 1, min(n, self.rows_per_call)).astype(np.int64)) if n else np.empty(0, int)
        self._kept.append((call, [np.asarray(x)[rows] for x in inputs], np.asarray(decided, dtype=np.float32)[rows]))
        self._report = None
        while self.rows > self.max_rows and len(self._kept) > 1:
            self.stride *= 2
            self._kept = [k for k in self._kept if k[0] % self.stride == 0]

    def report(self) -> ParityReport | None:
        """The comparison with the reference over the sample (None before any call)."""
        if not self._kept:
            return None
        if self._report is None:
            if self._reference is None:
                self._reference = self._reference_factory()
            ran = np.concatenate([d for _, _, d in self._kept])
            reference = np.concatenate([np.asarray(self._reference(x), dtype=np.float32) for _, x, _ in self._kept])
            difference = np.abs(ran.astype(np.float64) - reference)
            if self.output == "logits":
                # A row decides the same when every head's argmax does (one head for an agent, one per
                # agent for a team's logits [rows, agents, actions]).
                votes = ran.argmax(axis=-1) == reference.argmax(axis=-1)
                same, tolerance = votes.reshape(len(ran), -1).all(axis=1), 0.0
            else:
                same, tolerance = difference.reshape(len(ran), -1).max(axis=1) <= WEIGHT_TOLERANCE, WEIGHT_TOLERANCE
            self._report = ParityReport(
                device=self.device, precision=self.precision, reference=f"{REFERENCE_DEVICE}/{REFERENCE_PRECISION}",
                rows=len(ran), output=self.output, action_agreement=float(np.mean(same)),
                max_abs_diff=float(difference.max()) if difference.size else 0.0, tolerance=tolerance)
            if not self._report.passed:
                logger.warning("on %s/%s only %.3f%% of %d sampled decisions match the CPU fp32 reference "
                               "(required %.1f%%)", self.device, self.precision, 100 * self._report.action_agreement,
                               self._report.rows, 100 * MIN_PARITY_AGREEMENT)
        return self._report


def merge_parity(reports: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """One report (:meth:`ParityReport.to_dict`) of several parts of a run (e.g. chunks rolled out on
    workers): rows added, agreement weighted by rows, the largest difference. None when no part has one."""
    parts = [r for r in reports if r]
    if not parts:
        return None
    rows = sum(int(r["rows"]) for r in parts)
    merged = ParityReport(
        device=parts[0]["device"], precision=parts[0]["precision"], reference=parts[0]["reference"], rows=rows,
        output=parts[0]["output"], tolerance=parts[0]["tolerance"],
        action_agreement=sum(r["action_agreement"] * r["rows"] for r in parts) / rows if rows else 1.0,
        max_abs_diff=max(r["max_abs_diff"] for r in parts))
    return merged.to_dict()
