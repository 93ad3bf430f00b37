"""Open a user's data file for reading without trusting it: regular files only, bytes counted.

A path can name a FIFO (reading blocks forever), a device (``/dev/zero`` never ends), a folder, or
a small gzip file that unpacks to gigabytes. :func:`open_regular` refuses anything but a regular
file before reading a byte, and :class:`BoundedReader` hands out the (decompressed) bytes in chunks,
raising as soon as they pass the byte bound or hold a NUL byte (binary data, never CSV text).
"""
from __future__ import annotations

import io
import os
import stat
import zlib
from typing import BinaryIO

from engine.data.validation import FILE_TOO_LARGE, UNREADABLE_FILE
from engine.errors import DataValidationError, Location

_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
)
NOT_TEXT_FIX = "export the data as a UTF-8 CSV file or as Parquet"


def open_regular(path: os.PathLike | str, where: Location) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (after following links).

    The file is opened non-blocking and checked through its descriptor, so a FIFO is refused
    without waiting for a writer and nothing can swap the file between the check and the read.

    Raises:
        DataValidationError: ``unreadable-file``: missing, not permitted, or not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DataValidationError(UNREADABLE_FILE, f"cannot read the file ({exc.strerror or exc})",
                                  "check the path and the file's permissions", where) from None
    except ValueError:  # a NUL character in the path
        raise DataValidationError(UNREADABLE_FILE, "the path holds a NUL character",
                                  "check the path", where) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise DataValidationError(UNREADABLE_FILE, f"the path is {kind}, not a file",
                                  "give the path of a .csv, .csv.gz or .parquet file", where)
    return os.fdopen(fd, "rb")


class BoundedReader(io.RawIOBase):
    """The bytes of ``source``, refused past ``limit`` bytes or at the first NUL byte.

    Bytes given to :meth:`unread` are served again before the rest of ``source``.

    Args:
        source: The open file, or a :class:`gzip.GzipFile` over it.
        limit: Most bytes that may be read from ``source``.
        where: The file, for errors.
        compressed: Whether ``source`` decompresses gzip (for the wording of errors).
    """

    def __init__(self, source: BinaryIO, limit: int, where: Location, compressed: bool):
        super().__init__()
        self._source = source
        self._limit = limit
        self._where = where
        self._compressed = compressed
        self._pending = b""
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def unread(self, data: bytes) -> None:
        """Serve ``data`` before the rest of the source (it does not count again)."""
        self._pending = data + self._pending

    def readinto(self, buffer) -> int:
        if self._pending:
            n = min(len(buffer), len(self._pending))
            buffer[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        data = self._read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        try:
            data = self._source.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            if self._compressed:
                raise DataValidationError(
                    UNREADABLE_FILE, f"not a valid gzip file ({exc})",
                    "compress the CSV again with gzip, or drop the .gz suffix if it is plain text",
                    self._where) from None
            raise DataValidationError(UNREADABLE_FILE, f"cannot read the file ({exc})",
                                      "check the file and the disk", self._where) from None
        self.bytes_read += len(data)
        if self.bytes_read > self._limit:
            raise too_large_error(self._limit, self._where, "once decompressed" if self._compressed else "")
        if b"\x00" in data:
            raise DataValidationError(UNREADABLE_FILE, "the file holds binary data (NUL bytes), not text",
                                      NOT_TEXT_FIX, self._where)
        return data


def too_large_error(limit: int, where: Location, how: str = "") -> DataValidationError:
    """``file-too-large``: more than ``limit`` bytes (``how``: e.g. "once decompressed")."""
    return DataValidationError(
        FILE_TOO_LARGE, f"the file holds more than {_size(limit)}{' ' + how if how else ''}",
        "split the file, or raise the bound with --max-bytes SIZE (or the environment variable "
        "WORKBENCH_DATA_MAX_BYTES)", where)


def _size(count: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:g} {unit}"
    return f"{count} bytes"
