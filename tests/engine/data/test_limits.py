"""Bounded reading: only regular files, bytes and rows bounded, memory bounded by the bounds."""
from __future__ import annotations

import gzip
import os
import threading
import tracemalloc
import zlib
from pathlib import Path

import pandas as pd
import pytest

from engine.data import validation as v
from engine.data.io import read_ohlcv
from engine.data.limits import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    MAX_BYTES_ENV,
    MAX_ROWS_ENV,
    ReadLimits,
    parse_count,
    parse_size,
)
from engine.errors import DataValidationError, InvalidParameterError

HEADER = b"timestamp,open,high,low,close,volume\n"
ROW = b"2024-01-02,10,11,9,10.5,100\n"


def gzip_of(parts: tuple[bytes, ...], repeat: int) -> bytes:
    """gzip of ``parts[0] + parts[1] * repeat`` without holding the unpacked bytes in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    out = [packer.compress(parts[0])]
    block = parts[1] * max(1, 1_000_000 // len(parts[1]))
    for _ in range(repeat * len(parts[1]) // len(block)):
        out.append(packer.compress(block))
    out.append(packer.flush())
    return b"".join(out)


def read_in_thread(path: Path, timeout: float = 20.0) -> BaseException | None:
    """Read ``path`` in a thread; fail the test if that does not finish (a FIFO used to block forever)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            read_ohlcv(path)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed to the test)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"reading {path} did not finish in {timeout} s"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_issue16_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)
    error = read_in_thread(fifo)
    assert isinstance(error, DataValidationError) and error.rule == v.UNREADABLE_FILE
    assert "FIFO (named pipe), not a file" in str(error)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_issue16_devices_are_refused_before_reading(device):
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    error = read_in_thread(Path(device))  # /dev/zero used to end in MemoryError
    assert isinstance(error, DataValidationError) and error.rule == v.UNREADABLE_FILE
    assert "character device" in str(error)


def test_issue16_a_folder_is_refused(tmp_path):
    with pytest.raises(DataValidationError, match="the path is a folder") as caught:
        read_ohlcv(tmp_path)
    assert caught.value.location.path == str(tmp_path)


def test_issue16_a_gzip_of_blank_lines_stops_at_the_row_bound(tmp_path):
    # 20 KB of gzip that unpacks to 20 million blank lines took 2 GB of memory.
    path = tmp_path / "blank.csv.gz"
    path.write_bytes(gzip_of((HEADER, b"\n"), 20_000_000))
    assert path.stat().st_size < 25_000
    tracemalloc.start()
    try:
        with pytest.raises(DataValidationError, match="more than 1,000 data rows") as caught:
            read_ohlcv(path, limits=ReadLimits(max_rows=1_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.rule == v.TOO_MANY_ROWS
    assert peak < 64 * 2**20


def test_issue16_decompression_stops_at_the_byte_bound(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip_of((HEADER, ROW), 2_000_000))  # 56 MB of CSV in about 100 KB
    tracemalloc.start()
    try:
        with pytest.raises(DataValidationError, match="more than 1 MiB once decompressed") as caught:
            read_ohlcv(path, limits=ReadLimits(max_bytes=2**20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.rule == v.FILE_TOO_LARGE
    assert "--max-bytes" in caught.value.fix and MAX_BYTES_ENV in caught.value.fix
    assert peak < 32 * 2**20  # the whole file used to be unpacked first


def test_issue16_a_blank_line_bomb_before_the_header_stops_at_the_byte_bound(tmp_path):
    path = tmp_path / "blank.csv.gz"
    path.write_bytes(gzip_of((b"", b"\n"), 8 * 2**20))
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path, limits=ReadLimits(max_bytes=2**20))
    assert caught.value.rule == v.FILE_TOO_LARGE


def test_issue16_plain_and_parquet_files_are_bounded_before_reading(tmp_path):
    plain = tmp_path / "x.csv"
    plain.write_bytes(HEADER + ROW * 100)
    with pytest.raises(DataValidationError, match="more than 1 KiB") as caught:
        read_ohlcv(plain, limits=ReadLimits(max_bytes=1024))
    assert caught.value.rule == v.FILE_TOO_LARGE
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-02", periods=50, freq="D"),
                          "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.0, "volume": 1.0})
    parquet = tmp_path / "x.parquet"
    frame.to_parquet(parquet)
    with pytest.raises(DataValidationError, match="more than 49 data rows") as caught:
        read_ohlcv(parquet, limits=ReadLimits(max_rows=49))
    assert caught.value.rule == v.TOO_MANY_ROWS
    assert read_ohlcv(parquet, limits=ReadLimits(max_rows=50))[0].n_bars == 50


def test_rows_at_the_bound_are_read_and_blank_lines_count(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(HEADER + ROW + b"\n" + ROW.replace(b"01-02", b"01-03"))
    assert read_ohlcv(path, limits=ReadLimits(max_rows=3))[0].n_bars == 2
    with pytest.raises(DataValidationError, match="more than 2 data rows"):
        read_ohlcv(path, limits=ReadLimits(max_rows=2))


def test_a_long_first_line_is_not_a_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"a" * 100_000)
    with pytest.raises(DataValidationError, match="first line is longer than 64 KiB") as caught:
        read_ohlcv(path)
    assert caught.value.rule == v.UNREADABLE_FILE


def test_utf16_text_is_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes((HEADER + ROW).decode().encode("utf-16"))
    with pytest.raises(DataValidationError, match="UTF-16 text, not UTF-8"):
        read_ohlcv(path)


def test_gzip_with_bom_and_blank_lines_reads(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf\n\n" + HEADER + ROW + ROW.replace(b"01-02", b"01-03")))
    assert read_ohlcv(path)[0].n_bars == 2


@pytest.mark.parametrize("text, size", [("100", 100), ("64K", 65536), ("64KiB", 65536), ("512M", 512 * 2**20),
                                        ("2G", 2 * 2**30), ("2gb", 2 * 2**30), (4096, 4096)])
def test_parse_size(text, size):
    assert parse_size(text, "--max-bytes") == size


@pytest.mark.parametrize("text", ["", "0", "-5", "1.5G", "lots", "nan", "inf", "1e9", True])
def test_parse_size_refuses(text):
    with pytest.raises(InvalidParameterError, match="--max-bytes"):
        parse_size(text, "--max-bytes")


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5", "1e6", "many", False])
def test_parse_count_refuses(text):
    with pytest.raises(InvalidParameterError, match="--max-rows"):
        parse_count(text, "--max-rows")


def test_limits_come_from_arguments_then_environment_then_defaults(monkeypatch):
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    monkeypatch.delenv(MAX_ROWS_ENV, raising=False)
    assert ReadLimits.resolve() == ReadLimits(DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS)
    monkeypatch.setenv(MAX_BYTES_ENV, "1M")
    monkeypatch.setenv(MAX_ROWS_ENV, "1_000")
    assert ReadLimits.resolve() == ReadLimits(2**20, 1000)
    assert ReadLimits.resolve(max_bytes=5, max_rows=6) == ReadLimits(5, 6)
    monkeypatch.setenv(MAX_ROWS_ENV, "lots")
    with pytest.raises(InvalidParameterError, match=MAX_ROWS_ENV):
        ReadLimits.resolve()
