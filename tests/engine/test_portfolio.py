"""The vectorbt bridge replays the engine's fills exactly; metrics match hand-worked values."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.errors import InvalidParameterError
from engine.metrics import (
    METRIC_KEYS,
    benchmark_curve,
    drawdown_episodes,
    gross_exposure,
    positions,
    scenario_metrics,
)
from engine.portfolio import cash_credit, from_orders_arguments, to_vectorbt
from engine.records import (
    KIND_DELTA_PERCENT,
    KIND_POSITION_FRACTION,
    KIND_TARGET_PERCENT,
    STATUS_FILLED,
    order_dt,
)
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, combine, from_market
from engine.simulate import simulate_intents
from engine.state import KernelParams, initial_state
from strategies.families.baseline import make_strategy
from tests.engine.envs.helpers import synthetic

DEFAULTS = dict(init_cash=100_000.0, fees=0.0, slippage=0.0, spread=0.0, position_limit=1.0,
                gross_limit=1.0, allow_short=0.0, lot_size=0.0, stop_loss=0.0, trailing_stop=0.0,
                take_profit=0.0, max_drawdown=0.0, flatten_on_breaker=0.0, daily_loss_limit=0.0,
                cooldown_bars=0.0)


def make_params(n_scenarios: int, **overrides) -> KernelParams:
    values = {**DEFAULTS, **overrides}
    return KernelParams(**{k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n_scenarios,)).copy()
                           for k, v in values.items()})


def daily_index(n_bars: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n_bars, freq="D", tz="UTC")


def records_of(*rows: tuple) -> np.ndarray:
    """Hand-made FILLED records from (scenario, bar, symbol, side, units, price, fees) rows."""
    out = np.zeros(len(rows), dtype=order_dt)
    for i, (scenario, bar, symbol, side, units, price, fees) in enumerate(rows):
        out[i] = (scenario, bar, symbol, side, units, price, fees, STATUS_FILLED, 0)
    return out


def replay(open_, close, kind, size, params):
    """Simulate, replay in vectorbt; return engine equity, final state, portfolio and credit."""
    n_scenarios, n_bars, n_symbols = open_.shape
    state = initial_state(params, n_symbols)
    equity, records = simulate_intents(open_, close, np.arange(n_bars), kind, size, params, state)
    symbols = [f"S{n}" for n in range(n_symbols)]
    pf = to_vectorbt(records, close, daily_index(n_bars), symbols, params.init_cash, "1D")
    return equity, state, pf, cash_credit(records, params.init_cash), records


# ---------------------------------------------------------------- the agreement property


@st.composite
def runs(draw):
    """Random price paths, intent streams and per-scenario costs and limits."""
    n_scenarios = draw(st.integers(1, 3))
    n_bars = draw(st.integers(2, 40))
    n_symbols = draw(st.integers(1, 3))
    shape = (n_scenarios, n_bars, n_symbols)
    start = draw(arrays(np.float64, (n_scenarios, 1, n_symbols), elements=st.floats(5.0, 200.0)))
    moves = draw(arrays(np.float64, shape, elements=st.floats(0.8, 1.25)))
    gaps = draw(arrays(np.float64, shape, elements=st.floats(0.9, 1.1)))
    open_ = start * np.cumprod(moves, axis=1)
    close = open_ * gaps

    kind = draw(arrays(np.int8, (n_bars, n_scenarios, n_symbols), elements=st.sampled_from(
        [0, KIND_TARGET_PERCENT, KIND_DELTA_PERCENT, KIND_POSITION_FRACTION])))
    u = draw(arrays(np.float64, kind.shape, elements=st.floats(0.0, 1.0)))
    allow_short = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n_scenarios,
                                         max_size=n_scenarios)))
    short = allow_short[None, :, None] > 0
    size = np.select(
        [kind == KIND_TARGET_PERCENT, kind == KIND_DELTA_PERCENT],
        [np.where(short, 2.0 * u - 1.0, u), u - 0.5],
        1.5 * u,  # POSITION_FRACTION: keep 0..150% of the units
    )

    def per_scenario(strategy):
        return draw(st.lists(strategy, min_size=n_scenarios, max_size=n_scenarios))

    gross = np.array(per_scenario(st.sampled_from([1.0, 1.0, 2.0])))
    params = make_params(
        n_scenarios,
        init_cash=per_scenario(st.sampled_from([1_000.0, 100_000.0])),
        fees=per_scenario(st.floats(0.0, 0.01)),
        slippage=per_scenario(st.floats(0.0, 0.02)),
        spread=per_scenario(st.sampled_from([0.0, 0.002])),
        position_limit=np.minimum(per_scenario(st.sampled_from([0.5, 1.0, 2.0])), gross),
        gross_limit=gross,
        allow_short=allow_short,
        lot_size=per_scenario(st.sampled_from([0.0, 0.0, 0.5])),
        stop_loss=per_scenario(st.sampled_from([0.0, 0.05])),
        max_drawdown=per_scenario(st.sampled_from([0.0, 0.2])),
        flatten_on_breaker=per_scenario(st.sampled_from([0.0, 1.0])),
        cooldown_bars=per_scenario(st.sampled_from([0.0, 2.0])),
    )
    return open_, close, kind, size, params


@settings(max_examples=200, deadline=None)
@given(runs())
def test_vectorbt_value_cash_and_units_agree_with_the_engine(run):
    open_, close, kind, size, params = run
    n_scenarios, n_bars, n_symbols = open_.shape
    equity, state, pf, credit, _ = replay(open_, close, kind, size, params)

    value = pf.value().to_numpy().reshape(n_bars, n_scenarios) - credit
    units = pf.assets().to_numpy().reshape(n_bars, n_scenarios, n_symbols)
    # Rounding grows with the money in play, not with equity (which leverage can push near 0).
    in_play = params.init_cash + credit + np.abs(units * close.transpose(1, 0, 2)).sum(axis=2).max(axis=0)
    gap = np.abs(value - equity) / in_play
    assert gap.max() <= 1e-9, f"value differs from equity by {gap.max():.3g} of the money in play"
    cash = pf.cash().to_numpy().reshape(n_bars, n_scenarios) - credit
    assert np.all(np.abs(cash[-1] - state.cash) <= 1e-9 * in_play)
    unit_scale = np.maximum(np.abs(units).max(axis=0), 1.0)
    assert np.all(np.abs(units[-1] - state.units) <= 1e-9 * unit_scale)
    # Long-only and unleveraged, cash never goes (more than a rounding crumb) below zero.
    plain = (params.gross_limit <= 1.0) & (params.allow_short == 0.0)
    assert np.all(cash[:, plain] >= -1e-9 * in_play[plain])


def assert_same_as_simulated(pf: vbt.Portfolio, records: np.ndarray, close: np.ndarray, index: pd.DatetimeIndex,
                             symbols: list[str], init_cash: np.ndarray) -> None:
    """``pf`` (built on known order records) is what vectorbt's simulation of the replay gives, bit for bit."""
    simulated = vbt.Portfolio.from_orders(**from_orders_arguments(records, close, index, symbols, init_cash, "1D"))
    for ours, theirs in ((pf.orders.records_arr, simulated.orders.records_arr),
                         (pf.exit_trades.records_arr, simulated.exit_trades.records_arr)):
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes()
    for name in ("value", "cash", "assets"):
        np.testing.assert_array_equal(np.asarray(getattr(pf, name)()), np.asarray(getattr(simulated, name)()))
    np.testing.assert_array_equal(np.asarray(pf.init_cash), np.asarray(simulated.init_cash))


@settings(max_examples=200, deadline=None)
@given(runs())
def test_the_portfolio_on_known_order_records_is_the_simulated_replay(run):
    open_, close, kind, size, params = run
    _, _, pf, _, records = replay(open_, close, kind, size, params)
    symbols = [f"S{n}" for n in range(close.shape[2])]
    assert_same_as_simulated(pf, records, close, daily_index(close.shape[1]), symbols, params.init_cash)


@settings(max_examples=100, deadline=None)
@given(runs(), st.integers(8, 60))
def test_a_scenarios_metrics_are_the_same_alone_as_in_its_batch(run, extra_bars):
    """Bit for bit: a cost point's figures do not depend on the scenarios beside it (issue 19's
    baselines run one point alone and must equal the same point of a whole grid)."""
    open_, close, kind, size, params = run
    n_scenarios = open_.shape[0]
    more = np.concatenate([open_, np.repeat(open_[:, -1:], extra_bars, axis=1)], axis=1)  # past 8 bars: pairwise sums
    open_, close = more, np.concatenate([close, np.repeat(close[:, -1:], extra_bars, axis=1)], axis=1)
    kind = np.concatenate([kind, np.zeros((extra_bars, *kind.shape[1:]), kind.dtype)])
    size = np.concatenate([size, np.zeros((extra_bars, *size.shape[1:]))])
    equity, _, _, _, records = replay(open_, close, kind, size, params)
    index = daily_index(close.shape[1])
    together = scenario_metrics(equity, records, close, index, params.init_cash, "1D")
    for s in range(n_scenarios):
        own = records[records["scenario"] == s].copy()
        own["scenario"] = 0
        alone = scenario_metrics(equity[:, [s]], own, close[s:s + 1], index, params.init_cash[s:s + 1], "1D")
        assert json.dumps(alone[0]) == json.dumps(together[s])


def test_a_dust_fill_is_ignored_as_vectorbt_ignores_it():
    records = records_of((0, 1, 0, 1, 2.0, 10.0, 0.01), (0, 2, 0, -1, 1e-13, 10.0, 0.0), (0, 3, 0, -1, 1.0, 11.0, 0.0))
    close = np.full((1, 4, 1), 10.0)
    pf = to_vectorbt(records, close, daily_index(4), ["A"], np.array([100.0]), "1D")
    assert len(pf.orders.records_arr) == 2
    assert_same_as_simulated(pf, records, close, daily_index(4), ["A"], np.array([100.0]))


# ---------------------------------------------------------------- examples of the conventions


def test_all_in_buy_gives_cash_over_price_times_one_plus_fee_units_in_vectorbt():
    # Fees 0.1 %, slippage 1 %: the target-100 % intent of bar 0 fills at bar 1's open 11 * 1.01
    # = 11.11, buying 100,000 / (11.11 * 1.001) = 8991.9081818... units; bar 1 decides to close.
    params = make_params(1, fees=0.001, slippage=0.01)
    open_ = np.array([10.0, 11.0, 12.0])[None, :, None]
    close = np.array([10.5, 11.5, 12.5])[None, :, None]
    kind = np.full((3, 1, 1), KIND_TARGET_PERCENT, dtype=np.int8)
    size = np.array([1.0, 0.0, 0.0])[:, None, None]
    equity, _, pf, credit, _ = replay(open_, close, kind, size, params)

    units = pf.assets().to_numpy()[:, 0]
    expected = 100_000 / (11.11 * 1.001)
    assert units[1] == pytest.approx(expected, rel=1e-12)
    assert units[2] == 0.0
    # Bar 1 close: 8991.908 * 11.5 = 103,406.944; bar 2 sells at 12 * 0.99 = 11.88 less 0.1 % fee.
    assert equity[1, 0] == pytest.approx(expected * 11.5, rel=1e-12)
    assert equity[2, 0] == pytest.approx(expected * 11.88 * 0.999, rel=1e-12)
    # The credit is the cushion, 1e-6 of the largest cash (106,717.05 after the sale), plus a
    # rounding crumb of the all-in buy.
    assert credit[0] == pytest.approx(1e-6 * equity[2, 0], rel=1e-9)
    np.testing.assert_allclose(pf.value().to_numpy() - credit[0], equity[:, 0], rtol=1e-12)


def test_sells_fill_before_buys_so_a_switch_uses_the_freed_cash():
    # All in symbol 1 from bar 1; bar 1 decides to switch to symbol 0. In symbol order the buy of
    # symbol 0 would come first and find no cash; the engine (and the replay) sells symbol 1 first.
    params = make_params(1)
    open_ = np.array([[[10.0, 20.0], [10.0, 20.0], [10.0, 20.0], [10.0, 20.0]]])
    close = open_.copy()
    kind = np.full((4, 1, 2), KIND_TARGET_PERCENT, dtype=np.int8)
    size = np.zeros((4, 1, 2))
    size[0, 0, 1] = 1.0  # bar 0: all in symbol 1 (5,000 units at 20)
    size[1, 0, 0] = 1.0  # bar 1: switch to symbol 0 (10,000 units at 10)
    size[2, 0, 0] = 1.0
    equity, state, pf, credit, _ = replay(open_, close, kind, size, params)
    units = pf.assets().to_numpy()
    np.testing.assert_allclose(units[1], [0.0, 5_000.0])
    np.testing.assert_allclose(units[2], [10_000.0, 0.0])
    np.testing.assert_allclose(pf.value().to_numpy() - credit[0], equity[:, 0])
    np.testing.assert_allclose(equity[:, 0], 100_000.0)


def test_leverage_is_replayed_with_a_cash_credit():
    # Gross limit 2: target 150 % of 100,000 at price 10 buys 15,000 units for 150,000, so cash
    # reaches -50,000; vectorbt gets 50,000 more initial cash, plus the cushion of 1e-6 of the
    # largest cash balance (100,000): 50,000.1.
    params = make_params(1, gross_limit=2.0, position_limit=2.0)
    open_ = np.array([10.0, 10.0, 12.0])[None, :, None]
    close = np.array([10.0, 10.0, 12.0])[None, :, None]
    kind = np.zeros((3, 1, 1), dtype=np.int8)
    kind[0] = KIND_TARGET_PERCENT
    size = np.full((3, 1, 1), 1.5)
    equity, state, pf, credit, _ = replay(open_, close, kind, size, params)
    assert credit[0] == pytest.approx(50_000.1)
    assert state.cash[0] == pytest.approx(-50_000.0)
    assert equity[2, 0] == pytest.approx(130_000.0)  # 15,000 * 12 - 50,000
    np.testing.assert_allclose(pf.value().to_numpy() - credit[0], equity[:, 0], rtol=1e-12)


def test_bad_records_and_shapes_are_rejected():
    close = np.full((1, 3, 1), 10.0)
    index = daily_index(3)
    with pytest.raises(InvalidParameterError, match="order_dt"):
        to_vectorbt(np.zeros(2), close, index, ["A"], np.array([100.0]))
    with pytest.raises(InvalidParameterError, match="index has 2 bars"):
        to_vectorbt(np.zeros(0, order_dt), close, index[:2], ["A"], np.array([100.0]))
    twice = records_of((0, 1, 0, 1, 1.0, 10.0, 0.0), (0, 1, 0, -1, 1.0, 10.0, 0.0))
    with pytest.raises(InvalidParameterError, match="two fills"):
        to_vectorbt(twice, close, index, ["A"], np.array([100.0]))
    outside = records_of((0, 5, 0, 1, 1.0, 10.0, 0.0))
    with pytest.raises(InvalidParameterError, match="outside"):
        to_vectorbt(outside, close, index, ["A"], np.array([100.0]))


# ---------------------------------------------------------------- metrics by hand

CLOSE = np.array([100.0, 110.0, 99.0, 121.0])


def hand_run():
    """Three scenarios on one symbol closing 100, 110, 99, 121 (bars_per_year = 4).

    A: buys 1 unit at 100 on bar 0 with cash 100 and holds: equity 100, 110, 99, 121.
    B: cash 200, fee 0.1 a fill: buy 1 @ 100 (bar 0), sell @ 110 (bar 1), buy @ 105 (bar 2),
       sell @ 99 (bar 3). Cash 99.9, 209.8, 104.7, 203.6; equity 199.9, 209.8, 203.7, 203.6.
    C: never trades: equity 50 throughout.
    """
    records = records_of(
        (0, 0, 0, 1, 1.0, 100.0, 0.0),
        (1, 0, 0, 1, 1.0, 100.0, 0.1),
        (1, 1, 0, -1, 1.0, 110.0, 0.1),
        (1, 2, 0, 1, 1.0, 105.0, 0.1),
        (1, 3, 0, -1, 1.0, 99.0, 0.1),
    )
    equity = np.array([[100.0, 199.9, 50.0], [110.0, 209.8, 50.0], [99.0, 203.7, 50.0], [121.0, 203.6, 50.0]])
    close = np.broadcast_to(CLOSE[None, :, None], (3, 4, 1)).copy()
    init_cash = np.array([100.0, 200.0, 50.0])
    return equity, records, close, init_cash


def test_hand_equity_is_what_vectorbt_replays():
    equity, records, close, init_cash = hand_run()
    pf = to_vectorbt(records, close, daily_index(4), ["A"], init_cash, "1D")
    np.testing.assert_allclose(pf.value().to_numpy() - cash_credit(records, init_cash), equity, rtol=1e-12)


def test_positions_from_records_are_what_vectorbt_holds():
    equity, records, close, init_cash = hand_run()
    pf = to_vectorbt(records, close, daily_index(4), ["A"], init_cash, "1D")
    held = positions(records, 4, 3, 1)
    np.testing.assert_allclose(held, pf.assets().to_numpy().reshape(4, 3, 1))
    exposure = gross_exposure(records, close, equity)
    assert exposure[:, 1] == pytest.approx([100 / 199.9, 0.0, 99 / 203.7, 0.0])


def test_metrics_of_the_hand_run():
    equity, records, close, init_cash = hand_run()
    a, b, c = scenario_metrics(equity, records, close, daily_index(4), init_cash, "1D", bars_per_year=4)
    assert list(a) == list(METRIC_KEYS)
    json.dumps([a, b, c], allow_nan=False)  # None, not NaN or infinity, where undefined

    # A: returns 0, 0.1, -0.1, 0.2222 (121/99 - 1); mean 0.0555556, sample std 0.1378853.
    assert a["final_equity"] == 121.0
    assert a["total_return"] == pytest.approx(0.21)
    assert a["annualized_return"] == pytest.approx(0.21)  # 1.21 ** (4 bars/yr / 4 bars) - 1
    assert a["sharpe"] == pytest.approx(0.0555556 / 0.1378853 * 2, rel=1e-6)  # sqrt(4) = 2
    assert a["annualized_volatility"] == pytest.approx(0.1378853 * 2, rel=1e-6)  # QuantStats' volatility
    # Sortino: mean * 4 / (sqrt(mean(min(r, 0)^2)) * 2) = 0.2222222 / (sqrt(0.01 / 4) * 2) = 2.2222
    assert a["sortino"] == pytest.approx(2.2222222, rel=1e-6)
    assert a["max_drawdown"] == pytest.approx(0.1)  # 110 -> 99
    assert a["calmar"] == pytest.approx(2.1)  # 0.21 / 0.1
    assert a["max_drawdown_duration"] == 1  # bar 2 under water, recovered at bar 3
    assert a["n_trades"] == 1 and a["n_closed_trades"] == 0 and a["n_orders"] == 1
    assert a["win_rate"] is None and a["profit_factor"] is None  # no closed trade
    assert a["exposure"] == pytest.approx(1.0)  # fully invested at every close
    assert a["time_in_market"] == 1.0
    assert a["turnover"] == pytest.approx(100 / 107.5)  # notional 100 / mean equity 107.5
    assert a["fees_paid"] == 0.0
    assert a["benchmark_return"] == pytest.approx(0.21)  # the one symbol, 100 -> 121
    assert a["excess_return"] == pytest.approx(0.0, abs=1e-12)

    # B: trades +10 - 0.2 fees = 9.8 and -6 - 0.2 = -6.2.
    assert b["total_return"] == pytest.approx(0.018)  # 203.6 / 200 - 1
    assert b["n_trades"] == 2 and b["n_closed_trades"] == 2 and b["n_orders"] == 4
    assert b["win_rate"] == pytest.approx(0.5)
    assert b["profit_factor"] == pytest.approx(9.8 / 6.2)
    assert b["fees_paid"] == pytest.approx(0.4)
    assert b["max_drawdown"] == pytest.approx((209.8 - 203.6) / 209.8)
    assert b["max_drawdown_duration"] == 2  # bars 2 and 3, not recovered
    # Exposure: (100 / 199.9 + 0 + 99 / 203.7 + 0) / 4; turnover: 414 / mean(199.9, 209.8, 203.7, 203.6).
    assert b["exposure"] == pytest.approx((100 / 199.9 + 99 / 203.7) / 4)
    assert b["turnover"] == pytest.approx(414 / 204.25)
    assert b["time_in_market"] == 0.5  # holding at the closes of bars 0 and 2

    # C: flat equity: ratios are 0, not NaN or infinity.
    assert c["sharpe"] == 0.0 and c["sortino"] == 0.0 and c["calmar"] == 0.0
    assert c["total_return"] == 0.0 and c["max_drawdown"] == 0.0 and c["n_trades"] == 0
    assert c["annualized_volatility"] == 0.0
    assert c["exposure"] == 0.0 and c["turnover"] == 0.0 and c["time_in_market"] == 0.0


def test_metrics_with_a_given_benchmark_and_no_losses():
    equity, records, close, init_cash = hand_run()
    bench = np.array([50.0, 55.0, 60.0, 60.5])  # +21 %, like A
    rows = scenario_metrics(equity, records, close, daily_index(4), init_cash, "1D",
                            benchmark_close=bench, bars_per_year=4)
    assert rows[0]["benchmark_return"] == pytest.approx(0.21)
    assert rows[1]["excess_return"] == pytest.approx(0.018 - 0.21)
    # A rising curve with no down bar has no downside: Sortino is undefined, reported as None.
    rising = np.array([[100.0], [101.0], [103.0], [104.0]])
    only = scenario_metrics(rising, np.zeros(0, order_dt), close[:1], daily_index(4), np.array([100.0]),
                            "1D", bars_per_year=4)[0]
    assert only["sortino"] is None and only["calmar"] is None
    assert only["sharpe"] == pytest.approx(np.mean([0, .01, 2 / 101, 1 / 103])
                                           / np.std([0, .01, 2 / 101, 1 / 103], ddof=1) * 2)


def test_equal_weight_benchmark_carries_missing_closes_and_starts_late_symbols_as_cash():
    # Symbol 0: 10, 11, NaN, 12 -> growth 1, 1.1, 1.1, 1.2. Symbol 1 starts at bar 1: 1, 1, 1.5, 2.
    close = np.array([[[10.0, np.nan], [11.0, 20.0], [np.nan, 30.0], [12.0, 40.0]]])
    np.testing.assert_allclose(benchmark_curve(close)[:, 0], [1.0, 1.05, 1.3, 1.6])
    with pytest.raises(InvalidParameterError, match="benchmark_close"):
        benchmark_curve(close, np.ones(5))


def test_metrics_reject_mismatched_shapes():
    equity, records, close, init_cash = hand_run()
    with pytest.raises(InvalidParameterError, match="equity must be"):
        scenario_metrics(equity[:, :2], records, close, daily_index(4), init_cash, "1D")
    with pytest.raises(InvalidParameterError, match="bars_per_year"):
        scenario_metrics(equity, records, close, daily_index(4), init_cash, "1D", bars_per_year=0)


# ---------------------------------------------------------------- drawdown episodes


def test_drawdown_episodes_of_a_hand_curve():
    # 100, 110, 99, 121, 115, 118, 130, 120:
    #   110 (bar 1) -> 99 (bar 2), recovered bar 3: depth 11/110 = 0.1, 1 bar under water;
    #   121 (bar 3) -> 115 (bar 4), recovered bar 6: depth 6/121 = 0.0496, 2 bars;
    #   130 (bar 6) -> 120 (bar 7), not recovered: depth 10/130 = 0.0769, 1 bar.
    equity = np.array([100.0, 110, 99, 121, 115, 118, 130, 120])
    index = daily_index(8)
    episodes = drawdown_episodes(equity, index, top=5)
    assert [e["depth"] for e in episodes] == pytest.approx([0.1, 10 / 130, 6 / 121])
    first, second, third = episodes
    assert (first["peak_bar"], first["trough_bar"], first["recovery_bar"], first["duration"]) == (1, 2, 3, 1)
    assert first["peak_date"] == "2024-01-02T00:00:00+00:00"
    assert first["recovery_date"] == "2024-01-04T00:00:00+00:00"
    assert (second["peak_bar"], second["trough_bar"], second["duration"]) == (6, 7, 1)
    assert second["recovery_bar"] is None and second["recovery_date"] is None
    assert (third["peak_bar"], third["trough_bar"], third["recovery_bar"], third["duration"]) == (3, 4, 6, 2)
    assert len(drawdown_episodes(equity, index, top=2)) == 2
    assert drawdown_episodes(np.array([1.0, 2.0, 3.0]), daily_index(3)) == []


def test_the_benchmark_once_per_path_gives_the_same_metrics():
    costs = [ScenarioParams(fees=0.0), ScenarioParams(fees=0.002, slippage=0.001)]
    batch = combine(from_market(synthetic(seed=3), costs), from_market(synthetic(seed=4), costs))
    assert batch.path_ids.tolist() == [0, 0, 1, 1]
    rollout = run_rollout(batch, make_strategy("sma_cross", {"fast": 5, "slow": 15}))
    args = (rollout.equity, rollout.records, batch.close, batch.index, batch.param_array("init_cash"), "1D")
    per_path = scenario_metrics(*args, paths=batch.path_ids)
    assert per_path == scenario_metrics(*args)
    assert per_path[0]["benchmark_return"] == per_path[1]["benchmark_return"] != per_path[2]["benchmark_return"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), n_symbols=st.integers(1, 11), n_fills=st.integers(0, 60))
def test_gross_exposure_is_the_numpy_expression_bit_for_bit(seed, n_symbols, n_fills):
    rng = np.random.default_rng(seed)
    n_scenarios, n_bars = 3, 12
    rows = [(rng.integers(n_scenarios), rng.integers(n_bars), rng.integers(n_symbols), rng.choice([-1, 1]),
             rng.uniform(0.0, 50.0), 10.0, 0.0) for _ in range(n_fills)]  # several fills of one cell and bar too
    records = records_of(*rows) if rows else np.zeros(0, order_dt)
    close = rng.uniform(1.0, 100.0, (n_scenarios, n_bars, n_symbols))
    close[rng.random(close.shape) < 0.1] = np.nan
    equity = rng.uniform(-100.0, 5_000.0, (n_bars, n_scenarios))
    units = positions(records, n_bars, n_scenarios, n_symbols)
    held = np.where(units != 0.0, np.abs(units * close.transpose(1, 0, 2)), 0.0).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(equity > 0.0, held / equity, np.nan)
    assert gross_exposure(records, close, equity).tobytes() == expected.tobytes()
