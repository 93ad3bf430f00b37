"""Parameter variants of a baseline strategy: ``KEY=LIST`` options expanded into a grid.

``workbench compare --variants fast=10,20`` and ``workbench walkforward --grid fast=10,20`` both give
lists of values per strategy parameter. Every combination (cartesian product, keys in sorted order)
on top of the strategy's given parameters is one variant. A combination the strategy itself rejects
(``sma_cross`` with ``fast >= slow``) is left out and named; a key the strategy does not have or a
value that is not a number stops the run with an error naming the option.
"""
from __future__ import annotations

import itertools
from typing import Any, Mapping

from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from strategies.families.baseline import make_strategy, parameter_value, strategy_parameters

ValueLists = tuple[tuple[str, tuple[str, ...]], ...]


def value_lists(option: str, values: Mapping[str, Any] | None) -> ValueLists:
    """``{"fast": [10, 20]}`` or ``{"fast": "10,20"}`` as ``(("fast", ("10", "20")),)``, keys sorted."""
    if values is None:
        return ()
    if not isinstance(values, Mapping):
        raise InvalidParameterError(
            f"{option} must map parameter names to lists of values, e.g. {{fast: [10, 20]}}; got {values!r}")
    out = []
    for key, items in sorted(values.items()):
        if isinstance(items, str):
            items = [item.strip() for item in items.split(",")]
        elif not isinstance(items, (list, tuple)):
            items = [items]
        texts = tuple(dict.fromkeys(str(item) for item in items if str(item) != ""))
        if not texts:
            raise InvalidParameterError(f"{option} {key}= lists no values; write e.g. {key}=10,20")
        out.append((str(key), texts))
    return tuple(out)


def check_value_lists(option: str, strategy: str, lists: ValueLists) -> None:
    """Raise unless every key is a parameter of ``strategy`` and every value a finite number of its type."""
    defaults = strategy_parameters(strategy)
    for key, texts in lists:
        if key not in defaults:
            allowed = ", ".join(defaults) or "none"
            raise InvalidParameterError(
                f"{option} {key}: strategy {strategy!r} has no parameter {key!r}; its parameters: {allowed}."
                + did_you_mean(key, defaults))
        for text in texts:
            try:
                parameter_value(strategy, key, text, type(defaults[key]))
            except InvalidParameterError as error:  # "sma_cross parameter fast='x' is not a number"
                problem = str(error).removeprefix(f"{strategy} parameter ")
                raise InvalidParameterError(f"{option} {problem}; write e.g. {key}=10,20") from None


def expand_variants(strategy: str, base: Mapping[str, str], lists: ValueLists,
                    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every combination of ``lists`` on top of ``base``: ``(valid, rejected)`` parameter dicts.

    Values are normalized to the parameter's type (``"10.0"`` for an int parameter becomes ``"10"``),
    so equal settings compare equal.
    """
    defaults = strategy_parameters(strategy)
    keys = [key for key, _ in lists]
    valid, rejected = [], []
    for combo in itertools.product(*(texts for _, texts in lists)):
        params = {k: _normal(v, defaults.get(k)) for k, v in {**base, **dict(zip(keys, combo))}.items()}
        try:
            make_strategy(strategy, params)
        except InvalidParameterError:
            rejected.append(params)
            continue
        if params not in valid:
            valid.append(params)
    return valid, rejected


def variant_label(name: str, params: Mapping[str, str]) -> str:
    """``sma_cross(fast=10 slow=50)`` (no comma: it names a column of the exported CSV files); the bare
    name without parameters."""
    if not params:
        return name
    return f"{name}({' '.join(f'{k}={v}' for k, v in sorted(params.items()))})"


def _normal(text: str, default: object) -> str:
    if isinstance(default, bool) or default is None:
        return str(text)
    try:
        number = float(text)
    except ValueError:
        return str(text)
    if isinstance(default, int) and number == int(number):
        return str(int(number))
    return repr(number) if isinstance(default, float) else str(text)
