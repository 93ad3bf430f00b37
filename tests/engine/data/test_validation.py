"""Validation rules: a bad-input corpus (one file per rule), valid files, and the warnings."""
from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import validation as v
from engine.data.columns import resolve_columns
from engine.data.io import read_ohlcv
from engine.errors import DataValidationError

CORPUS = Path(__file__).parent / "corpus"
NY = "America/New_York"

# file, tz, rule, row, timestamp as written, column as written, symbol, a piece of the fix.
# Rows are 1-based data rows: row 1 is the line right after the header.
CASES = [
    ("missing-column.csv", None, v.MISSING_COLUMN, None, None, "close", None, "name the column 'close'"),
    ("duplicate-column.csv", None, v.DUPLICATE_COLUMN, None, None, "Close", None, "keep one of them"),
    ("non-numeric.csv", None, v.NON_NUMERIC, 2, "2024-01-03", "close", None, "write plain numbers"),
    ("not-finite.csv", None, v.NOT_FINITE, 3, "2024-01-04", "close", None, "fill in the value"),
    ("non-positive-price.csv", None, v.NON_POSITIVE_PRICE, 2, "2024-01-03", "low", None,
     "prices must be > 0"),
    ("negative-volume.csv", None, v.NEGATIVE_VOLUME, 3, "2024-01-04", "volume", None, "volume must be >= 0"),
    ("price-out-of-range.csv", None, v.PRICE_OUT_OF_RANGE, 2, "2024-01-03", "high", None,
     "prices must lie between 1e-08 and 1e+12"),
    ("volume-out-of-range.csv", None, v.VOLUME_OUT_OF_RANGE, 3, "2024-01-04", "volume", None,
     "volume must be at most 1e+18"),
    # Row 2: high 10.9 < max(open 10.5, close 11.0) = 11.0.
    ("high-below-open-close.csv", None, v.HIGH_BELOW_OPEN_CLOSE, 2, "2024-01-03", "high", None,
     "the high must be >= open and close"),
    # Row 1: low 10.2 > min(open 10.0, close 10.5) = 10.0.
    ("low-above-open-close.csv", None, v.LOW_ABOVE_OPEN_CLOSE, 1, "2024-01-02", "low", None,
     "the low must be <= open and close"),
    ("duplicate-timestamp.csv", None, v.DUPLICATE_TIMESTAMP, 3, "2024-01-03", "timestamp", None,
     "keep one bar per timestamp"),
    ("unsorted-timestamps.csv", None, v.UNSORTED_TIMESTAMPS, 3, "2024-01-03", "timestamp", None,
     "sort the rows by timestamp"),
    ("missing-timezone.csv", None, v.MISSING_TIMEZONE, 1, "2024-01-02 09:30:00", "timestamp", None,
     "pass the zone the times were recorded in"),
    ("mixed-timezones.csv", None, v.MIXED_TIMEZONES, 3, "2024-01-02 09:40:00", "timestamp", None,
     "write every timestamp with its UTC offset"),
    ("bad-timestamp.csv", None, v.BAD_TIMESTAMP, 2, "01/03/2024", "timestamp", None, "ISO 8601"),
    # New York clocks went back at 02:00 EDT on 2024-11-03, so 01:30 happened twice.
    ("ambiguous-time.csv", NY, v.AMBIGUOUS_TIME, 2, "2024-11-03 01:30:00", "timestamp", None,
     "so the repeated hour is unambiguous"),
    # New York clocks jumped from 02:00 to 03:00 EST->EDT on 2024-03-10, so 02:30 never happened.
    ("nonexistent-time.csv", NY, v.NONEXISTENT_TIME, 2, "2024-03-10 02:30:00", "timestamp", None,
     "write the timestamps with UTC offsets"),
    ("empty-file.csv", None, v.EMPTY_FILE, None, None, None, None, "export the data again"),
    ("wrong-delimiter.csv", None, v.WRONG_DELIMITER, None, None, None, None, "save it comma-separated"),
    ("wrong-field-count.csv", None, v.WRONG_FIELD_COUNT, 2, None, None, None, "one value per header column"),
    ("missing-symbol.csv", None, v.MISSING_SYMBOL, 3, "2024-01-03", "symbol", None, "fill in the symbol"),
    ("too-few-bars.csv", None, v.TOO_FEW_BARS, None, None, None, None, "at least two bars"),
    # BBB's second bar is the 4th data row of the file (AAA and BBB rows interleave).
    ("multi-symbol-bad-row.csv", None, v.HIGH_BELOW_OPEN_CLOSE, 4, "2024-01-03", "high", "BBB",
     "the high must be >= open and close"),
]


@pytest.mark.parametrize("name, tz, rule, row, timestamp, column, symbol, fix", CASES,
                         ids=[c[0] for c in CASES])
def test_corpus_file_names_rule_row_timestamp_column_and_fix(name, tz, rule, row, timestamp, column,
                                                              symbol, fix):
    path = CORPUS / name
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path, tz=tz)
    error = caught.value
    assert error.rule == rule
    assert (error.location.row, error.location.timestamp) == (row, timestamp)
    assert (error.location.column, error.location.symbol) == (column, symbol)
    assert error.location.path == str(path)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert f"{rule}: " in message and "Fix: " in message and fix in message
    if row is not None:
        assert f"row {row}" + (f" ({timestamp})" if timestamp else "") in message
    if column is not None:
        assert f"column '{column}'" in message


def test_every_rule_id_has_a_corpus_file_or_a_generated_case():
    # Unreadable bytes are generated below; bounds on size and rows in test_limits.py.
    covered = {case[2] for case in CASES} | {v.UNREADABLE_FILE, v.FILE_TOO_LARGE, v.TOO_MANY_ROWS}
    assert set(v.RULES) == covered
    assert len(set(v.RULES)) == len(v.RULES)


def test_missing_column_suggests_the_misspelt_header():
    with pytest.raises(DataValidationError, match=r"did you mean 'Clsoe'\?"):
        read_ohlcv(CORPUS / "missing-column.csv")


def test_non_numeric_names_the_cell_text():
    with pytest.raises(DataValidationError, match=r"'\$11.00' is not a number"):
        read_ohlcv(CORPUS / "non-numeric.csv")


def test_wrong_delimiter_names_the_delimiter():
    with pytest.raises(DataValidationError, match="separated by ';', not commas"):
        read_ohlcv(CORPUS / "wrong-delimiter.csv")


VALID = "timestamp,open,high,low,close,volume\n2024-01-02,10.0,11.0,9.5,10.5,1000\n" \
        "2024-01-03,10.5,11.2,10.1,11.0,1200\n"


@pytest.mark.parametrize("name, make, detail", [
    ("prices.csv", lambda: b"", "0 bytes"),
    ("prices.csv.gz", lambda: b"not gzip at all", "not a valid gzip file"),
    ("prices.csv.gz", lambda: gzip.compress(VALID.encode())[:25], "not a valid gzip file"),
    ("prices.csv", lambda: bytes(range(256)) * 4, "binary"),
    ("prices.csv", lambda: b"PK\x03\x04" + b"\x00" * 40, "Excel workbook"),
], ids=["zero-bytes", "bad-gzip", "truncated-gzip", "binary-garbage", "xlsx"])
def test_unreadable_or_empty_csv_bytes(tmp_path, name, make, detail):
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(DataValidationError, match=detail) as caught:
        read_ohlcv(path)
    assert caught.value.rule in (v.UNREADABLE_FILE, v.EMPTY_FILE)
    assert caught.value.location.path == str(path)


def test_parquet_name_on_csv_content_is_unreadable(tmp_path):
    path = tmp_path / "prices.parquet"
    path.write_text(VALID)
    with pytest.raises(DataValidationError, match="not a Parquet file") as caught:
        read_ohlcv(path)
    assert caught.value.rule == v.UNREADABLE_FILE


def test_truncated_parquet_is_unreadable(tmp_path):
    frame = pd.DataFrame({"timestamp": ["2024-01-02", "2024-01-03"], "open": [1.0, 2.0],
                          "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0], "volume": [0.0, 0.0]})
    good = tmp_path / "good.parquet"
    frame.to_parquet(good)
    path = tmp_path / "bad.parquet"
    path.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataValidationError, match="corrupt or truncated") as caught:
        read_ohlcv(path)
    assert caught.value.rule == v.UNREADABLE_FILE


def test_empty_parquet_is_empty_file(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({c: pd.Series(dtype="float64") for c in ("timestamp", "open", "high", "low", "close",
                                                          "volume")}).to_parquet(path)
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    assert caught.value.rule == v.EMPTY_FILE


@pytest.mark.parametrize("cell, shown", [("inf", "inf"), ("-Infinity", "-inf"), ("NaN", "empty or NaN"),
                                         ("", "empty or NaN")])
def test_not_finite_cells(tmp_path, cell, shown):
    path = tmp_path / "x.csv"
    path.write_text(VALID + f"2024-01-04,11.0,{cell},10.8,11.3,900\n")
    with pytest.raises(DataValidationError, match=shown) as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.row, caught.value.location.column) == \
        (v.NOT_FINITE, 3, "high")


def test_thousands_separator_gets_a_hint(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('timestamp,open,high,low,close,volume\n2024-01-02,1,2,1,2,"1,000"\n')
    with pytest.raises(DataValidationError, match="thousands or decimal separator") as caught:
        read_ohlcv(path)
    assert caught.value.location.column == "volume"


def test_unnamed_index_column_hint(tmp_path):
    # An empty first header is read as the timestamps (test_issue16_...); an 'index' column is hinted.
    path = tmp_path / "x.csv"
    path.write_text("index,open,high,low,close,volume\n2024-01-02,1,2,1,2,5\n")
    with pytest.raises(DataValidationError, match="index_label='timestamp'") as caught:
        read_ohlcv(path)
    assert caught.value.location.column == "timestamp"


def test_aliases_are_case_insensitive_and_adj_close_is_ignored():
    headers = ["Date", "OPEN", "High", " low ", "Close", "Adj Close", "Volume"]
    assert resolve_columns(headers, "f.csv") == {
        "timestamp": "Date", "open": "OPEN", "high": "High", "low": " low ", "close": "Close",
        "volume": "Volume"}
    assert resolve_columns(headers, "f.csv", adjusted=True)["adj_close"] == "Adj Close"


def test_valid_file_passes_and_round_trips_values_exactly(tmp_path):
    # Values chosen to be awkward in binary: each must come back as float(text), bit for bit.
    text = ("timestamp,open,high,low,close,volume\n"
            "2024-01-02,0.1,0.30000000000000004,0.1,0.2,0\n"
            "2024-01-03,123456789.12345679,123456789.9,1e-07,1.5e-07,12345678901234\n"
            "2024-01-04,3.141592653589793,3.2,2.718281828459045,3.0,0.5\n")
    path = tmp_path / "pi.csv"
    path.write_text(text)
    data, warnings = read_ohlcv(path)
    rows = [line.split(",") for line in text.splitlines()[1:]]
    expected = np.array([[float(cell) for cell in row[1:]] for row in rows])
    long = data.to_long()
    assert np.array_equal(long[["open", "high", "low", "close", "volume"]].to_numpy(), expected)
    assert list(long["timestamp"].dt.strftime("%Y-%m-%d")) == [row[0] for row in rows]
    assert data.symbols == ("PI",)
    # 0.2 -> 1.5e-07 and 1.5e-07 -> 3.0 are extreme moves, nothing else warns.
    assert [w.rule for w in warnings] == [v.EXTREME_MOVE, v.EXTREME_MOVE]


def _daily_csv(path: Path, dates, closes=None, opens=None) -> Path:
    closes = np.full(len(dates), 100.0) if closes is None else np.asarray(closes, dtype=float)
    opens = closes if opens is None else np.asarray(opens, dtype=float)
    frame = pd.DataFrame({"timestamp": [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates],
                          "open": opens, "high": np.maximum(opens, closes) * 1.01,
                          "low": np.minimum(opens, closes) * 0.99, "close": closes, "volume": 1000.0})
    frame.to_csv(path, index=False)
    return path


US_HOLIDAYS_2024 = ["2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19",
                    "2024-07-04", "2024-09-02", "2024-11-28", "2024-12-25"]


def test_no_gap_warning_on_weekends_and_holidays_of_daily_stock_data(tmp_path):
    days = pd.bdate_range("2024-01-01", "2024-12-31").difference(pd.DatetimeIndex(US_HOLIDAYS_2024))
    _, warnings = read_ohlcv(_daily_csv(tmp_path / "spy.csv", days))
    assert warnings == []


def test_no_gap_warning_on_the_seven_day_closure_after_9_11(tmp_path):
    # Last bar Mon 2001-09-10, next bar Mon 2001-09-17: exactly 7 days, not more than 7.
    days = pd.bdate_range("2001-08-01", "2001-10-31").difference(pd.bdate_range("2001-09-11", "2001-09-14"))
    _, warnings = read_ohlcv(_daily_csv(tmp_path / "spy.csv", days))
    assert warnings == []


def test_gap_warning_on_a_missing_fortnight_of_daily_data(tmp_path):
    days = pd.bdate_range("2024-01-02", "2024-02-29").difference(pd.bdate_range("2024-02-01", "2024-02-14"))
    path = _daily_csv(tmp_path / "spy.csv", days)
    _, warnings = read_ohlcv(path)
    # 2024-01-31 -> 2024-02-15 is 15 days > max(10 x 1 day, 7 days) = 10 days.
    assert len(warnings) == 1
    warning = warnings[0]
    assert warning.rule == v.LARGE_GAP
    assert warning.location.timestamp == "2024-02-15"
    assert warning.location.row == list(days).index(pd.Timestamp("2024-02-15")) + 1
    assert "15 days" in warning.detail and "2024-01-31" in warning.detail
    assert str(warning).startswith(f"{path}, row {warning.location.row} (2024-02-15)")


def _intraday_csv(path: Path, stamps: pd.DatetimeIndex) -> Path:
    price = 50.0
    frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S%z"), "open": price,
                          "high": price, "low": price, "close": price, "volume": 10.0})
    frame.to_csv(path, index=False)
    return path


def _session_bars(days) -> pd.DatetimeIndex:
    stamps = [pd.date_range(f"{d:%Y-%m-%d} 09:30", f"{d:%Y-%m-%d} 15:55", freq="5min", tz=NY) for d in days]
    return stamps[0].append(stamps[1:])


def test_no_gap_warning_on_overnight_and_weekend_gaps_of_intraday_data(tmp_path):
    days = pd.bdate_range("2024-01-02", "2024-01-31").difference(pd.DatetimeIndex(["2024-01-15"]))
    # Friday 2024-01-12 16:00 -> Tuesday 2024-01-16 09:30 (long weekend) is under 4 days.
    _, warnings = read_ohlcv(_intraday_csv(tmp_path / "es.csv", _session_bars(days)))
    assert warnings == []


def test_gap_warning_on_a_missing_week_of_intraday_data(tmp_path):
    days = pd.bdate_range("2024-01-02", "2024-01-31").difference(pd.bdate_range("2024-01-15", "2024-01-19"))
    _, warnings = read_ohlcv(_intraday_csv(tmp_path / "es.csv", _session_bars(days)))
    # Fri 2024-01-12 15:55 -> Mon 2024-01-22 09:30 EST is 9 days 17:35 > max(10 x 5min, 7 days).
    assert [w.rule for w in warnings] == [v.LARGE_GAP]
    assert warnings[0].location.timestamp == "2024-01-22T09:30:00-0500"


def test_extreme_move_warns_above_fifty_percent_only(tmp_path, caplog):
    # 100 -> 149 is +49% (quiet), 149 -> 74 is -50.3% (warns), 74 -> 112 is +51.4% (warns). Each bar
    # opens at the close before it: no gap that looks like a split.
    days = pd.bdate_range("2024-01-02", periods=4)
    closes = [100.0, 149.0, 74.0, 112.0]
    path = _daily_csv(tmp_path / "x.csv", days, closes, opens=[100.0] + closes[:-1])
    with caplog.at_level(logging.WARNING, logger="engine.data.validation"):
        _, warnings = read_ohlcv(path)
    assert [(w.rule, w.location.row, w.location.column) for w in warnings] == [
        (v.EXTREME_MOVE, 3, "close"), (v.EXTREME_MOVE, 4, "close")]
    assert "-50.3%" in warnings[0].detail and "+51.4%" in warnings[1].detail
    assert [r.getMessage() for r in caplog.records] == [w.message for w in warnings]


def test_warnings_beyond_the_cap_are_summarised(tmp_path):
    closes = [100.0, 250.0] * 8  # 15 moves: +150% (x8) and -60% (x7), all extreme; 10 listed + 5
    _, warnings = read_ohlcv(_daily_csv(tmp_path / "x.csv", pd.bdate_range("2024-01-02", periods=16), closes))
    assert len(warnings) == v.MAX_WARNINGS_PER_RULE + 1
    assert warnings[-1].detail == "5 more extreme moves not listed"
    assert warnings[-1].location.row is None


def _walk(scale: float, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"timestamp": pd.bdate_range("2020-01-02", periods=n).strftime("%Y-%m-%d"),
                         "open": open_ * scale, "high": np.maximum(open_, close) * 1.01 * scale,
                         "low": np.minimum(open_, close) * 0.99 * scale, "close": close * scale,
                         "volume": 1000.0})


@pytest.mark.parametrize("scale", [1e306, 1e11, 5e-324, 1e-11])
def test_issue16_prices_near_the_float_limits_are_refused(tmp_path, scale):
    # The same walk scaled by 1e306 made sma_cross trade 0 times; 5e-324 failed in the vectorbt bridge.
    frame = _walk(1.0)
    frame[["open", "high", "low", "close"]] *= scale  # 5e-324 x ~100 is still 5e-324 or 0
    frame.loc[frame["low"] <= 0, ["open", "high", "low", "close"]] = 5e-324
    path = tmp_path / "walk.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    error = caught.value
    assert (error.rule, error.location.row, error.location.column) == (v.PRICE_OUT_OF_RANGE, 1, "open")
    assert f"price {float(frame['open'].iloc[0])!r} is outside [1e-08, 1e+12]" in str(error)


def test_issue16_prices_and_volumes_at_the_bounds_are_accepted(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2024-01-02,1e-08,1e-08,1e-08,1e-08,0\n"
                    "2024-01-03,1e12,1e12,1e12,1e12,1e18\n")
    data, _ = read_ohlcv(path)
    assert data.close[:, 0].tolist() == [1e-08, 1e12] and data.volume[-1, 0] == 1e18


def test_issue16_adjusted_prices_must_stay_in_range(tmp_path):
    path = tmp_path / "adj.csv"
    path.write_text("timestamp,open,high,low,close,adj_close,volume\n"
                    "2024-01-02,10,11,9,10,1e-09,100\n2024-01-03,10,11,9,10,1,100\n")
    with pytest.raises(DataValidationError, match="outside") as caught:
        read_ohlcv(path, adjusted=True)
    assert (caught.value.rule, caught.value.location.row, caught.value.location.column) == \
        (v.PRICE_OUT_OF_RANGE, 1, "adj_close")


# --- issue 16 item 11: pandas' default CSV, split factors, the ignored Adj Close ----------------------

def test_issue16_pandas_default_csv_reads_its_unnamed_index_as_timestamps(tmp_path, caplog):
    frame = pd.DataFrame({"Open": [10.0, 10.5], "High": [11.0, 11.5], "Low": [9.0, 10.0],
                          "Close": [10.5, 11.0], "Volume": [100, 200]},
                         index=pd.DatetimeIndex(["2004-08-19", "2004-08-20"]))
    path = tmp_path / "goog.csv"
    frame.to_csv(path)  # header ",Open,High,...": backtesting.py's GOOG.csv has it too
    assert path.read_text().startswith(",Open,High")
    with caplog.at_level(logging.WARNING):
        data, warnings = read_ohlcv(path)
    assert list(data.index) == [pd.Timestamp("2004-08-19", tz="UTC"), pd.Timestamp("2004-08-20", tz="UTC")]
    assert data.close[:, 0].tolist() == [10.5, 11.0]
    assert [w.rule for w in warnings] == [v.UNNAMED_TIMESTAMP_COLUMN]
    assert "unnamed first column" in caplog.text


def test_issue16_unnamed_zero_is_read_but_two_empty_headers_are_not(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Unnamed: 0,open,high,low,close,volume\n2024-01-02,1,2,1,2,5\n2024-01-03,1,2,1,2,5\n")
    assert read_ohlcv(path)[0].n_bars == 2
    path.write_text(",open,high,low,close,volume,\n2024-01-02,1,2,1,2,5,\n2024-01-03,1,2,1,2,5,\n")
    with pytest.raises(DataValidationError, match="index_label='timestamp'") as caught:
        read_ohlcv(path)  # which empty header holds the timestamps is a guess: refused, with the hint
    assert caught.value.rule == v.MISSING_COLUMN


def test_issue16_errors_in_an_unnamed_timestamp_column_name_it(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(",open,high,low,close,volume\n2024-01-02,1,2,1,2,5\n01/03/2024,1,2,1,2,5\n")
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.column) == (v.BAD_TIMESTAMP, "(unnamed first column)")


@pytest.mark.parametrize("name, factor", list(v.SPLIT_FACTORS.items()))
def test_issue16_a_split_factor_between_a_close_and_the_next_open_warns(tmp_path, name, factor):
    # The close after the split moves away from the open, as AAPL's did in 2000 (-45% close to close).
    closes = [100.0, 101.0, 101.0 * factor * 1.1, 101.0 * factor * 1.12]
    opens = [100.0, 100.0, 101.0 * factor * 1.01, closes[2]]
    path = _daily_csv(tmp_path / "x.csv", pd.bdate_range("2024-01-02", periods=4), closes, opens)
    _, warnings = read_ohlcv(path)
    assert [(w.rule, w.location.row, w.location.column) for w in warnings] == [(v.POSSIBLE_SPLIT, 3, "open")]
    assert f"the price factor of a {name} split" in warnings[0].detail
    assert "--adjusted" not in warnings[0].detail  # no Adj Close column to use


@pytest.mark.parametrize("gap", [0.8, 0.55, 0.6, 0.72, 1.3, 1.7, 2.5, 3.5])
def test_other_gaps_are_not_splits(tmp_path, gap):
    closes = [100.0, 100.0 * gap, 100.0 * gap]
    path = _daily_csv(tmp_path / "x.csv", pd.bdate_range("2024-01-02", periods=3), closes, [100.0] + closes[1:])
    _, warnings = read_ohlcv(path)
    assert v.POSSIBLE_SPLIT not in [w.rule for w in warnings]


def test_issue16_unadjusted_aapl_and_msft_splits_are_flagged_with_an_adjusted_hint(tmp_path):
    from bokeh_sampledata.stocks import data as raw

    expected = {"AAPL": ["2000-06-21", "2005-02-28"], "MSFT": ["2003-02-18"]}
    for symbol, dates in expected.items():
        rows = raw[raw["ticker"] == symbol].sort_values("date")
        path = tmp_path / f"{symbol.lower()}.csv"
        rows.rename(columns={"adj_close": "Adj Close"})[
            ["date", "open", "high", "low", "close", "Adj Close", "volume"]].to_csv(path, index=False)
        _, warnings = read_ohlcv(path)
        splits = [w for w in warnings if w.rule == v.POSSIBLE_SPLIT]
        assert [w.location.timestamp[:10] for w in splits] == dates
        assert all("2:1 split" in w.detail and "'Adj Close' column is ignored: import with --adjusted"
                   in w.detail for w in splits)
        moves = [w.location.timestamp[:10] for w in warnings if w.rule == v.EXTREME_MOVE]
        assert not set(moves) & set(dates)  # a split is not also an extreme move (AAPL's 2000-09-29 is)
        _, adjusted = read_ohlcv(path, adjusted=True)
        assert v.POSSIBLE_SPLIT not in [w.rule for w in adjusted]
        assert all("--adjusted" not in w.detail for w in adjusted)
