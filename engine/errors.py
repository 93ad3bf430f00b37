"""The workbench's exception hierarchy.

Every error a user can cause derives from :class:`WorkbenchError`; the CLI turns these into a one-line
message and exit code 2 instead of a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class WorkbenchError(Exception):
    """Base class of every error a user can cause."""


class UnknownDatasetError(WorkbenchError, KeyError):
    """A dataset name is not in the registry nor in the user's imported datasets."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetExistsError(WorkbenchError):
    """An import would overwrite an existing dataset."""


class DatasetCorruptError(WorkbenchError):
    """A stored dataset's files are missing, unreadable, or changed since import (fingerprint mismatch)."""


class InvalidParameterError(WorkbenchError, ValueError):
    """A function or command got a parameter outside its documented domain."""


@dataclass(frozen=True)
class Location:
    """Where in an input file a problem sits; every field is optional."""

    path: str | None = None
    row: int | None = None
    timestamp: str | None = None
    column: str | None = None
    symbol: str | None = None

    def describe(self) -> str:
        parts = []
        if self.path:
            parts.append(self.path)
        if self.symbol:
            parts.append(f"symbol {self.symbol}")
        if self.row is not None:
            parts.append(f"row {self.row}" + (f" ({self.timestamp})" if self.timestamp else ""))
        elif self.timestamp:
            parts.append(self.timestamp)
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)


class ObservationError(InvalidParameterError):
    """An observation handed to a network has the wrong shape or type, or values that are not finite."""


class DataValidationError(WorkbenchError, ValueError):
    """An input data file breaks a validation rule.

    The message is one line: ``PATH, row R (TIMESTAMP), column 'C': RULE: DETAIL. Fix: FIX``.
    Rows are 1-based data rows (the header is not counted).
    """

    def __init__(self, rule: str, detail: str, fix: str, location: Location | None = None):
        self.rule = rule
        self.detail = detail
        self.fix = fix
        self.location = location or Location()
        where = self.location.describe()
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{rule}: {detail}. Fix: {fix}")


class CheckpointError(WorkbenchError):
    """A model file or folder (checkpoint, SB3 archive, ONNX file) is missing, unsafe, corrupt, or
    does not fit the network or the observation it is loaded for; the message names the file and the fix."""


class OnnxExportError(WorkbenchError):
    """An ONNX export disagrees with its torch module beyond the parity thresholds."""


class UnknownRunError(WorkbenchError, LookupError):
    """A run id (or id prefix) names no stored run, or more than one."""


class RunStoreError(WorkbenchError):
    """The run store's database is unreadable or was written by a newer workbench (schema version)."""


class RunTableError(WorkbenchError):
    """A stored run's table file is missing, unreadable, or changed since the run was saved (its sha256
    differs from the digest recorded then); the message names the run, the file and the fix."""
