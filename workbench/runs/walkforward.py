"""Walk-forwards: rolling or expanding folds with purge and embargo, frozen, optimized or retrained
per fold (``workbench.experiments.walkforward``), stored with the stitched out-of-sample curve."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from engine.scenarios import ScenarioParams
from workbench.experiments.walkforward import (
    WalkForwardOptions,
    WalkForwardResult,
    run_walkforward,
)
from workbench.runs import report_html, report_plots
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, StoredRunLike, as_number
from workbench.runs.spec import RunSpec

OOS_LABEL = "out of sample"
"""How the stitched out-of-sample row is named among the folds."""
OOS_COLUMNS = ("start", "end", "bars", "sharpe", "total_return", "max_drawdown", "excess_return")
STABILITY_COLUMNS = ("n_folds", "sharpe_mean", "sharpe_std", "positive_fraction")
FOLD_COLUMNS = ("fold", "train_start", "train_end", "test_start", "test_end", "params", "train_sharpe",
                "sharpe", "total_return", "max_drawdown", "excess_return", "n_trades")


class WalkForwardKind:
    """A decider tested fold by fold on data it has not seen (or was not tuned on)."""

    name = "walkforward"
    title = "Walk-forward"
    options = WalkForwardOptions
    rows_name = "folds"

    def run(self, spec: RunSpec, progress: Progress | None = None) -> WalkForwardResult:
        return run_walkforward(spec, progress)

    def main_row(self, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """The stitched out-of-sample curve."""
        oos = summary.get("oos")
        return {"label": OOS_LABEL, **oos} if oos else {}

    def rows(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Each fold, then the stitched out-of-sample row."""
        return [dict(r) for r in summary.get("folds") or []] + [{"fold": OOS_LABEL, **self.main_row(summary)}]

    def count(self, summary: Mapping[str, Any]) -> int:
        """The folds (the stitched row is not one)."""
        return len(summary.get("folds") or [])

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """The out-of-sample Sharpe and the share of folds with a positive Sharpe."""
        summary, out = run.summary, []
        oos = summary.get("oos") or {}
        if "sharpe" in oos:
            out.append(("oos_sharpe", as_number(oos["sharpe"]), "out-of-sample folds"))
        stability = summary.get("stability") or {}
        if "positive_fraction" in stability:
            out.append(("walkforward_positive_fraction", as_number(stability["positive_fraction"]),
                        f"{len(summary.get('folds') or [])} folds"))
        return out

    def report_curves(self, run: StoredRunLike) -> None:
        """The stitched curve is drawn in the walk-forward section."""
        return None

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """The stitched out-of-sample equity, its metrics and stability, and the folds."""
        if not runs:
            return report_html.section("walkforward", "Walk-forward",
                                       report_html.note("No walk-forward run among the reviewed runs."))
        parts = []
        for run in runs:
            parts.append(report_html.subheading(run.info.run_id))
            table = report_html.stored_table(run, "equity")
            if table is not None and "equity" in table.columns:
                curve = report_html.as_curves(table)[["equity"]].rename(columns={"equity": "out-of-sample"})
                parts.append(report_html.plot(f"walkforward_{run.info.run_id}", plots, report_plots.equity_figure(
                    curve, "Stitched out-of-sample equity")))
            oos, stability = run.summary.get("oos") or {}, run.summary.get("stability") or {}
            parts.append(report_html.table([{**{f"oos {k}": oos.get(k) for k in OOS_COLUMNS},
                                             **{k: stability.get(k) for k in STABILITY_COLUMNS}}]))
            folds = report_html.scalars(run.summary.get("folds") or [])
            keys = list(dict.fromkeys(k for row in folds for k in row))
            # A fold's chosen parameters arrive flattened (params.fast, params.slow, ...).
            columns = [k for c in FOLD_COLUMNS for k in keys if k == c or (c == "params" and k.startswith("params."))]
            parts.append(report_html.table(folds, columns=columns))
        return report_html.section("walkforward", "Walk-forward", *parts)

    def view(self) -> RunView:
        return RunView(pages=("attention",))

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """None beyond the metrics rows."""
        return []

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The base scenario: the spec's period under its first fee and slippage."""
        return [("base", spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


WALKFORWARD = WalkForwardKind()
