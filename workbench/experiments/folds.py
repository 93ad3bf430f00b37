"""Walk-forward folds over ``T`` bars: training windows, purge gaps, test blocks and embargoes.

Lengths are bar counts or durations. A duration is ``<number><unit>`` with unit ``Y`` (years), ``M``
(months), ``W`` (weeks) or ``D`` (trading days), converted with the data's bars per year ``A``
(``engine.data.market.bars_per_year``: 252 on daily bars): ``round(n * A * f)`` bars with
``f = 1, 1/12, 1/52, 1/252``. On daily bars ``2Y`` is 504 bars and ``6M`` 126.

Layout (bars numbered ``0 .. T-1``, ranges inclusive); fold ``k = 0, 1, ...``:

- test block: ``[s_k, s_k + test - 1]`` with ``s_k = train + purge + k * step``; folds continue
  while the block fits (``s_k + test <= T``); the bars after the last block are unused;
- training window: ``rolling``: the ``train`` bars ending ``purge`` bars before the test block,
  ``[s_k - purge - train, s_k - purge - 1]``; ``expanding``: from bar 0, ``[0, s_k - purge - 1]``;
- purge: the ``purge`` bars between window and block belong to neither;
- embargo: the ``embargo`` bars after each test block (``[e_j + 1, e_j + embargo]``) are taken out
  of the training windows of every later fold.

``step >= test`` keeps test blocks disjoint, so the stitched out-of-sample curve visits each bar once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidParameterError

SCHEMES = ("rolling", "expanding")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([YMWD])\s*$", re.IGNORECASE)
YEAR_FRACTION = {"Y": 1.0, "M": 1.0 / 12.0, "W": 1.0 / 52.0, "D": 1.0 / 252.0}


@dataclass(frozen=True)
class Fold:
    """One fold's bar ranges (inclusive bar numbers).

    Attributes:
        fold: Fold number, from 0.
        train_start, train_end: The training window.
        test_start, test_end: The test block.
        train_ranges: The window without embargoed bars, as disjoint ascending ranges.
    """

    fold: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    train_ranges: tuple[tuple[int, int], ...]

    def train_bars(self) -> np.ndarray:
        """Training bars (window minus embargoes), ascending."""
        return np.concatenate([np.arange(a, b + 1) for a, b in self.train_ranges])

    def test_bars(self) -> np.ndarray:
        return np.arange(self.test_start, self.test_end + 1)

    def latest_train_run(self) -> tuple[int, int]:
        """The last contiguous range of training bars (what a trainer that needs one period gets)."""
        return self.train_ranges[-1]


def to_bars(option: str, value: int | str, bars_per_year: float) -> int:
    """A bar count (int or digits) or a duration (``2Y``, ``6M``, ``4W``, ``10D``) as bars."""
    if isinstance(value, bool):
        raise InvalidParameterError(f"{option} {value!r} is not a bar count or a duration like 2Y, 6M, 4W, 10D")
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    match = DURATION.match(text)
    if match is None:
        raise InvalidParameterError(
            f"{option} {value!r} is not a bar count or a duration like 2Y, 6M, 4W, 10D (years, months, "
            "weeks, trading days)")
    return int(round(float(match.group(1)) * YEAR_FRACTION[match.group(2).upper()] * bars_per_year))


def fold_layout(n_bars: int, train: int, test: int, step: int | None = None, scheme: str = "rolling",
                purge: int = 0, embargo: int = 0) -> list[Fold]:
    """Every fold that fits into ``n_bars`` bars (the module docstring gives the rules).

    Args:
        n_bars: Bars of the data.
        train: Training window length in bars (>= 2; the first window under ``expanding``).
        test: Test block length in bars (>= 2).
        step: Bars between the starts of consecutive test blocks (>= test); None: ``test``.
        scheme: ``rolling`` or ``expanding``.
        purge: Bars between a training window and its test block (>= 0).
        embargo: Bars after each test block kept out of later training (>= 0).

    Raises:
        InvalidParameterError: a setting outside its range or folds that do not fit, naming the
            option (CLI flag and spec option) and the fix.
    """
    step = test if step is None else step
    for name, value, low in (("train", train, 2), ("test", test, 2), ("step", step, 1),
                             ("purge", purge, 0), ("embargo", embargo, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InvalidParameterError(
                f"walkforward option {name} (--{name}) {value!r} must be an integer >= {low} bars")
    if scheme not in SCHEMES:
        raise InvalidParameterError(
            f"walkforward option scheme (--scheme) {scheme!r} must be one of {', '.join(SCHEMES)}")
    if step < test:
        raise InvalidParameterError(
            f"walkforward option step (--step) {step} is shorter than test (--test) {test}: test blocks would "
            "overlap; use a step >= the test length (default: equal)")
    if train + purge + test > n_bars:
        raise InvalidParameterError(
            f"walk-forward folds do not fit: --train {train} + --purge {purge} + --test {test} = "
            f"{train + purge + test} bars, but the data has {n_bars}; shorten --train/--test or widen "
            "the period (--start/--end)")
    folds = []
    ends: list[int] = []
    start = train + purge
    while start + test <= n_bars:
        window_end = start - purge - 1
        window_start = 0 if scheme == "expanding" else window_end - train + 1
        ranges = _without(window_start, window_end, [(e + 1, e + embargo) for e in ends] if embargo else [])
        k = len(folds)
        if sum(b - a + 1 for a, b in ranges) < 2:
            raise InvalidParameterError(
                f"walkforward option embargo (--embargo) {embargo} leaves fold {k} fewer than 2 training "
                "bars; lower --embargo or lengthen --train")
        folds.append(Fold(k, window_start, window_end, start, start + test - 1, tuple(ranges)))
        ends.append(start + test - 1)
        start += step
    return folds


def _without(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[start, end]`` minus the inclusive ``holes``, as ascending disjoint ranges."""
    keep = np.ones(end - start + 1, dtype=bool)
    for a, b in holes:
        lo, hi = max(a, start), min(b, end)
        if lo <= hi:
            keep[lo - start:hi - start + 1] = False
    bars = np.flatnonzero(keep) + start
    if bars.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(bars) > 1)
    firsts = np.concatenate([[bars[0]], bars[breaks + 1]])
    lasts = np.concatenate([bars[breaks], [bars[-1]]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts)]
