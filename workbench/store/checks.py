"""Validation of what the run store is given: run ids, tags, texts and whole records."""
from __future__ import annotations

import json
import re
from typing import Iterable

from engine.errors import InvalidParameterError
from workbench.store import files
from workbench.store.record import RunRecord

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""A run id names the run's folder: letters, digits, '-' and '_' only."""
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")


def check_record(record: RunRecord) -> None:
    """Raise :class:`InvalidParameterError` unless ``record`` can be stored as it is."""
    if not isinstance(record, RunRecord):
        raise InvalidParameterError(f"save_run takes a RunRecord, got {type(record).__name__}")
    if not isinstance(record.run_id, str) or not RUN_ID.match(record.run_id):
        raise InvalidParameterError(
            f"run id {record.run_id!r} must be 1-64 letters, digits, '-' or '_' (it names the run's folder)")
    for name in ("kind", "dataset", "start", "end", "decider"):
        check_text(f"RunRecord.{name}", getattr(record, name))
    for name, frame in record.tables.items():
        files.check_table(name, frame)
    check_tags(record.tags)
    for name, dump in (("spec", spec_json), ("summary", summary_json)):
        try:
            dump(record)
        except (TypeError, ValueError) as error:
            raise InvalidParameterError(f"RunRecord.{name} is not JSON-serializable: {error}") from None


def spec_json(record: RunRecord) -> str:
    """The spec as stored: JSON with sorted keys."""
    return json.dumps(record.spec, sort_keys=True)


def summary_json(record: RunRecord) -> str:
    """The summary as stored: JSON with sorted keys; values JSON lacks (timestamps) as text."""
    return json.dumps(record.summary, sort_keys=True, default=str)


def check_tags(tags: Iterable[str]) -> list[str]:
    """``tags`` as a list (one string is one tag); raises on a malformed tag."""
    if isinstance(tags, str):
        tags = [tags]
    tags = list(tags)
    for tag in tags:
        if not isinstance(tag, str) or not TAG.match(tag):
            raise InvalidParameterError(
                f"tag {tag!r} must be 1-64 letters, digits or . _ : + - (starting with a letter or digit)")
    return tags


def check_text(name: str, value: object) -> str:
    """``value`` when it is a non-empty string; ``name`` names it in the error."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(f"{name} must be a non-empty string, got {value!r}")
    return value
