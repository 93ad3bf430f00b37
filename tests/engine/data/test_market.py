"""MarketData: alignment, selection, slicing, fingerprints, read-only arrays."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.market import FIELDS, MarketData
from engine.errors import InvalidParameterError


def _frame(dates: list[str], base: float) -> pd.DataFrame:
    index = pd.DatetimeIndex(dates, tz="UTC")
    values = base + np.arange(len(dates), dtype=float)
    return pd.DataFrame({"open": values, "high": values + 1, "low": values - 1, "close": values,
                         "volume": values * 10}, index=index)


@pytest.fixture()
def two_symbols() -> MarketData:
    frames = {"A": _frame(["2020-01-01", "2020-01-02", "2020-01-03"], 10.0),
              "B": _frame(["2020-01-02", "2020-01-03", "2020-01-06"], 50.0)}
    return MarketData.from_frames("toy", frames, frequency="1D")


def test_from_frames_aligns_on_union_with_nan_where_missing(two_symbols: MarketData) -> None:
    assert list(two_symbols.index.strftime("%m-%d")) == ["01-01", "01-02", "01-03", "01-06"]
    np.testing.assert_array_equal(two_symbols.close[:, 0], [10.0, 11.0, 12.0, np.nan])
    np.testing.assert_array_equal(two_symbols.close[:, 1], [np.nan, 50.0, 51.0, 52.0])


def test_symbol_frame_drops_rows_without_a_bar(two_symbols: MarketData) -> None:
    frame = two_symbols.symbol_frame("B")
    assert list(frame.columns) == list(FIELDS)
    assert frame["close"].tolist() == [50.0, 51.0, 52.0]


def test_select_drops_timestamps_no_selected_symbol_has(two_symbols: MarketData) -> None:
    only_a = two_symbols.select(["A"])
    assert only_a.n_bars == 3 and only_a.symbols == ("A",)


def test_slice_end_date_is_inclusive(two_symbols: MarketData) -> None:
    assert two_symbols.slice("2020-01-02", "2020-01-03").n_bars == 2


def test_slice_outside_range_names_the_coverage(two_symbols: MarketData) -> None:
    with pytest.raises(InvalidParameterError, match="covers 2020-01-01 to 2020-01-06"):
        two_symbols.slice("2021-01-01", "2021-02-01")


def test_unknown_symbol_lists_the_available_ones(two_symbols: MarketData) -> None:
    with pytest.raises(InvalidParameterError, match="has A, B"):
        two_symbols.select(["C"])


def test_fingerprint_changes_with_any_value(two_symbols: MarketData) -> None:
    frames = {s: two_symbols.symbol_frame(s) for s in two_symbols.symbols}
    same = MarketData.from_frames("other-name", frames, frequency="1D")
    assert same.fingerprint() == two_symbols.fingerprint()
    frames["B"].loc[frames["B"].index[-1], "volume"] += 1.0
    changed = MarketData.from_frames("toy", frames, frequency="1D")
    assert changed.fingerprint() != two_symbols.fingerprint()


def test_arrays_are_read_only(two_symbols: MarketData) -> None:
    with pytest.raises(ValueError):
        two_symbols.close[0, 0] = 1.0


def test_naive_index_is_rejected() -> None:
    frame = _frame(["2020-01-01"], 1.0)
    frame.index = frame.index.tz_localize(None)
    with pytest.raises(InvalidParameterError, match="UTC"):
        MarketData("x", frame.index, ("A",), *(frame[[f]].to_numpy() for f in FIELDS), frequency="1D")
