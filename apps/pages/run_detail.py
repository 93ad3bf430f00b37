"""Run detail: the summary block first (the figures a reviewer reads first, beside the benchmark and the
best baseline, with its warnings), then linked charts (a range chosen on the equity curve zooms the
underwater, price and action charts), the worst drawdowns (each linked to the Attention page at its
start), per-regime and metrics tables, and the tables its kind adds (a comparison's statistics, a
stress run's windows and worst cases)."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import charts
from apps.pages.common import (
    NONE,
    AppContext,
    BackgroundSection,
    alert,
    choose_run,
    controls,
    guarded,
    heading,
    html_table,
    note,
    page_link,
    page_url,
    recent_runs,
    run_options,
    small_or_paged_table,
    static_table,
)
from workbench.services import app as app_services

FAN_FROM = 8
"""Runs with at least this many scenarios also get the density of all of them."""
ACTION_BUCKETS = 60
METRIC_COLUMNS = ("label", "family", "fold", "train_start", "train_end", "test_start", "test_end", "name", "role",
                  "annualized_return", "annualized_volatility", "sharpe", "sortino", "max_drawdown", "total_return",
                  "time_in_market", "exposure", "n_trades", "turnover", "win_rate", "profit_factor", "fees_paid",
                  "excess_return")


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


def drawdown_rows(episodes: list[dict], run_id: str, scenario: str, explainable: bool) -> pd.DataFrame:
    """The worst drawdowns as table rows; with ``explainable`` each links to the Attention page at the
    bar where it starts (its peak)."""
    rows = []
    for i, e in enumerate(episodes):
        row = {"#": i + 1, "depth": e["depth"], "peak": e["peak_date"][:10], "trough": e["trough_date"][:10],
               "recovery": e["recovery_date"][:10] if e["recovery_date"] else "not recovered",
               "bars under water": e["duration"]}
        if explainable:
            url = page_url("attention", run_id, scenario=scenario, bar=e["peak_bar"])
            row["attention"] = f'<a href="{html.escape(url)}">attention at its start (bar {e["peak_bar"]})</a>'
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Overview:
    """What the page's first section shows, computed off the server's thread."""

    block: Any
    curves: pd.DataFrame
    baselines: pd.DataFrame | None
    episodes: list[dict]
    close: pd.Series | None
    trades: pd.DataFrame | None
    actions: Any
    message: str


class RunDetailPage(pn.viewable.Viewer):
    """Everything about one stored run."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Run")
    scenario = param.Selector(default=None, objects=[], doc="Scenario (column of the run's equity).")
    symbol = param.Selector(default=None, objects=[], doc="Symbol of the price chart.")
    show_baselines = param.Boolean(default=True, label="Baselines and benchmark")

    url_parameters = {"run": "run_id", "scenario": "scenario"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, scenario: str | None = None, **params) -> None:
        self.context = context
        super().__init__(**params)
        self._overview = BackgroundSection()
        choose_run(self, run_options(context.store), run_id)
        if scenario and scenario in self.param.scenario.objects:
            self.scenario = scenario
        if not self.run_id:
            self._run_changed()
        self._load_overview()

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

    def scenario_row(self) -> Mapping[str, Any]:
        """The chosen scenario's metrics row (the run's main row when none is chosen)."""
        return app_services.scenario_row(self.run(), self.scenario)

    def scenario_curve(self) -> pd.Series:
        return self.curves()[self.scenario].dropna()

    def episodes(self) -> list[dict]:
        """The five worst drawdown episodes of the chosen scenario."""
        return app_services.worst_drawdowns(self.scenario_curve(), top=5)

    def summary_block(self):
        """The summary block of the chosen scenario (``workbench.runs.summary_block``)."""
        return app_services.run_summary_block(self.run(), self.scenario, with_baselines=self.show_baselines)

    def metrics_table(self) -> pd.DataFrame:
        frame = pd.DataFrame(app_services.scenario_rows(self.run()))
        return frame[[c for c in METRIC_COLUMNS if c in frame.columns]] if not frame.empty else frame

    def finding_tables(self) -> list[tuple[str, pd.DataFrame, tuple[str, ...], tuple[str, ...]]]:
        """``(title, rows, notes, warnings)`` of each table the run's kind adds (none for most kinds)."""
        return [(t.title, pd.DataFrame(list(t.rows)), t.notes, t.warnings)
                for t in app_services.detail_tables(self.run())]

    def overview(self) -> Overview:
        """Everything the first section draws: the summary block, curves, baselines, drawdowns, the
        price and trades of the chosen symbol, and the actions."""
        run, scenario = self.run(), self.scenario
        view = app_services.run_view(run)
        curves = self.curves()
        baselines, message = None, ""
        if self.show_baselines and view.baselines:
            row = self.scenario_row()
            found, message = app_services.baselines(run, row)
            if found is not None:
                baselines = found.curves[found.point(row)]
        block = app_services.run_summary_block(run, scenario, with_baselines=self.show_baselines)
        curve = curves[scenario].dropna()
        episodes = app_services.worst_drawdowns(curve, top=5)
        close = trades = None
        if self.symbol is not None and "orders" in run.tables:
            close = app_services.close_prices(run.spec)[self.symbol]
            trades = filled_trades(run.load_table("orders"), self.scenario_index(), self.symbol)
        actions = None
        if "actions" in run.tables:
            table_ = run.load_table("actions")
            names = app_services.action_names(run)
            actions = (action_shares(table_, self.scenario_index(), names) if names is not None
                       else mean_target(table_, self.scenario_index()))
        return Overview(block, curves, baselines, episodes, close, trades, actions, message)

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
            return pn.Column(alert("Choose a run above, or open one of the recent runs below.", "info"),
                             recent_runs(self.context.store, "run"), sizing_mode="stretch_width")

        def build():
            run = self.run()
            info = run.info
            shows = {"attention": bool(info.spec.get("policy")), "rewards": "rewards" in run.tables}
            pages = [p for p in app_services.run_view(run).pages if shows.get(p, True)]
            links = [page_link(p, info.run_id) for p in pages] + [
                page_link("review", info.run_id, f"review every run of {info.decider}"),
                page_link("stress", info.run_id, "stress it")]
            text = (f"**{html.escape(info.kind)}** of **{html.escape(info.decider)}** on "
                    f"{html.escape(info.dataset)}, {info.start[:10]} to {info.end[:10]} &nbsp;|&nbsp; run "
                    f"`{info.run_id}` &nbsp;|&nbsp; tags: {html.escape(', '.join(info.tags) or 'none')} "
                    f"&nbsp;|&nbsp; latest verdict: {html.escape(info.verdict or 'not reviewed')}"
                    f"<br>Open: {' · '.join(links)}")
            return pn.pane.Markdown(text, sizing_mode="stretch_width")
        return guarded(build, "reading the run")

    @param.depends("run_id", "scenario", "symbol", "show_baselines", watch=True)
    def _load_overview(self) -> None:
        """Compute the summary block and the charts off the server's thread, then draw them."""
        if not self.run_id or self.scenario not in self.param.scenario.objects:
            self._overview.clear()
            return
        run_id, scenario = self.run_id, self.scenario
        run = self.run()
        explainable = bool(run.info.spec.get("policy"))
        # Baselines stored with the run at this scenario's costs (or not asked for) leave nothing to run:
        # draw it all at once.
        quick = not self.show_baselines or app_services.baselines_at_hand(run, self.scenario_row())
        self._overview.load(self.overview, lambda shown: self._render_overview(run_id, scenario, explainable, shown),
                            "summary and charts", key=(run_id, scenario, self.symbol, self.show_baselines),
                            quick=quick)

    def _render_overview(self, run_id: str, scenario: str, explainable: bool, shown: Overview):
        block = shown.block
        parts: list[Any] = [heading(f"Summary: {block.scenario}")]
        parts += [pn.pane.Alert(f"<b>Warning:</b> {html.escape(text)}", alert_type="warning",
                                sizing_mode="stretch_width", css_classes=["summary-warning"])
                  for text in block.warnings]
        parts.append(html_table(block.text_rows(), "summary-block"))
        parts += [note(html.escape(text)) for text in block.notes]
        equity = shown.curves[[scenario]]
        dashed: list[str] = []
        if shown.baselines is not None:
            start = equity[scenario].first_valid_index()
            base = shown.baselines.reindex(shown.curves.index)
            if start is not None and start in base.index:
                base = base / base.loc[start] * equity.loc[start, scenario]
            equity = pd.concat([equity, base], axis=1)
            dashed = list(shown.baselines.columns)
        details = [charts.underwater(shown.curves[scenario], shown.episodes)]
        if shown.close is not None:
            details.append(charts.price_trades(shown.close, shown.trades, str(self.symbol)))
        if isinstance(shown.actions, pd.DataFrame):
            details.append(charts.action_shares(shown.actions))
        elif shown.actions is not None:
            details.append(charts.mean_target(shown.actions))
        layout = charts.linked(charts.equity_overview(equity, scenario, dashed), details)
        parts.append(pn.pane.HoloViews(layout, sizing_mode="stretch_width", css_classes=["linked-charts"]))
        if dashed:
            parts.append(note("Dashed: baselines with default parameters under the scenario's costs, and the "
                              "benchmark (equal-weight buy and hold without costs), rescaled to start where the "
                              "run starts."))
        if shown.message:
            parts.append(alert(shown.message, "warning"))
        if len(shown.curves.columns) >= FAN_FROM:
            by_bar = app_services.run_view(self.run()).synthetic_paths
            parts.append(pn.pane.HoloViews(charts.density(
                shown.curves, f"All {len(shown.curves.columns)} scenarios: density of their paths",
                by_bar=by_bar), sizing_mode="stretch_width"))
        rows = drawdown_rows(shown.episodes, run_id, scenario, explainable)
        parts.append(heading("Worst drawdowns"))
        parts.append(static_table(rows, "drawdown-table", html_columns=("attention",)) if not rows.empty
                     else note("No drawdown."))
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("run_id", "scenario")
    def _tables(self):
        if not self.run_id:
            return pn.Spacer(height=0)

        def build():
            regimes = app_services.regime_table(self.run(), self.scenario_curve())
            parts = [heading("Per regime"), small_or_paged_table(regimes, "regime-table"),
                     heading("Metrics"), small_or_paged_table(self.metrics_table(), "metrics-table")]
            for title, rows, notes, warnings in self.finding_tables():
                parts.append(heading(title))
                parts += [alert(text, "warning") for text in warnings]
                if not rows.empty:
                    parts.append(small_or_paged_table(rows, "finding-table"))
                parts += [note(text) for text in notes]
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "tables")

    def __panel__(self):
        choices = controls(
            pn.widgets.Select.from_param(self.param.run_id, width=520),
            pn.widgets.Select.from_param(self.param.scenario, width=280),
            pn.widgets.Select.from_param(self.param.symbol, width=120),
            pn.widgets.Checkbox.from_param(self.param.show_baselines, align="end"))
        return pn.Column(heading("Run detail", 2), choices, self._header, self._overview, self._tables,
                         sizing_mode="stretch_width")
