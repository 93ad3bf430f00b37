"""Comparisons: the candidate against its variants, every baseline and the benchmark on identical
fills (``workbench.experiments.compare``), with bootstrap CIs, deflated Sharpe and PBO."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from engine.scenarios import ScenarioParams
from workbench.experiments.compare import CompareOptions, CompareResult, run_compare
from workbench.runs import report_html
from workbench.runs.backtest import PORTFOLIO_KEYS
from workbench.runs.kind import Evidence, Progress, RunView, StoredRunLike, as_number
from workbench.runs.spec import RunSpec


class CompareKind:
    """Several deciders on one market path: the candidate, its variants and the baselines."""

    name = "compare"
    title = "Comparison"
    options = CompareOptions
    rows_name = "deciders"

    def run(self, spec: RunSpec, progress: Progress | None = None) -> CompareResult:
        return run_compare(spec, progress)

    def main_row(self, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """The candidate."""
        return summary.get("candidate") or {}

    def rows(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The candidate, its variants, then the baselines."""
        rows = [summary.get("candidate") or {}, *(summary.get("variants") or []), *(summary.get("baselines") or [])]
        return [dict(r) for r in rows if r]

    def count(self, summary: Mapping[str, Any]) -> int:
        return len(self.rows(summary))

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """The candidate's portfolio metrics."""
        candidate = run.summary.get("candidate") or {}
        metrics = candidate.get("metrics", candidate) if isinstance(candidate, Mapping) else {}
        return [(key, as_number(metrics[key]), "candidate") for key in PORTFOLIO_KEYS if key in metrics]

    def report_curves(self, run: StoredRunLike) -> tuple[pd.DataFrame, list[str]] | None:
        """Every decider's equity; the candidate's column is the candidate's."""
        table = report_html.stored_table(run, "equity")
        if table is None:
            return None
        curves = report_html.as_curves(table)
        candidate = str((run.summary.get("candidate") or {}).get("name", ""))
        return curves, [c for c in curves.columns if str(c) == candidate]

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """Comparisons feed the report's equity chart (with their baselines) and gates."""
        return ""

    def view(self) -> RunView:
        return RunView(pages=("attention",), baselines=False)

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The base scenario: the spec's period under its first fee and slippage."""
        return [("base", spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


COMPARE = CompareKind()
