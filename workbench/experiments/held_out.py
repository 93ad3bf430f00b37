"""A trained policy against every baseline on a held-out period, each decider warmed up first.

``workbench train`` writes this into the model card (``baselines``) after the test period's one
evaluation. Every decider (the policy, then each strategy of ``strategies.families.baseline`` with
its default parameters, ``random`` seeded) runs over the same bars under the same costs: from
``OBSERVATION_WARMUP`` bars before the period (271; the longest warm-up of the observation, longer
than any baseline's moving average) through its end, so nobody decides on zero-filled features or
an unfilled average. Each is measured on the period's bars only:

- ``sharpe``, ``annualized_return``, ``total_return``, ``max_drawdown`` of its equity from the close
  before the period to the period's last close (``engine.metrics``);
- ``time_in_market``: share of the period's bars with any position open; ``exposure``: the mean
  gross position over equity on them;
- ``n_trades``: exit trades closed inside the period plus those still open at its end (vectorbt's
  exit trades, as ``n_trades`` of a backtest); ``win_rate``: the share of the closed ones that made
  money.

A position the warm-up opened is carried in, as it would be for anyone who ran the decider before.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from engine.data.market import MarketData, bars_per_year
from engine.metrics import annualized_return, max_drawdown, sharpe_ratio, time_in_market
from engine.observation import OBSERVATION_WARMUP
from engine.portfolio import to_vectorbt
from engine.scenarios import ScenarioParams, from_market
from strategies.families.baseline import STRATEGIES
from workbench.policies import resolve_decider
from workbench.runs.evaluate import roll_out

_CLOSED = 1  # vectorbt's TradeStatus.Closed


def compare_held_out(data: MarketData, period: Sequence[Any], policy: str, params: ScenarioParams,
                     seed: int = 0, name: str | None = None) -> dict[str, Any]:
    """The policy and every baseline over ``period`` of ``data`` (module docstring).

    Args:
        data: Bars that include the period and, ideally, ``OBSERVATION_WARMUP`` bars before it.
        period: ``(start, end)`` of the held-out period.
        policy: A checkpoint folder or shipped policy name (run on torch).
        params: Costs and cash of every run.
        seed: Seed of the ``random`` baseline.
        name: How the table names the policy (default: ``policy``).

    Returns:
        ``{"period", "warmup_bars", "fees", "slippage", "protocol", "rows"}``; ``rows`` holds one dict per
        decider: ``name``, ``role`` (``policy`` or ``baseline``) and the figures.
    """
    first = int(np.searchsorted(data.index, data.slice(*period).index[0]))
    begin = max(first - OBSERVATION_WARMUP, 0)
    window = data.slice(data.index[begin], period[1])
    batch = from_market(window, [params])
    deciders = [("policy", name or str(policy), resolve_decider(None, None, policy, "torch"))]
    deciders += [("baseline", strategy, resolve_decider(strategy, {"seed": str(seed)} if strategy == "random" else {}))
                 for strategy in STRATEGIES]
    rows = [{"name": label, "role": role, **_window_metrics(batch, roll_out(batch, decider), first - begin)}
            for role, label, decider in deciders]
    return {"period": [window.index[first - begin].isoformat(), window.index[-1].isoformat()],
            "warmup_bars": first - begin, "fees": params.fees, "slippage": params.slippage,
            "protocol": "each decider runs from warmup_bars bars before the period and is measured on the "
                        "period's bars (workbench.experiments.held_out)", "rows": rows}


def _window_metrics(batch, rollout, first: int) -> dict[str, float | int | None]:
    """Figures of scenario 0 on bars ``first ..`` (module docstring)."""
    init_cash = batch.param_array("init_cash")
    equity = np.concatenate([init_cash[:1], rollout.equity[:, 0]])[first:]  # the close before the period first
    returns = equity[1:] / equity[:-1] - 1.0
    annual = bars_per_year(batch.frequency)
    portfolio = to_vectorbt(rollout.records, batch.close, batch.index, batch.symbols, init_cash, batch.frequency)
    units = portfolio.assets().to_numpy()[first:]
    held = np.abs(units * batch.close[0, first:]).sum(axis=1)
    trades = portfolio.exit_trades.records_arr
    closed = (trades["status"] == _CLOSED) & (trades["exit_idx"] >= first)
    still_open = trades["status"] != _CLOSED
    return {
        "sharpe": _number(sharpe_ratio(returns, annual)),
        "annualized_return": _number(annualized_return(returns, annual)),
        "total_return": _number(equity[-1] / equity[0] - 1.0),
        "max_drawdown": _number(max_drawdown(equity)),
        "time_in_market": _number(time_in_market(held)),
        "exposure": _number(np.mean(held / equity[1:])),
        "n_trades": int(closed.sum() + still_open.sum()),
        "win_rate": _number(np.mean(trades["pnl"][closed] > 0.0)) if closed.any() else None,
    }


def _number(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
