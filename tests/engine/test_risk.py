"""Risk overlay: each rule triggered on a hand-made path; halts never let exposure grow."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.records import OrderReason, OrderStatus
from tests.engine.kernel_helpers import DELTA, TARGET, make_params, no_intents, run


def _names(records, field, enum):
    return [enum(r[field]).name for r in records]


def test_stop_loss_exits_at_the_next_open_after_the_close_breach() -> None:
    close = [100.0, 100.0, 97.0, 94.0, 93.0, 93.0]
    kind, size = no_intents(6)
    kind[0], size[0] = TARGET, 1.0
    _, records, state = run(close, close, kind, size, make_params(stop_loss=0.05))
    # Entry at 100 (bar 1). Close 94 at bar 3 is -6% <= -5%: exit fills at bar 4's open.
    assert [(r["bar"], OrderReason(r["reason"]).name) for r in records] == [(1, "POLICY"), (4, "STOP_LOSS")]
    assert state.units[0, 0] == 0.0


def test_trailing_stop_measures_from_the_best_close() -> None:
    close = [100.0, 100.0, 120.0, 110.0, 107.0, 107.0]
    kind, size = no_intents(6)
    kind[0], size[0] = TARGET, 1.0
    _, records, _ = run(close, close, kind, size, make_params(trailing_stop=0.1))
    # Best close 120; 107 <= 108 (= 120 * 0.9) at bar 4 -> exit at bar 5. 110 at bar 3 is not.
    assert [(r["bar"], OrderReason(r["reason"]).name) for r in records][-1] == (5, "TRAILING_STOP")


def test_take_profit() -> None:
    close = [100.0, 100.0, 105.0, 111.0, 111.0]
    kind, size = no_intents(5)
    kind[0], size[0] = TARGET, 1.0
    _, records, _ = run(close, close, kind, size, make_params(take_profit=0.1))
    assert _names(records, "reason", OrderReason) == ["POLICY", "TAKE_PROFIT"] and records[1]["bar"] == 4


def test_short_stop_loss_triggers_on_a_rise() -> None:
    close = [100.0, 100.0, 104.0, 106.0, 106.0]
    kind, size = no_intents(5)
    kind[0], size[0] = TARGET, -0.5
    _, records, state = run(close, close, kind, size, make_params(stop_loss=0.05, allow_short=1.0))
    assert _names(records, "reason", OrderReason) == ["POLICY", "STOP_LOSS"] and state.units[0, 0] == 0.0


def test_drawdown_breaker_halts_entries_and_flattens_when_asked() -> None:
    close = [100.0, 100.0, 85.0, 85.0, 85.0, 85.0]
    kind, size = no_intents(6)
    kind[0], size[0] = TARGET, 0.5
    kind[3], size[3] = TARGET, 1.0  # after the breaker: must be blocked
    params = make_params(max_drawdown=0.05, flatten_on_breaker=1.0)
    _, records, state = run(close, close, kind, size, params)
    # Equity 100k -> 92.5k at bar 2 (-7.5%): breaker; flatten fills at bar 3; entry at bar 3 blocked.
    assert [(r["bar"], OrderReason(r["reason"]).name, OrderStatus(r["status"]).name) for r in records] == [
        (1, "POLICY", "FILLED"), (3, "BREAKER_FLATTEN", "FILLED"), (4, "POLICY", "REJECTED_HALTED")]
    assert state.units[0, 0] == 0.0


def test_breaker_releases_after_cooldown() -> None:
    close = [100.0, 100.0, 85.0, 85.0, 85.0, 85.0, 85.0, 85.0]
    kind, size = no_intents(8)
    kind[0], size[0] = TARGET, 0.5
    kind[3], size[3] = TARGET, 1.0
    kind[5], size[5] = TARGET, 0.9
    params = make_params(max_drawdown=0.05, cooldown_bars=3)
    _, records, _ = run(close, close, kind, size, params)
    # Breaker at bar 2 until bar 5: the bar-3 entry is blocked, the bar-5 one fills at bar 6.
    assert [(r["bar"], OrderStatus(r["status"]).name) for r in records] == [
        (1, "FILLED"), (4, "REJECTED_HALTED"), (6, "FILLED")]


def test_daily_loss_limit_halts_until_the_next_day() -> None:
    close = [100.0, 100.0, 96.0, 96.0, 96.0, 96.0]
    day = [0, 0, 0, 0, 1, 1]
    kind, size = no_intents(6)
    kind[0], size[0] = TARGET, 0.5
    kind[2], size[2] = TARGET, 0.8  # day 0, after a 2% loss >= 1.5%: blocked
    kind[4], size[4] = TARGET, 0.8  # day 1: allowed again
    params = make_params(daily_loss_limit=0.015)
    _, records, _ = run(close, close, kind, size, params, day=day)
    assert [(r["bar"], OrderStatus(r["status"]).name) for r in records] == [
        (1, "FILLED"), (3, "REJECTED_HALTED"), (5, "FILLED")]


def test_cooldown_blocks_re_entry_after_a_stop() -> None:
    close = [100.0, 100.0, 90.0, 90.0, 90.0, 90.0, 90.0]
    kind, size = no_intents(7)
    kind[0], size[0] = TARGET, 1.0
    kind[3], size[3] = TARGET, 1.0
    kind[5], size[5] = TARGET, 1.0
    _, records, _ = run(close, close, kind, size, make_params(stop_loss=0.05, cooldown_bars=2))
    # Stop decided at bar 2 (cooldown to bar 4): re-entry at bar 3 blocked, bar 5 allowed.
    assert [(r["bar"], OrderReason(r["reason"]).name, OrderStatus(r["status"]).name) for r in records] == [
        (1, "POLICY", "FILLED"), (3, "STOP_LOSS", "FILLED"), (4, "POLICY", "REJECTED_HALTED"),
        (6, "POLICY", "FILLED")]


@settings(max_examples=100)
@given(data=st.data())
def test_no_fill_adds_exposure_while_halted(data: st.DataObject) -> None:
    n_bars = data.draw(st.integers(5, 30))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.04, n_bars)))
    kind = rng.choice([0, TARGET, DELTA], (n_bars, 1, 1)).astype(np.int8)
    size = rng.uniform(0, 1, (n_bars, 1, 1))
    params = make_params(max_drawdown=data.draw(st.floats(0.02, 0.2)), stop_loss=data.draw(st.floats(0.0, 0.1)))
    equity, records, _ = run(close, close, kind, size, params)
    peak = np.maximum.accumulate(equity[:, 0])
    tripped = np.flatnonzero(equity[:, 0] <= peak * (1 - params.max_drawdown[0]))
    if len(tripped):
        after = records[records["bar"] > tripped[0]]
        assert not np.any((after["side"] == 1) & (after["status"] <= OrderStatus.CLIPPED))
