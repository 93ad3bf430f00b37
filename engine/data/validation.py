"""Validation rules for OHLCV tables read from user files.

Nothing is imported until every rule passes. A broken rule raises
:class:`~engine.errors.DataValidationError` naming the file, the 1-based data row (header not
counted) and its timestamp as written in the file, the column as the user spelled it, the rule id
and a fix. Suspicious but possible data gives :class:`DataWarning` objects instead, which are also
logged.

The checks here run on a *table*: the long-format frame that :mod:`engine.data.io` builds from a
file, in file order, on a default ``RangeIndex`` (labels are positions), with columns

- ``row``: 1-based data row of the bar in the file,
- ``timestamp_text``: the timestamp cell as written in the file,
- ``timestamp``: the same instant as ``datetime64[ns, UTC]``,
- ``symbol``: str,
- ``open, high, low, close, volume``: float64 (NaN and inf allowed: they are what is checked).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from engine.data.market import FIELDS
from engine.errors import DataValidationError, Location

logger = logging.getLogger(__name__)

# Rule ids: stable strings that tests, docs and users can search for.
UNREADABLE_FILE = "unreadable-file"
FILE_TOO_LARGE = "file-too-large"
TOO_MANY_ROWS = "too-many-rows"
WRONG_DELIMITER = "wrong-delimiter"
WRONG_FIELD_COUNT = "wrong-field-count"
EMPTY_FILE = "empty-file"
MISSING_COLUMN = "missing-column"
DUPLICATE_COLUMN = "duplicate-column"
MISSING_SYMBOL = "missing-symbol"
BAD_TIMESTAMP = "bad-timestamp"
MISSING_TIMEZONE = "missing-timezone"
MIXED_TIMEZONES = "mixed-timezones"
AMBIGUOUS_TIME = "ambiguous-time"
NONEXISTENT_TIME = "nonexistent-time"
NON_NUMERIC = "non-numeric"
NOT_FINITE = "not-finite"
NON_POSITIVE_PRICE = "non-positive-price"
PRICE_OUT_OF_RANGE = "price-out-of-range"
NEGATIVE_VOLUME = "negative-volume"
VOLUME_OUT_OF_RANGE = "volume-out-of-range"
HIGH_BELOW_OPEN_CLOSE = "high-below-open-close"
LOW_ABOVE_OPEN_CLOSE = "low-above-open-close"
DUPLICATE_TIMESTAMP = "duplicate-timestamp"
UNSORTED_TIMESTAMPS = "unsorted-timestamps"
TOO_FEW_BARS = "too-few-bars"
RULES: tuple[str, ...] = (
    UNREADABLE_FILE, FILE_TOO_LARGE, TOO_MANY_ROWS, WRONG_DELIMITER, WRONG_FIELD_COUNT, EMPTY_FILE, MISSING_COLUMN, DUPLICATE_COLUMN,
    MISSING_SYMBOL, BAD_TIMESTAMP, MISSING_TIMEZONE, MIXED_TIMEZONES, AMBIGUOUS_TIME, NONEXISTENT_TIME,
    NON_NUMERIC, NOT_FINITE, NON_POSITIVE_PRICE, PRICE_OUT_OF_RANGE, NEGATIVE_VOLUME, VOLUME_OUT_OF_RANGE,
    HIGH_BELOW_OPEN_CLOSE,
    LOW_ABOVE_OPEN_CLOSE, DUPLICATE_TIMESTAMP, UNSORTED_TIMESTAMPS, TOO_FEW_BARS,
)

# Money is float64. Prices in [MIN_PRICE, MAX_PRICE] and volumes up to MAX_VOLUME keep every
# product the engine forms (units = cash / price up to ~1e20, units x price x fees, volume x price,
# sums and squares over long windows) between about 1e-30 and 1e45: far from overflow (1.8e308)
# and from subnormals (below 2.2e-308), where precision is lost without a sign. The same walk
# scaled by 1e306 made sma_cross trade 0 times instead of 10. A price outside the range is a wrong
# unit or a corrupt file, not a market: quote it per 1,000 units (or per 1e-3) instead.
MIN_PRICE = 1e-8
MAX_PRICE = 1e12
MAX_VOLUME = 1e18

# Warning ids.
LARGE_GAP = "large-gap"
EXTREME_MOVE = "extreme-move"
POSSIBLE_SPLIT = "possible-split"
UNNAMED_TIMESTAMP_COLUMN = "unnamed-timestamp-column"

# A gap warns when it is longer than both of these: 10x the typical spacing keeps intraday
# overnight and weekend gaps quiet only together with the 7-day floor, and the floor keeps daily
# stock data quiet over weekends and holiday closures (the longest US closure since 1933, after
# 9/11, was 7 days from last bar to next bar).
GAP_SPACING_MULTIPLE = 10
GAP_MIN_DAYS = 7
# A close-to-close move above 50% in one bar is rare outside unadjusted splits and bad ticks.
EXTREME_MOVE_FRACTION = 0.5
# Price factor from a close to the next open across a split: 2:1, 3:2 and 3:1 splits and their reverse.
SPLIT_FACTORS: dict[str, float] = {"2:1": 1 / 2, "3:2": 2 / 3, "3:1": 1 / 3, "1:2": 2.0, "2:3": 3 / 2, "1:3": 3.0}
# Unadjusted AAPL (2000-06-21, 2005-02-28) and MSFT (2003-02-18) open within 2% of half the close
# before (-45%, -50% and -48% close to close, so a 50% move rule missed two of them); no other day of
# their 2000-2013 Quandl WIKI prices comes within 3% of any factor.
SPLIT_TOLERANCE = 0.03
# Beyond this many warnings of one rule for one symbol, the rest are summarised in one warning.
MAX_WARNINGS_PER_RULE = 10
_NS_PER_DAY = 86_400 * 10**9

_MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none"})
# Plain string patterns (inline flags only) let pandas run them vectorised in pyarrow's RE2
# (no \d or \s: pandas falls back to Python's re for those).
_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_INFINITY = r"[+-]?(?i:inf|infinity)"


@dataclass(frozen=True)
class DataWarning:
    """Suspicious but possible data: imported anyway, reported to the user.

    Attributes:
        rule: Warning id (``"large-gap"`` or ``"extreme-move"``).
        detail: What was seen, with the numbers.
        location: File, row, timestamp, column and symbol of the bar concerned.
    """

    rule: str
    detail: str
    location: Location

    @property
    def message(self) -> str:
        """One line: ``PATH, symbol S, row R (TIMESTAMP), column 'C': RULE: DETAIL``."""
        where = self.location.describe()
        return f"{where}: {self.rule}: {self.detail}" if where else f"{self.rule}: {self.detail}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RowLocator:
    """Builds the :class:`Location` of a table row: file, row number, timestamp text, symbol.

    Attributes:
        path: The file as the user named it.
        rows: 1-based data row numbers in the file, one per table row.
        timestamp_text: Timestamp cells as written in the file, one per table row.
        symbols: Symbol of each table row.
        columns: Canonical column name -> the header the user wrote.
    """

    path: str
    rows: np.ndarray
    timestamp_text: np.ndarray
    symbols: np.ndarray
    columns: Mapping[str, str]

    def at(self, i: int, column: str | None = None) -> Location:
        """Location of table row ``i``; ``column`` is canonical and shown as the user's header."""
        return Location(
            path=self.path,
            row=int(self.rows[i]),
            timestamp=str(self.timestamp_text[i]) or None,
            column=self.columns.get(column, column) if column else None,
            symbol=str(self.symbols[i]) if self.symbols[i] else None,
        )


def parse_numbers(raw: pd.Series, column: str, locate: RowLocator) -> np.ndarray:
    """Parse one numeric column (text or numbers) to float64, keeping NaN / inf for later rules.

    Raises:
        DataValidationError: ``non-numeric`` at the first cell that is not a number, with its text.
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    text = raw.astype("str").fillna("").str.strip()
    missing = text.str.lower().isin(_MISSING_TOKENS).to_numpy()
    number = text.str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    infinite = text.str.fullmatch(_INFINITY).to_numpy(dtype=bool)
    bad = ~(missing | number | infinite)
    if bad.any():
        i = int(np.argmax(bad))
        cell = str(text.iloc[i])
        hint = ""
        if re.fullmatch(r"[+-]?[\d.,]+", cell):
            hint = "; it looks like it uses ',' as a thousands or decimal separator"
        raise DataValidationError(
            NON_NUMERIC,
            f"{cell!r} is not a number{hint}",
            "write plain numbers with '.' as the decimal point and no currency signs or "
            "thousands separators (e.g. 1234.5)",
            locate.at(i, column),
        )
    values = np.full(len(text), np.nan)
    usable = ~missing
    # float() on each string is correctly rounded, so printed floats round-trip exactly.
    values[usable] = np.asarray(text.to_numpy(dtype=object)[usable], dtype=np.float64)
    return values


def check_prices(values: np.ndarray, column: str, locate: RowLocator, context: str = "") -> None:
    """Raise ``not-finite``, ``non-positive-price`` or ``price-out-of-range`` for the first bad value
    of one price column; ``context`` ends the detail (e.g. how the values were derived)."""
    hit = _first_hit(~np.isfinite(values)[:, None])
    if hit:
        raise _not_finite_error(values[hit[0]], locate.at(hit[0], column))
    hit = _first_hit((values <= 0)[:, None])
    if hit:
        raise _non_positive_error(values[hit[0]], locate.at(hit[0], column))
    hit = _first_hit(((values < MIN_PRICE) | (values > MAX_PRICE))[:, None])
    if hit:
        raise _price_range_error(values[hit[0]], locate.at(hit[0], column), context)


def check_table(table: pd.DataFrame, locate: RowLocator) -> None:
    """Raise at the first broken value or ordering rule.

    Each rule reports the earliest row in the file that breaks it; rules are checked in this
    order: ``not-finite``, ``non-positive-price``, ``price-out-of-range``, ``negative-volume``,
    ``volume-out-of-range``, ``high-below-open-close``, ``low-above-open-close``,
    ``duplicate-timestamp``, ``unsorted-timestamps``.

    Raises:
        DataValidationError: At the first broken rule.
    """
    values = table[list(FIELDS)].to_numpy(dtype=np.float64)
    hit = _first_hit(~np.isfinite(values))
    if hit:
        raise _not_finite_error(values[hit], locate.at(hit[0], FIELDS[hit[1]]))
    hit = _first_hit(values[:, :4] <= 0)
    if hit:
        raise _non_positive_error(values[hit], locate.at(hit[0], FIELDS[hit[1]]))
    hit = _first_hit((values[:, :4] < MIN_PRICE) | (values[:, :4] > MAX_PRICE))
    if hit:
        raise _price_range_error(values[hit], locate.at(hit[0], FIELDS[hit[1]]))
    hit = _first_hit(values[:, 4:] < 0)
    if hit:
        raise DataValidationError(
            NEGATIVE_VOLUME, f"volume {_num(values[hit[0], 4])} is negative",
            "volume must be >= 0: correct the bar or drop the row", locate.at(hit[0], "volume"))
    hit = _first_hit(values[:, 4:] > MAX_VOLUME)
    if hit:
        raise DataValidationError(
            VOLUME_OUT_OF_RANGE, f"volume {_num(values[hit[0], 4])} is above {MAX_VOLUME:g}",
            f"volume must be at most {MAX_VOLUME:g} so that money stays exact in float64: correct the "
            "bar, or count the volume in larger lots", locate.at(hit[0], "volume"))
    open_, high, low, close = (values[:, k] for k in range(4))
    hit = _first_hit((high < np.maximum(open_, close))[:, None])
    if hit:
        i = hit[0]
        raise DataValidationError(
            HIGH_BELOW_OPEN_CLOSE,
            f"high {_num(high[i])} is below max(open {_num(open_[i])}, close {_num(close[i])})",
            "the high must be >= open and close: correct the bar or drop the row",
            locate.at(i, "high"))
    hit = _first_hit((low > np.minimum(open_, close))[:, None])
    if hit:
        i = hit[0]
        raise DataValidationError(
            LOW_ABOVE_OPEN_CLOSE,
            f"low {_num(low[i])} is above min(open {_num(open_[i])}, close {_num(close[i])})",
            "the low must be <= open and close: correct the bar or drop the row",
            locate.at(i, "low"))
    _check_order(table, locate)


def find_warnings(table: pd.DataFrame, locate: RowLocator, hint: str = "") -> list[DataWarning]:
    """The ``large-gap``, ``possible-split`` and ``extreme-move`` warnings of a checked table,
    logged at WARNING level.

    A bar that looks like a split gets ``possible-split`` only, not also ``extreme-move``; ``hint``
    ends the detail of both (e.g. how to use the file's adjusted close).
    """
    warnings: list[DataWarning] = []
    for _, group in table.groupby("symbol", sort=False):
        positions = group.index.to_numpy()
        warnings += _gap_warnings(group, positions, locate)
        splits = _split_steps(group)
        warnings += _split_warnings(group, positions, locate, splits, hint)
        warnings += _move_warnings(group, positions, locate, splits, hint)
    for warning in warnings:
        logger.warning("%s", warning.message)
    return warnings


def _first_hit(mask: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the earliest row of a rows x columns mask, first column first; None if clear."""
    rows_hit = mask.any(axis=1)
    if not rows_hit.any():
        return None
    i = int(np.argmax(rows_hit))
    return i, int(np.argmax(mask[i]))


def _not_finite_error(value: float, location: Location) -> DataValidationError:
    what = "the cell is empty or NaN" if np.isnan(value) else f"the value is {_num(value)}"
    return DataValidationError(
        NOT_FINITE, what,
        "fill in the value or drop the row (pandas: df.dropna()); missing prices are never guessed",
        location)


def _non_positive_error(value: float, location: Location) -> DataValidationError:
    return DataValidationError(
        NON_POSITIVE_PRICE, f"price {_num(value)} is not positive",
        "prices must be > 0: correct the bar or drop the row (spreads and other series that can "
        "go negative are not OHLCV prices)",
        location)


def _price_range_error(value: float, location: Location, context: str = "") -> DataValidationError:
    return DataValidationError(
        PRICE_OUT_OF_RANGE, f"price {_num(value)} is outside [{MIN_PRICE:g}, {MAX_PRICE:g}]{context}",
        f"prices must lie between {MIN_PRICE:g} and {MAX_PRICE:g} so that money stays exact in float64: "
        "correct the bar, or quote the asset in another unit (per 1,000 units, or per 0.001)",
        location)


def _check_order(table: pd.DataFrame, locate: RowLocator) -> None:
    """Raise ``duplicate-timestamp`` or ``unsorted-timestamps`` (both checked per symbol)."""
    duplicated = table.duplicated(["symbol", "timestamp"], keep="first").to_numpy()
    if duplicated.any():
        i = int(np.argmax(duplicated))
        key = table[["symbol", "timestamp"]].iloc[i]
        same = (table["symbol"] == key["symbol"]) & (table["timestamp"] == key["timestamp"])
        first = int(np.argmax(same.to_numpy()))
        raise DataValidationError(
            DUPLICATE_TIMESTAMP,
            f"this timestamp repeats row {int(locate.rows[first])} ({locate.timestamp_text[first]})",
            "keep one bar per timestamp and symbol (pandas: df[~df.index.duplicated(keep='first')])",
            locate.at(i, "timestamp"))
    previous = table.groupby("symbol", sort=False)["timestamp"].shift()
    backwards = (table["timestamp"] < previous).to_numpy()
    if backwards.any():
        i = int(np.argmax(backwards))
        symbol_rows = np.flatnonzero((table["symbol"] == table["symbol"].iloc[i]).to_numpy())
        before = int(symbol_rows[np.searchsorted(symbol_rows, i) - 1])
        steps = np.diff(_nanoseconds(table["timestamp"].iloc[symbol_rows]))
        newest_first = " (the file looks sorted newest-first)" if (steps < 0).all() else ""
        raise DataValidationError(
            UNSORTED_TIMESTAMPS,
            f"this timestamp is earlier than row {int(locate.rows[before])} "
            f"({locate.timestamp_text[before]}) above it"
            + newest_first,
            "sort the rows by timestamp, oldest first (pandas: df.sort_index())",
            locate.at(i, "timestamp"))


def _gap_warnings(group: pd.DataFrame, positions: np.ndarray, locate: RowLocator) -> list[DataWarning]:
    stamps = _nanoseconds(group["timestamp"])
    if len(stamps) < 3:
        return []
    steps = np.diff(stamps)
    typical = int(np.sort(steps)[(len(steps) - 1) // 2])  # lower median: an observed spacing
    limit = max(typical * GAP_SPACING_MULTIPLE, GAP_MIN_DAYS * _NS_PER_DAY)
    found = []
    for k in np.flatnonzero(steps > limit):
        i, before = int(positions[k + 1]), int(positions[k])
        found.append(DataWarning(
            LARGE_GAP,
            f"{_span(steps[k])} since the previous bar at row {int(locate.rows[before])} "
            f"({locate.timestamp_text[before]}); the typical spacing is {_span(typical)}",
            locate.at(i, "timestamp")))
    return _capped(found, LARGE_GAP, "large gaps", locate.path, str(group["symbol"].iloc[0]))


def _split_steps(group: pd.DataFrame) -> dict[int, str]:
    """``{k: split}`` for each step ``k -> k + 1`` whose open / previous close is a split's factor."""
    close, open_ = group["close"].to_numpy(), group["open"].to_numpy()
    if len(close) < 2:
        return {}
    factor = open_[1:] / close[:-1]
    steps: dict[int, str] = {}
    for name, split in SPLIT_FACTORS.items():
        for k in np.flatnonzero(np.abs(factor / split - 1.0) <= SPLIT_TOLERANCE):
            steps[int(k)] = name
    return dict(sorted(steps.items()))


def _split_warnings(group: pd.DataFrame, positions: np.ndarray, locate: RowLocator,
                    steps: dict[int, str], hint: str) -> list[DataWarning]:
    close, open_ = group["close"].to_numpy(), group["open"].to_numpy()
    found = []
    for k, name in steps.items():
        i, before = int(positions[k + 1]), int(positions[k])
        found.append(DataWarning(
            POSSIBLE_SPLIT,
            f"open {_num(open_[k + 1])} is {open_[k + 1] / close[k]:.3f} x the close {_num(close[k])} at row "
            f"{int(locate.rows[before])}, the price factor of a {name} split; prices before it look "
            f"unadjusted{hint}",
            locate.at(i, "open")))
    return _capped(found, POSSIBLE_SPLIT, "possible splits", locate.path, str(group["symbol"].iloc[0]))


def _move_warnings(group: pd.DataFrame, positions: np.ndarray, locate: RowLocator,
                   splits: dict[int, str], hint: str) -> list[DataWarning]:
    close = group["close"].to_numpy()
    if len(close) < 2:
        return []
    change = close[1:] / close[:-1] - 1.0
    found = []
    for k in np.flatnonzero(np.abs(change) > EXTREME_MOVE_FRACTION):
        if int(k) in splits:
            continue
        i, before = int(positions[k + 1]), int(positions[k])
        found.append(DataWarning(
            EXTREME_MOVE,
            f"close moved {change[k]:+.1%} in one bar ({_num(close[k])} at row {int(locate.rows[before])} "
            f"-> {_num(close[k + 1])}); an unadjusted split or a bad tick?{hint}",
            locate.at(i, "close")))
    return _capped(found, EXTREME_MOVE, "extreme moves", locate.path, str(group["symbol"].iloc[0]))


def _capped(found: list[DataWarning], rule: str, what: str, path: str, symbol: str) -> list[DataWarning]:
    if len(found) <= MAX_WARNINGS_PER_RULE:
        return found
    extra = len(found) - MAX_WARNINGS_PER_RULE
    summary = DataWarning(rule, f"{extra} more {what} not listed", Location(path=path, symbol=symbol or None))
    return found[:MAX_WARNINGS_PER_RULE] + [summary]


def _num(value: float) -> str:
    """A number as the shortest text that reads back to it (``10.9``, not ``np.float64(10.9)``)."""
    return repr(float(value))


def _nanoseconds(stamps: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8


def _span(nanoseconds: int) -> str:
    seconds = nanoseconds / 1e9
    if seconds >= 86400:
        days = seconds / 86400
        return f"{days:g} day{'s' if days != 1 else ''}"
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"

