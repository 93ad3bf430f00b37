"""Runs: every stored run in one table with filters, sorting and search; select two or more to
compare their metrics and equity curves side by side."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import plots
from apps.pages.common import TABLE_CSS, AppContext, alert, guarded, heading, note, number_formats, table
from workbench.services import app as app_services

ANY = "(any)"
COMPARE_METRICS = ("total_return", "annualized_return", "annualized_volatility", "sharpe", "sortino", "max_drawdown",
                   "win_rate", "profit_factor", "n_trades", "excess_return", "benchmark_return")


class RunsPage(pn.viewable.Viewer):
    """Filterable table of stored runs and a side-by-side comparison of the selected ones."""

    kind = param.Selector(default=ANY, objects=[ANY], doc="Run kind.")
    decider = param.Selector(default=ANY, objects=[ANY], label="Policy or strategy")
    dataset = param.Selector(default=ANY, objects=[ANY])
    tag = param.Selector(default=ANY, objects=[ANY])
    verdict = param.Selector(default=ANY, objects=[ANY], doc="Verdict of the latest review ('none': unreviewed).")
    period_start = param.String(default="", label="Period from", doc="Runs that end on or after (YYYY-MM-DD).")
    period_end = param.String(default="", label="Period to", doc="Runs that start on or before (YYYY-MM-DD).")
    search = param.String(default="", doc="Part of a run id, kind, decider, dataset, tag or verdict (any case).")
    selected = param.List(default=[], item_type=str, doc="Run ids chosen for comparison.")

    def __init__(self, context: AppContext, **params) -> None:
        super().__init__(**params)
        self.context = context
        self.all_runs = pd.DataFrame(columns=list(app_services.RUNS_COLUMNS))
        self.refresh()
        self._shown = self.filtered()
        self._table = pn.widgets.Tabulator(
            self._display(self._shown), show_index=False, disabled=True, selectable="checkbox",
            pagination="remote", page_size=25, sizing_mode="stretch_width", layout="fit_data_table",
            formatters={"run": {"type": "html"}, **number_formats(self._shown, app_services.HEADLINE)},
            sorters=[{"field": "created_at", "dir": "desc"}], css_classes=["runs-table"], stylesheets=[TABLE_CSS])
        self._table.param.watch(self._on_selection, "selection")

    def refresh(self) -> None:
        """Read the store again and update the filters' choices."""
        self.all_runs = app_services.runs_frame(self.context.store.list_runs())
        frame = self.all_runs
        tags = sorted({t.strip() for value in frame["tags"] for t in value.split(",") if t.strip()})
        for name, values in (("kind", frame["kind"]), ("decider", frame["decider"]),
                             ("dataset", frame["dataset"]), ("tag", tags)):
            self.param[name].objects = [ANY, *sorted(set(values))]
        self.param.verdict.objects = [ANY, "none", *sorted(set(frame["verdict"]) - {""})]

    def filtered(self) -> pd.DataFrame:
        """The runs that pass every filter (newest first)."""
        frame = self.all_runs
        mask = np.ones(len(frame), dtype=bool)
        for name in ("kind", "decider", "dataset"):
            value = getattr(self, name)
            if value != ANY:
                mask &= (frame[name] == value).to_numpy()
        if self.tag != ANY:
            mask &= frame["tags"].map(lambda text: self.tag in [t.strip() for t in text.split(",")]).to_numpy(bool)
        if self.verdict != ANY:
            mask &= (frame["verdict"] == ("" if self.verdict == "none" else self.verdict)).to_numpy()
        if self.period_start.strip():
            mask &= (frame["end"] >= self.period_start.strip()[:10]).to_numpy()
        if self.period_end.strip():
            mask &= (frame["start"] <= self.period_end.strip()[:10]).to_numpy()
        text = self.search.strip().lower()
        if text:
            haystack = frame[["run_id", "kind", "decider", "dataset", "tags", "verdict"]].agg(" ".join, axis=1).str.lower()
            mask &= haystack.str.contains(text, regex=False).to_numpy()
        return frame[mask].reset_index(drop=True)

    def comparison(self) -> pd.DataFrame:
        """Metrics (rows) of the selected runs' main results (columns), side by side."""
        columns = {}
        for run_id in self.selected:
            run = self.context.store.get_run(run_id)
            row = app_services.main_row(run.info.kind, run.summary)
            columns[f"{run_id[:10]} {run.info.decider}"] = [row.get(m) for m in COMPARE_METRICS]
        frame = pd.DataFrame(columns, index=list(COMPARE_METRICS))
        frame.index.name = "metric"
        return frame.reset_index()

    def comparison_curves(self) -> pd.DataFrame:
        """The main equity curve of every selected run (outer join on timestamps)."""
        curves = {}
        for run_id in self.selected:
            run = self.context.store.get_run(run_id)
            equity = app_services.equity_curves(run)
            curves[f"{run_id[:10]} {run.info.decider}"] = equity.iloc[:, 0]
        return pd.DataFrame(curves).sort_index()

    @staticmethod
    def _display(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.insert(0, "run", [f'<a href="./run?run={html.escape(r)}">{html.escape(r[:12])}</a>' for r in frame["run_id"]])
        return out.drop(columns=["run_id"])

    def _on_selection(self, event) -> None:
        shown = self._shown
        self.selected = [shown["run_id"].iloc[i] for i in event.new if i < len(shown)]

    @param.depends("kind", "decider", "dataset", "tag", "verdict", "period_start", "period_end", "search",
                   watch=True)
    def _update_table(self) -> None:
        self._shown = self.filtered()
        self._table.value = self._display(self._shown)
        self._table.selection = []

    @param.depends("selected")
    def _comparison_view(self):
        if len(self.selected) < 2:
            return note("Tick two or more runs in the table to compare their metrics and equity curves.")

        def build():
            frame = self.comparison()
            curves = self.comparison_curves()
            return pn.Column(
                heading(f"Comparison of {len(self.selected)} runs"),
                pn.pane.Bokeh(plots.equity_figure(curves, "Equity (growth of 1)", normalize=True),
                              sizing_mode="stretch_width"),
                table(frame, css_classes=["comparison-table"], formatters=number_formats(frame, frame.columns[1:])),
                sizing_mode="stretch_width")
        return guarded(build, "comparing the selected runs")

    @param.depends("kind", "decider", "dataset", "tag", "verdict", "period_start", "period_end", "search")
    def _count(self):
        return note(f"{len(self._shown)} of {len(self.all_runs)} runs shown. Click a column header to sort; "
                    "click a run id to open it.")

    def __panel__(self):
        filters = pn.Row(
            *(pn.widgets.Select.from_param(self.param[name], width=170) for name in
              ("kind", "decider", "dataset", "tag", "verdict")),
            pn.widgets.TextInput.from_param(self.param.period_start, placeholder="YYYY-MM-DD", width=120),
            pn.widgets.TextInput.from_param(self.param.period_end, placeholder="YYYY-MM-DD", width=120),
            pn.widgets.TextInput.from_param(self.param.search, placeholder="id, decider, tag ...", width=200),
            sizing_mode="stretch_width", styles={"flex-wrap": "wrap"})
        if self.all_runs.empty:
            body = alert("The run store is empty. Run `workbench demo` to fill it, or launch a stress run "
                         "from the Stress lab.", "info")
        else:
            body = self._table
        return pn.Column(heading("Stored runs", 2), filters, self._count, body, self._comparison_view,
                         sizing_mode="stretch_width")
