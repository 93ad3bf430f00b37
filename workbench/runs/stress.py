"""Stress runs: historical stress periods, synthetic shocks, bootstrap and GARCH paths as one batch
(``workbench.experiments.stress``), stored with their distributions and worst cases."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from engine.scenarios import ScenarioParams
from workbench.experiments.stress import StressOptions, StressResult, run_stress
from workbench.runs import report_html, report_plots
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, ScenarioRows, StoredRunLike, as_number
from workbench.runs.spec import RunSpec


class StressKind(ScenarioRows):
    """A decider over stressed versions of its market, every scenario one rollout of one batch."""

    name = "stress"
    title = "Stress set"
    options = StressOptions

    def run(self, spec: RunSpec, progress: Progress | None = None) -> StressResult:
        return run_stress(spec, progress)

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """The max drawdown of every synthetic stress scenario (base, shocks, bootstrap, GARCH) and of each
        historical window as it went inside the base run. A window replayed on its own from cash is left
        out: a decider that needs a warm-up barely trades there, so its drawdown says little (the report
        still shows it)."""
        out: list[Evidence] = [
            ("stress_max_drawdown", as_number(s["max_drawdown"]), f"stress scenario {s.get('label', i)!r}")
            for i, s in enumerate(run.summary.get("scenarios") or [])
            if "max_drawdown" in s and s.get("family") != "historical"]
        for period in run.summary.get("periods") or []:
            inside = period.get("in_base_run") or {}
            if "max_drawdown" in inside:
                out.append(("stress_max_drawdown", as_number(inside["max_drawdown"]),
                            f"historical window {period.get('name', period.get('key'))!r} inside the base run"))
        return out

    def report_curves(self, run: StoredRunLike) -> None:
        """Stress paths are not the candidate's curve on the real market."""
        return None

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """Histograms of max drawdown and total return over the scenarios (the stress drawdown gate's
        limit marked), quantiles and worst cases."""
        if not runs:
            return report_html.section("stress", "Stress distributions",
                                       report_html.note("No stress run among the reviewed runs."))
        parts = []
        for metric, label in (("max_drawdown", "max drawdown"), ("total_return", "total return")):
            values = {r.info.run_id: [s.get(metric) for s in r.summary.get("scenarios") or []] for r in runs}
            if any(v is not None for vs in values.values() for v in vs):
                parts.append(report_html.plot(f"stress_{metric}", plots, report_plots.histogram_figure(
                    values, f"Stress scenarios: {label}", label,
                    limits.get("stress_max_drawdown") if metric == "max_drawdown" else None)))
        for run in runs:
            distribution = run.summary.get("distribution") or {}
            rows = [{"metric": k, **v} for k, v in distribution.items() if k != "by_family" and isinstance(v, Mapping)]
            for family, block in (distribution.get("by_family") or {}).items():
                rows += [{"metric": f"{k} ({family})", **v} for k, v in block.items() if isinstance(v, Mapping)]
            parts.append(report_html.subheading(f"{run.info.run_id}: quantiles over scenarios") + report_html.table(rows))
            worst = run.summary.get("worst")
            if worst:
                parts.append(report_html.subheading("Worst scenarios")
                             + report_html.table(worst if isinstance(worst, list) else [worst]))
        return report_html.section("stress", "Stress distributions", *parts)

    def view(self) -> RunView:
        return RunView(pages=("attention",), price_note=(
            "Synthetic and shocked scenarios fill on their own prices, so their markers can sit away from the "
            "real close drawn here."))

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """None beyond the metrics rows."""
        return []

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The base scenario: the spec's period under its fee and slippage."""
        return [("base", spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


STRESS = StressKind()
