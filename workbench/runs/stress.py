"""Stress runs: historical stress periods, synthetic shocks, bootstrap and GARCH paths as one batch
(``workbench.experiments.stress``), stored with their distributions and worst cases. What the app and
the report show of them (:meth:`StressKind.detail_tables`) leads with the historical windows measured
inside the base run, where the decider came in with its positions."""
from __future__ import annotations

import html
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
        limit marked), then each run's tables (:meth:`detail_tables`): the historical windows inside
        the base run first, their replays from cash, quantiles and the worst cases per family."""
        if not runs:
            return report_html.section("stress", "Stress distributions",
                                       report_html.note("No stress run among the reviewed runs."))
        parts = []
        for metric, label in (("max_drawdown", "max drawdown"), ("total_return", "total return")):
            values = {r.info.run_id: [s.get(metric) for s in r.summary.get("scenarios") or []] for r in runs}
            if any(v is not None for vs in values.values() for v in vs):
                parts.append(report_html.plot(f"stress_{metric}", plots, report_plots.histogram_figure(
                    values, f"Stress scenarios: {label}", label,
                    limits.get("stress_max_drawdown") if metric == "max_drawdown" else None,
                    percent=True)))
        for run in runs:
            parts.append(report_html.subheading(f"Stress run {run.info.run_id}"))
            for table in self.detail_tables(run.summary):
                parts.append(f"<h4>{html.escape(table.title)}</h4>")
                parts += [report_html.warning(text) for text in table.warnings]
                parts.append(report_html.table(list(table.rows)))
                parts += [report_html.note(text) for text in table.notes]
        return report_html.section("stress", "Stress distributions", *parts)

    def view(self) -> RunView:
        return RunView(pages=("attention",), synthetic_paths=True, price_note=(
            "Synthetic and shocked scenarios fill on their own prices, so their markers can sit away from the "
            "real close drawn here."))

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """The historical windows inside the base run (the headline), the same windows replayed from
        cash, the quantiles over every scenario and the worst cases of each family."""
        tables = []
        periods = summary.get("periods") or []
        if periods and all("in_base_run" in p for p in periods):
            tables.append(_windows_table(summary, periods))
        if periods and all("replay" in p for p in periods):
            tables.append(_replay_table(periods))
        distribution = summary.get("distribution") or {}
        if distribution.get("max_drawdown"):
            tables.append(_quantile_table(distribution))
        tables += _worst_tables(summary)
        return tables

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The base scenario: the spec's period under its fee and slippage."""
        return [("base", spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


STRESS = StressKind()


QUANTILES = (("min", "lowest"), ("p5", "5th percentile"), ("p25", "25th percentile"), ("p50", "median"),
             ("p75", "75th percentile"), ("p95", "95th percentile"), ("max", "highest"))
"""Quantile keys of a stored distribution, in reading order, with their names."""
NEARLY_FLAT = 0.05
"""Gross exposure below which a decider held next to nothing when a window or shock struck."""


def _windows_table(summary: Mapping[str, Any], periods: Sequence[Mapping[str, Any]]) -> DetailTable:
    rows, warnings = [], []
    for period in periods:
        inside = period["in_base_run"]
        rows.append({"window": period["name"], "from": period["start"], "to": period["end"],
                     "total_return": inside.get("total_return"), "max_drawdown": inside.get("max_drawdown"),
                     "benchmark_return": inside.get("benchmark_return"), "exposure": inside.get("exposure"),
                     "exposure_at_start": inside.get("exposure_at_start"), "fills": inside.get("fills")})
        start = inside.get("exposure_at_start")
        if start is not None and start < NEARLY_FLAT:
            warnings.append(f"{period['name']}: the decider held {start:.1%} of its equity when the window began; "
                            "a small loss there says it sat in cash, not that it weathered the stress.")
    return DetailTable("Historical windows inside the base run", tuple(rows), notes=(
        "Each window as it went inside the base run: the decider came in warmed up and with its positions, so "
        "this is the figure to read first. Benchmark: equal-weight buy and hold over the same window.",),
        warnings=tuple(warnings))


def _replay_table(periods: Sequence[Mapping[str, Any]]) -> DetailTable:
    rows, warnings = [], []
    for period in periods:
        replay = period["replay"]
        rows.append({"window": period["name"], "from": period["start"], "to": period["end"],
                     "total_return": replay.get("total_return"), "max_drawdown": replay.get("max_drawdown"),
                     "n_trades": replay.get("n_trades"), "exposure": replay.get("exposure")})
        if replay.get("n_trades") == 0:
            warnings.append(f"{period['name']}: replayed from cash the decider never traded (its indicators had "
                            "not warmed up); the replay tests nothing.")
    return DetailTable("Historical windows replayed from cash", tuple(rows), notes=(
        "The same windows started from fresh cash with cold indicators: a second view, which tells how the "
        "decider starts in a crisis rather than how it lives through one.",), warnings=tuple(warnings))


def _quantile_table(distribution: Mapping[str, Any]) -> DetailTable:
    rows = tuple({"quantile": name, "max_drawdown": (distribution.get("max_drawdown") or {}).get(key),
                  "total_return": (distribution.get("total_return") or {}).get(key)} for key, name in QUANTILES)
    return DetailTable(f"Quantiles over all {distribution.get('n', '')} scenarios".replace("  ", " "), rows, notes=(
        "Each column's quantiles of its own values. A drawdown's are of its depth (shown negative): its "
        "'highest' row is the deepest drawdown of all scenarios, its 'lowest' the shallowest.",))


def _worst_tables(summary: Mapping[str, Any]) -> list[DetailTable]:
    """One table per family: its worst scenarios with their change against the base run."""
    families = summary.get("worst_by_family")
    if families is None:
        families = _derived_worst(summary.get("scenarios") or [])
    elif isinstance(families, Mapping):  # stored as family -> cases before the order was kept
        families = [{"family": family, "cases": cases} for family, cases in families.items()]
    shock = summary.get("shock") or {}
    never = summary.get("never_traded") or []
    n_scenarios = len(summary.get("scenarios") or [])
    tables = []
    for group in families:
        family, entries = group["family"], group["cases"]
        rows = []
        for entry in entries:
            dated = entry.get("peak_date") is not None or family in ("shock", "historical")
            row = {"scenario": entry["label"]}
            for point in ("peak", "trough", "recovery"):
                date, bar = entry.get(f"{point}_date"), entry.get(f"{point}_bar")
                row[point] = (date[:10] if date else ("not recovered" if point == "recovery" else "-")) if dated \
                    else ("-" if bar is None else f"bar {bar}")
            row.update({key: entry.get(key) for key in ("max_drawdown", "change_drawdown", "total_return",
                                                          "change_return", "n_trades")})
            if "exposure_at_shock" in entry:
                row["exposure_at_shock"] = entry["exposure_at_shock"]
            row["flag"] = "never traded" if entry.get("never_traded") or entry.get("n_trades") == 0 else ""
            rows.append(row)
        notes = []
        if family == "shock" and shock:
            notes.append(f"Every shock struck on {str(shock['at'])[:10]} (bar {shock['bar']}); volatility and "
                         f"correlation shocks last {shock['bars']} bars. Exposure when hit: the base run's gross "
                         "exposure at the close before the shock.")
        if family in ("bootstrap", "garch"):
            notes.append("Synthetic paths have no calendar of their own: their episodes are given by bar number.")
        tables.append(DetailTable(f"Worst cases: {family}", tuple(rows), notes=tuple(notes)))
    if tables and never:
        warning = (f"{len(never)} of {n_scenarios} scenarios never traded ({', '.join(never[:4])}"
                   f"{', ...' if len(never) > 4 else ''}): their figures are those of cash.")
        tables[0] = DetailTable(tables[0].title, tables[0].rows, tables[0].notes, (warning,))
    return tables


def _derived_worst(rows: Sequence[Mapping[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    """Worst cases per family from the scenario rows of a run stored before they were recorded."""
    if not rows:
        return []
    base = rows[0]
    out: list[dict[str, Any]] = []
    for family in dict.fromkeys(r.get("family") for r in rows[1:]):
        members = sorted((r for r in rows if r.get("family") == family),
                         key=lambda r: -(r.get("max_drawdown") or 0.0))
        out.append({"family": str(family), "cases": [
            {"label": r.get("label"), "max_drawdown": r.get("max_drawdown"), "total_return": r.get("total_return"),
             "n_trades": r.get("n_trades"),
             "change_drawdown": _change(r.get("max_drawdown"), base.get("max_drawdown")),
             "change_return": _change(r.get("total_return"), base.get("total_return"))}
            for r in (members if family == "shock" else members[:count])]})
    return out


def _change(value: Any, reference: Any) -> float | None:
    return None if as_number(value) is None or as_number(reference) is None else float(value) - float(reference)
