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


def compare(run_id: str = "cmp01", superior_pvalue: float = 0.03, **candidate: float) -> FakeRun:
    """Like ``workbench.experiments.compare``: flat candidate metrics, equity indexed by timestamp, and
    the statistics (reality check, confidence set, deflated Sharpe ratio, PBO with two warnings)."""
    metrics = {"sharpe": 1.4, "max_drawdown": 0.22, "win_rate": 0.55, "profit_factor": 1.5,
               "excess_return": 0.07, "trades_per_year": 10.0, "time_in_market": 0.7, **candidate}
    pairwise = [{"name": "sma_cross(fast=10)", "mean_difference": 0.0004, "lower": 0.01, "consistent": 0.01,
                 "upper": 0.01},
                {"name": "buy_and_hold", "mean_difference": 0.0002, "lower": superior_pvalue,
                 "consistent": superior_pvalue, "upper": superior_pvalue}]
    summary = {"candidate": {"name": "sma_cross", "role": "candidate", "params": {}, **metrics},
               "variants": [{"name": "sma_cross(fast=10)", "role": "variant", "sharpe": 0.9}],
               "baselines": [{"name": "buy_and_hold", "role": "baseline", "sharpe": 1.1,
                              "sharpe_diff": {"estimate": 0.3, "low": -0.1, "high": 0.7}}],
               "reality_check": {
                   "loss": "negative per-bar return", "n_alternatives": 2,
                   "bootstrap": {"kind": "stationary", "block_size": 7, "reps": 1000, "seed": 0},
                   "superior": {"hypothesis": "H0: some alternative is at least as good", "lower": superior_pvalue,
                                "consistent": superior_pvalue, "upper": superior_pvalue, "closest": "buy_and_hold",
                                "pairwise": pairwise},
                   "beaten": {"hypothesis": "H0: no alternative is better", "lower": 0.8, "consistent": 0.85,
                              "upper": 0.9}},
               "model_confidence_set": {"size": 0.05, "method": "R", "included": ["sma_cross"],
                                        "excluded": ["sma_cross(fast=10)", "buy_and_hold"],
                                        "pvalues": {"sma_cross": 1.0, "sma_cross(fast=10)": 0.01,
                                                    "buy_and_hold": 0.03}},
               "trials": ["sma_cross", "sma_cross(fast=10)"], "n_trials": 2,
               "deflated_sharpe": 0.91, "deflated_sharpe_effective": 0.95,
               "deflated_sharpe_detail": {"value": 0.91, "sharpe": 0.09, "sr0": 0.02, "n_trials": 2,
                                          "trials_variance": 0.0004, "skew": 0.1, "kurtosis": 4.0, "n_obs": 500,
                                          "n_effective": 1.2, "sr0_effective": 0.0, "value_effective": 0.95,
                                          "mean_correlation": 0.8, "baselines_counted": False, "notes": [],
                                          "counted": {"candidate": 1, "variants": 1, "baselines": 0,
                                                      "searched": 0}},
               "pbo": 0.4, "pbo_reason": None,
               "pbo_detail": {"pbo": 0.4, "n_blocks": 8, "n_variants": 2, "n_splits": 70, "median_logit": 0.0,
                              "tie_share": 0.0, "pbo_ties_not_overfit": 0.4, "pbo_ties_overfit": 0.4,
                              "warnings": ["only 2 variants (PBO needs 5 or more to carry information)"]}}
    equity = equity_table(["sma_cross", "sma_cross(fast=10)", "buy_and_hold"], seed=1).set_index("timestamp")
    return FakeRun(FakeInfo(run_id, "compare"), {**SMA_SPEC, "kind": "compare"}, summary, {"equity": equity})
