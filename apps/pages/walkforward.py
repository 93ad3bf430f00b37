"""Walk-forward: launch a walk-forward (rolling or expanding folds, frozen or retrained per fold) in the
background, and read one: its folds with their training and test dates (as a table and as a chart),
the stitched out-of-sample equity curve against the benchmark, and the stability of the folds."""
from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from apps import charts
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
    text_table,
)
from apps.pages.launch import Launcher, RunForm, parse_numbers, parse_tags
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services

RESULT_KINDS = ("walkforward",)
"""The kinds of run the selector offers."""
FOLD_COLUMNS = ("fold", "train_start", "train_end", "test_start", "test_end", "train_bars", "test_bars",
                "train_sharpe", "sharpe", "annualized_return", "total_return", "max_drawdown", "excess_return",
                "time_in_market", "n_trades")
DATE_COLUMNS = ("train_start", "train_end", "test_start", "test_end")


def fold_table(summary: dict) -> pd.DataFrame:
    """The folds with their dates (``YYYY-MM-DD``), chosen parameters and out-of-sample metrics."""
    folds = pd.DataFrame(summary.get("folds") or [])
    if folds.empty:
        return folds
    for column in DATE_COLUMNS:
        folds[column] = folds[column].astype(str).str[:10]
    # The parameters a retrained fold chose (not a metric, even one never measured and so not a float).
    chosen = [c for c in folds.columns if c not in FOLD_COLUMNS and c not in ("start_equity",)
              and not pd.api.types.is_float_dtype(folds[c]) and app_services.column_format(str(c)) is None]
    return folds[[c for c in FOLD_COLUMNS if c in folds.columns] + chosen]


class WalkForwardPage(pn.viewable.Viewer):
    """Launch walk-forwards and read their folds and stitched out-of-sample curve."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Walk-forward run")
    train = param.String(default="1Y", doc="Training window: bars or a duration (1Y, 6M, 120 ...).")
    test = param.String(default="6M", doc="Test block: bars or a duration.")
    step = param.String(default="", doc="Bars or a duration between test starts (blank: the test length).")
    scheme = param.Selector(default="rolling", objects=["rolling", "expanding"])
    purge = param.Integer(default=0, bounds=(0, None), doc="Bars between a training window and its test block.")
    embargo = param.Integer(default=0, bounds=(0, None), doc="Bars after a test block kept out of later training.")
    retrain = param.Boolean(default=False, label="Retrain per fold (a strategy: choose its parameters on each "
                                                 "training window)")

    url_parameters = {"run": "run_id"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        store = context.store
        self.form = RunForm(start="2007-01-01")
        self.form.follow(app_services.form_defaults(store, run_id))
        choose_run(self, run_options(store, kinds=RESULT_KINDS), run_id)
        if not self.run_id and len(self.param.run_id.objects) > 1:
            self.run_id = list(self.param.run_id.objects.values())[1]
        self.launcher = Launcher(context, "walkforward", "Launch walk-forward", on_done=self._stored)
        self.launcher.button.on_click(lambda event: self.launch())

    def walkforward_spec(self) -> RunSpec:
        """The walk-forward the form describes (first fee and slippage)."""
        options = {"train": _bars_or_duration(self.train), "test": _bars_or_duration(self.test),
                   "scheme": self.scheme, "purge": self.purge, "embargo": self.embargo, "retrain": self.retrain}
        if self.step.strip():
            options["step"] = _bars_or_duration(self.step)
        fees, slippage = parse_numbers(self.form.fees, "fees"), parse_numbers(self.form.slippage, "slippage")
        return self.form.spec("walkforward", options, fees=fees[:1], slippage=slippage[:1])

    def launch(self):
        """Validate the form and queue the walk-forward; returns its job (None when the form is invalid)."""
        return self.launcher.launch(self.walkforward_spec, parse_tags(self.form.tags))

    def _stored(self, run_id: str) -> None:
        choose_run(self, run_options(self.context.store, kinds=RESULT_KINDS), run_id)

    def run(self):
        return self.context.store.get_run(self.run_id) if self.run_id else None

    @param.depends("run_id")
    def _results(self):
        if not self.run_id:
            return alert("No walk-forward is stored yet: launch one above.", "info")

        def build():
            run = self.run()
            summary = run.summary
            folds = fold_table(summary)
            oos = summary.get("oos") or {}
            stability = summary.get("stability") or {}
            curve = app_services.equity_curves(run).iloc[:, 0].dropna()
            found, _ = app_services.baselines(run)
            shown = curve.to_frame("out of sample")
            if found is not None:
                benchmark = found.curves[0][app_services.BENCHMARK].reindex(curve.index)
                shown["benchmark"] = benchmark / benchmark.iloc[0] * curve.iloc[0]
            layout = charts.equity_overview(shown, "out of sample", ["benchmark"])
            block = app_services.run_summary_block(run, with_baselines=False)
            parts = [pn.pane.Markdown(f"Run `{run.run_id[:10]}` of **{html.escape(run.info.decider)}** on "
                                      f"{html.escape(run.info.dataset)}: {len(folds)} folds, out of sample "
                                      f"{str(oos.get('start', ''))[:10]} to {str(oos.get('end', ''))[:10]} · "
                                      f"{page_link('run', run.run_id, 'detail')} · "
                                      f"{page_link('review', run.run_id, 'review')}"),
                     *[alert(text, "warning") for text in block.warnings],
                     *[note(html.escape(n)) for n in summary.get("notes") or []],
                     pn.pane.HoloViews(charts.fold_layout(folds), sizing_mode="stretch_width",
                                       css_classes=["fold-chart"]) if not folds.empty else note("No fold."),
                     heading("Folds"), table(folds.rename(columns={c: c.replace("_", " ") for c in DATE_COLUMNS}),
                                                   css_classes=["folds-table"]),
                     heading("Stitched out-of-sample curve"),
                     pn.pane.HoloViews(layout.opts(title="Stitched out-of-sample equity (benchmark dashed)"),
                                       sizing_mode="stretch_width"),
                     text_table([{"metric": app_services.metric_title(k), "value": app_services.format_value(k, v)}
                                 for k, v in (*((k, oos.get(k)) for k in ("annualized_return", "sharpe",
                                                                             "max_drawdown", "total_return",
                                                                             "excess_return", "n_trades")),
                                              ("sharpe_mean", stability.get("sharpe_mean")),
                                              ("sharpe_std", stability.get("sharpe_std")),
                                              ("positive_fraction", stability.get("positive_fraction")))],
                                css_classes=["oos-table"], width=420, sizing_mode="fixed"),
                     note("Each fold's curve starts from the previous fold's final equity; positive fraction: "
                          "the share of folds with a positive out-of-sample Sharpe ratio.")]
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "walk-forward")

    def __panel__(self):
        options = controls(pn.widgets.TextInput.from_param(self.param.train, width=120),
                         pn.widgets.TextInput.from_param(self.param.test, width=120),
                         pn.widgets.TextInput.from_param(self.param.step, width=120),
                         pn.widgets.Select.from_param(self.param.scheme, width=140),
                         pn.widgets.IntInput.from_param(self.param.purge, width=100),
                         pn.widgets.IntInput.from_param(self.param.embargo, width=100),
                         pn.widgets.Checkbox.from_param(self.param.retrain, align="end"))
        launch = pn.Column(self.form.widgets(), options,
                           note("Fees and slippage: the first value of each is used. The decider runs from the "
                                "data's first bar, so each test block has its history behind it."),
                           self.launcher, sizing_mode="stretch_width")
        return pn.Column(heading("Walk-forward", 2),
                         pn.Accordion(("Launch a walk-forward", launch), active=[] if self.run_id else [0],
                                      sizing_mode="stretch_width"),
                         pn.widgets.Select.from_param(self.param.run_id, width=560), self._results,
                         sizing_mode="stretch_width")


def _bars_or_duration(text: str) -> int | str:
    """``"120"`` -> 120 bars; ``"1Y"`` stays a duration."""
    text = text.strip()
    return int(text) if text.isdigit() else text
