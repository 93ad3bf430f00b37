"""Comparisons: the candidate against its variants, every baseline and the benchmark on identical
fills (``workbench.experiments.compare``), with bootstrap CIs, the reality check and the model
confidence set, deflated Sharpe and PBO."""
from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import pandas as pd

from engine.scenarios import ScenarioParams
from workbench.experiments.compare import CompareOptions, CompareResult, run_compare
from workbench.runs import report_html
from workbench.runs.backtest import PORTFOLIO_KEYS
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, StoredRunLike, as_number
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
        """The candidate's portfolio metrics and the reality check's p-value (consistent) that some
        alternative is at least as good as the candidate."""
        candidate = run.summary.get("candidate") or {}
        metrics = candidate.get("metrics", candidate) if isinstance(candidate, Mapping) else {}
        out = [(key, as_number(metrics[key]), "candidate") for key in PORTFOLIO_KEYS if key in metrics]
        superior = (run.summary.get("reality_check") or {}).get("superior") or {}
        if "consistent" in superior:
            where = (f"candidate vs {len(superior.get('pairwise') or [])} alternatives "
                     f"(closest: {superior.get('closest')})")
            out.append(("reality_check_pvalue", as_number(superior["consistent"]), where))
        return out

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
        """Each comparison's statistics (:meth:`detail_tables`); its curves go to the equity chart."""
        if not runs:
            return report_html.section("comparison", "Comparison statistics", report_html.note(
                "No comparison among the reviewed runs: `workbench compare` gives the reality check, the model "
                "confidence set, the deflated Sharpe ratio and the probability of backtest overfitting."))
        parts = []
        for run in runs:
            parts.append(report_html.subheading(f"Comparison {run.info.run_id}"))
            tables = self.detail_tables(run.summary)
            if not tables:
                parts.append(report_html.note("This comparison was stored before its statistics were recorded."))
            for table in tables:
                parts.append(f"<h4>{html.escape(table.title)}</h4>")
                parts += [report_html.warning(text) for text in table.warnings]
                parts.append(report_html.table(list(table.rows)))
                parts += [report_html.note(text) for text in table.notes]
        return report_html.section("comparison", "Comparison statistics", *parts)

    def view(self) -> RunView:
        return RunView(pages=("attention",), baselines=False)

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """The reality check, the deciders' p-values and confidence set, the deflated Sharpe ratio and
        the probability of backtest overfitting (each left out when the stored run lacks it)."""
        tables = []
        check, mcs = summary.get("reality_check"), summary.get("model_confidence_set")
        if check:
            tables.append(_reality_table(check))
        if check and mcs:
            tables.append(_deciders_table(summary, check, mcs))
        detail = summary.get("deflated_sharpe_detail") or {}
        if "n_effective" in detail:
            tables.append(_deflated_table(summary, detail))
        if "pbo_reason" in summary and (summary.get("pbo_detail") is None or "tie_share" in summary["pbo_detail"]):
            tables.append(_overfitting_table(summary))
        return tables

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The base scenario: the spec's period under its first fee and slippage."""
        return [("base", spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


COMPARE = CompareKind()


def _reality_table(check: Mapping[str, Any]) -> DetailTable:
    superior, beaten, boot = check["superior"], check["beaten"], check["bootstrap"]
    rows = ({"question": "does the candidate beat every alternative?", "lower": superior["lower"],
             "consistent": superior["consistent"], "upper (White)": superior["upper"],
             "reading": f"small: it does (closest alternative: {superior['closest']})"},
            {"question": "does some alternative beat the candidate?", "lower": beaten["lower"],
             "consistent": beaten["consistent"], "upper (White)": beaten["upper"],
             "reading": "small: some alternative does"})
    method = (f"Hansen's SPA p-values over {check['n_alternatives']} alternatives (each distinct variant and "
              f"baseline); loss = {check['loss']}; stationary bootstrap, mean block {boot['block_size']} bars, "
              f"{boot['reps']} resamples, seed {boot['seed']}. The first row is the largest of the pairwise tests "
              "(an intersection-union test): the review's gate reads its consistent p-value.")
    return DetailTable("Reality check", rows, (method, superior["hypothesis"], beaten["hypothesis"]))


def _deciders_table(summary: Mapping[str, Any], check: Mapping[str, Any], mcs: Mapping[str, Any]) -> DetailTable:
    pairwise = {t["name"]: t for t in check["superior"]["pairwise"]}
    rows = []
    for row in [summary.get("candidate") or {}, *(summary.get("variants") or []), *(summary.get("baselines") or [])]:
        name = row.get("name")
        if name not in mcs["pvalues"]:
            continue  # a configuration met twice is tested once
        pair = pairwise.get(name) or {}
        edge = pair.get("mean_difference")
        rows.append({"name": name, "role": row.get("role"), "sharpe": row.get("sharpe"),
                     "candidate's edge (bp per bar)": None if edge is None else edge * 1e4,
                     "p (candidate better)": pair.get("consistent"), "MCS p-value": mcs["pvalues"][name],
                     f"in the {1 - mcs['size']:.0%} MCS": "yes" if name in mcs["included"] else "no"})
    meaning = (f"The model confidence set holds the decider with the highest mean per-bar return with probability "
               f"{1 - mcs['size']:.0%} (Hansen, Lunde & Nason, method R); a decider leaves it at its MCS p-value.")
    return DetailTable("Deciders and the model confidence set", tuple(rows), (meaning,))


def _deflated_table(summary: Mapping[str, Any], detail: Mapping[str, Any]) -> DetailTable:
    rows = ({"N": "raw", "trials": detail["n_trials"], "SR0 (per bar)": detail["sr0"], "DSR": detail["value"]},
            {"N": "effective", "trials": detail["n_effective"], "SR0 (per bar)": detail["sr0_effective"],
             "DSR": detail["value_effective"]})
    counted = ", ".join(f"{count} {role}" for role, count in detail["counted"].items() if count)
    baselines = "counted" if detail["baselines_counted"] else "not counted (--dsr-baselines counts them)"
    inputs = (f"Trials counted: {counted} ({', '.join(summary.get('trials') or [])}); baselines {baselines}. "
              f"Their per-bar Sharpe variance V = {detail['trials_variance']:.4g}; the candidate's per-bar Sharpe "
              f"{detail['sharpe']:.4g} over {detail['n_obs']} bars.")
    rho = detail["mean_correlation"]
    effective = ("Effective N = rho + (1 - rho) N with rho the trials' mean pairwise return correlation "
                 + (f"({rho:.3g})." if rho is not None else "(not measurable: N kept)."))
    return DetailTable("Deflated Sharpe ratio", rows, (inputs, effective, *detail.get("notes", ())))


def _overfitting_table(summary: Mapping[str, Any]) -> DetailTable:
    detail = summary.get("pbo_detail")
    if detail is None:
        return DetailTable("Probability of backtest overfitting", (), (str(summary.get("pbo_reason")),))
    rows = ({"PBO": detail["pbo"], "median ties": detail["tie_share"],
             "ties as not overfit": detail["pbo_ties_not_overfit"], "ties as overfit": detail["pbo_ties_overfit"],
             "variants N": detail["n_variants"], "blocks S": detail["n_blocks"], "splits": detail["n_splits"]},)
    convention = ("CSCV over the candidate and its variants; a split whose in-sample best lands exactly on the "
                  "out-of-sample median counts as one half.")
    return DetailTable("Probability of backtest overfitting", rows, (convention,), tuple(detail.get("warnings") or ()))
