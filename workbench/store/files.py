"""A run's folder on disk: Parquet tables written durably into a temporary folder, read back exactly.

Each table of a :class:`~workbench.store.record.RunRecord` becomes ``<name>.parquet`` (zstd). Writing
goes file by file into a temporary folder, each file and then the folder fsynced, so the rename that
publishes the folder happens only after every byte is on disk. Reading gives back the DataFrame that
was written: same columns, dtypes, values and index (pyarrow keeps the pandas metadata). A float NaN
is stored as a Parquet null and read back as NaN.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.atomic_files import fsync_path
from engine.errors import InvalidParameterError

TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TEMP_PREFIX = ".tmp-"


def check_table(name: str, frame: object) -> None:
    """Raise :class:`InvalidParameterError` unless ``name`` is a lowercase identifier and ``frame`` a
    DataFrame with unique string column names (what Parquet can store)."""
    if not isinstance(name, str) or not TABLE_NAME.match(name):
        raise InvalidParameterError(
            f"table name {name!r} is not a lowercase identifier (a-z, 0-9, _; e.g. 'equity')")
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(f"table {name!r} is a {type(frame).__name__}, not a pandas DataFrame")
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise InvalidParameterError(f"table {name!r}: column names must be strings; got {bad[0]!r}")
    if frame.columns.has_duplicates:
        duplicate = frame.columns[frame.columns.duplicated()][0]
        raise InvalidParameterError(f"table {name!r}: column {duplicate!r} appears twice; rename one")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` (index kept as pandas metadata or columns) and fsync it."""
    table = pa.Table.from_pandas(frame, preserve_index=None)
    pq.write_table(table, path, compression="zstd")
    fsync_path(path)


def read_parquet(path: Path) -> pd.DataFrame:
    """The DataFrame :func:`write_parquet` wrote."""
    return pq.read_table(path).to_pandas()


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer (the data is not read)."""
    return int(pq.read_metadata(path).num_rows)


def write_tables(tables: Mapping[str, pd.DataFrame], parent: Path, label: str) -> Path:
    """Write every table into a fresh temporary folder under ``parent`` and return the folder.

    The folder and every file in it are fsynced. On any failure the folder is removed and the error
    re-raised.
    """
    folder = temp_folder(parent, label)
    try:
        for name, frame in tables.items():
            write_parquet(frame, folder / f"{name}.parquet")
        fsync_path(folder)
    except BaseException:
        remove_tree(folder)
        raise
    return folder


def temp_folder(parent: Path, label: str) -> Path:
    """A new empty folder ``parent/.tmp-<label>-<random>`` (same file system as ``parent``)."""
    folder = parent / f"{TEMP_PREFIX}{label}-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def publish(folder: Path, target: Path) -> None:
    """Rename ``folder`` to ``target`` (absent or an empty folder) and fsync the parent folder."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    os.replace(folder, target)
    fsync_path(target.parent)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON (sorted keys, NaN kept as NaN) and fsync it."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    fsync_path(path)


def remove_tree(path: Path) -> None:
    """Remove a folder and everything in it; a missing folder is fine."""
    shutil.rmtree(path, ignore_errors=True)
