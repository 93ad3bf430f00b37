"""What the run store hands back: a run's row (:class:`RunInfo`), a whole run (:class:`StoredRun`),
its notes and the GO/NO-GO reviews that judged it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidParameterError
from workbench.store.files import parquet_rows, read_checked_parquet

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RunInfo:
    """One stored run's row, its tags and the verdict of its latest review.

    Attributes:
        run_id, kind, dataset, start, end, decider, model_sha, data_fingerprint, code_version:
            As in :class:`~workbench.store.record.RunRecord`.
        created_at: When the run was stored (ISO 8601, UTC, microseconds).
        folder: The run's folder of Parquet tables.
        tags: Sorted tags.
        verdict: Verdict of the latest review that includes the run, None when unreviewed.
        spec, summary: The run's spec and summary (JSON objects).
        table_digests: The sha256 of each table file as saved; None for a run saved before the
            store recorded them (schema version 4), whose tables are read unchecked.
    """

    run_id: str
    kind: str
    created_at: str
    dataset: str
    start: str
    end: str
    decider: str
    model_sha: str
    data_fingerprint: str
    code_version: str
    folder: Path
    tags: tuple[str, ...] = ()
    verdict: str | None = None
    spec: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)
    summary: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)
    table_digests: dict[str, str] | None = field(default=None, hash=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON types, without spec and summary (``workbench runs list --json``)."""
        return {
            "run_id": self.run_id, "kind": self.kind, "created_at": self.created_at,
            "dataset": self.dataset, "start": self.start, "end": self.end, "decider": self.decider,
            "model_sha": self.model_sha, "data_fingerprint": self.data_fingerprint,
            "code_version": self.code_version, "folder": str(self.folder), "tags": list(self.tags),
            "verdict": self.verdict, "table_digests": self.table_digests,
        }


@dataclass(frozen=True)
class Note:
    """A free-text note on a run."""

    id: int
    run_id: str
    created_at: str
    author: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "created_at": self.created_at,
                "author": self.author, "text": self.text}


@dataclass(frozen=True)
class Review:
    """A GO/NO-GO review of one or more runs.

    Attributes:
        id: Review number (increasing).
        created_at: When it was saved (ISO 8601, UTC).
        reviewer: Who reviewed.
        decision: The reviewer's decision.
        verdict: The gates' verdict.
        notes: The reviewer's notes.
        gates: One JSON object per gate (criterion, threshold, value, passed, ...).
        report_path: The rendered report, if one was written.
        run_ids: The runs the review judged.
        rule: The rule that produced the verdict ('' for reviews saved before schema version 3).
    """

    id: int
    created_at: str
    reviewer: str
    decision: str
    verdict: str
    notes: str
    gates: tuple[dict[str, Any], ...] = field(hash=False)
    report_path: str | None
    run_ids: tuple[str, ...]
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at, "reviewer": self.reviewer,
                "decision": self.decision, "verdict": self.verdict, "notes": self.notes,
                "rule": self.rule, "gates": list(self.gates), "report_path": self.report_path,
                "run_ids": list(self.run_ids)}


@dataclass(frozen=True)
class StoredRun:
    """A stored run: its row, notes, reviews and the Parquet tables in its folder.

    Attributes:
        info: The row.
        tables: Names of the run's tables, sorted.
        notes: Notes, oldest first.
        reviews: Reviews that include the run, newest first.
    """

    info: RunInfo
    tables: tuple[str, ...]
    notes: tuple[Note, ...] = ()
    reviews: tuple[Review, ...] = ()

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def spec(self) -> dict[str, Any]:
        return self.info.spec

    @property
    def summary(self) -> dict[str, Any]:
        return self.info.summary

    @property
    def folder(self) -> Path:
        return self.info.folder

    @property
    def checked(self) -> bool:
        """Whether its tables are checked on read (False: saved before the store recorded digests)."""
        return self.info.table_digests is not None

    def load_table(self, name: str) -> pd.DataFrame:
        """The table ``name`` exactly as it was saved.

        Raises:
            RunTableError: its file is missing, unreadable, or changed since the run was saved.
        """
        digests = self.info.table_digests
        return read_checked_parquet(self._path(name), None if digests is None else digests[name], self.run_id)

    def table_rows(self) -> dict[str, int]:
        """Rows of every table (read from the Parquet footers, unchecked)."""
        return {name: parquet_rows(self._path(name), self.run_id) for name in self.tables}

    def _path(self, name: str) -> Path:
        if name not in self.tables:
            raise InvalidParameterError(
                f"run {self.run_id} has no table {name!r}; it has {', '.join(self.tables) or 'none'}")
        return self.folder / f"{name}.parquet"
