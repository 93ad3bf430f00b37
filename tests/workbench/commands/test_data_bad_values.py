"""Issue 16: a bad-value corpus for the data commands (`data check`, `data import`, `data list`, `features`).

Every bad file or option value must end with exit status 2 and one line on stderr that starts with
``error:``, never a traceback. The CLI runs in-process (``workbench.cli.main``), so an exception
that would print a traceback fails the test itself; one case runs the real command line.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main

ROOT = Path(__file__).resolve().parents[3]
HEADER = "timestamp,open,high,low,close,volume\n"
GOOD_ROWS = "".join(f"2024-01-{day:02d},10,11,9,10.5,100\n" for day in range(2, 31))


def _csv(*rows: str, header: str = HEADER) -> Callable[[Path], None]:
    return lambda path: path.write_text(header + GOOD_ROWS[:28] + "".join(f"{r}\n" for r in rows))


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _parquet(**changes) -> Callable[[Path], None]:
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-02", periods=3, tz="UTC"), "open": 10.0,
                          "high": 11.0, "low": 9.0, "close": 10.0, "volume": 1.0})
    return lambda path: frame.assign(**changes).to_parquet(path)


def _fifo(path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)


# name, file name, how to make it, a piece of the expected message.
BAD_FILES = [
    ("nan-price", "x.csv", _csv("2024-01-03,NaN,11,9,10,1"), "not-finite"),
    ("inf-price", "x.csv", _csv("2024-01-03,10,inf,9,10,1"), "not-finite"),
    ("minus-inf-price", "x.csv", _csv("2024-01-03,10,11,-inf,10,1"), "not-finite"),
    ("huge-price", "x.csv", _csv("2024-01-03,1e306,1e306,1e306,1e306,1"), "price-out-of-range"),
    ("subnormal-price", "x.csv", _csv("2024-01-03,5e-324,5e-324,5e-324,5e-324,1"), "price-out-of-range"),
    ("overflowing-price", "x.csv", _csv("2024-01-03,1" + "0" * 400 + ",11,9,10,1"), "not-finite"),
    ("huge-volume", "x.csv", _csv("2024-01-03,10,11,9,10,1e300"), "volume-out-of-range"),
    ("negative-price", "x.csv", _csv("2024-01-03,-10,11,9,10,1"), "non-positive-price"),
    ("zero-price", "x.csv", _csv("2024-01-03,0,11,9,10,1"), "non-positive-price"),
    ("negative-volume", "x.csv", _csv("2024-01-03,10,11,9,10,-1"), "negative-volume"),
    ("empty-cell", "x.csv", _csv("2024-01-03,10,,9,10,1"), "not-finite"),
    ("text-price", "x.csv", _csv("2024-01-03,ten,11,9,10,1"), "non-numeric"),
    ("bool-price", "x.csv", _csv("2024-01-03,true,11,9,10,1"), "non-numeric"),
    ("hex-price", "x.csv", _csv("2024-01-03,0x10,11,9,10,1"), "non-numeric"),
    ("year-9999", "x.csv", _csv("9999-01-03,10,11,9,10,1"), "bad-timestamp"),
    ("year-0001", "x.csv", _csv("0001-01-03,10,11,9,10,1"), "bad-timestamp"),
    ("year-2300", "x.csv", _csv("2300-01-03,10,11,9,10,1"), "bad-timestamp"),
    ("month-13", "x.csv", _csv("2024-13-03,10,11,9,10,1"), "bad-timestamp"),
    ("empty-timestamp", "x.csv", _csv(",10,11,9,10,1"), "bad-timestamp"),
    ("epoch-timestamp", "x.csv", _csv("99999999999999999999,10,11,9,10,1"), "bad-timestamp"),
    ("too-many-fields", "x.csv", _csv("2024-01-03,10,11,9,10,1,1,1"), "wrong-field-count"),
    ("open-quote", "x.csv", _csv('2024-01-03,"10,11,9,10,1'), "unreadable-file"),
    ("header-only", "x.csv", _bytes(HEADER.encode()), "empty-file"),
    ("empty-file", "x.csv", _bytes(b""), "empty-file"),
    ("blank-lines", "x.csv", _bytes(b"\n \n\n"), "empty-file"),
    ("binary-junk", "x.csv", _bytes(random.Random(16).randbytes(5000)), "unreadable-file"),
    ("gzip-junk", "x.csv.gz", _bytes(b"\x1f\x8b" + random.Random(16).randbytes(300)), "unreadable-file"),
    ("gzip-of-nothing", "x.csv.gz", _bytes(gzip.compress(b"")), "empty-file"),
    ("utf16", "x.csv", _bytes((HEADER + GOOD_ROWS).encode("utf-16")), "unreadable-file"),
    ("parquet-text-price", "x.parquet", _parquet(open=["a", "b", "c"]), "non-numeric"),
    ("parquet-list-price", "x.parquet", _parquet(open=[[1.0], [2.0], [3.0]]), "non-numeric"),
    ("parquet-nat-timestamps", "x.parquet", _parquet(timestamp=pd.NaT), "bad-timestamp"),
    ("parquet-int-timestamps", "x.parquet", _parquet(timestamp=[1, 2, 3]), "bad-timestamp"),
    ("parquet-truncated", "x.parquet", _bytes(b"PAR1" + b"\x00" * 64), "unreadable-file"),
    ("folder", "folder", lambda path: path.mkdir(), "the path is a folder"),
    ("fifo", "x.csv", _fifo, "FIFO"),
]
COMMANDS = {
    "check": lambda path, tmp: ["data", "check", str(path)],
    "import": lambda path, tmp: ["data", "import", str(path), "--name", "bad"],
    "features": lambda path, tmp: ["features", str(path), "--out", str(tmp / "features.parquet")],
}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``workbench ARGV``; argparse's own errors exit through SystemExit."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(argv: list[str], expected: str, capsys: pytest.CaptureFixture) -> str:
    code, _, err = run_cli(argv, capsys)
    assert code == 2, f"{argv} exited {code}: {err}"
    assert err.count("\n") == 1 and err.startswith("error: "), f"{argv} printed {err!r}"
    assert "Traceback" not in err
    assert expected in err, f"{argv}: {expected!r} not in {err!r}"
    return err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case, name, make, expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_issue16_bad_files_give_one_line_errors(tmp_path: Path, workbench_home: Path, capsys, command,
                                                case, name, make, expected) -> None:
    path = tmp_path / name
    make(path)
    assert_one_line_error(COMMANDS[command](path, tmp_path), expected, capsys)
    assert not (workbench_home / "datasets" / "bad").exists()
    assert not (tmp_path / "features.parquet").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_issue16_a_missing_file_gives_one_line_errors(tmp_path: Path, capsys, command) -> None:
    expected = "neither a dataset name nor an existing file" if command == "features" else "No such file"
    assert_one_line_error(COMMANDS[command](tmp_path / "missing.csv", tmp_path), expected, capsys)


# Option values: argv after the good file is put in place of {file}, {out}, {intraday}.
BAD_OPTIONS = [
    (["data", "check", "{intraday}", "--tz", ""], "unknown time zone ''"),
    (["data", "check", "{intraday}", "--tz", "Mars/Olympus"], "unknown time zone"),
    (["data", "check", "{intraday}", "--tz", "nan"], "unknown time zone"),
    (["data", "check", "{file}", "--symbol", " "], "symbol must not be empty"),
    (["data", "check", "{file}", "--max-rows", "nan"], "--max-rows 'nan' is not a whole number"),
    (["data", "check", "{file}", "--max-rows", "inf"], "--max-rows 'inf'"),
    (["data", "check", "{file}", "--max-rows", "-5"], "--max-rows '-5'"),
    (["data", "check", "{file}", "--max-rows", "0"], "must be at least 1"),
    (["data", "check", "{file}", "--max-rows", "1e9"], "--max-rows '1e9'"),
    (["data", "check", "{file}", "--max-rows", "28"], "too-many-rows"),
    (["data", "check", "{file}", "--max-bytes", "0"], "must be at least 1 byte"),
    (["data", "check", "{file}", "--max-bytes", "1.5G"], "is not a size"),
    (["data", "check", "{file}", "--max-bytes", "-1"], "is not a size"),
    (["data", "check", "{file}", "--max-bytes", "100"], "file-too-large"),
    (["data", "check", "{file}", "--bogus"], "unrecognized arguments: --bogus"),
    (["data", "check", "\x00"], "NUL character"),
    (["data", "import", "{file}", "--name", ""], "dataset name '' is not valid"),
    (["data", "import", "{file}", "--name", "a/b"], "is not valid"),
    (["data", "import", "{file}", "--name=-rf"], "starting with a letter or digit"),
    (["data", "import", "{file}", "--name", "-rf"], "--name: expected one argument"),
    (["data", "import", "{file}", "--name", "x" * 65], "is not valid"),
    (["data", "import", "{file}", "--name", "SP500"], "built-in dataset"),
    (["data", "import", "{file}", "--name", "ok", "--symbol", ""], "symbol must not be empty"),
    (["data", "import", "{file}"], "the following arguments are required: --name"),
    (["data", "list", "--bogus"], "unrecognized arguments"),
    (["features", "{file}", "--out", "{out}", "--start", "99999-01-01"], "--start: cannot read '99999-01-01'"),
    (["features", "{file}", "--out", "{out}", "--start", "nan"], "--start: 'nan' is not a date"),
    (["features", "{file}", "--out", "{out}", "--start", ""], "--start: '' is not a date"),
    (["features", "{file}", "--out", "{out}", "--start", "2030-01-01"], "no bars left"),
    (["features", "{file}", "--out", "{out}", "--end", "garbage"], "--end: cannot read 'garbage'"),
    (["features", "{file}", "--out", "{out}", "--end", "9999-12-31"], "outside the years 1678-2261"),
    (["features", "{file}", "--out", "{out}", "--end", "1900-01-01"], "has no bars between"),
    (["features", "{file}", "--out", "{out}", "--symbol", ""], "--symbol '' names an empty symbol"),
    (["features", "{file}", "--out", "{out}", "--symbol", "A,,B"], "names an empty symbol"),
    (["features", "{file}", "--out", "{out}", "--symbol", "NOPE"], "symbol 'NOPE' is not in dataset"),
    (["features", "{file}", "--out", "{out}", "--normalize", "zscore"], "--normalize needs --train"),
    (["features", "{file}", "--out", "{out}", "--normalize", "bogus"], "invalid choice: 'bogus'"),
    (["features", "{file}", "--out", "{out}", "--normalize", "zscore", "--train", "a:b"], "is not START:END"),
    (["features", "{file}", "--out", "{file}"], "must end in .parquet"),
    (["features", "{file}", "--out", "/proc/no-such-folder/f.parquet"], "cannot write it"),
    (["features", "{intraday}", "--out", "{out}", "--tz", "Nope/Zone"], "unknown time zone"),
    (["features", "no-such-dataset", "--out", "{out}"], "neither a dataset name nor an existing file"),
    (["features", "", "--out", "{out}"], "neither a dataset name nor an existing file"),
    (["features", "synthetic-hourly:n_symbols=-1", "--out", "{out}"], "n_symbols must be in"),
    (["features", "synthetic-hourly:seed=nan", "--out", "{out}"], "is not a valid int"),
    (["features", "synthetic-hourly:bogus=1", "--out", "{out}"], "unknown synthetic parameter"),
]


@pytest.mark.parametrize("argv, expected", BAD_OPTIONS, ids=[" ".join(c[0]).replace("{", "").replace("}", "")[:70]
                                                           for c in BAD_OPTIONS])
def test_issue16_bad_option_values_give_one_line_errors(tmp_path: Path, workbench_home: Path, capsys,
                                                        argv, expected) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD_ROWS)
    intraday = tmp_path / "intraday.csv"
    intraday.write_text(HEADER + "2024-01-02 09:30,10,11,9,10.5,100\n2024-01-02 09:31,10,11,9,10.5,100\n")
    values = {"{file}": str(good), "{out}": str(tmp_path / "f.parquet"), "{intraday}": str(intraday)}
    assert_one_line_error([values.get(a, a) for a in argv], expected, capsys)
    assert not (workbench_home / "datasets").exists() or not any((workbench_home / "datasets").iterdir())
    assert not (tmp_path / "f.parquet").exists()


def _damage(folder: Path, how: str) -> None:
    meta = folder / "meta.json"
    good = json.loads(meta.read_text())
    damaged = {
        "list": "[1, 2]", "number": "5", "null": "null", "binary": b"\xff\xfe\x00junk",
        "nan-values": '{"name": NaN, "symbols": NaN, "frequency": NaN, "fingerprint": NaN}',
        "symbols-number": json.dumps({**good, "name": folder.name, "symbols": 5}),
        "symbols-empty": json.dumps({**good, "name": folder.name, "symbols": []}),
        "no-start": json.dumps({k: v for k, v in good.items() if k != "start"} | {"name": folder.name}),
        "other-name": json.dumps({**good, "name": "other"}),
        "bad-frequency": json.dumps({**good, "name": folder.name, "frequency": "banana"}),
    }[how]
    if how == "binary":
        meta.write_bytes(damaged)
    else:
        meta.write_text(damaged)


DAMAGES = ["list", "number", "null", "binary", "nan-values", "symbols-number", "symbols-empty", "no-start",
           "other-name", "bad-frequency"]


@pytest.mark.parametrize("how", DAMAGES)
def test_issue16_data_list_skips_a_damaged_dataset_and_loading_it_is_one_line(
        tmp_path: Path, workbench_home: Path, capsys, caplog, how) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD_ROWS)
    assert main(["data", "import", str(good), "--name", "kept"]) == 0
    shutil.copytree(workbench_home / "datasets" / "kept", workbench_home / "datasets" / "damaged")
    _damage(workbench_home / "datasets" / "damaged", how)
    capsys.readouterr()
    for argv in (["data", "list"], ["data", "list", "--json"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 0 and err == ""
        assert "kept" in out and "damaged" not in out
    assert "skipping dataset folder" in caplog.text
    assert_one_line_error(["features", "damaged", "--out", str(tmp_path / "f.parquet")],
                          "import the source file again", capsys)


def test_issue16_a_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    frame = pd.DataFrame({"timestamp": pd.bdate_range("2020-01-02", periods=30).strftime("%Y-%m-%d"),
                          "open": np.full(30, 1e306), "high": 1e306, "low": 1e306, "close": 1e306, "volume": 1.0})
    frame.to_csv(path, index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "data", "check", str(path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {path}, row 1")
    assert "price-out-of-range" in done.stderr and "Traceback" not in done.stderr
