"""Stress lab: choose a decider, data and a scenario set (historical periods, shocks, bootstrap, GARCH),
launch it in the background, watch its progress and see the distribution of outcomes and the worst
cases. Every result is stored in the run store. Data files and policies can be uploaded here."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import plots
from apps.jobs import DONE, FAILED, Job
from apps.pages.common import (
    NONE,
    AppContext,
    JobPolling,
    alert,
    choose_run,
    guarded,
    heading,
    note,
    page_link,
    run_options,
    table,
)
from apps.pages.uploads import UploadPanel
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

EXTRA_SHOCKS = ("gap:-0.3", "volatility:5", "liquidity:10")
QUANTILE_ORDER = ("min", "p5", "p25", "p50", "p75", "p95", "max")


def parse_symbols(text: str) -> tuple[str, ...] | None:
    """``"AAPL, MSFT"`` -> ``("AAPL", "MSFT")``; blank -> None (every symbol)."""
    symbols = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    return symbols or None


class StressLabPage(pn.viewable.Viewer):
    """Launch stress runs and read their results."""

    decider_kind = param.Selector(default="policy", objects=["policy", "strategy"], label="Decider")
    policy = param.Selector(default=None, objects=[])
    strategy = param.Selector(default=None, objects=[])
    data = param.Selector(default=None, objects=[], label="Data")
    symbols = param.String(default="AAPL,MSFT,IBM", doc="Comma-separated; blank = every symbol.")
    start = param.String(default="2008-01-01", doc="First date (YYYY-MM-DD).")
    end = param.String(default="2010-12-31", doc="Last date (YYYY-MM-DD).")
    fees = param.Number(default=0.001, bounds=(0.0, 0.1), step=0.0005)
    slippage = param.Number(default=0.0005, bounds=(0.0, 0.1), step=0.0005)
    periods = param.ListSelector(default=[], objects=[], label="Historical periods (none chosen: all the data covers)")
    shocks = param.ListSelector(default=[], objects=[])
    n_bootstrap = param.Integer(default=10, bounds=(0, 1000), label="Bootstrap paths")
    n_garch = param.Integer(default=10, bounds=(0, 1000), label="GARCH paths")
    seed = param.Integer(default=0, bounds=(0, None))
    tags = param.String(default="", doc="Comma-separated tags of the stored run.")

    job_status = param.String(default="", precedence=-1)
    job_progress = param.Number(default=0.0, bounds=(0.0, 1.0), precedence=-1)
    job_message = param.String(default="", precedence=-1)
    result_run = param.Selector(default=NONE, objects=[NONE], label="Stress run")

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        self.param.policy.objects = app_services.policy_choices()
        self.param.strategy.objects = app_services.strategy_choices()
        self.param.data.objects = [d["name"] for d in app_services.dataset_choices()]
        self.param.periods.objects = [p["key"] for p in app_services.stress_periods()]
        defaults = list(app_services.default_shocks())
        self.param.shocks.objects = defaults + list(EXTRA_SHOCKS)
        self.param.update(policy=(self.param.policy.objects or [None])[0], strategy="sma_cross",
                          data="stocks" if "stocks" in self.param.data.objects else self.param.data.objects[0],
                          shocks=defaults)
        choose_run(self, run_options(context.store, kinds=("stress",)), run_id, name="result_run")
        if not self.result_run and len(self.param.result_run.objects) > 1:
            self.result_run = list(self.param.result_run.objects.values())[1]
        self.job: Job | None = context.jobs.latest("stress")
        self._polling = JobPolling(self._poll)
        self._launch_error = ""
        self.uploads = UploadPanel(on_change=self._choices_changed)
        self._poll()

    # -- launching --------------------------------------------------------------------------------

    def stress_spec(self) -> RunSpec:
        """The spec the form describes (validated; raises ``WorkbenchError`` with the reason)."""
        options = {"shocks": list(self.shocks), "n_bootstrap": self.n_bootstrap, "n_garch": self.n_garch}
        if self.periods:
            options["periods"] = list(self.periods)
        who = {"policy": self.policy} if self.decider_kind == "policy" else {"strategy": self.strategy}
        return RunSpec(kind="stress", data=str(self.data), symbols=parse_symbols(self.symbols),
                       start=self.start.strip() or None, end=self.end.strip() or None, fees=(self.fees,),
                       slippage=(self.slippage,), seed=self.seed, options=tuple(options.items()), **who)

    def launch(self) -> Job | None:
        """Validate the form and queue the stress run; returns its job (None when the form is invalid)."""
        self._launch_error = ""
        try:
            spec = self.stress_spec()
            app_services.check_spec(spec)
        except WorkbenchError as error:
            self._launch_error = str(error)
            self.param.trigger("job_status")
            return None
        tags = [t.strip() for t in self.tags.split(",") if t.strip()]
        store = self.context.store
        title = f"stress {spec.decider} on {spec.data} {spec.start or ''}..{spec.end or ''}"
        self.job = self.context.jobs.submit("stress", title,
                                            lambda report: app_services.run_and_store(store, spec, report, tags))
        self._polling.watch()
        return self.job

    def _poll(self) -> None:
        """Copy the job's state into this page's parameters (on the server's loop)."""
        job = self.job
        if job is None:
            return
        finished_now = job.finished and self.job_status not in (DONE, FAILED)
        self.param.update(job_status=job.status, job_progress=job.progress, job_message=job.message)
        if finished_now and job.status == DONE:
            choose_run(self, run_options(self.context.store, kinds=("stress",)), job.result.run_id, name="result_run")
        if job.finished:
            self._polling.finished()

    def _choices_changed(self) -> None:
        self.param.policy.objects = app_services.policy_choices()
        self.param.data.objects = [d["name"] for d in app_services.dataset_choices()]

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

    @param.depends("job_status", "job_progress", "job_message")
    def _job_view(self):
        if self._launch_error:
            return alert(f"The stress run was not launched: {self._launch_error}", "warning")
        job = self.job
        if job is None:
            return note("No stress run launched from this server yet.")
        text = f"**{html.escape(job.title)}** (job {job.id}, {job.started} UTC): {job.status}"
        parts = [pn.pane.Markdown(text)]
        if job.status == FAILED:
            parts.append(alert(job.message))
        else:
            parts.append(pn.indicators.Progress(value=int(round(job.progress * 100)), max=100,
                                                sizing_mode="stretch_width", bar_color="info", css_classes=["job-progress"]))
            parts.append(note(html.escape(job.message)))
        if job.status == DONE:
            parts.append(pn.pane.Markdown(f"Stored as run `{job.result.run_id}`: "
                                          f"{page_link('run', job.result.run_id, 'open its detail page')}."))
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("result_run")
    def _results(self):
        if not self.result_run:
            return alert("No stress run stored yet: launch one above.", "info")

        def build():
            run = self.result()
            summary = run.summary
            worst = pd.DataFrame(summary.get("worst") or [])
            for column in ("peak_date", "trough_date", "recovery_date"):
                if column in worst.columns:
                    worst[column] = worst[column].map(lambda v: v[:10] if isinstance(v, str) else "not recovered")
            distribution = summary.get("distribution") or {}
            quantiles = pd.DataFrame({k: v for k, v in distribution.items() if k in ("max_drawdown", "total_return")}).T
            quantiles = quantiles[[c for c in QUANTILE_ORDER if c in quantiles.columns]]
            curves = app_services.equity_curves(run)
            notes = summary.get("notes") or []
            return pn.Column(
                pn.pane.Markdown(f"Run `{run.run_id[:10]}`: {len(curves.columns)} scenarios of "
                                 f"**{html.escape(run.info.decider)}** on "
                                 f"{html.escape(run.info.dataset)} {run.info.start[:10]}..{run.info.end[:10]}: "
                                 f"{page_link('run', run.run_id, 'detail')} · {page_link('review', run.run_id, 'review')}"),
                *[note(html.escape(n)) for n in notes],
                pn.Row(pn.pane.Bokeh(plots.histogram_figure(self.outcome_groups("max_drawdown"),
                                                            "Max drawdown by family", "max drawdown"),
                                     sizing_mode="stretch_width"),
                       pn.pane.Bokeh(plots.histogram_figure(self.outcome_groups("total_return"),
                                                            "Total return by family", "total return"),
                                     sizing_mode="stretch_width"), sizing_mode="stretch_width"),
                heading("Quantiles over all scenarios"),
                table(quantiles.reset_index().rename(columns={"index": "metric"}), css_classes=["stress-quantiles"]),
                heading("Worst cases (by max drawdown)"), table(worst, css_classes=["stress-worst"]),
                pn.pane.Bokeh(plots.fan_figure(curves, "Equity of every scenario (percentile bands)"),
                              sizing_mode="stretch_width"),
                sizing_mode="stretch_width")
        return guarded(build, "stress results")

    @param.depends("decider_kind")
    def _decider_widget(self):
        name = "policy" if self.decider_kind == "policy" else "strategy"
        return pn.widgets.Select.from_param(self.param[name], width=300)

    def __panel__(self):
        launch = pn.widgets.Button(label="Launch stress run", color="primary", width=200)
        launch.on_click(lambda event: self.launch())
        form = pn.Column(
            pn.Row(pn.widgets.RadioButtonGroup.from_param(self.param.decider_kind, width=200), self._decider_widget,
                   pn.widgets.Select.from_param(self.param.data, width=220),
                   pn.widgets.TextInput.from_param(self.param.symbols, width=200), styles={"flex-wrap": "wrap"}),
            pn.Row(pn.widgets.TextInput.from_param(self.param.start, width=130),
                   pn.widgets.TextInput.from_param(self.param.end, width=130),
                   pn.widgets.FloatInput.from_param(self.param.fees, width=110),
                   pn.widgets.FloatInput.from_param(self.param.slippage, width=110),
                   pn.widgets.IntInput.from_param(self.param.n_bootstrap, width=130),
                   pn.widgets.IntInput.from_param(self.param.n_garch, width=130),
                   pn.widgets.IntInput.from_param(self.param.seed, width=100),
                   pn.widgets.TextInput.from_param(self.param.tags, width=160), styles={"flex-wrap": "wrap"}),
            pn.Row(pn.widgets.MultiChoice.from_param(self.param.periods, width=520),
                   pn.widgets.MultiChoice.from_param(self.param.shocks, width=520), styles={"flex-wrap": "wrap"}),
            launch, self._job_view, sizing_mode="stretch_width")
        results = pn.Column(pn.widgets.Select.from_param(self.param.result_run, width=560),
                            pn.panel(self._results, loading_indicator=True),
                            sizing_mode="stretch_width")
        return pn.Column(heading("Stress lab", 2), form, heading("Results"), results,
                         pn.Accordion(("Upload data or a policy", self.uploads), sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
