"""A run's folder on disk: Parquet tables written durably into a temporary folder, read back exactly.

Each table of a :class:`~workbench.store.record.RunRecord` becomes ``<name>.parquet`` (LZ4). Writing
goes file by file into a temporary folder, each file and then the folder fsynced, so the rename that
publishes the folder happens only after every byte is on disk. Reading gives back the DataFrame that
was written: same columns, dtypes, values and index (pyarrow keeps the pandas metadata). A float NaN
is stored as a Parquet null and read back as NaN. The sha256 of every file's bytes, hashed as they are
written (not read back), is returned to the store, which records it; a read checks the file against
it (:func:`read_checked_parquet`).

pandas and pyarrow are imported by the functions that read or write a table: listing the store's
runs (``workbench runs list``) imports neither.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping

from engine.atomic_files import fsync_path
from engine.errors import InvalidParameterError, RunTableError

if TYPE_CHECKING:
    import pandas as pd

TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TEMP_PREFIX = ".tmp-"


def check_table(name: str, frame: object) -> None:
    """Raise :class:`InvalidParameterError` unless ``name`` is a lowercase identifier and ``frame`` a
    DataFrame with unique string column names (what Parquet can store)."""
    if not isinstance(name, str) or not TABLE_NAME.match(name):
        raise InvalidParameterError(
            f"table name {name!r} is not a lowercase identifier (a-z, 0-9, _; e.g. 'equity')")
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(f"table {name!r} is a {type(frame).__name__}, not a pandas DataFrame")
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise InvalidParameterError(f"table {name!r}: column names must be strings; got {bad[0]!r}")
    if frame.columns.has_duplicates:
        duplicate = frame.columns[frame.columns.duplicated()][0]
        raise InvalidParameterError(f"table {name!r}: column {duplicate!r} appears twice; rename one")


def write_parquet(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` to ``path`` (index kept as pandas metadata or columns), fsync it and return the
    sha256 of the bytes written.

    LZ4, dictionary-encoded text and integer columns, plain float columns (a dictionary of floats
    rarely pays) and no column statistics (no reader filters run tables): half the time of zstd with
    pyarrow's defaults, for files about a tenth larger. Every Parquet reader reads them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=None)
    encoded = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    with open(path, "wb") as handle:
        sink = _HashingWriter(handle)
        pq.write_table(table, sink, compression="lz4", use_dictionary=encoded, write_statistics=False)
    fsync_path(path)
    return sink.digest.hexdigest()


class _HashingWriter(io.RawIOBase):
    """A binary file's writer that hashes (sha256) every byte as it passes, so a table is hashed as it
    is written without a second copy of it in memory."""

    def __init__(self, handle: BinaryIO):
        super().__init__()
        self._handle = handle
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return self._handle.write(data)


def read_parquet(path: Path) -> pd.DataFrame:
    """The DataFrame :func:`write_parquet` wrote."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def read_checked_parquet(path: Path, digest: str | None, run_id: str) -> pd.DataFrame:
    """The DataFrame in ``path``, after its bytes are checked against ``digest`` (None: a run saved
    before digests were recorded, read unchecked).

    Raises:
        RunTableError: the file is missing, unreadable, or its sha256 is not ``digest``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    fix = (f"restore {path.name} from a backup, or delete the run (`workbench runs delete {run_id}`) "
           "and run it again")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RunTableError(f"run {run_id}: table file {path} cannot be read ({error.strerror or error}). "
                            f"Fix: {fix}") from None
    if digest is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            raise RunTableError(
                f"run {run_id}: table file {path} changed since the run was saved (sha256 {found[:16]}..., "
                f"recorded {digest[:16]}...); its rows cannot be trusted. Fix: {fix}")
    try:
        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as error:
        raise RunTableError(f"run {run_id}: table file {path} is not a readable Parquet table ({error}). "
                            f"Fix: {fix}") from None


def parquet_rows(path: Path, run_id: str) -> int:
    """Rows of a Parquet file, from its footer (the data is not read nor checked).

    Raises:
        RunTableError: the file is missing or its footer unreadable.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise RunTableError(f"run {run_id}: table file {path} is not a readable Parquet table ({error}). "
                            f"Fix: delete the run (`workbench runs delete {run_id}`) and run it again") from None


def write_tables(tables: Mapping[str, pd.DataFrame], parent: Path, label: str) -> tuple[Path, dict[str, str]]:
    """Write every table into a fresh temporary folder under ``parent``; returns the folder and the
    sha256 of each table's file (by table name).

    The folder and every file in it are fsynced. On any failure the folder is removed and the error
    re-raised.
    """
    folder = temp_folder(parent, label)
    digests = {}
    try:
        for name, frame in tables.items():
            digests[name] = write_parquet(frame, folder / f"{name}.parquet")
        fsync_path(folder)
    except BaseException:
        remove_tree(folder)
        raise
    return folder, digests


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
