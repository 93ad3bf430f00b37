"""Find the OHLCV columns of a user file by name, accepting common spellings.

Headers are matched case-insensitively after normalisation (runs of characters other than letters
and digits become ``_``), so ``Open``, ``OPEN`` and `` open `` are all ``open`` and ``Adj Close``
is ``adj_close``. Unknown columns are ignored.
"""
from __future__ import annotations

import logging
import re
from typing import Mapping, Sequence

from engine.data.market import FIELDS
from engine.data.validation import DUPLICATE_COLUMN, MISSING_COLUMN, UNNAMED_TIMESTAMP_COLUMN, DataWarning
from engine.errors import DataValidationError, Location
from engine.names import closest_name

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", *FIELDS)

# Accepted spellings of each column after normalisation (lowercase, runs of other characters -> "_").
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "datetime", "date_time", "timestamp_utc", "date", "time", "ts"),
    "symbol": ("symbol", "ticker"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "last"),
    "volume": ("volume", "vol", "v"),
    "adj_close": ("adj_close", "adjclose", "adjusted_close"),
}
_HEADERS_SHOWN = 12  # a missing-column message lists at most this many of the file's headers
# The column holding the time of day when a file splits it from the date ("Date", "Time").
TIME_OF_DAY = "time_of_day"
# Headers of an index written without a name: df.to_csv(path) writes "" (backtesting.py's GOOG.csv
# too), and a file read back with its index as a column and written again says "Unnamed: 0".
_UNNAMED_HEADERS = ("", "unnamed_0")
UNNAMED_LABEL = "(unnamed first column)"


def normalize_header(header: str) -> str:
    """Lowercase a header and turn runs of other characters into ``_`` (``"Adj Close"`` -> ``adj_close``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(header).strip().lower()).strip("_")


def resolve_columns(headers: Sequence[str], path: str, adjusted: bool = False) -> dict[str, str]:
    """Map canonical column names to the file's headers, accepting the aliases in :data:`ALIASES`.

    Args:
        headers: The headers as written in the file.
        path: The file, for error messages.
        adjusted: Whether an adjusted-close column is required (it is ignored otherwise).

    Without a timestamp header, an unnamed first column (pandas' default index column) is the
    timestamp column; :func:`column_warnings` reports it.

    Returns:
        ``{canonical: header}`` for ``timestamp``, the OHLCV fields, and ``symbol`` / ``adj_close``
        when present; ``time_of_day`` too when the file has separate ``Date`` and ``Time`` columns.

    Raises:
        DataValidationError: ``duplicate-column`` or ``missing-column``.
    """
    found: dict[str, list[str]] = {}
    for header in headers:
        key = normalize_header(header)
        for canonical, aliases in ALIASES.items():
            if key in aliases:
                found.setdefault(canonical, []).append(header)
    columns: dict[str, str] = {}
    for canonical, matches in found.items():
        if canonical == "timestamp" and len(matches) > 1:
            columns.update(_resolve_timestamp(matches, path))
        elif len(matches) > 1:
            raise DataValidationError(
                DUPLICATE_COLUMN,
                f"columns {_quoted(matches)} all name the {canonical!r} column",
                "keep one of them and rename or drop the others",
                Location(path=path, column=matches[1]),
            )
        else:
            columns[canonical] = matches[0]
    if "timestamp" not in columns and _unnamed_first(headers):
        columns["timestamp"] = headers[0]
    required = REQUIRED_COLUMNS + (("adj_close",) if adjusted else ())
    missing = [c for c in required if c not in columns]
    if missing:
        raise _missing_column_error(missing, headers, columns, path)
    if "adj_close" in columns and not adjusted:
        logger.info("%s: ignoring column %r (pass adjusted=True to use it)", path, columns["adj_close"])
        del columns["adj_close"]
    return columns


def column_warnings(columns: Mapping[str, str], path: str) -> list[DataWarning]:
    """``unnamed-timestamp-column`` when the timestamps come from an unnamed first column; logged."""
    if normalize_header(columns["timestamp"]) not in _UNNAMED_HEADERS:
        return []
    warning = DataWarning(
        UNNAMED_TIMESTAMP_COLUMN,
        "the file has no timestamp header, so its unnamed first column (pandas' index) is read as the "
        "timestamps", Location(path=path, column=shown_header(columns["timestamp"])))
    logger.warning("%s", warning.message)
    return [warning]


def ignored_adj_close(headers: Sequence[str], adjusted: bool) -> str | None:
    """The adjusted-close header of a file read without ``adjusted``, else None."""
    if adjusted:
        return None
    return next((h for h in headers if normalize_header(h) in ALIASES["adj_close"]), None)


def shown_header(header: str) -> str:
    """A header as messages name it: an empty one is :data:`UNNAMED_LABEL`."""
    return header if header.strip() else UNNAMED_LABEL


def _unnamed_first(headers: Sequence[str]) -> bool:
    # Only a unique one: a trailing comma also makes an empty header.
    return bool(headers) and normalize_header(headers[0]) in _UNNAMED_HEADERS and list(headers).count(headers[0]) == 1


def _resolve_timestamp(matches: list[str], path: str) -> dict[str, str]:
    keys = {normalize_header(m): m for m in matches}
    if set(keys) == {"date", "time"}:
        return {"timestamp": keys["date"], TIME_OF_DAY: keys["time"]}
    raise DataValidationError(
        DUPLICATE_COLUMN,
        f"columns {_quoted(matches)} all look like the timestamp column",
        "keep one timestamp column (or exactly one 'Date' and one 'Time' column) and rename the others",
        Location(path=path, column=matches[1]),
    )


def _missing_column_error(
    missing: list[str], headers: Sequence[str], columns: Mapping[str, str], path: str
) -> DataValidationError:
    first = missing[0]
    used = set(columns.values())
    spare = [h for h in headers if h not in used]
    by_key = {normalize_header(h): h for h in spare}
    # The header that looks most like the field, else like one of its longer aliases (a one- or
    # two-letter alias such as "c" would be a prefix of unrelated headers).
    close = next(filter(None, (closest_name(name, by_key) for name in ALIASES[first] if len(name) > 2)), None)
    shown = ", ".join(map(str, headers[:_HEADERS_SHOWN]))
    if len(headers) > _HEADERS_SHOWN:
        shown += f", ... ({len(headers)} columns)"
    detail = f"no {_quoted(missing)} column{'s' if len(missing) > 1 else ''} among the headers {shown}"
    if close:
        detail += f" (did you mean {by_key[close]!r}?)"
    fix = f"name the column {first!r} (also accepted: {', '.join(ALIASES[first][1:])}; any case)"
    if first == "timestamp" and any(normalize_header(h) in ("", "unnamed_0", "index") for h in spare):
        fix += ("; the file has an unnamed first column: if it holds the timestamps, name it "
                "'timestamp' (pandas: df.to_csv(path, index_label='timestamp'))")
    if first == "volume":
        fix += "; if the market has no volume, add a volume column of zeros"
    if first == "adj_close":
        fix = "add an 'Adj Close' column or import without adjusted=True"
    return DataValidationError(MISSING_COLUMN, detail, fix, Location(path=path, column=first))


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(str(n)) for n in names)
