"""Pieces of rollouts chained into one equity curve, and their metrics.

A walk-forward's out-of-sample curve is made of test blocks cut from rollouts that ran from the
data's first bar (so each decision had its history). A block is kept as scale-free per-bar
quantities: the return ``r[t] = equity[t] / equity[t-1] - 1``, the gross exposure at the close, and
fees and traded notional as fractions of the equity before the bar. Chained from a start value
``V``, the block's equity is ``V * cumprod(1 + r)`` and its fees ``fee_fraction * equity before``:
exactly the rollout's figures scaled by one factor, since fills scale with equity.

Metrics of a chained curve are ``engine.metrics.scenario_metrics`` of that equity (return and
drawdown figures), with these replaced: ``n_orders``, ``fees_paid``, ``exposure``, ``time_in_market``
(the share of bars with a gross exposure above zero, the engine's definition) and ``turnover`` from
the pieces; the benchmark (equal-weight buy-and-hold of the universe) chained over the same bars;
``win_rate``, ``profit_factor``, ``n_trades`` and ``n_closed_trades`` are None, because a position
may open in one block and close in another run's block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from engine.data.market import bars_per_year
from engine.metrics import annualized_return, benchmark_curve, equity_returns, scenario_metrics, total_return
from engine.records import OrderStatus, order_dt
from workbench.runs.evaluate import Evaluation

TRADE_KEYS = ("win_rate", "profit_factor", "n_trades", "n_closed_trades")


@dataclass(frozen=True)
class Segment:
    """Per-bar, scale-free quantities of some bars of one or more rollouts (arrays of equal length).

    Attributes:
        index: Timestamps of the bars.
        returns: Equity return of each bar.
        exposure: Gross exposure (sum of ``|units * close|`` / equity) at each close.
        fee_fraction, notional_fraction: Fees and traded notional of each bar over the equity before it.
        fills: Fills at each bar.
        close: ``[bars, N]`` closes.
        benchmark: Return of the equal-weight buy-and-hold of the universe over each bar.
    """

    index: pd.DatetimeIndex
    returns: np.ndarray
    exposure: np.ndarray
    fee_fraction: np.ndarray
    notional_fraction: np.ndarray
    fills: np.ndarray
    close: np.ndarray
    benchmark: np.ndarray

    def __len__(self) -> int:
        return len(self.returns)

    def take(self, bars: np.ndarray) -> "Segment":
        """The segment's bars at positions ``bars``."""
        return Segment(self.index[bars], self.returns[bars], self.exposure[bars], self.fee_fraction[bars],
                       self.notional_fraction[bars], self.fills[bars], self.close[bars], self.benchmark[bars])

    @classmethod
    def concat(cls, parts: Sequence["Segment"]) -> "Segment":
        """The parts one after another (their bars must ascend)."""
        return cls(parts[0].index.append([p.index for p in parts[1:]]),
                   *(np.concatenate([getattr(p, name) for p in parts]) for name in
                     ("returns", "exposure", "fee_fraction", "notional_fraction", "fills", "close", "benchmark")))

    def equity(self, start_value: float) -> np.ndarray:
        """The chained equity curve from ``start_value`` (the equity before the first bar)."""
        return start_value * np.cumprod(1.0 + self.returns)

    def metrics(self, start_value: float, frequency: str) -> dict[str, float | int | None]:
        """Metrics of the chained curve (module docstring)."""
        equity = self.equity(start_value)
        before = np.concatenate([[start_value], equity[:-1]])
        out = scenario_metrics(equity[:, None], np.empty(0, dtype=order_dt), self.close[None], self.index,
                               np.array([start_value]), frequency)[0]
        bench_total = total_return(self.benchmark)
        bench_annual = annualized_return(self.benchmark, bars_per_year(frequency))
        finite = self.exposure[np.isfinite(self.exposure)]
        out.update({
            "n_orders": int(self.fills.sum()),
            "fees_paid": float((self.fee_fraction * before).sum()),
            "exposure": float(finite.mean()) if finite.size else None,
            "time_in_market": float((finite > 0.0).mean()) if finite.size else None,
            "turnover": float((self.notional_fraction * before).sum() / equity.mean()),
            "benchmark_return": bench_total,
            "benchmark_annualized_return": bench_annual,
            "excess_return": None if out["annualized_return"] is None else out["annualized_return"] - bench_annual,
            **dict.fromkeys(TRADE_KEYS),
        })
        return out


def rollout_segment(evaluation: Evaluation, scenario: int = 0) -> Segment:
    """Every bar of one scenario of an evaluated batch as a :class:`Segment`."""
    batch, rollout = evaluation.batch, evaluation.rollout
    n_bars = batch.n_bars
    equity = rollout.equity[:, scenario]
    init_cash = batch.param_array("init_cash")[scenario]
    before = np.concatenate([[init_cash], equity[:-1]])
    records = rollout.records
    mine = records[(records["scenario"] == scenario) & (records["status"] <= OrderStatus.CLIPPED)]
    delta = np.zeros((n_bars, batch.n_symbols))
    np.add.at(delta, (mine["bar"], mine["symbol"]), mine["side"] * mine["units"])
    units = np.cumsum(delta, axis=0)
    close = batch.close[scenario]
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, np.abs(units * close).sum(axis=1) / equity, np.nan)
    fees = np.bincount(mine["bar"], mine["fees"], minlength=n_bars)
    notional = np.bincount(mine["bar"], mine["units"] * mine["price"], minlength=n_bars)
    growth = benchmark_curve(batch.close[[scenario]])[:, 0]
    benchmark = np.concatenate([[0.0], growth[1:] / growth[:-1] - 1.0])
    returns = equity_returns(equity[:, None], np.array([init_cash]))[:, 0]
    return Segment(batch.timestamps[scenario], returns, exposure, fees / before, notional / before,
                   np.bincount(mine["bar"], minlength=n_bars).astype(np.int64), close, benchmark)
