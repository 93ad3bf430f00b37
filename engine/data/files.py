"""Read the cells of a user's CSV (optionally gzip-compressed) or Parquet file, nothing more.

What comes out is every column as written (CSV cells as text, Parquet columns with their types)
plus the 1-based data row number of each row as the user sees it in the file: for CSV, the line
number minus the header's line number, so blank lines keep the numbering of an editor.

Only regular files are read (:mod:`engine.data.streams`), and only up to the bounds of
:class:`~engine.data.limits.ReadLimits`: CSV is decompressed and parsed in chunks, Parquet's size is
taken from its footer before any column is read.
"""
from __future__ import annotations

import gzip
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from engine.data.limits import ReadLimits
from engine.data.streams import NOT_TEXT_FIX, BoundedReader, open_regular, too_large_error
from engine.data.validation import (
    DUPLICATE_COLUMN,
    EMPTY_FILE,
    TOO_MANY_ROWS,
    UNREADABLE_FILE,
    WRONG_DELIMITER,
    WRONG_FIELD_COUNT,
)
from engine.errors import DataValidationError, Location

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_MAGICS = (b"\xff\xfe", b"\xfe\xff")
_BOM = b"\xef\xbb\xbf"
_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}
_BLANK = b" \t\r\n"
_CHUNK_BYTES = 1024 * 1024
_CHUNK_ROWS = 100_000  # CSV lines parsed at a time
_MAX_HEADER_BYTES = 64 * 1024  # a header line of OHLCV column names is far shorter


@dataclass(frozen=True)
class RawTable:
    """The cells of a file.

    Attributes:
        cells: One column per file column, named by its header; rows in file order.
        rows: 1-based data row number of each row of ``cells``.
    """

    cells: pd.DataFrame
    rows: np.ndarray


def read_cells(path: Path, limits: ReadLimits) -> RawTable:
    """Read a CSV (``.csv``, ``.csv.gz``, any text) or Parquet (``.parquet``, ``.pq``) file.

    The format is taken from the file's first bytes, so a misnamed file still reads; a
    ``.parquet`` or ``.gz`` name on other content is an error. Only regular files are read, in
    chunks, and reading stops at the first bound of ``limits`` crossed.

    Raises:
        DataValidationError: ``unreadable-file``, ``empty-file``, ``file-too-large``,
            ``too-many-rows``, ``wrong-delimiter`` or ``wrong-field-count``.
    """
    where = Location(path=str(path))
    with open_regular(path, where) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise DataValidationError(EMPTY_FILE, "the file is empty (0 bytes)",
                                      "export the data again; the file has no header and no rows", where)
        if size > limits.max_bytes:
            raise too_large_error(limits.max_bytes, where)
        magic = handle.read(4)
        handle.seek(0)
        suffixes = [s.lower() for s in path.suffixes]
        if magic.startswith(_PARQUET_MAGIC):
            return _read_parquet(handle, where, limits)
        if suffixes[-1:] in ([".parquet"], [".pq"]):
            raise DataValidationError(
                UNREADABLE_FILE, "the file has a Parquet name but is not a Parquet file "
                "(it does not start with the bytes PAR1)",
                "write it again with df.to_parquet(path), or rename it if it is really CSV", where)
        if magic.startswith(_ZIP_MAGIC):
            raise DataValidationError(
                UNREADABLE_FILE, "the file is a ZIP archive or an Excel workbook, not CSV text",
                "export the sheet as CSV (File > Save As > CSV) or unzip the archive", where)
        if magic.startswith(_UTF16_MAGICS):
            raise DataValidationError(UNREADABLE_FILE, "the file is UTF-16 text, not UTF-8",
                                      "save it as CSV UTF-8 (Excel: CSV UTF-8 (Comma delimited))", where)
        compressed = magic.startswith(_GZIP_MAGIC) or suffixes[-1:] == [".gz"]
        source = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
        return _read_csv(BoundedReader(source, limits.max_bytes, where, compressed), where, limits)


def _read_parquet(handle: BinaryIO, where: Location, limits: ReadLimits) -> RawTable:
    try:
        parquet = pq.ParquetFile(handle)
        metadata = parquet.metadata
        unpacked = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise _corrupt_parquet(exc, where) from None
    # The footer tells the size before any column is read: a small file can unpack to gigabytes.
    if metadata.num_rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows, where)
    if unpacked > limits.max_bytes:
        raise too_large_error(limits.max_bytes, where, "of column data once decompressed")
    try:
        frame = parquet.read().to_pandas()
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise _corrupt_parquet(exc, where) from None
    if not isinstance(frame.index, pd.RangeIndex):
        # df.to_parquet keeps a DatetimeIndex as the index: make it a column like any other.
        if frame.index.name is None and isinstance(frame.index, pd.DatetimeIndex):
            frame.index.name = "timestamp"
        taken = [str(n) for n in frame.index.names if n is not None and str(n) in map(str, frame.columns)]
        if taken:
            raise DataValidationError(
                DUPLICATE_COLUMN, f"the file's index and one of its columns are both named {taken[0]!r}",
                "keep one of them (pandas: df.reset_index(drop=True).to_parquet(path) drops the index)",
                Location(path=where.path, column=taken[0]))
        frame = frame.reset_index()
    if frame.empty:
        raise DataValidationError(EMPTY_FILE, "the Parquet file has no rows",
                                  "export the data again", where)
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(frame.reset_index(drop=True), np.arange(1, len(frame) + 1))


def _corrupt_parquet(exc: Exception, where: Location) -> DataValidationError:
    return DataValidationError(UNREADABLE_FILE, f"the Parquet file is corrupt or truncated ({exc})",
                               "write it again with df.to_parquet(path)", where)


def _read_csv(stream: BoundedReader, where: Location, limits: ReadLimits) -> RawTable:
    head = _from_header_line(stream, where)
    newline = head.find(b"\n")
    try:
        header_line = head[: newline if newline >= 0 else len(head)].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise _not_utf8(where) from None
    _check_delimiter(header_line, where)
    stream.unread(head)
    parts, numbers = [], []
    headers: list[str] | None = None
    line = 0  # lines since the header line, which is line 0: a data row's number as an editor counts it
    try:
        with pd.read_csv(io.BufferedReader(stream, _CHUNK_BYTES), header=None, dtype=str,
                         keep_default_na=False, skip_blank_lines=False, encoding="utf-8",
                         chunksize=_CHUNK_ROWS) as reader:
            for frame in reader:
                rows = np.arange(line, line + len(frame))
                line += len(frame)
                if rows[-1] > limits.max_rows:
                    raise _too_many_rows(limits.max_rows, where)
                # Blank lines keep their number and are then dropped.
                keep = (frame != "").any(axis=1).to_numpy().copy()
                if headers is None:
                    headers = [str(h).strip() for h in frame.iloc[0]]
                    keep[0] = False
                parts.append(frame[keep])
                numbers.append(rows[keep])
    except UnicodeDecodeError:
        raise _not_utf8(where) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(str(exc), where) from None
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if cells.empty:
        raise DataValidationError(EMPTY_FILE, "the file has a header but no data rows",
                                  "export the data again, with its rows", where)
    cells.columns = headers
    return RawTable(cells, np.concatenate(numbers))


def _from_header_line(stream: BoundedReader, where: Location) -> bytes:
    """The bytes from the header line on, holding at least the whole header line.

    A byte-order mark and blank lines before the header are dropped: pandas takes the number of
    columns from the first line it sees.
    """
    head = b""
    while chunk := stream.read(_CHUNK_BYTES):
        head += chunk
        if stream.bytes_read == len(head) and head.startswith(_BOM):  # the file's first bytes
            head = head[len(_BOM):]
        text_at = len(head) - len(head.lstrip(_BLANK))
        if text_at < len(head):
            head = head[head.rfind(b"\n", 0, text_at) + 1:]
            break
        head = head[head.rfind(b"\n") + 1:]  # only blank lines so far
    if not head.strip(_BLANK):
        detail = "the file holds only blank lines" if stream.bytes_read else "the compressed file holds nothing"
        raise DataValidationError(EMPTY_FILE, detail, "export the data again", where)
    while b"\n" not in head and len(head) <= _MAX_HEADER_BYTES:
        chunk = stream.read(_CHUNK_BYTES)
        if not chunk:
            break
        head += chunk
    if b"\n" not in head[:_MAX_HEADER_BYTES + 1] and len(head) > _MAX_HEADER_BYTES:
        raise DataValidationError(
            UNREADABLE_FILE, f"the first line is longer than {_MAX_HEADER_BYTES // 1024} KiB, so it is "
            "not a header of OHLCV columns", NOT_TEXT_FIX, where)
    return head


def _too_many_rows(limit: int, where: Location) -> DataValidationError:
    return DataValidationError(
        TOO_MANY_ROWS, f"the file has more than {limit:,} data rows",
        "split the file, or raise the bound with --max-rows N (or the environment variable "
        "WORKBENCH_DATA_MAX_ROWS)", where)


def _not_utf8(where: Location) -> DataValidationError:
    return DataValidationError(UNREADABLE_FILE, "the file is binary or not UTF-8 text", NOT_TEXT_FIX, where)


def _check_delimiter(header_line: str, where: Location) -> None:
    if "," in header_line:
        return
    for delimiter, name in _OTHER_DELIMITERS.items():
        if delimiter in header_line:
            break
    else:
        if len(header_line.split()) < 3:
            return
        name = "spaces"
    raise DataValidationError(
        WRONG_DELIMITER,
        f"the file reads as one column: its header {header_line.strip()[:80]!r} is separated by "
        f"{name}, not commas",
        "save it comma-separated (pandas: df.to_csv(path); Excel: CSV UTF-8 (Comma delimited))",
        where)


def _parser_error(message: str, where: Location) -> DataValidationError:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if not match:
        return DataValidationError(UNREADABLE_FILE, f"the CSV cannot be parsed ({message.strip()})",
                                   "check the quoting and delimiters of the file", where)
    expected, line, seen = (int(g) for g in match.groups())
    return DataValidationError(
        WRONG_FIELD_COUNT,
        f"the row has {seen} fields but the header has {expected}",
        "give every row one value per header column (a ',' inside a value must be quoted, and "
        "decimal commas are not accepted)",
        Location(path=where.path, row=line - 1))  # pandas counts lines from the header, 1-based
