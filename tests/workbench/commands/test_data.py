"""`workbench data list | check | import` as a user runs them: output, exit codes, stored files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "engine" / "data" / "corpus"


def write_valid_csv(path: Path, rows: int = 30) -> Path:
    dates = pd.bdate_range("2024-01-02", periods=rows)
    close = [100.0 + i for i in range(rows)]
    frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": close, "High": [c + 2 for c in close],
                          "Low": [c - 2 for c in close], "Close": close, "Volume": [1000] * rows})
    frame.to_csv(path, index=False)
    return path


def test_data_list_json_has_every_builtin_dataset(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    by_name = {e["name"]: e for e in entries}
    assert {"sp500", "nasdaq", "stocks", "synthetic-hourly", "synthetic-30min", "synthetic-5min"} <= set(by_name)
    assert by_name["stocks"]["symbols"] == ["AAPL", "MSFT", "IBM", "GOOG", "FB"]
    assert by_name["sp500"]["start"] == "1999-01-04" and by_name["sp500"]["frequency"] == "1D"
    assert all(e["source"] for e in entries)


def test_data_list_table_has_a_header_and_a_row_per_dataset(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "KIND", "SYMBOLS", "FREQ"]
    assert len(lines) == 1 + 6


def test_check_valid_file_exits_0_with_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_valid_csv(tmp_path / "acme.csv")
    assert main(["data", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid, 1 symbol(s) (ACME), 30 bars, frequency 1D" in out


def test_check_bad_file_exits_2_with_one_line_on_stderr(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", str(CORPUS / "negative-volume.csv")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "negative-volume.csv, row 3 (2024-01-04), column 'volume': negative-volume" in lines[0]
    assert "Fix:" in lines[0]


def test_import_stores_the_dataset_and_lists_it(tmp_path: Path, workbench_home: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    path = write_valid_csv(tmp_path / "acme.csv")
    assert main(["data", "import", str(path), "--name", "acme-daily"]) == 0
    assert (workbench_home / "datasets" / "acme-daily" / "meta.json").is_file()
    capsys.readouterr()
    assert main(["data", "list", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out) if e["name"] == "acme-daily")
    assert entry["kind"] == "imported" and entry["symbols"] == ["ACME"] and entry["start"] == "2024-01-02"


def test_import_refuses_to_overwrite_without_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_valid_csv(tmp_path / "acme.csv")
    assert main(["data", "import", str(path), "--name", "acme"]) == 0
    assert main(["data", "import", str(path), "--name", "acme"]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert main(["data", "import", str(path), "--name", "acme", "--overwrite"]) == 0


def test_failed_import_stores_nothing(tmp_path: Path, workbench_home: Path) -> None:
    bad = shutil.copy(CORPUS / "high-below-open-close.csv", tmp_path / "bad.csv")
    assert main(["data", "import", str(bad), "--name", "bad"]) == 2
    datasets = workbench_home / "datasets"
    assert not datasets.exists() or not any(datasets.iterdir())


def test_import_of_a_builtin_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_valid_csv(tmp_path / "acme.csv")
    assert main(["data", "import", str(path), "--name", "sp500"]) == 2
    assert "sp500" in capsys.readouterr().err


def test_issue16_row_and_byte_bounds_are_options_and_environment(tmp_path: Path, monkeypatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    path = write_valid_csv(tmp_path / "acme.csv", rows=30)
    assert main(["data", "check", str(path), "--max-rows", "29"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too-many-rows: the file has more than 29 data rows" in err
    assert main(["data", "import", str(path), "--name", "acme", "--max-bytes", "1K"]) == 2
    assert "file-too-large: the file holds more than 1 KiB" in capsys.readouterr().err
    monkeypatch.setenv("WORKBENCH_DATA_MAX_ROWS", "10")
    assert main(["data", "check", str(path)]) == 2
    assert "more than 10 data rows" in capsys.readouterr().err
    assert main(["data", "check", str(path), "--max-rows", "30"]) == 0  # the option wins
    capsys.readouterr()
    for option, value in (("--max-rows", "0"), ("--max-rows", "lots"), ("--max-bytes", "-1"), ("--max-bytes", "nan")):
        assert main(["data", "check", str(path), option, value]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {option} ") and err.count("\n") == 1


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs on this platform")
def test_issue16_check_refuses_a_fifo_and_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert main(["data", "check", str(fifo)]) == 2
    assert "unreadable-file: the path is a FIFO (named pipe), not a file" in capsys.readouterr().err
    assert main(["data", "import", str(tmp_path), "--name", "x"]) == 2
    assert "the path is a folder, not a file" in capsys.readouterr().err


def test_issue16_check_accepts_pandas_default_csv_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.read_csv(write_valid_csv(tmp_path / "acme.csv"), index_col="Date", parse_dates=True)
    frame.index.name = None
    frame.to_csv(tmp_path / "default.csv")  # what df.to_csv(path) writes: an unnamed first column
    assert main(["data", "check", str(tmp_path / "default.csv")]) == 0
    captured = capsys.readouterr()
    assert "valid, 1 symbol(s) (DEFAULT), 30 bars" in captured.out
    assert "1 warning(s) (unnamed-timestamp-column x1)" in captured.out
    assert "is read as the timestamps" in caplog.text  # logged on stderr by the CLI


def test_issue16_usage_errors_are_one_line_too(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["data", "import", "x.csv", "--name", "-rf"])  # argparse reads -rf as an option
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err == ("error: workbench data import: argument --name: expected one argument "
                   "(see workbench data import --help)\n")
