"""Fill kernel: hand-computed fills, fees, slippage, limits, statuses; replayed accounting identities."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.records import OrderStatus
from tests.engine.kernel_helpers import DELTA, KEEP, TARGET, make_params, no_intents, run

OPEN = [10.0, 11.0, 12.0, 12.5]
CLOSE = [10.5, 11.5, 12.5, 13.0]


def test_all_in_buy_then_sell_by_hand() -> None:
    kind, size = no_intents(4)
    kind[0], size[0] = TARGET, 1.0  # decided at bar 0's close, fills at bar 1's open
    kind[1], size[1] = TARGET, 0.0  # sell everything at bar 2's open
    params = make_params(fees=0.001, slippage=0.01)
    equity, records, state = run(OPEN, CLOSE, kind, size, params)
    # Buy: p = 11 * 1.01 = 11.11; units = 100000 / (11.11 * 1.001) = 8991.908181827...
    units = 100_000 / (11.11 * 1.001)
    buy, sell = records
    assert (buy["bar"], buy["side"], buy["status"]) == (1, 1, OrderStatus.FILLED)
    assert buy["units"] == pytest.approx(units, rel=1e-12)
    assert buy["price"] == pytest.approx(11.11, rel=1e-12)
    assert buy["fees"] == pytest.approx(0.001 * units * 11.11, rel=1e-12)
    # Sell at 12 * 0.99 = 11.88; fee 0.1% of notional.
    assert (sell["bar"], sell["side"]) == (2, -1) and sell["units"] == buy["units"]
    cash = units * 11.88 * (1 - 0.001)
    np.testing.assert_allclose(equity[:, 0], [100_000, units * 11.5, cash, cash], rtol=1e-12)
    assert state.units[0, 0] == 0.0 and state.cash[0] == pytest.approx(cash, rel=1e-12)


def test_order_decided_on_last_bar_is_dropped() -> None:
    kind, size = no_intents(4)
    kind[3], size[3] = TARGET, 1.0
    equity, records, _ = run(OPEN, CLOSE, kind, size)
    assert len(records) == 0 and (equity == 100_000).all()


def test_sells_fill_before_buys_so_a_switch_uses_the_proceeds() -> None:
    open_ = np.array([[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]])
    kind, size = no_intents(3, n_symbols=2)
    kind[0, 0, 0], size[0, 0, 0] = TARGET, 1.0
    kind[1, 0, :], size[1, 0, :] = TARGET, [0.0, 1.0]  # switch A -> B
    _, records, state = run(open_, open_, kind, size)
    assert [(r["bar"], r["symbol"], r["side"]) for r in records] == [(1, 0, 1), (2, 0, -1), (2, 1, 1)]
    assert state.units[0, 1] == pytest.approx(100_000 / 20.0) and state.cash[0] == pytest.approx(0.0, abs=1e-9)


def test_long_only_rejects_a_short_and_clips_an_oversell() -> None:
    kind, size = no_intents(4)
    kind[0], size[0] = DELTA, -0.1  # flat: would open a short
    kind[1], size[1] = TARGET, 0.5
    kind[2], size[2] = DELTA, -0.9  # sells more than held: clipped to the position
    _, records, state = run([10.0] * 4, [10.0] * 4, kind, size)
    assert [OrderStatus(r["status"]).name for r in records] == ["REJECTED_SHORT", "FILLED", "CLIPPED"]
    assert records[2]["units"] == pytest.approx(5_000.0) and state.units[0, 0] == 0.0


def test_buying_more_than_the_cash_is_clipped_to_all_in() -> None:
    kind, size = no_intents(3)
    kind[0], size[0] = DELTA, 1.5
    _, records, state = run([10.0] * 3, [10.0] * 3, kind, size, make_params(fees=0.01))
    assert OrderStatus(records[0]["status"]) is OrderStatus.CLIPPED
    assert records[0]["units"] == pytest.approx(100_000 / (10.0 * 1.01), rel=1e-12)
    assert state.cash[0] == pytest.approx(0.0, abs=1e-6)


def test_position_limit_holds_with_post_trade_equity() -> None:
    kind, size = no_intents(3)
    kind[0], size[0] = TARGET, 1.0
    params = make_params(position_limit=0.5, fees=0.002, slippage=0.01)
    _, records, state = run([10.0] * 3, [10.0] * 3, kind, size, params)
    # The target is clipped to the limit 0.5, then bought like any target: 50,000 of value at
    # p = 10.1 with 0.2% fees buys 50000 / (10.1 * 1.002) units; the weight stays under 0.5.
    u = state.units[0, 0]
    assert u == pytest.approx(50_000 / (10.1 * 1.002), rel=1e-12)
    assert u * 10.0 <= 0.5 * (state.cash[0] + u * 10.0)
    assert OrderStatus(records[0]["status"]) is OrderStatus.FILLED


def test_adding_to_a_position_stops_exactly_at_the_limit() -> None:
    kind, size = no_intents(4)
    kind[0], size[0] = DELTA, 0.4
    kind[1], size[1] = DELTA, 0.4  # would reach 0.8 > limit 0.5: clipped at the limit
    params = make_params(position_limit=0.5, fees=0.002, slippage=0.01)
    _, records, state = run([10.0] * 4, [10.0] * 4, kind, size, params)
    u = state.units[0, 0]
    assert OrderStatus(records[1]["status"]) is OrderStatus.CLIPPED
    assert u * 10.0 == pytest.approx(0.5 * (state.cash[0] + u * 10.0), rel=1e-12)


def test_short_sale_credits_cash_and_marks_at_close() -> None:
    kind, size = no_intents(3)
    kind[0], size[0] = TARGET, -1.0
    params = make_params(allow_short=1.0)
    equity, records, state = run([10.0, 10.0, 8.0], [10.0, 10.0, 8.0], kind, size, params)
    assert records[0]["side"] == -1 and state.units[0, 0] == pytest.approx(-10_000.0)
    assert state.cash[0] == pytest.approx(200_000.0)
    assert equity[2, 0] == pytest.approx(200_000.0 - 10_000.0 * 8.0)  # +20% when price falls 20%


def test_lot_size_rounds_units_down() -> None:
    kind, size = no_intents(3)
    kind[0], size[0] = TARGET, 1.0
    _, records, _ = run([30.0] * 3, [30.0] * 3, kind, size, make_params(lot_size=100.0))
    assert records[0]["units"] == 3_300.0 and OrderStatus(records[0]["status"]) is OrderStatus.CLIPPED


def test_halving_a_position() -> None:
    kind, size = no_intents(4)
    kind[0], size[0] = TARGET, 1.0
    kind[1], size[1] = KEEP, 0.5
    _, records, state = run([10.0] * 4, [10.0] * 4, kind, size)
    assert records[1]["units"] == pytest.approx(5_000.0) and state.units[0, 0] == pytest.approx(5_000.0)


def test_nan_open_is_rejected_without_trading() -> None:
    kind, size = no_intents(3)
    kind[0], size[0] = TARGET, 1.0
    _, records, state = run([10.0, np.nan, 10.0], [10.0, 10.0, 10.0], kind, size)
    assert OrderStatus(records[0]["status"]) is OrderStatus.REJECTED_NO_PRICE and state.units[0, 0] == 0.0


def _replay(records, open_, params, n_scenarios, n_symbols):
    """Re-run the accounting from the records alone and check the limits after every fill."""
    cash = params.init_cash.copy()
    units = np.zeros((n_scenarios, n_symbols))
    for r in records:
        if r["side"] == 0:
            continue
        s, t, n = r["scenario"], r["bar"], r["symbol"]
        signed = r["side"] * r["units"]
        before = units[s].copy()
        units[s, n] += signed
        cash[s] -= signed * r["price"] + r["fees"]
        prices = open_[s, t]
        value = units[s] * prices
        equity = cash[s] + value.sum()
        tol = 1e-9 * max(1.0, abs(equity))
        adds = abs(units[s, n]) > abs(before[n])
        if adds:  # a fill that adds exposure never breaches a limit
            assert abs(value[n]) <= params.position_limit[s] * equity + tol
            assert np.abs(value).sum() <= params.gross_limit[s] * equity + tol
            if params.gross_limit[s] <= 1.0:
                assert cash[s] >= -tol
        if params.allow_short[s] == 0.0:
            assert units[s, n] >= -1e-9
    return cash, units


@settings(max_examples=150)
@given(data=st.data())
def test_random_intent_streams_keep_limits_and_accounting(data: st.DataObject) -> None:
    n_scenarios, n_bars, n_symbols = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 25)), data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_scenarios, n_bars, n_symbols)), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.01, close.shape))
    kind = rng.integers(0, 4, (n_bars, n_scenarios, n_symbols)).astype(np.int8)
    size = np.where(kind == 3, rng.uniform(0, 1.2, kind.shape), rng.uniform(-1.2, 1.2, kind.shape))
    params = make_params(
        n_scenarios,
        fees=data.draw(st.floats(0, 0.01)), slippage=data.draw(st.floats(0, 0.02)),
        position_limit=data.draw(st.floats(0.1, 1.0)), gross_limit=data.draw(st.sampled_from([0.5, 1.0, 2.0])),
        allow_short=float(data.draw(st.booleans())), lot_size=data.draw(st.sampled_from([0.0, 1.0])),
    )
    equity, records, state = run(open_, close, kind, size, params)
    cash, units = _replay(records, open_, params, n_scenarios, n_symbols)
    np.testing.assert_allclose(cash, state.cash, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(units, state.units, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(equity[-1], cash + (units * close[:, -1]).sum(axis=1), rtol=1e-9)
    assert (records["bar"] >= 1).all() and (records["bar"] <= n_bars - 1).all()
