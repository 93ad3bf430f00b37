"""Runs: every stored run in one table with filters, sorting, search and a choice of columns; the
table says which scenario each run's figures come from. Select two or more runs to compare their
metrics and equity curves side by side and to chart one metric across them (as MLflow does). A
comparison run (the candidate against its variants and every baseline, with the reality check, the
model confidence set, the deflated Sharpe ratio and PBO) is launched from here too."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import charts, plots
from apps.pages.common import TABLE_CSS, AppContext, alert, controls, display_frame, guarded, heading, note, text_table
from apps.pages.launch import Launcher, RunForm, parse_numbers, parse_tags
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services

ANY = "(any)"
COMPARE_METRICS = ("annualized_return", "annualized_volatility", "sharpe", "sortino", "max_drawdown", "total_return",
                   "time_in_market", "exposure", "n_trades", "turnover", "win_rate", "profit_factor", "excess_return",
                   "benchmark_return")
DEFAULT_COLUMNS = ("sharpe", "annualized_return", "max_drawdown", "excess_return", "time_in_market", "n_trades")
"""Metric columns shown until the user chooses others."""
INFO_COLUMNS = ("kind", "decider", "dataset", "period", "figures from", "scenarios", "verdict", "tags", "created")
DEFAULT_INFO = ("kind", "decider", "period", "figures from", "verdict")
"""Descriptive columns shown until the user chooses others (with the metrics, they fit 1,600 pixels)."""
WIDTHS = {"run": 104, "kind": 86, "decider": 182, "dataset": 76, "period": 162, "figures from": 160, "scenarios": 78,
          "verdict": 72, "tags": 90, "created": 146}
METRIC_WIDTH = 84
"""Pixels per column: wide enough for their text, narrow enough that the default columns fit the page."""


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
    columns = param.ListSelector(default=list(DEFAULT_COLUMNS), objects=list(app_services.RUN_METRICS),
                                 label="Metric columns")
    info_columns = param.ListSelector(default=list(DEFAULT_INFO), objects=list(INFO_COLUMNS), label="Other columns")
    chart_metric = param.Selector(default="sharpe", objects=list(COMPARE_METRICS), label="Chart of the selected runs")
    variants = param.String(default="", label="Variants of a strategy (KEY=V1,V2; KEY=...)",
                            doc="Each combination is one variant tried, e.g. fast=10,20; slow=50,100.")
    n_boot = param.Integer(default=500, bounds=(10, 10_000), label="Bootstrap resamples")

    def __init__(self, context: AppContext, **params) -> None:
        super().__init__(**params)
        self.context = context
        self.all_runs = pd.DataFrame(columns=list(app_services.RUNS_COLUMNS))
        self.refresh()
        self._shown = self.filtered()
        shown, formatters = display_frame(self._display(self._shown))
        self._table = pn.widgets.Tabulator(
            shown, show_index=False, disabled=True, selectable="checkbox",
            pagination="remote", page_size=25, sizing_mode="stretch_width", layout="fit_data_table",
            formatters={"run": {"type": "html"}, **formatters}, hidden_columns=self.hidden_columns(),
            widths={**{c: METRIC_WIDTH for c in shown.columns if c not in WIDTHS}, **WIDTHS},
            sorters=[{"field": "created", "dir": "desc"}], css_classes=["runs-table"], stylesheets=[TABLE_CSS])
        self._table.param.watch(self._on_selection, "selection")
        self.form = RunForm()
        self.form.follow(app_services.form_defaults(context.store))
        self.launcher = Launcher(context, "compare", "Launch comparison")
        self.launcher.button.on_click(lambda event: self.launch_comparison())

    def comparison_spec(self) -> RunSpec:
        """The comparison the form describes (first fee and slippage)."""
        options: dict = {"n_boot": self.n_boot}
        variants = {}
        for part in self.variants.split(";"):
            key, sep, values = part.partition("=")
            if not part.strip():
                continue
            if not sep or not key.strip():
                raise app_services.InvalidParameterError(
                    f"variants: {part.strip()!r} is not KEY=V1,V2 (e.g. fast=10,20)")
            variants[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
        if variants:
            options["variants"] = variants
        fees, slippage = parse_numbers(self.form.fees, "fees"), parse_numbers(self.form.slippage, "slippage")
        return self.form.spec("compare", options, fees=fees[:1], slippage=slippage[:1])

    def launch_comparison(self):
        """Validate the comparison form and queue the run; returns its job (None when refused)."""
        return self.launcher.launch(self.comparison_spec, parse_tags(self.form.tags))

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

    def hidden_columns(self) -> list[str]:
        """The columns not chosen (metric columns by their titles, as the table shows them)."""
        metrics = [app_services.column_format(m).title if app_services.column_format(m) else m
                   for m in app_services.RUN_METRICS if m not in self.columns]
        return metrics + [c for c in INFO_COLUMNS if c not in self.info_columns]

    def comparison(self) -> pd.DataFrame:
        """Metrics (rows) of the selected runs' main results (columns), side by side; the first row
        names the scenario the figures come from."""
        columns = {}
        for run_id in self.selected:
            run = self.context.store.get_run(run_id)
            row = app_services.main_row(run.info.kind, run.summary)
            columns[f"{run_id[:10]} {run.info.decider}"] = [row.get(m) for m in COMPARE_METRICS]
        frame = pd.DataFrame(columns, index=list(COMPARE_METRICS))
        frame.index.name = "metric"
        return frame.reset_index()

    def comparison_text(self) -> list[dict[str, str]]:
        """:meth:`comparison` as text, each row formatted by its metric's kind, the scenario first."""
        frame = self.comparison()
        scenarios = {"metric": "scenario"}
        for run_id, column in zip(self.selected, frame.columns[1:]):
            scenarios[column] = app_services.main_label(self.context.store.run_info(run_id))
        rows = [scenarios]
        for _, row in frame.iterrows():
            metric = row["metric"]
            rows.append({"metric": app_services.metric_title(metric),
                         **{c: app_services.format_value(metric, row[c]) for c in frame.columns[1:]}})
        return rows

    def chart_values(self) -> dict[str, float | None]:
        """The chosen chart metric of each selected run's main result (run label -> value)."""
        frame = self.comparison().set_index("metric")
        return {column: (None if pd.isna(frame.loc[self.chart_metric, column]) else
                         float(frame.loc[self.chart_metric, column])) for column in frame.columns}

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
        out = out.rename(columns={"created_at": "created", "scenario": "figures from"})
        out["period"] = out["start"] + " to " + out["end"]
        order = ["run", "kind", "decider", "dataset", "period", "figures from", *app_services.RUN_METRICS,
                 "scenarios", "verdict", "tags", "created"]
        return out[order]

    def _on_selection(self, event) -> None:
        shown = self._shown
        self.selected = [shown["run_id"].iloc[i] for i in event.new if i < len(shown)]

    @param.depends("kind", "decider", "dataset", "tag", "verdict", "period_start", "period_end", "search",
                   watch=True)
    def _update_table(self) -> None:
        self._shown = self.filtered()
        self._table.value = display_frame(self._display(self._shown))[0]
        self._table.selection = []

    @param.depends("columns", "info_columns", watch=True)
    def _update_columns(self) -> None:
        self._table.hidden_columns = self.hidden_columns()

    @param.depends("selected", "chart_metric")
    def _comparison_view(self):
        if len(self.selected) < 2:
            return note("Tick two or more runs in the table to compare their metrics and equity curves, and to "
                        "chart one metric across them.")

        def build():
            curves = self.comparison_curves()
            shown = app_services.column_format(self.chart_metric)
            values = {k: (None if v is None else v * (shown.factor if shown else 1.0))
                      for k, v in self.chart_values().items()}
            return pn.Column(
                heading(f"Comparison of {len(self.selected)} runs"),
                pn.Row(pn.widgets.Select.from_param(self.param.chart_metric, width=240)),
                pn.pane.HoloViews(charts.metric_bars(values, app_services.metric_title(self.chart_metric),
                                                     shown.pattern if shown else "0.00"),
                                  sizing_mode="stretch_width", css_classes=["metric-chart"]),
                pn.pane.Bokeh(plots.equity_figure(curves, "Equity (growth of 1)", normalize=True),
                              sizing_mode="stretch_width"),
                text_table(self.comparison_text(), css_classes=["comparison-table"]),
                sizing_mode="stretch_width")
        return guarded(build, "comparing the selected runs")

    @param.depends("kind", "decider", "dataset", "tag", "verdict", "period_start", "period_end", "search")
    def _count(self):
        return note(f"{len(self._shown)} of {len(self.all_runs)} runs shown. Figures are those of each run's main "
                    "result, named under 'figures from' (a backtest's first cost scenario, a stress run's base "
                    "scenario, a walk-forward's stitched out-of-sample curve). Click a column header to sort; click "
                    "a run id to open it; choose the metric columns above.")

    def __panel__(self):
        filters = controls(
            *(pn.widgets.Select.from_param(self.param[name], width=170) for name in
              ("kind", "decider", "dataset", "tag", "verdict")),
            pn.widgets.TextInput.from_param(self.param.period_start, placeholder="YYYY-MM-DD", width=120),
            pn.widgets.TextInput.from_param(self.param.period_end, placeholder="YYYY-MM-DD", width=120),
            pn.widgets.TextInput.from_param(self.param.search, placeholder="id, decider, tag ...", width=200),
            pn.widgets.MultiChoice.from_param(self.param.columns, width=560),
            pn.widgets.MultiChoice.from_param(self.param.info_columns, width=560))
        if self.all_runs.empty:
            body = alert("The run store is empty. Run `workbench demo` to fill it, or launch a stress run "
                         "from the Stress lab.", "info")
        else:
            body = self._table
        launch = pn.Column(
            self.form.widgets(),
            pn.Row(pn.widgets.TextInput.from_param(self.param.variants, width=420),
                   pn.widgets.IntInput.from_param(self.param.n_boot, width=180)),
            note("The candidate runs beside its variants, every baseline and the benchmark on the same fills; the "
                 "result opens on Run detail with its statistics."),
            self.launcher, sizing_mode="stretch_width")
        return pn.Column(heading("Stored runs", 2), filters, self._count, body, self._comparison_view,
                         pn.Accordion(("Launch a comparison (reality check against the baselines)", launch),
                                      sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
