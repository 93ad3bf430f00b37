"""GO/NO-GO review: choose a decider and its evidence (by default every stored run of it), the gates with
their measured values, editable thresholds, evidence links and PASS/FAIL, the verdict; the reviewer's
name, decision and notes saved in the run store; the HTML report to download. Each button's errors
appear beside it."""
from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from apps.jobs import DONE, FAILED, Job
from apps.pages.common import (
    NONE,
    TABLE_CSS,
    AppContext,
    JobPolling,
    alert,
    guarded,
    heading,
    note,
    page_link,
    run_label,
    table,
)
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

STATUS_COLOURS = {"PASS": "#c8efc8", "FAIL": "#f6c4c4", "MISSING": "#fbe7b5", "N/A": "#e6e6e6"}
DECISIONS = ("GO", "CONDITIONAL GO", "NO-GO")


def decider_key(info) -> str:
    """What a review is of: a decider's name and the sha256 of its weights (a retrained policy keeps its name)."""
    return f"{info.decider}|{info.model_sha}"


def decider_options(infos) -> dict[str, str]:
    """Label -> :func:`decider_key` of every decider with stored runs, newest first; the weights' sha is named
    only when one name has several."""
    keys = list(dict.fromkeys(decider_key(info) for info in infos))
    names = [key.split("|")[0] for key in keys]
    options = {}
    for key, name in zip(keys, names):
        sha = key.split("|", 1)[1]
        options[f"{name} (model {sha[:8]})" if names.count(name) > 1 and sha else name] = key
    return options


def gates_frame(gates) -> pd.DataFrame:
    """The gates as an editable table (only ``threshold`` is meant to change)."""
    return pd.DataFrame([{"gate": g.name, "metric": g.metric, "op": g.op, "threshold": g.threshold,
                          "critical": g.critical, "description": g.description} for g in gates])


def results_frame(assessment) -> pd.DataFrame:
    """One row per gate: measured value (formatted by its metric), threshold, status (coloured), evidence
    links, explanation."""
    rows = []
    for result in assessment.results:
        colour = STATUS_COLOURS.get(result.status, "#ffffff")
        links = " ".join(page_link("run", r, r[:8]) for r in result.run_ids)
        metric = result.gate.metric
        rows.append({"gate": result.gate.name,
                     "measured": app_services.format_gate_value(metric, result.value),
                     "criterion": f"{result.gate.op} {app_services.format_gate_value(metric, result.gate.threshold)}",
                     "critical": "yes" if result.gate.critical else "no",
                     "status": f'<span style="background:{colour};padding:2px 6px">{result.status}</span>',
                     "evidence": links or html.escape(result.gate.evidence),
                     "explanation": result.explanation})
    return pd.DataFrame(rows)


class ReviewPage(pn.viewable.Viewer):
    """Assess a decider's runs against the gates and record the reviewer's decision."""

    decider = param.Selector(default=NONE, objects=[NONE], label="Policy or strategy under review")
    run_ids = param.ListSelector(default=[], objects=[], label="Evidence: runs of this decider")
    reviewer = param.String(default="", label="Reviewer")
    decision = param.Selector(default="NO-GO", objects=list(DECISIONS))
    notes = param.String(default="", label="Notes (required when the decision overrides the verdict)")
    canary = param.Boolean(default=True, label="Run the look-ahead canary")

    status = param.String(default="", precedence=-1)
    assess_message = param.String(default="", precedence=-1, doc="The outcome of Assess, shown beside it.")
    assess_kind = param.String(default="info", precedence=-1)
    save_message = param.String(default="", precedence=-1, doc="The outcome of Save, shown beside it.")
    save_kind = param.String(default="info", precedence=-1)
    saved = param.Integer(default=0, precedence=-1, doc="Reviews saved from this page (refreshes the history).")

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        infos = context.store.list_runs()
        self._infos = {info.run_id: info for info in infos}
        self.param.decider.objects = decider_options(infos) or [NONE]
        opened = next((info for info in infos if run_id and info.run_id.startswith(run_id)), None)
        chosen = opened or (infos[0] if infos else None)
        self.gates_table = pn.widgets.Tabulator(
            gates_frame(app_services.default_gates()), show_index=False, sizing_mode="stretch_width",
            layout="fit_columns", css_classes=["gates-table"], stylesheets=[TABLE_CSS],
            widths={"gate": 170, "metric": 230, "op": 64, "threshold": 112, "critical": 96},
            formatters={"description": {"type": "textarea"}},
            editors={"gate": None, "metric": None, "op": None, "critical": None, "description": None,
                     "threshold": {"type": "number", "step": 0.01}})
        self.job: Job | None = None
        self.assessment = None
        self._polling = JobPolling(self._poll)
        if chosen is not None:
            self.decider = decider_key(chosen)
            self._decider_changed()

    # -- evidence ---------------------------------------------------------------------------------

    def runs_of_decider(self) -> list[str]:
        """Every stored run of the chosen decider (its name and weights), newest first."""
        return [r for r, info in self._infos.items() if decider_key(info) == self.decider]

    @param.depends("decider", watch=True)
    def _decider_changed(self) -> None:
        """Offer the decider's runs and take all of them as the evidence."""
        runs = self.runs_of_decider()
        self.param.run_ids.objects = {run_label(self._infos[r]): r for r in runs}
        self.run_ids = runs
        self.assessment = None
        self.param.update(assess_message="", save_message="", status="")

    def all_runs(self) -> None:
        """Take every stored run of the decider as the evidence again."""
        self.run_ids = self.runs_of_decider()

    def thresholds(self) -> dict[str, float]:
        """Gate name -> threshold as edited in the table."""
        frame = self.gates_table.value
        return dict(zip(frame["gate"], frame["threshold"]))

    # -- actions ----------------------------------------------------------------------------------

    def assess(self) -> Job | None:
        """Test the gates on the chosen runs in the background (the canary runs the decider)."""
        if not self.run_ids:
            self.param.update(assess_message="Choose at least one run to review.", assess_kind="warning")
            return None
        try:
            gates = app_services.gates_with_thresholds(self.thresholds())
        except WorkbenchError as error:
            self.param.update(assess_message=str(error), assess_kind="warning")
            return None
        store, run_ids, canary = self.context.store, list(self.run_ids), self.canary
        self.assessment = None
        self.param.update(assess_message="", save_message="", status="running")
        self.job = self.context.jobs.submit(
            "review", f"review of {len(run_ids)} run(s) of {self.decider.split('|')[0]}",
            lambda report: app_services.assess_runs(store, run_ids, gates, canary=canary))
        self._polling.watch()
        return self.job

    def _poll(self) -> None:
        job = self.job
        if job is None:
            return
        if job.status == DONE and self.assessment is None:
            self.assessment = job.result
            self.decision = self.assessment.verdict.decision
        if job.status == FAILED:
            self.param.update(assess_message=job.message, assess_kind="danger")
        self.status = job.status
        if job.finished:
            self._polling.finished()

    def save(self) -> int | None:
        """Save the reviewer's decision with the assessment; returns the review id."""
        if self.assessment is None:
            self.param.update(save_message="Assess the runs first: the review stores the gate results it was "
                                           "decided on.", save_kind="warning")
            return None
        try:
            review_id, report = app_services.save_review(self.context.store, self.assessment, self.reviewer,
                                                         self.decision, self.notes)
        except WorkbenchError as error:
            self.param.update(save_message=str(error), save_kind="warning")
            return None
        self.param.update(save_message=f"Saved review {review_id} ({self.decision}) with its report {report.name}.",
                          save_kind="success", saved=self.saved + 1)
        return review_id

    def history(self) -> pd.DataFrame:
        """Reviews of the decider's runs, newest first."""
        reviews = self._reviews()
        return pd.DataFrame([{"review": r.id, "created_at": r.created_at[:19].replace("T", " "),
                              "reviewer": r.reviewer, "decision": r.decision, "verdict": r.verdict,
                              "notes": r.notes, "runs": len(r.run_ids)} for r in reviews])

    def _reviews(self) -> list:
        seen, out = set(), []
        for run_id in self.runs_of_decider():
            for review in self.context.store.reviews_for(run_id):
                if review.id not in seen:
                    seen.add(review.id)
                    out.append(review)
        return sorted(out, key=lambda r: r.id, reverse=True)

    # -- views ------------------------------------------------------------------------------------

    @param.depends("assess_message", "assess_kind", "status")
    def _assess_feedback(self):
        parts = []
        if self.assess_message:
            parts.append(alert(self.assess_message, self.assess_kind))
        if self.status == "running" or (self.job is not None and not self.job.finished):
            parts.append(pn.Row(pn.indicators.LoadingSpinner(value=True, size=24, css_classes=["assessing"]),
                                note("Collecting evidence and running the look-ahead canary ...")))
        return pn.Column(*parts, sizing_mode="stretch_width") if parts else pn.Spacer(height=0)

    @param.depends("status")
    def _results(self):
        if self.assessment is None:
            return pn.Spacer(height=0)
        verdict = self.assessment.verdict
        colour = {"GO": "#c8efc8", "CONDITIONAL GO": "#fbe7b5", "NO-GO": "#f6c4c4"}[verdict.decision]
        return pn.Column(
            pn.pane.HTML(f'<div style="font-size:1.4em;font-weight:bold;background:{colour};'
                         f'padding:6px 12px;display:inline-block" id="verdict">{verdict.decision}</div>'
                         f'<p>{html.escape(verdict.rule)}</p>'),
            table(results_frame(self.assessment), css_classes=["results-table"],
                  formatters={"status": {"type": "html"}, "evidence": {"type": "html"},
                              "explanation": {"type": "textarea"}},
                  widths={"gate": 150, "measured": 100, "criterion": 100, "critical": 70, "status": 90,
                          "evidence": 190}, layout="fit_columns"),
            sizing_mode="stretch_width")

    @param.depends("save_message", "save_kind")
    def _save_feedback(self):
        return alert(self.save_message, self.save_kind) if self.save_message else pn.Spacer(height=0)

    @param.depends("decider", "saved")
    def _history(self):
        def build():
            frame = self.history()
            if frame.empty:
                return note("No review of this decider's runs yet.")
            latest = self._reviews()[0]
            download = pn.Spacer(height=0)
            path = app_services.report_file(latest.report_path)
            if path is not None:
                download = pn.widgets.FileDownload(file=str(path), filename=f"review-{latest.id}.html",
                                                   label=f"Download report of review {latest.id}",
                                                   button_type="success", width=320)
            return pn.Column(table(frame, css_classes=["history-table"]), download, sizing_mode="stretch_width")
        return guarded(build, "review history")

    def __panel__(self):
        assess = pn.widgets.Button(label="Assess runs", button_type="primary", width=180)
        assess.on_click(lambda event: self.assess())
        every = pn.widgets.Button(label="All runs of this decider", width=220)
        every.on_click(lambda event: self.all_runs())
        save = pn.widgets.Button(label="Save review", button_type="success", width=180)
        save.on_click(lambda event: self.save())
        return pn.Column(
            heading("GO/NO-GO review", 2),
            pn.Row(pn.widgets.Select.from_param(self.param.decider, width=360), pn.Column(pn.Spacer(height=18), every)),
            pn.widgets.MultiChoice.from_param(self.param.run_ids, sizing_mode="stretch_width"),
            note("The evidence is every stored run of the decider unless you remove some: a backtest, a stress run "
                 "and a walk-forward each feed their own gates, so a review of one run leaves the others MISSING."),
            heading("Gates"), note("Edit a threshold by clicking it; the assessment uses the table as shown."),
            self.gates_table,
            pn.Row(assess, pn.widgets.Checkbox.from_param(self.param.canary, align="center")),
            self._assess_feedback,
            self._results,
            heading("Decision"),
            pn.Row(pn.widgets.TextInput.from_param(self.param.reviewer, width=240, placeholder="your name"),
                   pn.widgets.Select.from_param(self.param.decision, width=200)),
            pn.widgets.TextAreaInput.from_param(self.param.notes, sizing_mode="stretch_width", height=90,
                                                placeholder="what you based the decision on"),
            save, self._save_feedback,
            heading("Reviews of this decider"), self._history,
            sizing_mode="stretch_width")
