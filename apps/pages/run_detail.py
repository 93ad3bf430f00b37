"""Run detail: equity against baselines and the benchmark, the underwater curve with the five worst
drawdowns, trades on the price chart, actions over time, per-regime and metrics tables, and the
tables its kind adds (a comparison's reality check, confidence set, deflated Sharpe ratio and PBO)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import plots
from apps.pages.common import (
    NONE,
    AppContext,
    BackgroundSection,
    alert,
    choose_run,
    guarded,
    heading,
    note,
    page_link,
    run_options,
    table,
)
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

FAN_FROM = 8
"""Runs with at least this many scenarios also get a percentile fan of all of them."""
ACTION_BUCKETS = 60
METRIC_COLUMNS = ("label", "family", "fold", "name", "role", "total_return", "annualized_return",
                  "annualized_volatility", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor",
                  "n_trades", "exposure", "fees_paid", "excess_return")


def action_shares(actions: pd.DataFrame, scenario: int, names: tuple[str, ...], buckets: int = ACTION_BUCKETS
                  ) -> pd.DataFrame:
    """Share of each action among one scenario's decisions (all symbols) per time bucket.

    Returns:
        Index: the first timestamp of each bucket; one column per action name; rows add up to 1.
    """
    rows = actions[actions["scenario"] == scenario]
    if rows.empty:
        return pd.DataFrame(columns=list(names))
    bars = rows["bar"].to_numpy()
    n_bars = int(bars.max()) + 1
    bucket = bars * min(buckets, n_bars) // n_bars
    codes = rows["action"].to_numpy().astype(np.int64)
    counts = np.zeros((int(bucket.max()) + 1, len(names)))
    np.add.at(counts, (bucket, np.clip(codes, 0, len(names) - 1)), 1.0)
    starts = pd.Series(rows["timestamp"].to_numpy()).groupby(bucket).min()
    shares = counts / counts.sum(axis=1, keepdims=True)
    return pd.DataFrame(shares, index=pd.DatetimeIndex(starts.to_numpy(), name="timestamp"), columns=list(names))


def mean_target(actions: pd.DataFrame, scenario: int) -> pd.Series:
    """A baseline's mean target (its numeric action) over its symbols at each decision bar."""
    rows = actions[actions["scenario"] == scenario]
    return rows.groupby("timestamp")["action"].mean()


def filled_trades(orders: pd.DataFrame, scenario: int, symbol: str) -> pd.DataFrame:
    """Filled orders of one scenario and symbol: ``timestamp, side, units, price``."""
    rows = orders[(orders["scenario"] == scenario) & (orders["symbol"] == symbol)]
    if "status" in rows.columns:
        rows = rows[rows["status"].isin(["filled", "clipped"])]
    rows = rows[rows["side"].isin(["buy", "sell"])]
    return rows[["timestamp", "side", "units", "price"]].reset_index(drop=True)


class RunDetailPage(pn.viewable.Viewer):
    """Everything about one stored run."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Run")
    scenario = param.Selector(default=None, objects=[], doc="Scenario (column of the run's equity).")
    symbol = param.Selector(default=None, objects=[], doc="Symbol of the price chart.")
    show_baselines = param.Boolean(default=True, label="Baselines and benchmark")

    def __init__(self, context: AppContext, run_id: str = NONE, **params) -> None:
        self.context = context
        super().__init__(**params)
        self._equity = BackgroundSection()
        choose_run(self, run_options(context.store), run_id)
        if not self.run_id:
            self._run_changed()

    # -- derived data ------------------------------------------------------------------------------

    def run(self):
        """The stored run chosen (None when none is)."""
        return self.context.store.get_run(self.run_id) if self.run_id else None

    def curves(self) -> pd.DataFrame:
        return app_services.equity_curves(self.run())

    def scenario_index(self) -> int:
        """Position of the chosen scenario among the run's equity columns (its scenario number)."""
        columns = list(self.curves().columns)
        return columns.index(self.scenario) if self.scenario in columns else 0

    def scenario_curve(self) -> pd.Series:
        return self.curves()[self.scenario].dropna()

    def episodes(self) -> list[dict]:
        """The five worst drawdown episodes of the chosen scenario."""
        return app_services.worst_drawdowns(self.scenario_curve(), top=5)

    def metrics_table(self) -> pd.DataFrame:
        frame = pd.DataFrame(app_services.scenario_rows(self.run()))
        return frame[[c for c in METRIC_COLUMNS if c in frame.columns]] if not frame.empty else frame

    def finding_tables(self) -> list[tuple[str, pd.DataFrame, tuple[str, ...], tuple[str, ...]]]:
        """``(title, rows, notes, warnings)`` of each table the run's kind adds (none for most kinds)."""
        return [(t.title, pd.DataFrame(list(t.rows)), t.notes, t.warnings)
                for t in app_services.detail_tables(self.run())]

    @param.depends("run_id", watch=True)
    def _run_changed(self) -> None:
        if not self.run_id:
            self.param.scenario.objects, self.param.symbol.objects = [], []
            return
        run = self.run()
        labels = list(self.curves().columns)
        self.param.scenario.objects = labels
        symbols = list(run.summary.get("data", {}).get("symbols") or run.spec.get("symbols") or [])
        self.param.symbol.objects = symbols
        self.param.update(scenario=labels[0] if labels else None, symbol=symbols[0] if symbols else None)

    # -- views ------------------------------------------------------------------------------------

    @param.depends("run_id")
    def _header(self):
        if not self.run_id:
            return alert("Choose a run above, or open one from the Runs page.", "info")

        def build():
            run = self.run()
            info = run.info
            shows = {"attention": bool(info.spec.get("policy")), "rewards": "rewards" in run.tables}
            pages = [p for p in app_services.run_view(run).pages if shows.get(p, True)]
            links = [page_link(p, info.run_id) for p in pages] + [page_link("review", info.run_id, "review it")]
            text = (f"**{html.escape(info.kind)}** of **{html.escape(info.decider)}** on "
                    f"{html.escape(info.dataset)}, {info.start[:10]} to {info.end[:10]} &nbsp;|&nbsp; run "
                    f"`{info.run_id}` &nbsp;|&nbsp; tags: {html.escape(', '.join(info.tags) or 'none')} "
                    f"&nbsp;|&nbsp; latest verdict: {html.escape(info.verdict or 'not reviewed')}"
                    f"<br>Open: {' · '.join(links)}")
            return pn.pane.Markdown(text, sizing_mode="stretch_width")
        return guarded(build, "reading the run")

    @param.depends("run_id", "scenario", "show_baselines", watch=True)
    def _load_equity(self) -> None:
        """Draw the equity with baselines; the baselines run off the server's thread (seconds)."""
        if not self.run_id or self.scenario is None:
            self._equity.clear()
            return
        run, scenario = self.run(), self.scenario
        with_baselines = self.show_baselines and app_services.run_view(run).baselines

        def compute():
            curves = app_services.equity_curves(run)
            if not with_baselines:
                return curves, None, None
            try:
                return curves, app_services.baseline_curves(run.spec), None
            except WorkbenchError as error:
                return curves, None, f"baselines could not run on this run's data: {error}"

        self._equity.load(compute, lambda result: self._render_equity(scenario, *result), "equity and baselines",
                          key=(run.run_id, scenario, with_baselines))

    def _render_equity(self, scenario: str, curves: pd.DataFrame, baselines: pd.DataFrame | None,
                       message: str | None):
        shown = curves[[scenario]]
        dashed = []
        if baselines is not None:
            start = shown[scenario].first_valid_index()
            base = baselines.reindex(curves.index)
            if start is not None and start in base.index:
                base = base / base.loc[start] * shown.loc[start, scenario]
            shown = pd.concat([shown, base], axis=1)
            dashed = list(baselines.columns)
        parts = [pn.pane.Bokeh(plots.equity_figure(shown, f"Equity: {scenario}", highlight=scenario, dashed=dashed),
                               sizing_mode="stretch_width")]
        if len(curves.columns) >= FAN_FROM:
            parts.append(pn.pane.Bokeh(plots.fan_figure(curves, f"All {len(curves.columns)} scenarios"),
                                       sizing_mode="stretch_width"))
        if dashed:
            parts.append(note("Dashed: baselines with default parameters under the run's first fee and slippage, "
                              "and the benchmark (equal-weight buy and hold without costs), rescaled to start "
                              "where the run starts."))
        if message:
            parts.append(alert(message, "warning"))
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("run_id", "scenario")
    def _drawdowns(self):
        if not self.run_id or self.scenario is None:
            return pn.Spacer(height=0)

        def build():
            episodes = self.episodes()
            figure = plots.underwater_figure(self.scenario_curve(), episodes)
            rows = pd.DataFrame([{"#": i + 1, "depth": f"{e['depth']:.2%}", "peak": e["peak_date"][:10],
                                  "trough": e["trough_date"][:10],
                                  "recovery": e["recovery_date"][:10] if e["recovery_date"] else "not recovered",
                                  "bars under water": e["duration"]} for i, e in enumerate(episodes)])
            return pn.Column(pn.pane.Bokeh(figure, sizing_mode="stretch_width"),
                             table(rows) if not rows.empty else note("No drawdown."), sizing_mode="stretch_width")
        return guarded(build, "drawdowns")

    @param.depends("run_id", "scenario", "symbol")
    def _trades(self):
        if not self.run_id or self.symbol is None:
            return pn.Spacer(height=0)

        def build():
            run = self.run()
            if "orders" not in run.tables:
                return note("This run keeps no orders.")
            close = app_services.close_prices(run.spec)[self.symbol]
            trades = filled_trades(run.load_table("orders"), self.scenario_index(), self.symbol)
            parts = [pn.pane.Bokeh(plots.price_trades_figure(close, trades, self.symbol), sizing_mode="stretch_width")]
            price_note = app_services.run_view(run).price_note
            if price_note:
                parts.append(note(price_note))
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "trades")

    @param.depends("run_id", "scenario")
    def _actions(self):
        if not self.run_id:
            return pn.Spacer(height=0)

        def build():
            run = self.run()
            if "actions" not in run.tables:
                return note("Actions are kept for backtests; this run has none.")
            actions = run.load_table("actions")
            names = app_services.action_names(run)
            if names is not None:
                shares = action_shares(actions, self.scenario_index(), names)
                return pn.pane.Bokeh(plots.stacked_share_figure(shares, "Action distribution over time"),
                                     sizing_mode="stretch_width")
            target = mean_target(actions, self.scenario_index())
            return pn.pane.Bokeh(plots.line_figure(target, "Mean target weight per symbol over time", "target"),
                                 sizing_mode="stretch_width")
        return guarded(build, "actions")

    @param.depends("run_id", "scenario")
    def _tables(self):
        if not self.run_id:
            return pn.Spacer(height=0)

        def build():
            regimes = app_services.regime_table(self.run(), self.scenario_curve())
            parts = [heading("Per regime"), table(regimes, css_classes=["regime-table"]),
                     heading("Metrics"), table(self.metrics_table(), css_classes=["metrics-table"])]
            for title, rows, notes, warnings in self.finding_tables():
                parts.append(heading(title))
                parts += [alert(text, "warning") for text in warnings]
                if not rows.empty:
                    parts.append(table(rows, css_classes=["finding-table"]))
                parts += [note(text) for text in notes]
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "tables")

    def __panel__(self):
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.run_id, width=520),
            pn.widgets.Select.from_param(self.param.scenario, width=280),
            pn.widgets.Select.from_param(self.param.symbol, width=120),
            pn.widgets.Checkbox.from_param(self.param.show_baselines, align="end"),
            sizing_mode="stretch_width", styles={"flex-wrap": "wrap"})
        return pn.Column(heading("Run detail", 2), controls, self._header,
                         self._equity,
                         self._drawdowns, self._trades, self._actions, self._tables,
                         sizing_mode="stretch_width")
