"""Bounds on one data file, so that no input can exhaust memory or run forever.

A file is read in chunks and reading stops as soon as a bound is crossed: a gzip file of blank
lines that unpacks to gigabytes or a 2 MB upload that unpacks to 2 GB ends with a one-line error
instead of a ``MemoryError``. Peak memory of a check or an import grows with the rows kept, about
0.7 KB a row (a 100 MB CSV of 1 million one-minute bars peaked 650 MB above the process's own), so
the default bounds keep it under about 4 GB.

The bounds come from, in order: explicit values (the CLI's ``--max-bytes`` / ``--max-rows``), the
environment variables ``WORKBENCH_DATA_MAX_BYTES`` / ``WORKBENCH_DATA_MAX_ROWS``, then the defaults
below.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from engine.errors import InvalidParameterError

MAX_BYTES_ENV = "WORKBENCH_DATA_MAX_BYTES"
MAX_ROWS_ENV = "WORKBENCH_DATA_MAX_ROWS"
# 5 million rows are ten years of 24/7 one-minute bars, or twenty years of daily bars of 1,000
# symbols; 512 MiB holds them at up to 100 bytes a row.
DEFAULT_MAX_BYTES = 512 * 1024**2
DEFAULT_MAX_ROWS = 5_000_000
_SIZE = re.compile(r"([0-9]+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class ReadLimits:
    """How much one data file may hold.

    Attributes:
        max_bytes: Most bytes of CSV text (after gzip decompression), or of a Parquet file on disk
            and of its uncompressed column data.
        max_rows: Most data rows: lines after the header of a CSV file (blank lines included), or
            rows of a Parquet file.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_rows: int = DEFAULT_MAX_ROWS

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"ReadLimits.{name} {value!r} must be an integer >= 1")

    @classmethod
    def resolve(cls, max_bytes: int | None = None, max_rows: int | None = None) -> "ReadLimits":
        """The given bounds, else those of the environment variables, else the defaults.

        Raises:
            InvalidParameterError: A bound or an environment variable is not a positive size or
                count; the message names it.
        """
        if max_bytes is None:
            text = os.environ.get(MAX_BYTES_ENV, "").strip()
            max_bytes = parse_size(text, MAX_BYTES_ENV) if text else DEFAULT_MAX_BYTES
        if max_rows is None:
            text = os.environ.get(MAX_ROWS_ENV, "").strip()
            max_rows = parse_count(text, MAX_ROWS_ENV) if text else DEFAULT_MAX_ROWS
        return cls(max_bytes, max_rows)


def parse_size(value: str | int, what: str) -> int:
    """A byte count: an integer, or a number with a binary unit (``512M``, ``2G``, ``64KiB``).

    Raises:
        InvalidParameterError: ``value`` is not a positive size; the message names ``what``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.fullmatch(str(value).strip())
        if not match:
            raise InvalidParameterError(
                f"{what} {value!r} is not a size; write bytes or a number with K, M or G (e.g. 512M, 2G)")
        size = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if size < 1:
        raise InvalidParameterError(f"{what} {value!r} must be at least 1 byte")
    return size


def parse_count(value: str | int, what: str) -> int:
    """A row count: a positive integer (``5000000`` or ``5_000_000``).

    Raises:
        InvalidParameterError: ``value`` is not a positive integer; the message names ``what``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[0-9][0-9_]*", text):
            raise InvalidParameterError(f"{what} {value!r} is not a whole number of rows (e.g. 5000000)")
        count = int(text)
    if count < 1:
        raise InvalidParameterError(f"{what} {value!r} must be at least 1")
    return count
