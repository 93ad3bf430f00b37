"""Turn the timestamp column of a user file into UTC instants, by the workbench's timezone rules.

- A value with an explicit UTC offset (``2024-03-01T09:30:00-05:00``, ``...Z``, ``... UTC``) is
  converted to UTC. Different offsets in one file are fine (daylight saving time changes them).
- A date-only value (``2004-08-19``), or a file whose naive values are all at midnight, is daily
  data: that date at 00:00 UTC, whatever ``tz`` says.
- A naive value with a time of day needs ``tz`` (an IANA name): it is localized there, then
  converted to UTC. Without ``tz`` it is ``missing-timezone``; a local time that does not exist or
  occurs twice in ``tz`` (daylight saving changes) is ``nonexistent-time`` / ``ambiguous-time``.
- Some values with an offset and some without is ``mixed-timezones``.

Only ISO 8601 dates are accepted (``YYYY-MM-DD``, or ``YYYY/MM/DD``), so that day and month can
never be swapped silently.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import numpy as np
import pandas as pd

from engine.data.market import FIRST_YEAR, LAST_YEAR
from engine.data.validation import (
    AMBIGUOUS_TIME,
    BAD_TIMESTAMP,
    MISSING_TIMEZONE,
    MIXED_TIMEZONES,
    NONEXISTENT_TIME,
    RowLocator,
)
from engine.errors import DataValidationError, InvalidParameterError
from engine.names import did_you_mean

# Plain string patterns (inline flags only) let pandas run them vectorised in pyarrow's RE2
# (no \d or \s: pandas falls back to Python's re for those).
_DATE = r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}"
_ISO = (_DATE +
        r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
        r" *(?:(?i:Z|UTC|GMT)|[+-][0-9]{2}(?::?[0-9]{2})?)?)?")
# An offset follows a time of day (":MM", ":SS" or a fraction), never a bare date's "-DD".
_OFFSET_AT_END = r"[:.][0-9]+ *(?:(?i:Z|UTC|GMT)|[+-][0-9]{2}(?::?[0-9]{2})?)$"
_UTC_WORD_AT_END = r" *(?i:Z|UTC|GMT)$"
_FIRST = pd.Timestamp(f"{FIRST_YEAR}-01-01")
_END = pd.Timestamp(f"{LAST_YEAR + 1}-01-01")  # exclusive
_ISO_FIX = ("write timestamps in ISO 8601: 2004-08-19 for daily bars, 2024-03-01T09:30:00-05:00 "
            "or 2024-03-01T14:30:00Z for intraday bars")


def zone(tz: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``tz``; an unknown name raises ``InvalidParameterError`` with suggestions."""
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidParameterError(
            f"unknown time zone {tz!r} (use an IANA name such as 'America/New_York')."
            + did_you_mean(tz, sorted(zoneinfo.available_timezones()))
        ) from None


def parse_timestamps(values: pd.Series, locate: RowLocator, tz: str | None = None,
                     time_of_day: pd.Series | None = None) -> pd.DatetimeIndex:
    """Parse a timestamp column to UTC instants (nanosecond resolution), one per table row.

    Args:
        values: The timestamp cells: text, or datetimes from a Parquet file.
        locate: Locations of the table's rows, for errors.
        tz: IANA zone of naive values that have a time of day.
        time_of_day: A separate ``Time`` column to join to date-only ``values``.

    Raises:
        DataValidationError: ``bad-timestamp``, ``missing-timezone``, ``mixed-timezones``,
            ``ambiguous-time`` or ``nonexistent-time``, at the first row concerned.
        InvalidParameterError: ``tz`` is not a known IANA zone.
    """
    zone_info = zone(tz) if tz is not None else None
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        _raise_if_missing(values.isna().to_numpy(), locate)
        utc = pd.DatetimeIndex(values).tz_convert("UTC")
        _check_years(utc.tz_localize(None), values.astype("str"), locate)
        return utc.as_unit("ns")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        _raise_if_missing(values.isna().to_numpy(), locate)
        _check_years(pd.DatetimeIndex(values), values.astype("str"), locate)
        return _localize(pd.DatetimeIndex(values), zone_info, locate)
    text = values.astype("str").fillna("").str.strip()
    if time_of_day is not None:
        text = text + " " + time_of_day.astype("str").fillna("").str.strip()
    valid = text.str.fullmatch(_ISO).to_numpy(dtype=bool)
    if not valid.all():
        i = int(np.argmax(~valid))
        raise _bad_timestamp(str(text.iloc[i]), i, locate)
    has_offset = text.str.contains(_OFFSET_AT_END).to_numpy(dtype=bool)
    if has_offset.any() and not has_offset.all():
        i = int(np.argmax(has_offset != has_offset[0]))
        first = "an offset" if has_offset[0] else "none"
        raise DataValidationError(
            MIXED_TIMEZONES,
            f"this timestamp {'has' if has_offset[i] else 'has no'} UTC offset but row "
            f"{int(locate.rows[0])} ({locate.timestamp_text[0]}) has {first}; the file mixes two sources",
            "write every timestamp with its UTC offset (or every one in one zone without offsets and "
            "pass that zone as tz)",
            locate.at(i, "timestamp"))
    iso = text
    if iso.str.contains(_UTC_WORD_AT_END).any():  # pandas reads "Z" but not "UTC", "GMT" or "z"
        iso = iso.str.replace(_UTC_WORD_AT_END, "+00:00", regex=True)
    parsed = pd.to_datetime(iso, format="ISO8601", utc=bool(has_offset.all()), errors="coerce")
    invalid = parsed.isna().to_numpy()
    if invalid.any():
        i = int(np.argmax(invalid))
        raise _bad_timestamp(str(text.iloc[i]), i, locate, "it is not a real calendar date or time")
    if has_offset.all():
        utc = pd.DatetimeIndex(parsed).tz_convert("UTC")
        _check_years(utc.tz_localize(None), text, locate)
        return utc.as_unit("ns")
    _check_years(pd.DatetimeIndex(parsed), text, locate)
    date_only = text.str.fullmatch(_DATE).to_numpy(dtype=bool)
    return _localize(pd.DatetimeIndex(parsed), zone_info, locate, date_only)


def _localize(naive: pd.DatetimeIndex, zone_info: zoneinfo.ZoneInfo | None, locate: RowLocator,
              date_only: np.ndarray | None = None) -> pd.DatetimeIndex:
    """UTC instants of naive values: midnight-only files are dates in UTC, others need a zone.

    ``date_only`` marks values written without a time of day: they stay 00:00 UTC of their date
    even where other rows (another symbol's intraday bars) are localized to the zone.
    """
    naive = naive.as_unit("ns")
    with_time = (naive != naive.normalize())
    if not with_time.any():
        return naive.tz_localize("UTC")
    if zone_info is None:
        i = int(np.argmax(with_time))
        raise DataValidationError(
            MISSING_TIMEZONE,
            "the timestamp has a time of day but no UTC offset, so the instant is unknown",
            "pass the zone the times were recorded in (tz='America/New_York', an IANA name), or "
            "write timestamps with offsets such as 2024-03-01T09:30:00-05:00",
            locate.at(i, "timestamp"))
    if date_only is None:
        date_only = np.zeros(len(naive), dtype=bool)
    local = naive.tz_localize(zone_info, ambiguous="NaT", nonexistent="NaT")
    # A date's midnight may not exist in the zone (some zones change clocks at 00:00): not an error.
    unresolved = local.isna() & ~date_only
    if unresolved.any():
        i = int(np.argmax(unresolved))
        raise _dst_error(naive[i].to_pydatetime(), zone_info, i, locate)
    utc = local.tz_convert("UTC")
    if not date_only.any():
        return utc
    return pd.DatetimeIndex(np.where(date_only, naive.to_numpy(), utc.tz_localize(None).to_numpy())
                            ).tz_localize("UTC").as_unit("ns")


def _check_years(naive: pd.DatetimeIndex, text: pd.Series, locate: RowLocator) -> None:
    """Raise ``bad-timestamp`` at the first value outside the years ``FIRST_YEAR``-``LAST_YEAR``."""
    outside = ((naive < _FIRST) | (naive >= _END))
    if outside.any():
        i = int(np.argmax(outside))
        raise DataValidationError(
            BAD_TIMESTAMP, f"{str(text.iloc[i])!r}: the year is outside {FIRST_YEAR}-{LAST_YEAR}",
            f"correct the date (a typo in the year?): timestamps are stored in nanoseconds, which "
            f"cover the years {FIRST_YEAR} to {LAST_YEAR}",
            locate.at(i, "timestamp"))


def _dst_error(value: dt.datetime, zone_info: zoneinfo.ZoneInfo, i: int,
               locate: RowLocator) -> DataValidationError:
    early, late = value.replace(tzinfo=zone_info, fold=0), value.replace(tzinfo=zone_info, fold=1)
    round_trip = early.astimezone(dt.timezone.utc).astimezone(zone_info).replace(tzinfo=None)
    if round_trip != value:
        return DataValidationError(
            NONEXISTENT_TIME,
            f"{value:%Y-%m-%d %H:%M} does not exist in {zone_info.key}: clocks jumped forward over it",
            "write the timestamps with UTC offsets, or check that tz is the zone the file was recorded in",
            locate.at(i, "timestamp"))
    return DataValidationError(
        AMBIGUOUS_TIME,
        f"{value:%Y-%m-%d %H:%M} occurs twice in {zone_info.key} (UTC offsets "
        f"{_hours(early.utcoffset())} and {_hours(late.utcoffset())}): clocks went back",
        "write the timestamps with UTC offsets (e.g. ...T01:30:00-04:00 and ...T01:30:00-05:00) so "
        "the repeated hour is unambiguous",
        locate.at(i, "timestamp"))


def _raise_if_missing(missing: np.ndarray, locate: RowLocator) -> None:
    if missing.any():
        raise _bad_timestamp("", int(np.argmax(missing)), locate)


def _bad_timestamp(text: str, i: int, locate: RowLocator, why: str = "") -> DataValidationError:
    if not text:
        detail = "the timestamp cell is empty"
    elif why:
        detail = f"{text!r}: {why}"
    elif re.fullmatch(r"\d{9,19}(\.\d+)?", text):
        detail = f"{text!r} looks like a Unix epoch number, not a date"
    else:
        detail = f"{text!r} is not an ISO 8601 date or date-time"
    return DataValidationError(BAD_TIMESTAMP, detail, _ISO_FIX, locate.at(i, "timestamp"))


def _hours(delta: dt.timedelta | None) -> str:
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
