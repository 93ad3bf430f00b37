"""Synthetic stored runs for the page tests: small tables with values worked out by hand, no engine runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.jobs import JobRunner
from apps.pages.common import AppContext
from workbench.runs.spec import RunSpec
from workbench.store import RunRecord, RunStore

INDEX = pd.date_range("2009-01-02", periods=40, freq="B", tz="UTC")
LABELS = ("fees=0 slippage=0", "fees=0.001 slippage=0")
COMPONENTS = ("pnl", "cost", "time", "sharpe", "drawdown", "sizing", "hold")


def metrics(total_return: float, sharpe: float, max_drawdown: float, **extra) -> dict:
    return {"total_return": total_return, "sharpe": sharpe, "max_drawdown": max_drawdown,
            "excess_return": total_return - 0.05, "n_trades": 2, **extra}


def record(run_id: str, kind: str, spec: RunSpec, summary: dict, tables: dict, tags=(), decider=None) -> RunRecord:
    return RunRecord(run_id=run_id, kind=kind, spec=spec.to_dict(), summary={"run_id": run_id, **summary},
                     dataset=spec.data, start=INDEX[0].isoformat(), end=INDEX[-1].isoformat(),
                     decider=decider or spec.decider, model_sha="", data_fingerprint="f" * 8,
                     code_version="test", tables=tables, tags=tuple(tags))


def policy_backtest() -> RunRecord:
    """Two scenarios; equity 100, 110, 99, 121 ... pattern; actions 0..6 cycling; rewards with pnl dominant."""
    spec = RunSpec(kind="backtest", data="stocks", policy="symbol-agent-compact-stocks", symbols=("AAPL", "MSFT"),
                   start="2009-01-02", end="2009-02-26", fees=(0.0, 0.001))
    base = 100.0 * np.cumprod(np.r_[1.0, np.tile([1.10, 0.90, 1.10, 1.0], 10)[:39]])
    equity = pd.DataFrame({"timestamp": INDEX, LABELS[0]: base, LABELS[1]: base * 0.99})
    orders = pd.DataFrame({
        "scenario": [0, 0, 1, 0], "bar": [3, 9, 3, 12], "timestamp": INDEX[[3, 9, 3, 12]],
        "symbol": ["AAPL", "AAPL", "AAPL", "MSFT"], "side": ["buy", "sell", "buy", "buy"],
        "units": [10.0, 10.0, 9.0, 5.0], "price": [90.0, 95.0, 90.1, 20.0], "fees": [0.0, 0.0, 0.9, 0.0],
        "status": ["filled", "filled", "filled", "rejected"], "reason": ["none"] * 4})
    bars, scenarios, symbols = np.meshgrid(np.arange(39), [0, 1], [0, 1], indexing="ij")
    bars, scenarios, symbols = bars.ravel(), scenarios.ravel(), symbols.ravel()
    long = pd.DataFrame({"bar": bars, "timestamp": INDEX[bars], "scenario": scenarios,
                         "symbol": np.array(["AAPL", "MSFT"])[symbols]})
    actions = long.assign(action=bars % 7)
    rewards = long.assign(pnl=1.0, cost=-0.1, time=0.0, sharpe=0.2, drawdown=-0.1, sizing=0.0, hold=0.0)
    rewards["total"] = rewards[list(COMPONENTS)].sum(axis=1)
    summary = {"kind": "backtest", "policy": spec.policy,
               "data": {"name": "stocks", "symbols": ["AAPL", "MSFT"]},
               "scenarios": [{"scenario": 0, "label": LABELS[0], **metrics(0.21, 1.5, 0.18)},
                             {"scenario": 1, "label": LABELS[1], **metrics(0.19, 1.4, 0.19)}]}
    return record("a" * 16, "backtest", spec, summary,
                  {"equity": equity, "orders": orders, "actions": actions, "rewards": rewards}, tags=("demo",))


def baseline_backtest() -> RunRecord:
    spec = RunSpec(kind="backtest", data="sp500", strategy="sma_cross", start="2009-01-02", end="2009-02-26")
    equity = pd.DataFrame({"timestamp": INDEX, LABELS[0]: np.linspace(100.0, 90.0, 40)})
    summary = {"kind": "backtest", "data": {"name": "sp500", "symbols": ["SPX"]},
               "scenarios": [{"scenario": 0, "label": LABELS[0], **metrics(-0.10, -0.5, 0.10)}]}
    return record("b" * 16, "backtest", spec, summary, {"equity": equity}, tags=("baseline", "demo"))


def sweep_run() -> RunRecord:
    """fees 0, 0.001, 0.002 x slippage 0, 0.001; excess return 0.02 - 20 x fees - 10 x slippage."""
    spec = RunSpec(kind="sweep", data="stocks", strategy="sma_cross", fees=(0.0, 0.001, 0.002), slippage=(0.0, 0.001))
    rows = []
    for fees in (0.0, 0.001, 0.002):
        for slippage in (0.0, 0.001):
            excess = 0.02 - 20 * fees - 10 * slippage
            rows.append({"scenario": len(rows), "label": f"fees={fees:g} slippage={slippage:g}", "family": "grid",
                         "fees": fees, "slippage": slippage, "sharpe": 1.0 - 100 * fees, "total_return": excess,
                         "max_drawdown": 0.1, "excess_return": excess})
    points = [{"at": {"slippage": 0.0}, "value": 0.001, "reason": None},
              {"at": {"slippage": 0.001}, "value": 0.0005, "reason": None}]
    summary = {"kind": "sweep", "scenarios": rows, "axes": {"fees": [0.0, 0.001, 0.002], "slippage": [0.0, 0.001]},
               "break_even": {"axis": "fees", "metric": "excess_return", "value": 0.001, "reason": None,
                              "points": points}}
    equity = pd.DataFrame({"timestamp": INDEX, **{r["label"]: np.linspace(100, 100 + r["scenario"], 40) for r in rows}})
    return record("c" * 16, "sweep", spec, summary, {"equity": equity})


def stress_run() -> RunRecord:
    spec = RunSpec(kind="stress", data="stocks", strategy="sma_cross", options=(("n_bootstrap", 2),))
    families = ("base", "shock", "bootstrap", "bootstrap")
    rows = [{"scenario": i, "label": f"s{i}", "family": f, **metrics(0.1 - 0.1 * i, 1.0, 0.1 * (i + 1))}
            for i, f in enumerate(families)]
    worst = [{"scenario": 3, "label": "s3", "family": "bootstrap", "max_drawdown": 0.4, "total_return": -0.2}]
    equity = pd.DataFrame({"timestamp": INDEX, **{r["label"]: np.linspace(100, 90 + r["scenario"], 40) for r in rows}})
    summary = {"kind": "stress", "scenarios": rows, "worst": worst,
               "distribution": {"max_drawdown": {"p5": 0.1, "p50": 0.25, "p95": 0.4},
                                "total_return": {"p5": -0.2, "p50": -0.05, "p95": 0.1}, "n": 4}}
    return record("d" * 16, "stress", spec, summary, {"equity": equity}, tags=("stress",))


@pytest.fixture
def store(workbench_home) -> RunStore:
    opened = RunStore.open(workbench_home)
    for made in (policy_backtest(), baseline_backtest(), sweep_run(), stress_run()):
        opened.save_run(made)
    yield opened
    opened.close()


@pytest.fixture
def context(store, workbench_home) -> AppContext:
    runner = JobRunner()
    yield AppContext(home=workbench_home, jobs=runner, _store=store)
    runner.shutdown()
