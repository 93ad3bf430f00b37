"""``--export DIR`` of compare and walk-forward: ``summary.json`` plus one CSV per stored table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from engine.atomic_files import write_text_atomically
from engine.errors import InvalidParameterError


def export_summary(folder: str | Path, summary: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    """Write ``summary.json`` and ``<table>.csv`` for each table into ``folder``.

    Every text is rendered before anything is written and each file replaces its old version
    atomically (temporary file + ``os.replace``), so a failure never leaves half a file.
    A table's index is written as a column when it is named (``timestamp``), else left out. Floats
    are written at full precision (the shortest text that reads back as the same float).
    """
    texts = {"summary.json": json.dumps(summary, indent=2, default=str) + "\n"}
    for name, frame in tables.items():
        texts[f"{name}.csv"] = frame.to_csv(index=frame.index.name is not None)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InvalidParameterError(f"--export {folder}: exists and is not a folder; choose a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return [write_text_atomically(folder / name, text) for name, text in texts.items()]
