"""Read the cells of a user's CSV (optionally gzip-compressed) or Parquet file, nothing more.

What comes out is every column as written (CSV cells as text, Parquet columns with their types)
plus the 1-based data row number of each row as the user sees it in the file: for CSV, the line
number minus the header's line number, so blank lines keep the numbering of an editor.
"""
from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow

from engine.data.validation import (
    DUPLICATE_COLUMN,
    EMPTY_FILE,
    UNREADABLE_FILE,
    WRONG_DELIMITER,
    WRONG_FIELD_COUNT,
)
from engine.errors import DataValidationError, Location

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


@dataclass(frozen=True)
class RawTable:
    """The cells of a file.

    Attributes:
        cells: One column per file column, named by its header; rows in file order.
        rows: 1-based data row number of each row of ``cells``.
    """

    cells: pd.DataFrame
    rows: np.ndarray


def read_cells(path: Path) -> RawTable:
    """Read a CSV (``.csv``, ``.csv.gz``, any text) or Parquet (``.parquet``, ``.pq``) file.

    The format is taken from the file's first bytes, so a misnamed file still reads; a
    ``.parquet`` or ``.gz`` name on other content is an error.

    Raises:
        DataValidationError: ``unreadable-file``, ``empty-file``, ``wrong-delimiter`` or
            ``wrong-field-count``.
    """
    where = Location(path=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataValidationError(UNREADABLE_FILE, f"cannot read the file ({exc.strerror or exc})",
                                  "check the path and the file's permissions", where) from None
    if not data:
        raise DataValidationError(EMPTY_FILE, "the file is empty (0 bytes)",
                                  "export the data again; the file has no header and no rows", where)
    suffixes = [s.lower() for s in path.suffixes]
    if data.startswith(_PARQUET_MAGIC):
        return _read_parquet(data, where)
    if suffixes[-1:] in ([".parquet"], [".pq"]):
        raise DataValidationError(
            UNREADABLE_FILE, "the file has a Parquet name but is not a Parquet file "
            "(it does not start with the bytes PAR1)",
            "write it again with df.to_parquet(path), or rename it if it is really CSV", where)
    if data.startswith(_GZIP_MAGIC) or suffixes[-1:] == [".gz"]:
        data = _gunzip(data, where)
        if not data:
            raise DataValidationError(EMPTY_FILE, "the compressed file holds nothing",
                                      "export the data again", where)
    return _read_csv(data, where)


def _gunzip(data: bytes, where: Location) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataValidationError(
            UNREADABLE_FILE, f"not a valid gzip file ({exc})",
            "compress the CSV again with gzip, or drop the .gz suffix if it is plain text", where
        ) from None


def _read_parquet(data: bytes, where: Location) -> RawTable:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        raise DataValidationError(
            UNREADABLE_FILE, f"the Parquet file is corrupt or truncated ({exc})",
            "write it again with df.to_parquet(path)", where) from None
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


def _read_csv(data: bytes, where: Location) -> RawTable:
    if data.startswith(_ZIP_MAGIC):
        raise DataValidationError(
            UNREADABLE_FILE, "the file is a ZIP archive or an Excel workbook, not CSV text",
            "export the sheet as CSV (File > Save As > CSV) or unzip the archive", where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataValidationError(
            UNREADABLE_FILE, "the file is binary or not UTF-8 text",
            "export the data as a UTF-8 CSV file or as Parquet", where) from None
    if "\x00" in text:
        raise DataValidationError(UNREADABLE_FILE, "the file holds binary data (NUL bytes), not text",
                                  "export the data as a UTF-8 CSV file or as Parquet", where)
    # Blank lines before the header are dropped; pandas cannot take its columns from a blank line.
    start = 0
    for line in io.StringIO(text):
        if line.strip():
            break
        start += len(line)
    text = text[start:]
    if not text:
        raise DataValidationError(EMPTY_FILE, "the file holds only blank lines",
                                  "export the data again", where)
    _check_delimiter(text[: text.find("\n") if "\n" in text else len(text)].rstrip("\r"), where)
    try:
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise _parser_error(str(exc), where) from None
    headers = [str(h).strip() for h in frame.iloc[0]]
    # Frame row k is the k-th line after the header, so it is data row k as an editor counts it
    # from the header; blank lines keep their number and are then dropped.
    keep = (frame != "").any(axis=1).to_numpy().copy()
    keep[0] = False
    if not keep.any():
        raise DataValidationError(EMPTY_FILE, "the file has a header but no data rows",
                                  "export the data again, with its rows", where)
    cells = frame[keep].reset_index(drop=True)
    cells.columns = headers
    return RawTable(cells, np.flatnonzero(keep))


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
