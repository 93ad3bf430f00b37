"""Small stand-ins for stored runs (the fields ``workbench.review`` reads), built by hand in tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SMA_SPEC = {"kind": "backtest", "data": "stocks", "strategy": "sma_cross", "strategy_params": {},
            "policy": None, "symbols": ["AAPL", "MSFT"], "start": "2005-01-01", "end": "2006-12-31"}


@dataclass(frozen=True)
class FakeInfo:
    run_id: str
    kind: str
    model_sha: str = ""
    dataset: str = "stocks"
    decider: str = "sma_cross"
    data_fingerprint: str = "f" * 64
    code_version: str = "0.1.0+test"


@dataclass(frozen=True)
class FakeRun:
    info: FakeInfo
    spec: dict[str, Any]
    summary: dict[str, Any]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted(self.frames))

    def load_table(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def scenario(label: str, **metrics: float | None) -> dict[str, Any]:
    base = {"label": label, "sharpe": 1.5, "max_drawdown": 0.2, "win_rate": 0.6, "profit_factor": 1.8,
            "excess_return": 0.08, "total_return": 0.4, "trades_per_year": 12.0, "time_in_market": 0.6}
    return {**base, **metrics}


def equity_table(columns: list[str], n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = {"timestamp": pd.date_range("2005-01-03", periods=n, freq="B", tz="UTC")}
    for column in columns:
        frame[column] = 100_000 * np.cumprod(1 + rng.normal(0.0005, 0.01, n))
    return pd.DataFrame(frame)


def backtest(run_id: str = "bt01", scenarios: list[dict] | None = None, spec: dict | None = None,
             model_sha: str = "") -> FakeRun:
    rows = scenarios if scenarios is not None else [scenario("fees=0"), scenario("fees=0.001", sharpe=1.2)]
    return FakeRun(FakeInfo(run_id, "backtest", model_sha), dict(spec or SMA_SPEC), {"scenarios": rows},
                   {"equity": equity_table([r["label"] for r in rows])})


def stress(run_id: str = "st01", drawdowns: tuple[float, ...] = (0.1, 0.25, 0.35)) -> FakeRun:
    rows = [{"label": f"s{i}", "family": "bootstrap", "max_drawdown": d, "total_return": 0.1 - d}
            for i, d in enumerate(drawdowns)]
    summary = {"scenarios": rows,
               "distribution": {"max_drawdown": {"p50": float(np.median(drawdowns)), "max": max(drawdowns)}, "n": 3,
                                "by_family": {"bootstrap": {"n": 3, "max_drawdown": {"max": max(drawdowns)}}}},
               "worst": [rows[-1]],
               "regimes": [{"column": "trend_regime", "label": "bull", "bars": 10, "sharpe": 1.1,
                            "positions": {"long": 0.5, "flat": 0.5, "short": 0.0}, "actions": None}]}
    return FakeRun(FakeInfo(run_id, "stress"), {**SMA_SPEC, "kind": "stress"}, summary)


def walkforward(run_id: str = "wf01", oos_sharpe: float = 0.9, positive_fraction: float = 0.75) -> FakeRun:
    folds = [{"fold": i, "test_start": f"2005-0{i + 1}-01", "sharpe": s, "params": {"fast": 10}}
             for i, s in enumerate((1.0, 0.5, -0.2, 0.8))]
    summary = {"oos": {"sharpe": oos_sharpe, "bars": 200}, "folds": folds,
               "stability": {"positive_fraction": positive_fraction, "sharpe_std": 0.5}}
    equity = equity_table(["equity"], seed=2).set_index("timestamp").assign(fold=0)
    return FakeRun(FakeInfo(run_id, "walkforward"), {**SMA_SPEC, "kind": "walkforward"}, summary,
                   {"equity": equity})


def sweep(run_id: str = "sw01") -> FakeRun:
    summary = {"axes": {"fees": [0.0, 0.001, 0.002], "position_limit": [0.5], "slippage": [0.0, 0.001]},
               "surfaces": {"sharpe": [[[1.2, 1.1]], [[1.0, None]], [[0.7, 0.6]]],
                            "total_return": [[[0.3, 0.2]], [[0.1, 0.05]], [[0.0, -0.1]]]},
               "break_even": {"axis": "fees", "points": [{"at": {"slippage": 0.0}, "value": 0.0015,
                                                          "reason": None}]}}
    return FakeRun(FakeInfo(run_id, "sweep"), {**SMA_SPEC, "kind": "sweep"}, summary)


def compare(run_id: str = "cmp01", **candidate: float) -> FakeRun:
    """Like ``workbench.experiments.compare``: flat candidate metrics, equity indexed by timestamp."""
    metrics = {"sharpe": 1.4, "max_drawdown": 0.22, "win_rate": 0.55, "profit_factor": 1.5,
               "excess_return": 0.07, "trades_per_year": 10.0, "time_in_market": 0.7, **candidate}
    summary = {"candidate": {"name": "sma_cross", "role": "candidate", "params": {}, **metrics},
               "baselines": [{"name": "buy_and_hold", "role": "baseline", "sharpe": 1.1,
                              "sharpe_diff": {"estimate": 0.3, "low": -0.1, "high": 0.7}}]}
    equity = equity_table(["sma_cross", "sma_cross(fast=10)", "buy_and_hold"], seed=1).set_index("timestamp")
    return FakeRun(FakeInfo(run_id, "compare"), {**SMA_SPEC, "kind": "compare"}, summary, {"equity": equity})
