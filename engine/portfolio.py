"""The vectorbt bridge: the engine's order records replayed as a ``vectorbt.Portfolio``.

The engine decides and fills; vectorbt only replays the fills so that its trade, drawdown and
return analytics can be used on them. The replay is exact:

* one column per (scenario, symbol), grouped by scenario with ``cash_sharing=True``;
* each filled (or clipped) record becomes an order at its fill bar: ``size`` = signed units
  (``size_type="amount"``), ``price`` = the record's fill price (slippage and spread included, so
  vectorbt's own ``slippage`` stays 0) and ``fees`` = the record's fee over its notional;
* within a bar a scenario's sells go before its buys, in symbol order, like ``fill_bar_nb``;
* positions are valued at ``close``, as the engine marks equity.

vectorbt cannot hold negative cash, and it rounds a cash balance within 1e-9 (relative) of zero
down to zero, then refuses further buys. The engine's cash can be a rounding crumb below zero
after an all-in buy, far below zero with leverage, or below zero after covering a short that ran
away. So every scenario that trades gets a *cash credit* added to vectorbt's initial cash: its
deepest cash shortfall plus a cushion of 1e-6 of its largest cash balance. Then
``portfolio.value() - cash_credit == equity`` (and likewise for ``cash()``) at every bar.

With that credit no order is clipped or refused, so the replay's order records are known without
simulating it: :func:`to_vectorbt` writes them (:func:`vectorbt_orders`, what vectorbt's
``simulate_from_orders_nb`` writes for :func:`from_orders_arguments`, field for field and bit for
bit, ``tests/engine/test_portfolio.py``) and builds the Portfolio on them, a tenth of the
simulation's time; every analytic of the Portfolio reads only those records, the close and the cash.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import vectorbt as vbt
from vectorbt.base.array_wrapper import ArrayWrapper
from vectorbt.portfolio.enums import OrderSide
from vectorbt.portfolio.enums import log_dt as vbt_log_dt
from vectorbt.portfolio.enums import order_dt as vbt_order_dt

from engine.errors import InvalidParameterError
from engine.records import STATUS_CLIPPED, STATUS_FILLED, order_dt

SCENARIO_LEVEL = "scenario"
SYMBOL_LEVEL = "symbol"
# Cash kept above zero in the replay, as a fraction of the largest cash balance: far above
# vectorbt's 1e-9 snapping tolerance, far below anything that changes a metric.
_CASH_CUSHION = 1e-6
# vectorbt ignores an order whose size is within its absolute tolerance of zero (vectorbt.utils.math_).
_VBT_ZERO_SIZE = 1e-12


class Fills(NamedTuple):
    """The records that moved units, as plain arrays in the engine's fill order.

    Fill order: scenario, bar, then sells before buys, then symbol (``fill_bar_nb``'s order).
    """

    scenario: np.ndarray  # int64
    bar: np.ndarray  # int64
    symbol: np.ndarray  # int64
    side: np.ndarray  # int64, +1 buy, -1 sell
    units: np.ndarray
    price: np.ndarray
    fees: np.ndarray


def fills_from_records(records: np.ndarray) -> Fills:
    """Select the filled and clipped records that traded units and sort them into fill order."""
    if records.dtype != order_dt:
        raise InvalidParameterError(f"records must have dtype engine.records.order_dt, got {records.dtype}")
    status = records["status"]
    keep = np.flatnonzero(((status == STATUS_FILLED) | (status == STATUS_CLIPPED))
                          & (records["side"] != 0) & (records["units"] > 0.0))
    # Plain field arrays: fancy indexing of the aligned record dtype is several times slower.
    scenario = records["scenario"][keep].astype(np.int64)
    bar = records["bar"][keep].astype(np.int64)
    symbol = records["symbol"][keep].astype(np.int64)
    side = records["side"][keep].astype(np.int64)
    if len(keep):
        n_bars = int(bar.max()) + 1
        n_symbols = int(symbol.max()) + 1
        key = ((scenario * n_bars + bar) * 2 + (side > 0)) * n_symbols + symbol
        order = np.argsort(key, kind="stable")
        keep, scenario, bar, symbol, side = keep[order], scenario[order], bar[order], symbol[order], side[order]
    return Fills(scenario, bar, symbol, side, records["units"][keep], records["price"][keep],
                 records["fees"][keep])


def cash_credit(records: np.ndarray, init_cash: np.ndarray) -> np.ndarray:
    """Per scenario, the cash that vectorbt needs on top of ``init_cash`` to replay the fills.

    Args:
        records: ``order_dt`` records of ``S`` scenarios.
        init_cash: (S,) initial cash.

    Returns:
        (S,) float64: the deepest cash shortfall of the scenario's fills (0 when cash never goes
        below zero) plus a cushion of 1e-6 of its largest cash balance; 0 for a scenario
        without fills.
    """
    return _cash_credit(fills_from_records(records), np.asarray(init_cash, dtype=np.float64))


def _cash_credit(fills: Fills, init_cash: np.ndarray) -> np.ndarray:
    credit = np.zeros(len(init_cash))
    if len(fills.units) == 0:
        return credit
    flow = -fills.side * fills.units * fills.price - fills.fees
    scenario = fills.scenario
    # Cash after each fill = init + running sum of this scenario's flows (fills are grouped by scenario).
    running = np.cumsum(flow)
    starts = np.flatnonzero(np.r_[True, scenario[1:] != scenario[:-1]])
    offset = np.repeat(running[starts] - flow[starts], np.diff(np.r_[starts, len(flow)]))
    cash_after = init_cash[scenario] + running - offset
    lowest = np.full(len(init_cash), np.inf)
    np.minimum.at(lowest, scenario, cash_after)
    largest = np.abs(init_cash).copy()
    np.maximum.at(largest, scenario, np.abs(cash_after))
    traded = np.isfinite(lowest)
    credit[traded] = np.maximum(-lowest[traded], 0.0) + _CASH_CUSHION * largest[traded]
    return credit


def order_arrays(fills: Fills, n_scenarios: int, n_bars: int, n_symbols: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense ``(T, S*N)`` size, price, fee-rate and call-sequence arrays for ``from_orders``.

    Column ``s * N + n`` is symbol ``n`` of scenario ``s``. Cells without a fill hold NaN size.
    """
    n_cols = n_scenarios * n_symbols
    _check_fills(fills, n_scenarios, n_bars, n_symbols)
    row = fills.bar
    col = fills.scenario * n_symbols + fills.symbol
    size = np.full((n_bars, n_cols), np.nan)
    size[row, col] = fills.side * fills.units
    price = np.full((n_bars, n_cols), np.nan)
    price[row, col] = fills.price
    fee_rate = np.zeros((n_bars, n_cols))
    fee_rate[row, col] = fills.fees / (fills.units * fills.price)

    # Rank inside each (bar, scenario): sells, then buys, then columns without an order, each
    # in symbol order; vectorbt's call_seq lists the group's column positions in that order.
    rank = np.full((n_bars, n_cols), 2 * n_symbols, dtype=np.int64)
    rank[row, col] = np.where(fills.side < 0, 0, n_symbols)
    rank = rank.reshape(n_bars, n_scenarios, n_symbols) + np.arange(n_symbols)
    call_seq = np.argsort(rank, axis=2, kind="stable").reshape(n_bars, n_cols)
    return size, price, fee_rate, call_seq


def _check_fills(fills: Fills, n_scenarios: int, n_bars: int, n_symbols: int) -> None:
    """Raise unless every fill lies in the price array and no symbol fills twice in one bar."""
    if not len(fills.units):
        return
    if (fills.scenario.max() >= n_scenarios or fills.symbol.max() >= n_symbols or fills.bar.max() >= n_bars
            or fills.bar.min() < 0):
        raise InvalidParameterError(
            f"records refer to a scenario, symbol or bar outside the {n_scenarios} x {n_bars} x "
            f"{n_symbols} price array; pass the close prices the records were simulated on")
    cell = (fills.bar * n_scenarios + fills.scenario) * n_symbols + fills.symbol
    if np.bincount(cell).max() > 1:
        raise InvalidParameterError("records hold two fills of one symbol in one bar; the engine fills "
                                    "at most one order per symbol and bar")


def to_vectorbt(
    records: np.ndarray,
    close: np.ndarray,
    index: pd.DatetimeIndex,
    symbols: Sequence[str],
    init_cash: np.ndarray,
    freq: str | pd.Timedelta | None = None,
) -> vbt.Portfolio:
    """The Portfolio that replaying the engine's fills gives (:func:`from_orders_arguments`), built on its
    order records (:func:`vectorbt_orders`) without running vectorbt's simulation."""
    close, init_cash = _checked_shapes(close, index, symbols, init_cash)
    n_scenarios, n_bars, n_symbols = close.shape
    fills = fills_from_records(records)
    _check_fills(fills, n_scenarios, n_bars, n_symbols)
    close_2d = _close_frame(close, index, symbols)
    wrapper = ArrayWrapper.from_obj(close_2d, freq=freq, group_by=SCENARIO_LEVEL)
    return vbt.Portfolio(wrapper, close_2d, vectorbt_orders(fills, n_symbols), np.empty(0, dtype=vbt_log_dt),
                         init_cash + _cash_credit(fills, init_cash), True)


def vectorbt_orders(fills: Fills, n_symbols: int) -> np.ndarray:
    """vectorbt's order records of the replay of ``fills``, as its simulation writes them.

    Its simulation walks each scenario's bars and, within a bar, the call sequence (sells, then buys,
    in symbol order): the fill order. Each fill is one record at its own size and price (vectorbt's
    slippage is 0, so ``price * (1 +- 0)`` is the price) with fees ``size * price * fee_rate``, the
    fee rate that :func:`order_arrays` passes; a size within 1e-12 of zero is ignored, as vectorbt does.
    """
    kept = fills.units > _VBT_ZERO_SIZE
    units, price = fills.units[kept], fills.price[kept]
    fee_rate = fills.fees[kept] / (units * price)
    out = np.empty(len(units), dtype=vbt_order_dt)
    out["id"] = np.arange(len(units))
    out["col"] = fills.scenario[kept] * n_symbols + fills.symbol[kept]
    out["idx"] = fills.bar[kept]
    out["size"] = units
    out["price"] = price
    out["fees"] = units * price * fee_rate + 0.0  # vectorbt's req_cash * fees + fixed_fees
    out["side"] = np.where(fills.side[kept] > 0, OrderSide.Buy, OrderSide.Sell)
    return out


def from_orders_arguments(
    records: np.ndarray,
    close: np.ndarray,
    index: pd.DatetimeIndex,
    symbols: Sequence[str],
    init_cash: np.ndarray,
    freq: str | pd.Timedelta | None = None,
) -> dict[str, object]:
    """Keyword arguments of ``vbt.Portfolio.from_orders`` that replay the engine's fills by simulating them.

    Args:
        records: ``order_dt`` records from ``simulate_intents`` or the rollout.
        close: (S, T, N) close prices the records were simulated on.
        index: (T,) bar timestamps.
        symbols: (N,) symbol names.
        init_cash: (S,) initial cash per scenario.
        freq: Bar frequency (pandas alias or Timedelta); inferred from ``index`` when omitted.

    Returns:
        A Portfolio with columns ``(scenario, symbol)`` grouped by ``scenario``. Its ``value()``
        and ``cash()`` minus :func:`cash_credit` equal the engine's equity and cash at every close.
    """
    close, init_cash = _checked_shapes(close, index, symbols, init_cash)
    n_scenarios, n_bars, n_symbols = close.shape
    fills = fills_from_records(records)
    size, price, fee_rate, call_seq = order_arrays(fills, n_scenarios, n_bars, n_symbols)
    return dict(
        close=_close_frame(close, index, symbols),
        size=size,
        size_type="amount",
        direction="both",
        price=price,
        fees=fee_rate,
        # Every setting that vectorbt would otherwise take from its global config (min_size
        # defaults to 1e-8 units and would drop the engine's dust trades).
        fixed_fees=0.0,
        slippage=0.0,
        min_size=0.0,
        max_size=np.inf,
        size_granularity=np.nan,
        reject_prob=0.0,
        lock_cash=False,
        allow_partial=True,
        raise_reject=True,  # a fill that vectorbt cannot replay is a bug, not a detail
        init_cash=init_cash + _cash_credit(fills, init_cash),
        cash_sharing=True,
        group_by=SCENARIO_LEVEL,
        call_seq=call_seq,
        freq=freq,
    )


def _checked_shapes(close: np.ndarray, index: pd.DatetimeIndex, symbols: Sequence[str], init_cash: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``close`` (S, T, N) and ``init_cash`` (S,) as float64, after checking them against each other."""
    close = np.asarray(close, dtype=np.float64)
    if close.ndim != 3:
        raise InvalidParameterError(f"close must be (scenarios, bars, symbols), got shape {close.shape}")
    n_scenarios, n_bars, n_symbols = close.shape
    init_cash = np.asarray(init_cash, dtype=np.float64).reshape(-1)
    if len(index) != n_bars or len(symbols) != n_symbols or len(init_cash) != n_scenarios:
        raise InvalidParameterError(
            f"close is {close.shape} (scenarios, bars, symbols) but index has {len(index)} bars, "
            f"symbols {len(symbols)} names and init_cash {len(init_cash)} values")
    return close, init_cash


def _close_frame(close: np.ndarray, index: pd.DatetimeIndex, symbols: Sequence[str]) -> pd.DataFrame:
    """``close`` (S, T, N) as the Portfolio's (T, S * N) frame with ``(scenario, symbol)`` columns."""
    n_scenarios, n_bars, n_symbols = close.shape
    columns = pd.MultiIndex.from_product([range(n_scenarios), list(symbols)], names=[SCENARIO_LEVEL, SYMBOL_LEVEL])
    return pd.DataFrame(close.transpose(1, 0, 2).reshape(n_bars, n_scenarios * n_symbols), index=index,
                        columns=columns)
