"""Options shared by the commands (``--device``, ``--precision``) and parsers of option values
(periods, comma-separated lists)."""
from __future__ import annotations

import argparse

import pandas as pd

from engine.errors import InvalidParameterError
from models.devices import DEVICES, PRECISIONS, REFERENCE_DEVICE, REFERENCE_PRECISION


def add_placement_arguments(parser: argparse.ArgumentParser, default: bool) -> None:
    """``--device`` and ``--precision`` of a run command; ``default=False`` leaves them None when not
    given (a spec file's value then stands)."""
    parser.add_argument("--device", choices=DEVICES, default=REFERENCE_DEVICE if default else None,
                        help="where a --policy's network decides: cpu (default), cuda, or auto (cuda when "
                             "torch sees it); recorded in the run")
    parser.add_argument("--precision", choices=PRECISIONS, default=REFERENCE_PRECISION if default else None,
                        help="fp32 (default), bf16, or fp16 (cuda only); off cpu fp32 the run reports its "
                             "action agreement with cpu fp32")


def parse_list(option: str, text: str) -> tuple[float, ...]:
    """``"0,0.001"`` -> ``(0.0, 0.001)``, with an error naming the option and the bad item."""
    values = []
    for item in text.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise InvalidParameterError(f"{option} {text!r}: {item!r} is not a number; write e.g. 0,0.001") from None
    return tuple(values)


def parse_period(option: str, text: str) -> tuple[str | None, str | None]:
    """``"2000-01-01:2007-12-31"`` -> ``("2000-01-01", "2007-12-31")``; an empty side is open.

    ISO timestamps with times are accepted (the split is at the first ``:`` followed by a date-like
    part, so write ``START:END`` with dates or full ISO timestamps on both sides).
    """
    start, end = _split_period(text)
    if start is None and end is None and text.strip() != ":":
        raise InvalidParameterError(f"{option} {text!r} is not START:END; write e.g. 2000-01-01:2007-12-31")
    for side in (start, end):
        if side is not None:
            try:
                pd.Timestamp(side)
            except ValueError:
                raise InvalidParameterError(
                    f"{option} {text!r}: {side!r} is not a date; write e.g. 2000-01-01:2007-12-31") from None
    return start, end


def _split_period(text: str) -> tuple[str | None, str | None]:
    # A timestamp holds colons itself (10:30:00), so split where the right side starts like a date.
    for i, char in enumerate(text):
        rest = text[i + 1:]
        starts_like_date = len(rest) >= 4 and rest[:4].isdigit() and (len(rest) == 4 or rest[4] == "-")
        if char == ":" and (rest == "" or starts_like_date):
            left = text[:i].strip()
            return left or None, rest.strip() or None
    return None, None
