"""What a finished run hands to the run store: identity, spec, summary and array tables."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RunRecord:
    """One finished run, ready to store.

    Attributes:
        run_id: ``workbench.runs.evaluate.run_id`` of the spec (16 hex digits).
        kind: ``backtest``, ``stress``, ``sweep``, ``compare`` or ``walkforward``.
        spec: The run spec as plain JSON (``RunSpec.to_dict()``).
        summary: The JSON object the command prints with ``--json`` (includes ``run_id``).
        tables: Array data by name (``equity``, ``orders``, ``actions``, ...); each becomes
            ``<name>.parquet`` in the run's folder. Names are lowercase identifiers.
        dataset: Dataset name; ``start``/``end``: ISO timestamps of the first and last bar.
        decider: Strategy or policy name; ``model_sha``: weights sha256 ("" for a baseline).
        data_fingerprint, code_version: What the run id was computed from.
        tags: Free labels (``workbench runs list --tag``).
    """

    run_id: str
    kind: str
    spec: dict[str, Any]
    summary: dict[str, Any]
    dataset: str
    start: str
    end: str
    decider: str
    model_sha: str
    data_fingerprint: str
    code_version: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
