"""The "did you mean" hint of every unknown-name error: one rule for a slip in a name."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from engine.errors import InvalidParameterError


def closest_name(name: str, choices: Iterable[str]) -> str | None:
    """The choice ``name`` most likely meant, or None.

    A choice that starts with ``name`` (case-insensitive: ``"sma"`` for ``"sma_cross"``) is the
    likeliest slip, the first such in ``choices`` order; otherwise the closest spelling by
    ``difflib.get_close_matches`` (similarity ratio >= 0.6). An empty name suggests nothing.
    """
    name = str(name)
    choices = [str(c) for c in choices]
    if not name:
        return None
    prefixed = [c for c in choices if c.lower().startswith(name.lower())]
    close = prefixed or difflib.get_close_matches(name, choices, n=1)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the choice :func:`closest_name` finds, else ``""``.

    The hint is a sentence to append to an error message that ends with a full stop.
    """
    close = closest_name(name, choices)
    return f" Did you mean {close!r}?" if close is not None else ""


def unknown_name(what: str, name: object, choices: Iterable[str]) -> str:
    """``"<what> 'name' is unknown; allowed: a, b."`` followed by the :func:`did_you_mean` hint."""
    choices = [str(c) for c in choices]
    return f"{what} {name!r} is unknown; allowed: {', '.join(choices)}.{did_you_mean(str(name), choices)}"


def check_one_of(what: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``.

    Raises:
        InvalidParameterError: ``"<what> 'value' is not one of a, b, c"``.
    """
    if value not in choices:
        raise InvalidParameterError(f"{what} {value!r} is not one of {', '.join(choices)}")
    return value
