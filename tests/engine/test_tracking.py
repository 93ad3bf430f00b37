"""AccountTracker: rolling ratios, peak and hold times on hand-made equity and positions."""
from __future__ import annotations

import numpy as np
import pytest

from engine.state import PortfolioState
from engine.tracking import AccountTracker


def state(equity, units) -> PortfolioState:
    equity = np.asarray(equity, float)
    units = np.asarray(units, float)
    zeros = np.zeros_like(equity)
    return PortfolioState(zeros, units, units * 0, units * 0, equity, equity, equity, zeros.astype(np.int64),
                          zeros.astype(np.int64), zeros.astype(np.int8), units.astype(np.int64) * 0)


def test_sharpe_sortino_drawdown_and_hold_by_hand() -> None:
    # Account 0: equity 100 -> 101 -> 103.02 (returns +1%, +2%); account 1: 100 -> 110 -> 99 (+10%, -10%).
    tracker = AccountTracker(2, 1, window=5, bars_per_year=4.0)
    tracker.reset(np.arange(2), np.array([0, 0]), state([100.0, 100.0], [[0.0], [0.0]]))
    tracker.update(np.array([1, 1]), state([101.0, 110.0], [[2.0], [0.0]]))
    tracker.update(np.array([2, 2]), state([103.02, 99.0], [[2.0], [-1.0]]))
    # Account 0: mean 0.015, sample std 0.01/sqrt(2) -> 2.1213 per bar, x sqrt(4) = 4.2426.
    # Account 1: mean 0 -> 0.
    assert tracker.sharpe() == pytest.approx([0.015 / (0.01 / np.sqrt(2)) * 2, 0.0])
    # Sortino: account 0 has no loss -> the clip (10); account 1: mean 0 -> 0.
    assert tracker.sortino() == pytest.approx([10.0, 0.0])
    # Peak 110 for account 1: 99 is 10% below it.
    assert tracker.drawdown(np.array([103.02, 99.0])) == pytest.approx([0.0, 0.1])
    # Account 0 opened at bar 1 (held 1 bar at bar 2); account 1 opened at bar 2.
    assert tracker.hold_bars().tolist() == [[1], [0]]


def test_a_flip_restarts_the_hold_clock_and_a_reset_clears_the_returns() -> None:
    tracker = AccountTracker(1, 1, window=3)
    tracker.reset(np.arange(1), np.array([10]), state([100.0], [[1.0]]))
    tracker.update(np.array([11]), state([90.0], [[1.0]]))
    assert tracker.hold_bars().tolist() == [[1]]
    tracker.update(np.array([12]), state([95.0], [[-1.0]]))
    assert tracker.hold_bars().tolist() == [[0]]
    assert tracker.sharpe()[0] != 0.0
    tracker.reset(np.arange(1), np.array([0]), state([95.0], [[0.0]]))
    assert tracker.sharpe()[0] == 0.0 and tracker.drawdown(np.array([95.0]))[0] == 0.0


def test_sortino_uses_the_downside_deviation() -> None:
    # Returns +3%, -1%, -1% (within a window of 3): mean 1/300, downside sqrt((0 + 1e-4 + 1e-4) / 3).
    tracker = AccountTracker(1, 1, window=3, bars_per_year=1.0)
    equity = [100.0, 103.0, 103.0 * 0.99, 103.0 * 0.99 * 0.99]
    tracker.reset(np.arange(1), np.array([0]), state([equity[0]], [[0.0]]))
    for bar, e in enumerate(equity[1:], start=1):
        tracker.update(np.array([bar]), state([e], [[0.0]]))
    assert tracker.sortino()[0] == pytest.approx((0.01 / 3) / np.sqrt(2e-4 / 3))
