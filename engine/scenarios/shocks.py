"""Synthetic shocks: deterministic transformations of one path (and one parameter shock).

Each path shock returns a new :class:`PricePath` labelled ``"<base label> | <shock>"``; volume is
never changed. Formulas use the relative bars of :mod:`engine.scenarios.path` (``g, h, l, r``:
log open, high, low and close of bar ``t`` over the close of bar ``t - 1``), and every shock keeps
prices positive and OHLC ordered by construction. Windows ``start``/``end`` are bar numbers or
dates (inclusive; a date-only ``end`` covers its whole day); bars after a window keep their
original relative bars, i.e. the rest of the path is the original times one constant per symbol.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.scenarios.params import ScenarioParams
from engine.scenarios.path import PRICE_FIELDS, PricePath, rebuild_bars, relative_bars, when

BarRef = int | str | pd.Timestamp


def overnight_gap(path: PricePath, at: BarRef, pct: float,
                  symbols: Sequence[str] | None = None) -> PricePath:
    """A gap of ``pct`` at the open of bar ``at``: every price from that open on is multiplied
    by ``1 + pct`` (``X'[t] = X[t] (1 + pct)`` for ``t >= at``, all of open, high, low, close).

    Args:
        path: Base path.
        at: Bar of the gap, ``1 <= at`` (bar 0 has no previous close to gap from).
        pct: Gap size, ``> -1`` (``-0.10`` is a 10% gap down).
        symbols: Symbols that gap; default all.
    """
    pct = _finite("overnight_gap pct", pct)
    if pct <= -1:
        raise InvalidParameterError(
            f"overnight_gap pct = {pct:g} must be > -1 (a -100% gap leaves no price)"
        )
    t0 = path.bar_at(at)
    if t0 == 0:
        raise InvalidParameterError(
            "overnight_gap at bar 0: the first bar has no previous close to gap from"
        )
    cols = _columns(path, symbols)
    factor = np.ones(path.n_symbols)
    factor[cols] = 1.0 + pct
    arrays = {}
    for name in PRICE_FIELDS:
        values = getattr(path, name).copy()
        values[t0:] *= factor
        arrays[name] = values
    who = "" if symbols is None else f" ({', '.join(path.symbols[j] for j in cols)})"
    label = f"{path.label} | gap {pct * 100:+g}% at {when(path.index[t0])}{who}"
    return path.with_prices(label, **arrays)


def scale_volatility(path: PricePath, k: float, start: BarRef | None = None,
                     end: BarRef | None = None) -> PricePath:
    """Volatility times ``k`` over a window: ``x' = m + k (x - m)`` for each of ``g, h, l, r`` of
    every bar in the window, where ``m`` is the symbol's mean close log return ``r`` over the window.

    Close log returns keep their mean and their deviations from it are multiplied by ``k``; bar
    ranges scale with them. ``k = 0`` gives a straight line at the mean return.

    Args:
        path: Base path.
        k: Scale, ``>= 0``.
        start, end: The window; default the whole path (bar 0 has no return and is never changed).
    """
    k = _finite("scale_volatility k", k)
    if k < 0:
        raise InvalidParameterError(f"scale_volatility k = {k:g} must be >= 0")

    def scale(offsets: np.ndarray) -> np.ndarray:
        mean = offsets[..., 3].mean(axis=0)[None, :, None]
        return mean + k * (offsets - mean)

    a, b = _return_window(path, start, end)
    return _rewrite_window(path, a, b, scale, f"volatility x{k:g}{_span(path, a, b, start, end)}")


def trend_reversal(path: PricePath, at: BarRef) -> PricePath:
    """The path mirrored after bar ``at``: every log return after ``at`` is negated.

    Closed form with ``c = close[at]`` per symbol, for ``t > at``: ``open' = c^2 / open``,
    ``close' = c^2 / close``, ``high' = c^2 / low``, ``low' = c^2 / high`` (high and low swap).

    Args:
        path: Base path.
        at: The last unchanged bar, ``0 <= at <= T - 2``.
    """
    t0 = path.bar_at(at)
    if t0 >= path.n_bars - 1:
        raise InvalidParameterError(
            f"trend_reversal at the last bar ({when(path.index[t0])}) leaves nothing to reverse"
        )
    pivot = path.close[t0] ** 2
    mirrored = {"open": "open", "close": "close", "high": "low", "low": "high"}
    arrays = {}
    for name, source in mirrored.items():
        values = getattr(path, name).copy()
        values[t0 + 1:] = pivot / getattr(path, source)[t0 + 1:]
        arrays[name] = values
    return path.with_prices(f"{path.label} | reversal after {when(path.index[t0])}", **arrays)


def correlation_spike(path: PricePath, strength: float, start: BarRef | None = None,
                      end: BarRef | None = None) -> PricePath:
    """Symbols move together over a window: ``x'_i = (1 - s) x_i + s mean_j(x_j)`` for each of
    ``g, h, l, r`` of every bar in the window (mean over the N symbols of that bar).

    ``strength = 0`` changes nothing; ``strength = 1`` gives every symbol the same relative bars,
    hence identical returns (perfect correlation) while price levels stay where the window began.

    Args:
        path: Base path with at least two symbols.
        strength: ``s`` in ``[0, 1]``.
        start, end: The window; default the whole path.
    """
    strength = _finite("correlation_spike strength", strength)
    if not 0 <= strength <= 1:
        raise InvalidParameterError(f"correlation_spike strength = {strength:g} must lie in [0, 1]")
    if path.n_symbols < 2:
        raise InvalidParameterError("correlation_spike needs at least two symbols")

    def mix(offsets: np.ndarray) -> np.ndarray:
        return (1 - strength) * offsets + strength * offsets.mean(axis=1, keepdims=True)

    a, b = _return_window(path, start, end)
    label = f"correlation spike {strength:g}{_span(path, a, b, start, end)}"
    return _rewrite_window(path, a, b, mix, label)


def liquidity_shock(params: ScenarioParams, k: float) -> ScenarioParams:
    """Trading costs times ``k``: fees, slippage and spread multiplied by ``k >= 0`` (same path).

    Raises:
        InvalidParameterError: ``k`` negative, or a scaled cost leaving its domain (slippage >= 1).
    """
    k = _finite("liquidity_shock k", k)
    if k < 0:
        raise InvalidParameterError(f"liquidity_shock k = {k:g} must be >= 0")
    try:
        return params.replace(fees=params.fees * k, slippage=params.slippage * k,
                              spread=params.spread * k)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"liquidity_shock x{k:g}: {exc}") from None


def _rewrite_window(path: PricePath, a: int, b: int, transform: Callable[[np.ndarray], np.ndarray],
                    what: str) -> PricePath:
    """Bars ``a..b`` rebuilt from transformed relative bars; later bars rescaled to follow on."""
    offsets = relative_bars(path)[a - 1:b]  # relative bar t sits at row t - 1
    rebuilt = rebuild_bars(path.close[a - 1], transform(offsets))
    level = rebuilt["close"][-1] / path.close[b]
    arrays = {}
    for name in PRICE_FIELDS:
        values = getattr(path, name).copy()
        values[a:b + 1] = rebuilt[name]
        values[b + 1:] *= level
        arrays[name] = values
    return path.with_prices(f"{path.label} | {what}", **arrays)


def _return_window(path: PricePath, start: BarRef | None, end: BarRef | None) -> tuple[int, int]:
    """The window's bars that have a return (bar 0 does not)."""
    a, b = path.bar_range(start, end)
    a = max(a, 1)
    if b < a:
        raise InvalidParameterError(f"window {start} to {end} holds only bar 0, which has no return")
    return a, b


def _span(path: PricePath, a: int, b: int, start: BarRef | None, end: BarRef | None) -> str:
    if start is None and end is None:
        return ""
    return f" {when(path.index[a])} to {when(path.index[b])}"


def _columns(path: PricePath, symbols: Sequence[str] | None) -> list[int]:
    if symbols is None:
        return list(range(path.n_symbols))
    unknown = [s for s in symbols if s not in path.symbols]
    if unknown or not symbols:
        raise InvalidParameterError(
            f"symbols {list(symbols)} must be a non-empty subset of {', '.join(path.symbols)}"
        )
    return [path.symbols.index(s) for s in symbols]


def _finite(name: str, value: float) -> float:
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not number or not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be a finite number, got {value!r}")
    return float(value)
