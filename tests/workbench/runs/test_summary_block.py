"""The summary block (issue 17): each figure beside the benchmark and the best baseline, and warnings
that fire on what a run did (an inactive policy built by hand), whoever decided."""
from __future__ import annotations

import pandas as pd
import pytest

from workbench.runs.summary_block import (
    MIN_TRADES,
    SUMMARY_METRICS,
    activity_warnings,
    component_totals,
    dominant_component,
    reward_shares,
    summary_block,
)

INACTIVE = {"label": "fees=0.001", "annualized_return": 0.0075, "annualized_volatility": 0.0093, "sharpe": 0.80,
            "sortino": 1.15, "max_drawdown": 0.0127, "time_in_market": 0.49, "exposure": 0.035, "n_trades": 3,
            "n_closed_trades": 0, "turnover": 0.07, "win_rate": None, "profit_factor": None}
ACTIVE = {**INACTIVE, "n_trades": 120, "n_closed_trades": 110, "exposure": 0.8, "win_rate": 0.55,
          "profit_factor": 1.4}
COMPARISONS = {"sma_cross": {"sharpe": 0.86, "annualized_return": 0.133, "n_trades": 25},
               "momentum": {"sharpe": 0.5, "annualized_return": 0.2},
               "equal_weight": {"sharpe": None},
               "benchmark": {"sharpe": 0.46, "annualized_return": 0.0988, "max_drawdown": 0.475}}


def test_an_inactive_policy_gets_both_warnings() -> None:
    block = summary_block(INACTIVE, "fees=0.001", COMPARISONS, years=3.0)
    assert block.warnings[0].startswith("Too few trades for the statistics to mean anything: 3 trades in 3.0 years")
    assert f"at least {MIN_TRADES}" in block.warnings[0]
    assert block.warnings[1].startswith("Mostly in cash: mean exposure 3.50% of equity, holding a position on "
                                        "49.0% of the bars")
    assert any("Win rate and profit factor are n/a" in n for n in block.notes)


def test_an_active_policy_gets_none() -> None:
    assert summary_block(ACTIVE, "x", COMPARISONS).warnings == ()
    assert activity_warnings({**ACTIVE, "n_trades": 0}) == ["Never traded: every figure of this run is that of cash."]


def test_rows_sit_beside_the_benchmark_and_the_best_baseline_by_sharpe() -> None:
    block = summary_block(INACTIVE, "fees=0.001", COMPARISONS)
    assert block.best_baseline == "sma_cross" and [r["metric"] for r in block.rows] == list(SUMMARY_METRICS)
    assert block.value("sharpe") == 0.80 and block.value("sharpe", "benchmark") == 0.46
    assert block.value("annualized_return", "baseline") == 0.133
    text = {row["metric"]: row for row in block.text_rows()}
    assert text["max drawdown"]["this run"] == "-1.27%" and text["max drawdown"]["benchmark"] == "-47.5%"
    assert text["trades"] == {"metric": "trades", "this run": "3", "benchmark": "n/a",
                              "best baseline (sma_cross)": "25"}
    assert text["CAGR"]["this run"] == "0.75%"


def test_a_dominant_reward_component_is_a_warning() -> None:
    rewards = pd.DataFrame({"scenario": [0, 0, 1], "timestamp": pd.to_datetime(["2009-01-02", "2009-01-05"] * 1
                                                                               + ["2009-01-02"], utc=True),
                            **{c: [0.0] * 3 for c in ("pnl", "cost", "time", "sharpe", "drawdown", "sizing", "hold")}})
    rewards.loc[0, "pnl"], rewards.loc[1, "pnl"], rewards.loc[1, "cost"] = 3.0, 1.0, -1.0  # pnl 4 of 5
    shares = reward_shares(rewards, 0)
    assert shares["pnl"] == pytest.approx(0.8) and shares["cost"] == pytest.approx(0.2)
    assert dominant_component(shares) == "pnl" and dominant_component(shares, 0.9) is None
    block = summary_block(ACTIVE, "x", reward_shares=shares)
    assert block.warnings == ("One reward component dominates: pnl is 80% of the training reward's total "
                              "magnitude, so training on this reward mostly optimises that one term.",)
    totals = component_totals(rewards[rewards["scenario"] == 0].set_index("timestamp")[["pnl", "cost"]])
    assert totals["share"].sum() == pytest.approx(1.0)
