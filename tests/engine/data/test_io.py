"""Reading OHLCV files: formats, symbols, timezones, frequency, row numbers, round trips."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data import validation as v
from engine.data.io import read_ohlcv, symbol_from_path
from engine.data.market import FIELDS
from engine.errors import DataValidationError, InvalidParameterError

HEADER = "timestamp,open,high,low,close,volume\n"
NY = "America/New_York"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


def test_single_symbol_csv_takes_its_symbol_from_the_file_name(tmp_path):
    path = _write(tmp_path / "aapl.csv",
                  HEADER + "2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n")
    data, warnings = read_ohlcv(path)
    assert data.symbols == ("AAPL",)
    assert list(data.index) == _utc("2024-01-02", "2024-01-03")
    assert data.close[:, 0].tolist() == [10.5, 11.0]
    assert data.volume[:, 0].tolist() == [100.0, 200.0]
    assert data.frequency == "1D"
    assert warnings == []
    assert read_ohlcv(path, symbol="XYZ")[0].symbols == ("XYZ",)


@pytest.mark.parametrize("name, symbol", [("data/aapl.csv.gz", "AAPL"), ("btc-usd.parquet", "BTC-USD"),
                                          ("my.prices.csv", "MY.PRICES"), ("spy", "SPY")])
def test_symbol_from_path(name, symbol):
    assert symbol_from_path(Path(name)) == symbol


def test_multi_symbol_long_csv_aligns_symbols_on_the_union_of_timestamps(tmp_path):
    text = ("Date,Ticker,Open,High,Low,Close,Volume\n"
            "2024-01-02,AAA,10,11,9,10.5,100\n"
            "2024-01-02,BBB,20,21,19,20.5,50\n"
            "2024-01-03,BBB,20.5,22,20,21,60\n"
            "2024-01-03,AAA,10.5,12,10,11,200\n"
            "2024-01-04,AAA,11,11.5,10.5,11.2,300\n")
    data, _ = read_ohlcv(_write(tmp_path / "two.csv", text))
    assert data.symbols == ("AAA", "BBB")  # order of first appearance
    assert list(data.index) == _utc("2024-01-02", "2024-01-03", "2024-01-04")
    np.testing.assert_array_equal(data.close, [[10.5, 20.5], [11.0, 21.0], [11.2, np.nan]])
    np.testing.assert_array_equal(data.volume, [[100, 50], [200, 60], [300, np.nan]])


def test_symbol_argument_is_refused_for_a_file_with_a_symbol_column(tmp_path):
    path = _write(tmp_path / "two.csv", "timestamp,symbol,open,high,low,close,volume\n"
                  "2024-01-02,AAA,10,11,9,10.5,100\n2024-01-03,AAA,10,11,9,10.5,100\n")
    with pytest.raises(InvalidParameterError, match="symbol column"):
        read_ohlcv(path, symbol="AAA")


def test_multi_symbol_row_numbers_are_file_rows_not_group_rows(tmp_path):
    text = ("timestamp,symbol,open,high,low,close,volume\n"
            "2024-01-02,AAA,10,11,9,10.5,100\n"   # row 1
            "2024-01-02,BBB,20,21,19,20.5,50\n"   # row 2
            "2024-01-03,AAA,10.5,12,10,11,200\n"  # row 3
            "2024-01-03,BBB,20.5,22,20,21,60\n"   # row 4
            "2024-01-02,BBB,20,21,19,20.5,50\n")  # row 5: BBB's third bar repeats its first (row 2)
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(_write(tmp_path / "two.csv", text))
    error = caught.value
    assert (error.rule, error.location.row, error.location.symbol) == (v.DUPLICATE_TIMESTAMP, 5, "BBB")
    assert "row 2 (2024-01-02)" in error.detail


def test_blank_lines_keep_the_row_numbers_an_editor_shows(tmp_path):
    # Line 1 header, lines 2-3 rows 1-2, line 4 blank, line 5 is row 4 (line number - 1).
    text = HEADER + "2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,10.5,100\n\n2024-01-04,10,11,9,-1,100\n"
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(_write(tmp_path / "x.csv", text))
    assert (caught.value.rule, caught.value.location.row) == (v.NON_POSITIVE_PRICE, 4)


def test_windows_line_ends_quotes_trailing_commas_and_leading_blank_lines(tmp_path):
    text = ("\r\ntimestamp,open,high,low,close,volume,\r\n"
            '2024-01-02,"10",11,9,10.5,100,\r\n'
            "2024-01-03,10,11,9,10.5,100,\r\n"
            "2024-01-04,10,11,9,10.5,-100,\r\n")
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode())
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    # Rows count from the header line, wherever it is.
    assert (caught.value.rule, caught.value.location.row) == (v.NEGATIVE_VOLUME, 3)
    path.write_bytes(text.replace("-100", "100").encode())
    assert read_ohlcv(path)[0].open[:, 0].tolist() == [10.0, 10.0, 10.0]


def test_gzip_csv_reads_like_plain_csv(tmp_path):
    text = HEADER + "2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n"
    gz = tmp_path / "aapl.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    plain, _ = read_ohlcv(_write(tmp_path / "aapl.csv", text))
    packed, _ = read_ohlcv(gz)
    assert packed.symbols == ("AAPL",)
    assert packed.fingerprint() == plain.fingerprint()


def test_yahoo_style_headers_with_bom_and_adjusted_close(tmp_path):
    text = ("\ufeffDate,Open,High,Low,Close,Adj Close,Volume\n"
            "2004-08-19,100.0,104.0,96.0,100.0,50.0,44659000\n"
            "2004-08-20,101.0,110.0,100.0,108.0,54.0,22834300\n")
    path = _write(tmp_path / "goog.csv", text)
    data, _ = read_ohlcv(path)
    assert data.close[:, 0].tolist() == [100.0, 108.0]  # Adj Close ignored by default
    adjusted, _ = read_ohlcv(path, adjusted=True)
    # Factor Adj Close / Close is 0.5 on both days; every price halves exactly.
    assert adjusted.close[:, 0].tolist() == [50.0, 54.0]
    assert adjusted.high[:, 0].tolist() == [52.0, 55.0]
    assert adjusted.volume[:, 0].tolist() == [44659000.0, 22834300.0]


def test_adjusted_without_adj_close_column_is_missing_column(tmp_path):
    path = _write(tmp_path / "x.csv", HEADER + "2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,10.5,100\n")
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path, adjusted=True)
    assert (caught.value.rule, caught.value.location.column) == (v.MISSING_COLUMN, "adj_close")


def test_separate_date_and_time_columns_are_joined(tmp_path):
    text = ("Date,Time,Open,High,Low,Close,Volume\n"
            "2024-01-02,09:30,10,11,9,10.5,100\n2024-01-02,10:30,10,11,9,10.5,100\n")
    data, _ = read_ohlcv(_write(tmp_path / "x.csv", text), tz=NY)
    assert list(data.index) == _utc("2024-01-02 14:30", "2024-01-02 15:30")
    assert data.frequency == "1h"


# --- timezones -----------------------------------------------------------------------------

def _bars(stamps: list[str]) -> str:
    return HEADER + "".join(f"{s},10,11,9,10.5,100\n" for s in stamps)


def test_offsets_are_converted_to_utc_across_a_dst_change(tmp_path):
    # 09:30 in New York is 14:30Z in winter (-05:00) and 13:30Z in summer (-04:00).
    path = _write(tmp_path / "x.csv", _bars(["2024-03-08T09:30:00-05:00", "2024-03-11T09:30:00-04:00",
                                              "2024-03-11T10:30:00-0400", "2024-03-11T15:30:00Z",
                                              "2024-03-11 16:30:00 UTC"]))
    data, _ = read_ohlcv(path)
    assert list(data.index) == _utc("2024-03-08 14:30", "2024-03-11 13:30", "2024-03-11 14:30",
                                    "2024-03-11 15:30", "2024-03-11 16:30")
    assert str(data.index.dtype) == "datetime64[ns, UTC]"
    assert read_ohlcv(path, tz="Asia/Tokyo")[0].fingerprint() == data.fingerprint()  # offsets win


def test_date_only_values_are_midnight_utc_whatever_tz(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-01-02", "2024/01/03"]))
    assert list(read_ohlcv(path)[0].index) == _utc("2024-01-02", "2024-01-03")
    assert list(read_ohlcv(path, tz="Asia/Tokyo")[0].index) == _utc("2024-01-02", "2024-01-03")


def test_issue16_date_only_rows_stay_midnight_utc_beside_localized_times(tmp_path):
    # A daily symbol and an intraday one in one long file: --tz localizes the times of day only;
    # "2024-01-02" used to become 05:00 UTC with tz America/New_York.
    text = ("timestamp,symbol,open,high,low,close,volume\n"
            "2024-01-02,DAY,10,11,9,10.5,100\n"
            "2024-01-02 09:30,MIN,10,11,9,10.5,100\n"
            "2024-01-02 09:31,MIN,10,11,9,10.5,100\n"
            "2024/01/03,DAY,10,11,9,10.5,100\n")
    data, _ = read_ohlcv(_write(tmp_path / "x.csv", text), tz=NY)
    assert list(data.symbol_frame("DAY").index) == _utc("2024-01-02", "2024-01-03")
    assert list(data.symbol_frame("MIN").index) == _utc("2024-01-02 14:30", "2024-01-02 14:31")


def test_naive_times_are_localized_to_tz(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-01-02 09:30", "2024-07-01 09:30"]))
    data, _ = read_ohlcv(path, tz=NY)
    assert list(data.index) == _utc("2024-01-02 14:30", "2024-07-01 13:30")


def test_naive_times_without_tz_are_an_error(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-01-02 00:00", "2024-01-02 09:30"]))
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    # Row 1 is at midnight; row 2 is the first with a time of day.
    assert (caught.value.rule, caught.value.location.row) == (v.MISSING_TIMEZONE, 2)


def test_naive_midnights_only_are_daily_dates(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-01-02 00:00:00", "2024-01-03 00:00:00"]))
    data, _ = read_ohlcv(path)
    assert list(data.index) == _utc("2024-01-02", "2024-01-03")


def test_mixed_offsets_of_one_zone_are_fine_but_offset_and_naive_are_not(tmp_path):
    fine = _write(tmp_path / "a.csv", _bars(["2024-11-01T09:30:00-04:00", "2024-11-04T09:30:00-05:00"]))
    assert read_ohlcv(fine)[0].n_bars == 2
    mixed = _write(tmp_path / "b.csv", _bars(["2024-11-01 09:30", "2024-11-04T09:30:00-05:00"]))
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(mixed, tz=NY)
    assert (caught.value.rule, caught.value.location.row) == (v.MIXED_TIMEZONES, 2)


def test_invalid_calendar_date_is_bad_timestamp(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-02-28", "2024-02-30"]))
    with pytest.raises(DataValidationError, match="not a real calendar date") as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.row) == (v.BAD_TIMESTAMP, 2)


def test_epoch_numbers_get_a_hint(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["1704153600", "1704240000"]))
    with pytest.raises(DataValidationError, match="Unix epoch"):
        read_ohlcv(path)


def test_unknown_tz_suggests_a_zone(tmp_path):
    path = _write(tmp_path / "x.csv", _bars(["2024-01-02 09:30", "2024-01-02 10:30"]))
    with pytest.raises(InvalidParameterError, match="America/New_York"):
        read_ohlcv(path, tz="America/New_Yrok")


# --- Parquet -------------------------------------------------------------------------------

def _frame(index) -> pd.DataFrame:
    n = len(index)
    return pd.DataFrame({"open": np.full(n, 10.0), "high": 11.0, "low": 9.0,
                         "close": 10.0 + np.arange(n) / 10, "volume": 100.0}, index=index)


def test_parquet_with_a_tz_aware_datetime_index(tmp_path):
    index = pd.date_range("2024-01-02 09:30", periods=3, freq="30min", tz=NY, name="Datetime")
    path = tmp_path / "spy.parquet"
    _frame(index).to_parquet(path)
    data, _ = read_ohlcv(path)
    assert data.symbols == ("SPY",)
    assert list(data.index) == _utc("2024-01-02 14:30", "2024-01-02 15:00", "2024-01-02 15:30")
    assert data.frequency == "30min"
    np.testing.assert_array_equal(data.close[:, 0], _frame(index)["close"].to_numpy())


def test_parquet_long_format_with_symbol_and_tz_aware_column(tmp_path):
    index = pd.date_range("2024-01-02 14:30", periods=4, freq="5min", tz="UTC")
    frames = [_frame(index).assign(ticker=s).rename_axis("timestamp").reset_index() for s in ("X", "Y")]
    path = tmp_path / "many.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(path)
    data, _ = read_ohlcv(path)
    assert data.symbols == ("X", "Y")
    assert data.frequency == "5min"
    assert data.close.shape == (4, 2)


def test_parquet_naive_timestamps_follow_the_csv_rules(tmp_path):
    daily = tmp_path / "d.parquet"
    _frame(pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="date")).to_parquet(daily)
    assert list(read_ohlcv(daily)[0].index) == _utc("2024-01-02", "2024-01-03")
    intraday = tmp_path / "i.parquet"
    _frame(pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 09:31"], name="date")).to_parquet(intraday)
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(intraday)
    assert (caught.value.rule, caught.value.location.row) == (v.MISSING_TIMEZONE, 1)
    data, _ = read_ohlcv(intraday, tz=NY)
    assert list(data.index) == _utc("2024-01-02 14:30", "2024-01-02 14:31")
    assert data.frequency == "1min"


def test_parquet_bad_value_names_its_row(tmp_path):
    frame = _frame(pd.date_range("2024-01-02", periods=3, freq="D", tz="UTC", name="timestamp"))
    frame.iloc[2, frame.columns.get_loc("volume")] = -5.0
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.row, caught.value.location.column) == \
        (v.NEGATIVE_VOLUME, 3, "volume")
    assert caught.value.location.timestamp == "2024-01-04 00:00:00+00:00"


@pytest.mark.parametrize("freq, alias", [("1D", "1D"), ("1h", "1h"), ("30min", "30min"),
                                         ("5min", "5min"), ("1min", "1min"), ("15s", "15s")])
def test_frequency_is_the_median_spacing(tmp_path, freq, alias):
    index = pd.date_range("2024-01-02", periods=6, freq=freq, tz="UTC", name="timestamp")
    # One long gap does not move the median.
    index = index[:3].append(index[3:] + pd.Timedelta(hours=20))
    path = tmp_path / "x.parquet"
    _frame(index).to_parquet(path)
    assert read_ohlcv(path)[0].frequency == alias


# --- property: CSV round trip --------------------------------------------------------------

_price = st.floats(min_value=1e-4, max_value=1e6, allow_nan=False, allow_infinity=False)
_fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def _tables(draw) -> pd.DataFrame:
    names = st.sampled_from(["AAA", "BB", "C-1", "D_2"])
    symbols = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    parts = []
    for symbol in symbols:
        n = draw(st.integers(min_value=2, max_value=12))
        minutes = st.integers(min_value=0, max_value=10_000)
        offsets = draw(st.lists(minutes, min_size=n, max_size=n, unique=True))
        stamps = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(sorted(offsets), unit="min")
        rows = []
        for _ in range(n):
            o, c = draw(_price), draw(_price)
            high = max(o, c) * (1 + draw(_fraction))
            low = min(o, c) * draw(st.floats(min_value=0.01, max_value=1.0))
            rows.append((o, high, low, c, draw(st.floats(min_value=0, max_value=1e12))))
        part = pd.DataFrame(rows, columns=list(FIELDS))
        part.insert(0, "symbol", symbol)
        part.insert(0, "timestamp", stamps)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=_tables())
def test_valid_tables_round_trip_through_csv_exactly(tmp_path, table):
    path = tmp_path / "round.csv"
    out = table.assign(timestamp=table["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    out.to_csv(path, index=False)
    data, _ = read_ohlcv(path)
    long = data.to_long()
    # The table is grouped by symbol in first-appearance order and sorted in time: to_long's order.
    assert list(long["symbol"]) == list(table["symbol"])
    assert list(long["timestamp"]) == list(table["timestamp"])
    assert np.array_equal(long[list(FIELDS)].to_numpy(), table[list(FIELDS)].to_numpy())


@pytest.mark.parametrize("first, stamp", [
    ("2024-01-02", "0001-01-02"), ("2024-01-02", "2300-01-02"), ("2024-01-02", "9999-12-31"),
    ("2024-01-02", "1677-12-31"), ("2024-01-02T10:00:00Z", "9999-12-31T10:00:00Z")])
def test_issue16_dates_outside_nanosecond_timestamps_are_bad_timestamps(tmp_path, first, stamp):
    path = _write(tmp_path / "x.csv", _bars([first, stamp]))
    with pytest.raises(DataValidationError, match="outside 1678-2261") as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.row) == (v.BAD_TIMESTAMP, 2)
    assert caught.value.location.timestamp == stamp


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_issue16_parquet_dates_outside_nanosecond_timestamps_are_bad_timestamps(tmp_path, tz):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [dt.datetime(2024, 1, 2), dt.datetime(9999, 1, 1)]
    table = pa.table({"timestamp": pa.array(stamps, pa.timestamp("us", tz=tz)),
                      **{f: [10.0, 10.0] for f in FIELDS}})
    path = tmp_path / "x.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataValidationError, match="outside 1678-2261") as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.row) == (v.BAD_TIMESTAMP, 2)


def test_issue16_years_at_the_edges_of_the_range_are_read(tmp_path):
    data, _ = read_ohlcv(_write(tmp_path / "x.csv", _bars(["1678-01-01", "2261-12-31"])))
    assert list(data.index) == _utc("1678-01-01", "2261-12-31")


def test_issue16_parquet_index_named_like_a_column_is_duplicate_column(tmp_path):
    frame = _frame(pd.date_range("2024-01-02", periods=3, freq="D", tz="UTC", name="timestamp"))
    frame["timestamp"] = frame.index
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataValidationError, match="index and one of its columns") as caught:
        read_ohlcv(path)
    assert (caught.value.rule, caught.value.location.column) == (v.DUPLICATE_COLUMN, "timestamp")
