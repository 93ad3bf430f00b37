"""GO/NO-GO review: the gates with their measured values, editable thresholds, evidence links and
PASS/FAIL, the verdict; the reviewer's name, decision and notes saved in the run store; the HTML
report to download."""
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
    number_formats,
    page_link,
    run_label,
    table,
)
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

STATUS_COLOURS = {"PASS": "#c8efc8", "FAIL": "#f6c4c4", "MISSING": "#fbe7b5", "N/A": "#e6e6e6"}
DECISIONS = ("GO", "CONDITIONAL GO", "NO-GO")


def gates_frame(gates) -> pd.DataFrame:
    """The gates as an editable table (only ``threshold`` is meant to change)."""
    return pd.DataFrame([{"gate": g.name, "metric": g.metric, "op": g.op, "threshold": g.threshold,
                          "critical": g.critical, "description": g.description} for g in gates])


def results_frame(assessment) -> pd.DataFrame:
    """One row per gate: measured value, threshold, status (coloured), evidence links, explanation."""
    rows = []
    for result in assessment.results:
        colour = STATUS_COLOURS.get(result.status, "#ffffff")
        links = " ".join(page_link("run", r, r[:8]) for r in result.run_ids)
        rows.append({"gate": result.gate.name, "measured": result.value, "op": result.gate.op,
                     "threshold": result.gate.threshold, "critical": result.gate.critical,
                     "status": f'<span style="background:{colour};padding:2px 6px">{result.status}</span>',
                     "evidence": links or html.escape(result.gate.evidence),
                     "explanation": result.explanation})
    return pd.DataFrame(rows)


class ReviewPage(pn.viewable.Viewer):
    """Assess runs against the gates and record the reviewer's decision."""

    run_ids = param.ListSelector(default=[], objects=[], label="Runs to review (one decider)")
    reviewer = param.String(default="", label="Reviewer")
    decision = param.Selector(default="NO-GO", objects=list(DECISIONS))
    notes = param.String(default="", label="Notes (required when the decision overrides the verdict)")
    canary = param.Boolean(default=True, label="Run the look-ahead canary")

    status = param.String(default="", precedence=-1)
    message = param.String(default="", precedence=-1)
    message_kind = param.String(default="info", precedence=-1)
    saved = param.Integer(default=0, precedence=-1, doc="Reviews saved from this page (refreshes the history).")

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        options = {run_label(info): info.run_id for info in context.store.list_runs()}
        self.param.run_ids.objects = options
        chosen = [r for r in options.values() if run_id and r.startswith(run_id)]
        self.run_ids = chosen[:1]
        self.gates_table = pn.widgets.Tabulator(
            gates_frame(app_services.default_gates()), show_index=False, sizing_mode="stretch_width",
            layout="fit_data_table", css_classes=["gates-table"], stylesheets=[TABLE_CSS],
            editors={"gate": None, "metric": None, "op": None, "critical": None, "description": None,
                     "threshold": {"type": "number", "step": 0.01}})
        self.job: Job | None = None
        self.assessment = None
        self._polling = JobPolling(self._poll)

    # -- actions ----------------------------------------------------------------------------------

    def thresholds(self) -> dict[str, float]:
        """Gate name -> threshold as edited in the table."""
        frame = self.gates_table.value
        return dict(zip(frame["gate"], frame["threshold"]))

    def assess(self) -> Job | None:
        """Test the gates on the chosen runs in the background (the canary runs the decider)."""
        if not self.run_ids:
            self.param.update(message="Choose at least one run to review.", message_kind="warning")
            return None
        try:
            gates = app_services.gates_with_thresholds(self.thresholds())
        except WorkbenchError as error:
            self.param.update(message=str(error), message_kind="warning")
            return None
        store, run_ids, canary = self.context.store, list(self.run_ids), self.canary
        self.assessment = None
        self.param.update(message="", status="running")
        self.job = self.context.jobs.submit(
            "review", f"review of {len(run_ids)} run(s)",
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
            self.param.update(message=job.message, message_kind="danger")
        self.status = job.status
        if job.finished:
            self._polling.finished()

    def save(self) -> int | None:
        """Save the reviewer's decision with the assessment; returns the review id."""
        if self.assessment is None:
            self.param.update(message="Assess the runs first: the review stores the gate results it was "
                                      "decided on.", message_kind="warning")
            return None
        try:
            review_id, report = app_services.save_review(self.context.store, self.assessment, self.reviewer,
                                                         self.decision, self.notes)
        except WorkbenchError as error:
            self.param.update(message=str(error), message_kind="warning")
            return None
        self.param.update(message=f"Saved review {review_id} ({self.decision}) with its report {report.name}.",
                          message_kind="success", saved=self.saved + 1)
        return review_id

    def history(self) -> pd.DataFrame:
        """Reviews of the first chosen run, newest first."""
        if not self.run_ids:
            return pd.DataFrame()
        reviews = self.context.store.reviews_for(self.run_ids[0])
        return pd.DataFrame([{"review": r.id, "created_at": r.created_at[:19].replace("T", " "),
                              "reviewer": r.reviewer, "decision": r.decision, "verdict": r.verdict,
                              "notes": r.notes, "runs": ", ".join(x[:8] for x in r.run_ids)} for r in reviews])

    # -- views ------------------------------------------------------------------------------------

    @param.depends("status", "message", "message_kind")
    def _results(self):
        parts = []
        if self.message:
            parts.append(alert(self.message, self.message_kind))
        if self.status == "running" or (self.job is not None and not self.job.finished):
            parts.append(pn.indicators.LoadingSpinner(value=True, size=30, css_classes=["assessing"]))
            parts.append(note("Collecting evidence and running the look-ahead canary ..."))
        if self.assessment is not None:
            verdict = self.assessment.verdict
            colour = {"GO": "#c8efc8", "CONDITIONAL GO": "#fbe7b5", "NO-GO": "#f6c4c4"}[verdict.decision]
            parts.append(pn.pane.HTML(f'<div style="font-size:1.4em;font-weight:bold;background:{colour};'
                                      f'padding:6px 12px;display:inline-block" id="verdict">{verdict.decision}</div>'
                                      f'<p>{html.escape(verdict.rule)}</p>'))
            parts.append(table(results_frame(self.assessment), css_classes=["results-table"],
                               formatters={"status": {"type": "html"}, "evidence": {"type": "html"},
                                           **number_formats(pd.DataFrame(), ["measured"])}))
        return pn.Column(*parts, sizing_mode="stretch_width") if parts else pn.Spacer(height=0)

    @param.depends("run_ids", "saved")
    def _history(self):
        def build():
            if not self.run_ids:
                return note("Choose a run above to see its reviews.")
            frame = self.history()
            if frame.empty:
                return note("No review of this run yet.")
            reviews = self.context.store.reviews_for(self.run_ids[0])
            download = pn.Spacer(height=0)
            path = app_services.report_file(reviews[0].report_path)
            if path is not None:
                download = pn.widgets.FileDownload(file=str(path), filename=f"review-{reviews[0].id}.html",
                                                   label=f"Download report of review {reviews[0].id}",
                                                   color="success", width=320)
            return pn.Column(table(frame, css_classes=["history-table"]), download, sizing_mode="stretch_width")
        return guarded(build, "review history")

    def __panel__(self):
        assess = pn.widgets.Button(label="Assess runs", color="primary", width=180)
        assess.on_click(lambda event: self.assess())
        save = pn.widgets.Button(label="Save review", color="success", width=180)
        save.on_click(lambda event: self.save())
        return pn.Column(
            heading("GO/NO-GO review", 2),
            pn.widgets.MultiChoice.from_param(self.param.run_ids, sizing_mode="stretch_width"),
            heading("Gates"), note("Edit a threshold by clicking it; the assessment uses the table as shown."),
            self.gates_table,
            pn.Row(assess, pn.widgets.Checkbox.from_param(self.param.canary, align="center")),
            self._results,
            heading("Decision"),
            pn.Row(pn.widgets.TextInput.from_param(self.param.reviewer, width=240, placeholder="your name"),
                   pn.widgets.Select.from_param(self.param.decision, width=200)),
            pn.widgets.TextAreaInput.from_param(self.param.notes, sizing_mode="stretch_width", height=90,
                                                placeholder="what you based the decision on"),
            save,
            heading("Reviews of this run"), self._history,
            sizing_mode="stretch_width")
