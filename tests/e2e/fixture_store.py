"""A small run store for the browser tests: a few quick runs of every kind the pages show, a hand-made
run of a policy that sits in cash (its warnings must fire whatever the shipped policy does today) and
a NO-GO review of the shipped policy."""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.runs.spec import RunSpec
from workbench.services.app import run_and_store
from workbench.store import RunRecord, RunStore

COMMON = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2009-01-01", end="2010-06-30")
TEAM_POLICY = "tactical-compact-synthetic5m"
POLICY = "symbol-agent-compact-stocks"
INACTIVE_ID = "0000inactive0000"
"""Run id of the hand-made run of a policy that barely trades."""


def fixture_specs() -> list[RunSpec]:
    """Baseline backtests, a stress set and a sweep (market-scope strategies run in seconds), and
    short backtests of the shipped symbol agent and tactical team for the attention page."""
    return [
        RunSpec(kind="backtest", strategy="sma_cross", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="backtest", strategy="equal_weight", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="stress", strategy="sma_cross", fees=(0.001,), slippage=(0.0005,), seed=3,
                options=(("n_bootstrap", 3), ("n_garch", 0)), **COMMON),
        RunSpec(kind="sweep", strategy="sma_cross", fees=(0.0, 0.001, 0.002, 0.004), slippage=(0.0, 0.001),
                **COMMON),
        RunSpec(kind="backtest", policy=POLICY, fees=(0.001,), slippage=(0.0005,),
                **dict(COMMON, start="2009-06-01", end="2009-12-31")),
        RunSpec(kind="backtest", policy=TEAM_POLICY, data="synthetic-5min", symbols=("SYN000", "SYN001"),
                start="2024-03-20", end="2024-03-28", fees=(0.0002,), slippage=(0.0001,)),
    ]


def inactive_policy_record(model_sha: str) -> RunRecord:
    """A backtest of the shipped policy (``model_sha``: its weights) as it behaved in issue 17: 3 trades,
    3.5% mean exposure, a flat equity curve (hand-made, so the warnings are tested whatever the policy
    learns)."""
    spec = RunSpec(kind="backtest", policy=POLICY, fees=(0.001,), slippage=(0.0005,),
                   **dict(COMMON, start="2009-01-02", end="2009-12-31"))
    index = pd.date_range("2009-01-02", "2009-12-31", freq="B", tz="UTC")
    equity = 100_000 * (1 + 0.0003 * np.sin(np.arange(len(index)) / 9.0) + 0.00001 * np.arange(len(index)))
    label = "fees=0.001 slippage=0.0005"
    row = {"scenario": 0, "label": label, "fees": 0.001, "slippage": 0.0005, "cash": 100_000.0,
           "final_equity": float(equity[-1]), "total_return": float(equity[-1] / 1e5 - 1), "annualized_return": 0.0075,
           "annualized_volatility": 0.0093, "sharpe": 0.80, "sortino": 1.15, "calmar": 0.6, "max_drawdown": 0.0127,
           "max_drawdown_duration": 40, "win_rate": None, "profit_factor": None, "n_trades": 3,
           "n_closed_trades": 0, "n_orders": 3, "exposure": 0.035, "time_in_market": 0.1, "turnover": 0.07,
           "fees_paid": 7.0, "benchmark_return": 0.4, "benchmark_annualized_return": 0.4, "excess_return": -0.39}
    summary = {"run_id": INACTIVE_ID, "kind": "backtest", "policy": POLICY,
               "data": {"name": "stocks", "symbols": ["AAPL", "MSFT"]}, "scenarios": [row]}
    return RunRecord(run_id=INACTIVE_ID, kind="backtest", spec=spec.to_dict(), summary=summary, dataset="stocks",
                     start=index[0].isoformat(), end=index[-1].isoformat(), decider=POLICY, model_sha=model_sha,
                     data_fingerprint="hand-made", code_version="hand-made",
                     tables={"equity": pd.DataFrame({"timestamp": index, label: equity})}, tags=("e2e", "hand-made"))


def fill_fixture(store: RunStore) -> list[str]:
    """Store the fixture runs (tag ``e2e``) and a NO-GO review of the shipped policy's backtest, and
    return the runs' ids."""
    ids = [run_and_store(store, spec, tags=("e2e",)).run_id for spec in fixture_specs()]
    ids.append(store.save_run(inactive_policy_record(store.run_info(ids[4]).model_sha)).run_id)
    store.save_review([ids[4]], "fixture", "NO-GO", "NO-GO", "the fixture's review of the shipped policy", [])
    return ids


if __name__ == "__main__":
    with RunStore.open() as opened:
        print(fill_fixture(opened))
