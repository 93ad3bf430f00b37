"""The summary block that opens Run detail and the review report (as QuantStats' and pyfolio's tear
sheets open): the figures a reviewer reads first, each beside the benchmark and the best baseline,
with the warnings that say when those figures mean little.

Warnings fire on what the run did, not on its name: too few trades for any statistic to carry
information (:data:`MIN_TRADES`), a portfolio mostly in cash (:data:`MOSTLY_CASH`: its low drawdown and
volatility are those of cash), and one component dominating the training reward (:data:`DOMINANT_SHARE`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.rewards import REWARD_COMPONENTS
from workbench.runs.formats import format_value, metric_title

SUMMARY_METRICS = ("annualized_return", "annualized_volatility", "sharpe", "sortino", "max_drawdown",
                   "time_in_market", "exposure", "n_trades", "turnover", "win_rate", "profit_factor")
"""The block's rows, in order."""
MIN_TRADES = 30
"""Fewer trades than this: Sharpe, win rate and drawdown say little about skill."""
MOSTLY_CASH = 0.25
"""A mean gross exposure below this share of equity: the portfolio is mostly cash."""
DOMINANT_SHARE = 0.5
"""One reward component above this share of the reward's total magnitude dominates it."""
BENCHMARK = "benchmark"


@dataclass(frozen=True)
class SummaryBlock:
    """The block of one scenario of a run.

    Attributes:
        scenario: Which scenario (or fold, or decider) the figures come from.
        rows: ``{"metric", "run", "benchmark", "baseline"}`` per metric of :data:`SUMMARY_METRICS`
            (raw values; None where missing).
        best_baseline: The baseline with the highest Sharpe ratio under the same costs (None: none ran).
        warnings: Sentences a reviewer must not miss.
        notes: How to read the block (where the comparisons come from, why a figure is n/a).
    """

    scenario: str
    rows: tuple[Mapping[str, Any], ...]
    best_baseline: str | None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def value(self, metric: str, column: str = "run") -> Any:
        """The raw ``column`` value of ``metric``."""
        return next((row[column] for row in self.rows if row["metric"] == metric), None)

    def text_rows(self) -> list[dict[str, str]]:
        """The rows as text, each value formatted by its metric's kind; column names say what they are."""
        baseline = f"best baseline ({self.best_baseline})" if self.best_baseline else "best baseline"
        return [{"metric": metric_title(row["metric"]), "this run": format_value(row["metric"], row["run"]),
                 "benchmark": format_value(row["metric"], row["benchmark"]),
                 baseline: format_value(row["metric"], row["baseline"])} for row in self.rows]


def summary_block(row: Mapping[str, Any], scenario: str, comparisons: Mapping[str, Mapping[str, Any]] | None = None,
                  reward_shares: Mapping[str, float] | None = None, years: float | None = None,
                  costs: str = "") -> SummaryBlock:
    """The block of one metrics ``row``.

    Args:
        row: The scenario's metrics (``engine.metrics.METRIC_KEYS``; older runs may lack some).
        scenario: Its label.
        comparisons: Name -> metrics row of the baselines and of :data:`BENCHMARK` under the same costs.
        reward_shares: Reward component -> share of the reward's total magnitude (policies' backtests).
        years: Length of the run's period in years (for the trade-count warning).
        costs: The cost point the baselines ran under, for the notes.
    """
    comparisons = comparisons or {}
    benchmark = comparisons.get(BENCHMARK) or {}
    baselines = {name: metrics for name, metrics in comparisons.items() if name != BENCHMARK}
    best = _best(baselines)
    chosen = baselines.get(best, {}) if best else {}
    rows = tuple({"metric": metric, "run": _number(row.get(metric)), "benchmark": _number(benchmark.get(metric)),
                  "baseline": _number(chosen.get(metric))} for metric in SUMMARY_METRICS)
    warnings = activity_warnings(row, years)
    dominant = dominant_component(reward_shares or {})
    if dominant is not None:
        warnings.append(f"One reward component dominates: {dominant} is {reward_shares[dominant]:.0%} of the training "
                        "reward's total magnitude, so training on this reward mostly optimises that one term.")
    notes = []
    if comparisons:
        notes.append("Benchmark: equal-weight buy and hold of the run's symbols without costs. Best baseline: the "
                     f"highest Sharpe ratio among {', '.join(sorted(baselines))} with default parameters"
                     + (f", under the same costs ({costs})." if costs else "."))
    if row.get("n_closed_trades") == 0 or (row.get("win_rate") is None and row.get("n_trades") is not None):
        notes.append("Win rate and profit factor are n/a: the run closed no trade with a loss and a gain to count.")
    return SummaryBlock(scenario, rows, best, tuple(warnings), tuple(notes))


def activity_warnings(row: Mapping[str, Any], years: float | None = None) -> list[str]:
    """Warnings about how little the decider traded or held (see the module docstring)."""
    warnings = []
    trades = _number(row.get("n_trades"))
    period = f" in {years:.1f} years" if years else ""
    if trades is not None and trades == 0:
        warnings.append("Never traded: every figure of this run is that of cash.")
    elif trades is not None and trades < MIN_TRADES:
        warnings.append(f"Too few trades for the statistics to mean anything: {int(trades)} trades{period} "
                        f"(at least {MIN_TRADES} are needed before Sharpe, win rate or drawdown say anything "
                        "about skill).")
    exposure, in_market = _number(row.get("exposure")), _number(row.get("time_in_market"))
    if trades != 0 and exposure is not None and exposure < MOSTLY_CASH:
        held = f", holding a position on {format_value('time_in_market', in_market)} of the bars" \
            if in_market is not None else ""
        warnings.append(f"Mostly in cash: mean exposure {format_value('exposure', exposure)} of equity{held}. "
                        "Its low volatility and drawdown are those of cash, not of a strategy that rode out the "
                        "market.")
    return warnings


def dominant_component(shares: Mapping[str, float], threshold: float = DOMINANT_SHARE) -> str | None:
    """The component whose share exceeds ``threshold``, if one does."""
    over = {name: share for name, share in shares.items() if share > threshold}
    return max(over, key=over.get) if over else None


def step_components(rewards: pd.DataFrame, scenario: int) -> pd.DataFrame:
    """One scenario's reward components per decision step, summed over its symbols (timestamp index)."""
    rows = rewards[rewards["scenario"] == scenario]
    return rows.groupby("timestamp")[list(REWARD_COMPONENTS)].sum().sort_index()


def component_totals(steps: pd.DataFrame) -> pd.DataFrame:
    """Per component: its total over the run and its share of the sum of absolute totals."""
    totals = steps.sum()
    magnitude = totals.abs().sum()
    share = totals.abs() / magnitude if magnitude > 0 else totals * 0.0
    return pd.DataFrame({"component": list(totals.index), "total": totals.to_numpy(), "share": share.to_numpy()})


def reward_shares(rewards: pd.DataFrame, scenario: int) -> dict[str, float]:
    """Component -> share of one scenario's total reward magnitude."""
    totals = component_totals(step_components(rewards, scenario))
    return dict(zip(totals["component"], totals["share"].astype(float)))


def _best(baselines: Mapping[str, Mapping[str, Any]]) -> str | None:
    scored = {name: _number(metrics.get("sharpe")) for name, metrics in baselines.items()}
    scored = {name: value for name, value in scored.items() if value is not None}
    return max(scored, key=scored.get) if scored else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def years_between(start: str, end: str) -> float | None:
    """Years from ``start`` to ``end`` (ISO dates), None when either is missing."""
    if not start or not end:
        return None
    return (pd.Timestamp(end) - pd.Timestamp(start)).days / 365.25


def summary_rows(blocks: Sequence[SummaryBlock]) -> list[dict[str, str]]:
    """The text rows of several blocks, one after the other (the report shows one block per run)."""
    return [row for block in blocks for row in block.text_rows()]
