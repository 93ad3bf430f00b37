"""Stress lab: choose a decider, data and a scenario set (historical periods the data covers, shocks with
their date, size and duration, bootstrap and GARCH paths), launch it in the background, watch its
progress and read the result: the historical windows measured inside the base run first (the decider
came in with its positions), their replays from cash, and the worst cases of each family with their
change against the base run. Every result is stored in the run store. Data files and policies can be
uploaded here."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import charts, plots
from apps.pages.common import (
    NONE,
    AppContext,
    alert,
    choose_run,
    controls,
    guarded,
    heading,
    note,
    page_link,
    run_options,
    table,
)
from apps.pages.launch import Launcher, RunForm, parse_numbers, parse_tags
from apps.pages.uploads import UploadPanel
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

EXTRA_SHOCKS = ("gap:-0.3", "volatility:5", "liquidity:10")
SHOCK_KINDS = ("gap", "volatility", "correlation", "liquidity", "reversal")
RESULT_KINDS = ("stress",)
"""The kinds of run the results selector offers."""


class StressLabPage(pn.viewable.Viewer):
    """Launch stress runs and read their results."""

    shocks = param.ListSelector(default=[], objects=[], label="Shocks")
    shock_kind = param.Selector(default="gap", objects=list(SHOCK_KINDS), label="Add a shock")
    shock_size = param.Number(default=-0.2, label="Size (gap: -0.2 = -20%; volatility: x3; ...)")
    shock_at = param.String(default="", label="Shock date (YYYY-MM-DD; blank: the middle bar)")
    shock_bars = param.Integer(default=21, bounds=(1, 10_000), label="Shock lasts (bars)")
    periods = param.ListSelector(default=[], objects=[], label="Historical periods (none chosen: all the data covers)")
    n_bootstrap = param.Integer(default=10, bounds=(0, 1000), label="Bootstrap paths")
    n_garch = param.Integer(default=10, bounds=(0, 1000), label="GARCH paths")
    result_run = param.Selector(default=NONE, objects=[NONE], label="Stress run")

    url_parameters = {"run": "result_run"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        self.form = RunForm()
        defaults = list(app_services.default_shocks())
        self.param.shocks.objects = defaults + list(EXTRA_SHOCKS)
        self.shocks = defaults
        store = context.store
        self.form.follow(app_services.form_defaults(store, run_id))
        self.form.param.watch(self._covered_periods, ["data", "start", "end"])
        self._covered_periods()
        choose_run(self, run_options(store, kinds=RESULT_KINDS), run_id, name="result_run")
        if not self.result_run and len(self.param.result_run.objects) > 1:
            decider = self.form.decider()
            same = run_options(store, kinds=RESULT_KINDS, where=lambda info: info.decider == decider)
            self.result_run = next(iter(same.values()), list(self.param.result_run.objects.values())[1])
        self.launcher = Launcher(context, "stress", "Launch stress run", on_done=self._stored)
        self.launcher.button.on_click(lambda event: self.launch())
        self.uploads = UploadPanel(on_change=self.form.refresh_choices)

    # -- the form ---------------------------------------------------------------------------------

    def _covered_periods(self, *_events) -> None:
        """Offer the catalogued periods the chosen data and dates cover, with their dates."""
        try:
            periods = app_services.covered_stress_periods(str(self.form.data), self.form.start.strip() or None,
                                                          self.form.end.strip() or None)
        except WorkbenchError:
            periods = []
        options = {f"{p['name']} ({p['start']} to {p['end']})": p["key"] for p in periods}
        self.param.periods.objects = options
        self.periods = [p for p in self.periods if p in options.values()]

    def add_shock(self) -> str:
        """Add the shock of the kind and size chosen to the list (and choose it); returns its text."""
        text = self.shock_kind if self.shock_kind == "reversal" else f"{self.shock_kind}:{self.shock_size:g}"
        if text not in self.param.shocks.objects:
            self.param.shocks.objects = [*self.param.shocks.objects, text]
        if text not in self.shocks:
            self.shocks = [*self.shocks, text]
        return text

    def stress_spec(self) -> RunSpec:
        """The spec the form describes (validated; raises ``WorkbenchError`` with the reason)."""
        options = {"shocks": list(self.shocks), "n_bootstrap": self.n_bootstrap, "n_garch": self.n_garch,
                   "shock_bars": self.shock_bars}
        if self.shock_at.strip():
            options["shock_at"] = self.shock_at.strip()
        if self.periods:
            options["periods"] = list(self.periods)
        fees, slippage = parse_numbers(self.form.fees, "fees"), parse_numbers(self.form.slippage, "slippage")
        return self.form.spec("stress", options, fees=fees[:1], slippage=slippage[:1])

    def launch(self):
        """Validate the form and queue the stress run; returns its job (None when the form is invalid)."""
        return self.launcher.launch(self.stress_spec, parse_tags(self.form.tags))

    def _stored(self, run_id: str) -> None:
        choose_run(self, run_options(self.context.store, kinds=RESULT_KINDS), run_id, name="result_run")

    # -- results ----------------------------------------------------------------------------------

    def result(self):
        return self.context.store.get_run(self.result_run) if self.result_run else None

    def outcome_groups(self, metric: str) -> dict[str, np.ndarray]:
        """Values of ``metric`` per scenario family of the chosen stress run."""
        rows = pd.DataFrame(self.result().summary.get("scenarios") or [])
        if rows.empty:
            return {}
        return {family: pd.to_numeric(group[metric], errors="coerce").to_numpy(np.float64)
                for family, group in rows.groupby("family", sort=False)}

    @param.depends("result_run")
    def _results(self):
        if not self.result_run:
            return alert("No stress run stored yet: launch one above.", "info")

        def build():
            run = self.result()
            curves = app_services.equity_curves(run)
            notes = run.summary.get("notes") or []
            parts = [pn.pane.Markdown(f"Run `{run.run_id[:10]}`: {len(curves.columns)} scenarios of "
                                      f"**{html.escape(run.info.decider)}** on "
                                      f"{html.escape(run.info.dataset)} {run.info.start[:10]}..{run.info.end[:10]}: "
                                      f"{page_link('run', run.run_id, 'detail')} · "
                                      f"{page_link('review', run.run_id, 'review')}"),
                     *[note(html.escape(n)) for n in notes]]
            block = app_services.run_summary_block(run, with_baselines=False)
            parts += [alert(f"Base scenario: {text}", "warning") for text in block.warnings]
            for detail in app_services.detail_tables(run):
                parts.append(heading(detail.title))
                parts += [alert(text, "warning") for text in detail.warnings]
                css = "stress-" + "-".join(detail.title.replace(":", "").lower().split()[:3])
                parts.append(table(pd.DataFrame(list(detail.rows)), css_classes=[css, "stress-table"]))
                parts += [note(text) for text in detail.notes]
            parts.append(pn.Row(
                pn.pane.Bokeh(plots.histogram_figure(self.outcome_groups("max_drawdown"), "Max drawdown by family",
                                                     "max drawdown", percent=True), sizing_mode="stretch_width"),
                pn.pane.Bokeh(plots.histogram_figure(self.outcome_groups("total_return"), "Total return by family",
                                                     "total return", percent=True), sizing_mode="stretch_width"),
                sizing_mode="stretch_width"))
            parts.append(pn.pane.HoloViews(charts.density(
                curves, "Every scenario's path (density; synthetic paths have bars, not dates)", by_bar=True),
                sizing_mode="stretch_width"))
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "stress results")

    def __panel__(self):
        add = pn.widgets.Button(label="Add shock", width=120)
        add.on_click(lambda event: self.add_shock())
        options = pn.Column(
            controls(pn.widgets.IntInput.from_param(self.param.n_bootstrap, width=130),
                   pn.widgets.IntInput.from_param(self.param.n_garch, width=130),
                   pn.widgets.TextInput.from_param(self.param.shock_at, width=300),
                   pn.widgets.IntInput.from_param(self.param.shock_bars, width=160)),
            controls(pn.widgets.Select.from_param(self.param.shock_kind, width=160),
                   pn.widgets.FloatInput.from_param(self.param.shock_size, width=300), pn.Column(pn.Spacer(height=18),
                                                                                                   add)),
            controls(pn.widgets.MultiChoice.from_param(self.param.shocks, width=560),
                   pn.widgets.MultiChoice.from_param(self.param.periods, width=620)),
            sizing_mode="stretch_width")
        results = pn.Column(pn.widgets.Select.from_param(self.param.result_run, width=560),
                            pn.panel(self._results, loading_indicator=True), sizing_mode="stretch_width")
        return pn.Column(heading("Stress lab", 2), self.form.widgets(), options,
                         note("Fees and slippage: one value each (the first is used); a grid of costs is the "
                              "Sensitivity page's sweep. The shock date is the first bar at or after it."),
                         self.launcher, heading("Results"), results,
                         pn.Accordion(("Upload data or a policy", self.uploads), sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
