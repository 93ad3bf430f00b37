"""Attention: a neural policy's attention per layer and head at a chosen bar, linked to the equity
chart (click a drawdown episode to see the attention at its start), and the feature attribution.

For a team (an explanation whose maps are per agent) the maps are each agent's attention over the
seven tactical columns, a table shows each agent's vote and probabilities beside the team's
decision, and "Team over time" draws, from the run's stored tables, each agent's attention, the
agents' agreement and the reward components over the whole run, marked at the chosen bar."""
from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.events import Tap

from apps import plots
from apps.pages.common import (
    NONE,
    AppContext,
    BackgroundSection,
    alert,
    choose_run,
    controls,
    guarded,
    heading,
    note,
    recent_runs,
    run_options,
    stamp,
    table,
)
from workbench.services import app as app_services

TOP_FEATURES = 15


def neural(info) -> bool:
    """Whether a stored run was decided by a policy (a checkpoint with attention), not a baseline."""
    return bool(info.spec.get("policy"))


def bar_at(index: pd.DatetimeIndex, timestamp: pd.Timestamp) -> int:
    """The last bar of ``index`` at or before ``timestamp`` (the first bar when it is earlier)."""
    return max(0, int(index.searchsorted(timestamp, side="right")) - 1)


def episode_start(episodes: list[dict], timestamp: pd.Timestamp) -> str | None:
    """Peak date of the episode (peak to recovery) that contains ``timestamp``, or None."""
    for episode in episodes:
        start = pd.Timestamp(episode["peak_date"])
        end = pd.Timestamp(episode["recovery_date"]) if episode.get("recovery_date") else None
        if start <= timestamp and (end is None or timestamp <= end):
            return episode["peak_date"]
    return None


def distinct_features(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with each feature named by its block too (``fvg: momentum``) when a feature name
    repeats across blocks (a team's agents read the same columns): the chart's axis needs distinct names."""
    if not scores["feature"].duplicated().any():
        return scores
    return scores.assign(feature=scores["block"] + ": " + scores["feature"])


def map_title(heads: tuple[str, ...], layer: int, head: int) -> str:
    """A map's title: the agent when the maps are a team's, else the layer and head."""
    return f"agent {heads[head]}" if heads else f"layer {layer + 1}, head {head + 1}"


class AttentionPage(pn.viewable.Viewer):
    """Attention maps and feature attribution of a neural policy's decision at one bar."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Run of a neural policy")
    scenario = param.Selector(default=None, objects=[], doc="Scenario replayed (real-market scenarios only).")
    symbol = param.Selector(default=None, objects=[], doc="Symbol (the agent that decided).")
    bar = param.Integer(default=0, bounds=(0, None), doc="Decision bar (0 = the run's first bar).")
    episode = param.Selector(default=NONE, objects=[NONE], label="Jump to a drawdown episode's start")

    url_parameters = {"run": "run_id", "scenario": "scenario", "bar": "bar"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, scenario: str | None = None, bar: str | None = None,
                 **params) -> None:
        self.context = context
        super().__init__(**params)
        self._episodes: list[dict] = []
        self._explanation = BackgroundSection()
        self._team = pn.Column(sizing_mode="stretch_width")
        choose_run(self, run_options(context.store, where=neural), run_id)
        if not self.run_id:
            self._run_changed()
        if scenario in self.param.scenario.objects:
            self.scenario = scenario
        if bar is not None and str(bar).isdigit() and self.run_id:
            self.bar = min(int(bar), self.param.bar.bounds[1])

    # -- derived data ------------------------------------------------------------------------------

    def run(self):
        return self.context.store.get_run(self.run_id) if self.run_id else None

    def index(self) -> pd.DatetimeIndex:
        """Timestamps of the run's bars (bar ``b`` is ``index[b]``)."""
        return app_services.close_prices(self.run().spec).index

    def curve(self) -> pd.Series:
        curves = app_services.equity_curves(self.run())
        column = self.scenario if self.scenario in curves.columns else curves.columns[0]
        return curves[column].dropna()

    def replayable(self) -> list[str]:
        """Scenario labels this page can replay (see ``workbench.policies.explain``)."""
        return app_services.replayable_scenarios(self.run())

    def jump_to(self, timestamp: pd.Timestamp) -> None:
        """Select the bar at ``timestamp``, or the start of the drawdown episode that contains it."""
        start = episode_start(self._episodes, timestamp)
        self.bar = bar_at(self.index(), pd.Timestamp(start) if start else timestamp)

    @param.depends("run_id", watch=True)
    def _run_changed(self) -> None:
        if not self.run_id:
            self.param.scenario.objects, self.param.symbol.objects = [], []
            return
        run = self.run()
        labels = self.replayable()
        symbols = list(run.summary.get("data", {}).get("symbols") or run.spec.get("symbols") or [])
        self.param.scenario.objects = labels
        self.param.symbol.objects = symbols
        n_bars = len(self.index())
        self.param.bar.bounds = (0, max(0, n_bars - 2))
        self.param.update(scenario=labels[0], symbol=symbols[0] if symbols else None,
                          bar=min(self.bar, max(0, n_bars - 2)))
        self._refresh_episodes()

    @param.depends("scenario", watch=True)
    def _refresh_episodes(self) -> None:
        if not self.run_id:
            return
        self._episodes = app_services.worst_drawdowns(self.curve(), top=5)
        options = {f"#{i + 1}: {e['peak_date'][:10]} ({e['depth']:.1%})": e["peak_date"]
                   for i, e in enumerate(self._episodes)}
        self.param.episode.objects = {"(choose an episode)": NONE, **options}
        self.episode = NONE

    @param.depends("episode", watch=True)
    def _episode_chosen(self) -> None:
        if self.episode:
            self.bar = bar_at(self.index(), pd.Timestamp(self.episode))

    # -- views ------------------------------------------------------------------------------------

    @param.depends("run_id", "scenario", "bar")
    def _equity(self):
        if not self.run_id:
            return pn.Column(alert("Choose a run of a neural policy (the shipped symbol agent, or an uploaded one), "
                                   "or open one of the recent runs below.", "info"),
                             recent_runs(self.context.store, "attention", where=neural), sizing_mode="stretch_width")

        def build():
            curve = self.curve()
            figure = plots.underwater_figure(curve, self._episodes)
            figure.title.text = "Drawdowns: click inside an episode to see the attention at its start"
            equity = plots.equity_figure(curve.to_frame("equity"), "Equity (click a date to choose the bar)",
                                         x_range=figure.x_range)
            for plot in (equity, figure):
                plots.mark_time(plot, self.index()[self.bar])
                plot.on_event(Tap, self._on_tap)
            return pn.Column(pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
                             pn.pane.Bokeh(figure, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        return guarded(build, "equity")

    def _on_tap(self, event) -> None:
        if event.x is not None:
            self.jump_to(pd.Timestamp(int(event.x), unit="ms", tz="UTC"))

    @param.depends("run_id", "scenario", "symbol", "bar", watch=True)
    def _load_explanation(self) -> None:
        """Recompute the maps and attribution (off the server's thread) for the current choice."""
        if not self.run_id or self.symbol is None:
            self._explanation.clear()
            return
        run, bar, scenario, symbol = self.run(), self.bar, self.scenario, self.symbol
        from_store = "attention" in run.tables and scenario == self.param.scenario.objects[0]

        def compute():
            stored = app_services.stored_attention_at(run, bar) if from_store else None
            return stored, app_services.explain(run, bar, scenario)

        self._explanation.load(compute, lambda result: self._render(bar, symbol, *result), f"attention at bar {bar}",
                               key=(run.run_id, scenario, symbol, bar))

    def _render(self, bar: int, symbol_name: str, stored, replayed):
        explanation = replayed.explanation
        symbol = replayed.symbols.index(symbol_name)
        row = explanation.rows.index(symbol_name) if symbol_name in explanation.rows else 0
        weights, queries, tokens = explanation.attention, explanation.queries, explanation.tokens
        source = "recomputed by replaying the run"
        if stored is not None:
            weights, tokens = stored
            queries, source = tokens, "read from the run's stored attention samples"
        n_layers, _, n_heads = weights.shape[:3]
        high = float(np.max(weights[:, row]))  # one colour scale for every map of the symbol
        maps = [plots.attention_figure(weights[layer, row, head], tokens, map_title(explanation.heads, layer, head),
                                       size=360, queries=queries, high=high)
                for layer in range(n_layers) for head in range(n_heads)]
        probabilities = pd.DataFrame(explanation.probabilities, columns=list(explanation.action_names))
        probabilities.insert(0, "symbol", list(replayed.symbols))
        probabilities.insert(1, "action", list(explanation.actions))
        scores = distinct_features(explanation.attribution[explanation.attribution["symbol"] == symbol_name])
        blocks = scores.groupby("block", sort=False)["score"].sum().reset_index()
        top = scores.nlargest(TOP_FEATURES, "score")
        parts = []
        if explanation.members is not None:
            members = explanation.members[explanation.members["symbol"] == symbol_name].drop(columns="symbol")
            parts = [heading(f"The agents' votes: the team chose {explanation.actions[symbol]}"),
                     table(members, css_classes=["members-table"], width=520, sizing_mode="fixed")]
        return pn.Column(
            heading(f"Bar {bar} ({stamp(replayed.timestamp)}), {symbol_name}: chose {explanation.actions[symbol]}"),
            note(f"Attention {source}; {explanation.reading}. Attribution: {explanation.method}."),
            table(probabilities, css_classes=["probabilities-table"]),
            *parts,
            note("Every map shares one colour scale (0 to the largest weight of this symbol's maps), so maps "
                 "compare at a glance."),
            pn.GridBox(*[pn.pane.Bokeh(m) for m in maps], ncols=min(n_heads, 3)),
            heading("Feature attribution"),
            pn.Row(pn.pane.Bokeh(plots.attribution_figure(top, f"Top {TOP_FEATURES} features, {symbol_name}"),
                                 sizing_mode="stretch_width"),
                   table(blocks, css_classes=["attribution-blocks"], width=320, sizing_mode="fixed"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    @param.depends("run_id", "symbol", "bar", watch=True)
    def _draw_team(self) -> None:
        """Team over time, from the run's stored tables (nothing for a run of a single network)."""
        if not self.run_id or self.symbol is None:
            self._team.objects = []
            return
        self._team.objects = [guarded(lambda: self._team_view(self.symbol, self.index()[self.bar]), "team history")]

    def _team_view(self, symbol: str, when: pd.Timestamp):
        history = app_services.team_history(self.run(), symbol)
        if history is None:
            return pn.Spacer(height=0)
        agreement = plots.line_figure(history.agreement, f"Agreement over time, {symbol}: share of agents voting "
                                      "the team's decision", "agreement")
        figures = [agreement] + [plots.stacked_share_figure(history.attention[a], f"{a} agent: attention over time",
                                                            "attention", x_range=agreement.x_range)
                                 for a in history.agents]
        if history.rewards is not None:
            figures.append(plots.signed_stack_figure(history.rewards, f"Reward components, {symbol}",
                                                     x_range=agreement.x_range))
        for figure in figures:
            plots.mark_time(figure, when)
        return pn.Column(heading("Team over time"),
                         note("From the run's stored tables (its first scenario), in time buckets; the black line "
                              "is the chosen bar."),
                         *[pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures],
                         sizing_mode="stretch_width", css_classes=["team-history"])

    @param.depends("run_id", "bar")
    def _bar_text(self):
        if not self.run_id:
            return pn.Spacer(height=0)
        return guarded(lambda: note(f"Bar {self.bar} is the close of {stamp(self.index()[self.bar])}."), "bar")

    def __panel__(self):
        choices = controls(
            pn.widgets.Select.from_param(self.param.run_id, width=520),
            pn.widgets.Select.from_param(self.param.scenario, width=240),
            pn.widgets.Select.from_param(self.param.symbol, width=110),
            pn.widgets.IntInput.from_param(self.param.bar, width=110),
            pn.widgets.Select.from_param(self.param.episode, width=260))
        self._draw_team()
        return pn.Column(
            heading("Attention", 2), choices, self._bar_text, self._equity, self._explanation, self._team,
            sizing_mode="stretch_width")
