"""Read a user's OHLCV file (CSV, gzip CSV or Parquet) into validated :class:`MarketData`.

A file holds one symbol (no symbol column: the symbol comes from the ``symbol`` argument or the
file name) or many (a ``symbol`` or ``ticker`` column, one row per bar and symbol). Every rule of
:mod:`engine.data.validation` and :mod:`engine.data.timestamps` runs before anything is returned,
and errors name the row as the user sees it in the file.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.columns import (
    TIME_OF_DAY,
    column_warnings,
    ignored_adj_close,
    resolve_columns,
    shown_header,
)
from engine.data.files import read_cells
from engine.data.limits import ReadLimits
from engine.data.market import FIELDS, MarketData
from engine.data.timestamps import parse_timestamps
from engine.data.validation import (
    MISSING_SYMBOL,
    TOO_FEW_BARS,
    DataWarning,
    RowLocator,
    check_prices,
    check_table,
    find_warnings,
    parse_numbers,
)
from engine.errors import DataValidationError, InvalidParameterError, Location

logger = logging.getLogger(__name__)

_FILE_SUFFIXES = (".gz", ".csv", ".txt", ".parquet", ".pq")
_UNITS: tuple[tuple[str, int], ...] = (
    ("D", 86_400_000_000_000), ("h", 3_600_000_000_000), ("min", 60_000_000_000),
    ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1),
)


def read_ohlcv(path: str | Path, symbol: str | None = None, tz: str | None = None, *,
               adjusted: bool = False, limits: ReadLimits | None = None
               ) -> tuple[MarketData, list[DataWarning]]:
    """Read and validate an OHLCV file.

    Args:
        path: A ``.csv``, ``.csv.gz`` or ``.parquet`` file.
        symbol: Symbol of a file without a symbol column (default: the file name, uppercased).
        tz: IANA zone of naive timestamps that have a time of day (e.g. ``"America/New_York"``).
        adjusted: Scale open, high, low and close by ``Adj Close / Close`` (the column is ignored
            otherwise).
        limits: Bounds on the file's size and rows (default: :meth:`ReadLimits.resolve`, the
            environment's or the defaults).

    Returns:
        The bars (UTC index, frequency inferred from the median spacing) and the warnings.

    Raises:
        DataValidationError: The file breaks a rule; nothing is returned.
        InvalidParameterError: ``tz`` is unknown, or ``symbol`` is given for a file that has a
            symbol column.
    """
    path = Path(path)
    raw = read_cells(path, limits if limits is not None else ReadLimits.resolve())
    cells = raw.cells
    columns = resolve_columns(list(cells.columns), str(path), adjusted)
    stamp_cells = cells[columns["timestamp"]]
    time_cells = cells[columns[TIME_OF_DAY]] if TIME_OF_DAY in columns else None
    stamp_text = stamp_cells.astype("str").fillna("").str.strip()
    if time_cells is not None:
        stamp_text = stamp_text + " " + time_cells.astype("str").fillna("").str.strip()
    symbols = _symbols(cells, columns, symbol, path, raw.rows, stamp_text)
    # Errors name the symbol only where the file has a symbol column.
    shown = symbols if "symbol" in columns else np.full(len(symbols), "", dtype=object)
    locate = RowLocator(str(path), raw.rows, stamp_text.to_numpy(dtype=object), shown,
                        {name: shown_header(header) for name, header in columns.items()})
    stamps = parse_timestamps(stamp_cells, locate, tz, time_cells)
    values = {f: parse_numbers(cells[columns[f]], f, locate) for f in FIELDS}
    table = pd.DataFrame({"row": raw.rows, "timestamp_text": locate.timestamp_text,
                          "timestamp": stamps, "symbol": symbols, **values})
    check_table(table, locate)
    if adjusted:
        _adjust(table, parse_numbers(cells[columns["adj_close"]], "adj_close", locate), locate)
    unused = ignored_adj_close(list(cells.columns), adjusted)
    hint = (f" (the file's {unused!r} column is ignored: import with --adjusted, or adjusted=True, to "
            "scale prices by it)" if unused else "")
    warnings = column_warnings(columns, str(path)) + find_warnings(table, locate, hint)
    frequency = infer_frequency(table, str(path))
    frames = {
        name: group.set_index("timestamp")[list(FIELDS)]
        for name, group in table.groupby("symbol", sort=False)
    }
    data = MarketData.from_frames(str(path), frames, frequency)
    logger.info("read %s: %d symbols, %d timestamps, frequency %s, %d warnings",
                path, data.n_symbols, data.n_bars, frequency, len(warnings))
    return data, warnings


def infer_frequency(table: pd.DataFrame, path: str) -> str:
    """The median spacing of consecutive bars (per symbol) as a pandas alias: ``"1D"``, ``"5min"``...

    The lower median is used, so the result is a spacing that occurs in the file.

    Raises:
        DataValidationError: ``too-few-bars`` when no symbol has two bars.
    """
    steps = [np.diff(pd.DatetimeIndex(group).as_unit("ns").asi8)
             for _, group in table.groupby("symbol", sort=False)["timestamp"]]
    spacing = np.sort(np.concatenate(steps)) if steps else np.array([], dtype=np.int64)
    if len(spacing) == 0:
        raise DataValidationError(
            TOO_FEW_BARS, "the file has one bar per symbol, so its frequency cannot be inferred",
            "import at least two bars per symbol", Location(path=path))
    typical = int(spacing[(len(spacing) - 1) // 2])
    # The last unit is 1 ns, so some unit always divides the spacing.
    unit, size = next((u, s) for u, s in _UNITS if typical % s == 0)
    return f"{typical // size}{unit}"


def symbol_from_path(path: Path) -> str:
    """``data/aapl.csv.gz`` -> ``AAPL``: the file name without its data suffixes, uppercased."""
    name = path.name
    while True:
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem or f".{suffix.lower()}" not in _FILE_SUFFIXES:
            return name.upper()
        name = stem


def _symbols(cells: pd.DataFrame, columns: dict[str, str], symbol: str | None, path: Path,
             rows: np.ndarray, stamp_text: pd.Series) -> np.ndarray:
    if "symbol" not in columns:
        name = symbol.strip() if symbol is not None else symbol_from_path(path)
        if not name:
            raise InvalidParameterError("symbol must not be empty")
        return np.full(len(cells), name, dtype=object)
    if symbol is not None:
        raise InvalidParameterError(
            f"{path} has a symbol column ({columns['symbol']!r}); the symbol argument only names the "
            "symbol of a single-symbol file, so leave it out")
    names = cells[columns["symbol"]].astype("str").fillna("").str.strip()
    empty = (names == "").to_numpy()
    if empty.any():
        i = int(np.argmax(empty))
        raise DataValidationError(
            MISSING_SYMBOL, "the symbol cell is empty", "fill in the symbol of every row",
            Location(path=str(path), row=int(rows[i]), timestamp=str(stamp_text.iloc[i]) or None,
                     column=columns["symbol"]))
    return names.to_numpy(dtype=object)


def _adjust(table: pd.DataFrame, adj_close: np.ndarray, locate: RowLocator) -> None:
    """Scale prices by ``Adj Close / Close`` in place; one positive factor keeps high >= close exact."""
    check_prices(adj_close, "adj_close", locate)
    factor = adj_close / table["close"].to_numpy()
    for field in ("open", "high", "low", "close"):
        table[field] = table[field].to_numpy() * factor
        check_prices(table[field].to_numpy(), field, locate, " once scaled by Adj Close / Close")
