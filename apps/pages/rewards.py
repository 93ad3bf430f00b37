"""Reward components: the seven training-reward components of every decision, stacked per step and
aligned with the equity curve, with their totals and shares, and a warning when one dominates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param

from apps import plots
from apps.pages.common import (
    NONE,
    AppContext,
    alert,
    choose_run,
    controls,
    guarded,
    heading,
    note,
    recent_runs,
    run_options,
    table,
)
from workbench.services import app as app_services

COMPONENTS = app_services.REWARD_COMPONENTS
MAX_BUCKETS = 250
step_components = app_services.step_components
component_totals = app_services.component_totals


def bucketed(steps: pd.DataFrame, max_buckets: int = MAX_BUCKETS) -> pd.DataFrame:
    """``steps`` summed into at most ``max_buckets`` consecutive buckets (first timestamp as index),
    so a long run still draws one readable bar per bucket."""
    if len(steps) <= max_buckets:
        return steps
    bucket = np.arange(len(steps)) * max_buckets // len(steps)
    summed = steps.groupby(bucket).sum()
    summed.index = steps.index[np.searchsorted(bucket, np.arange(max_buckets))]
    return summed


def dominant(totals: pd.DataFrame, threshold: float) -> str | None:
    """The component whose share exceeds ``threshold``, if one does."""
    return app_services.dominant_component(dict(zip(totals["component"], totals["share"])), threshold)


def has_rewards(info) -> bool:
    """Whether a stored run keeps the reward components of its decisions."""
    return (info.folder / "rewards.parquet").is_file()


class RewardsPage(pn.viewable.Viewer):
    """The training reward a run's decisions would have earned, component by component."""

    run_id = param.Selector(default=NONE, objects=[NONE], label="Run")
    scenario = param.Selector(default=None, objects=[])
    dominance = param.Number(default=0.5, bounds=(0.1, 1.0), step=0.05,
                             label="Warn when one component's share exceeds")

    url_parameters = {"run": "run_id", "scenario": "scenario"}
    """Query parameter -> page parameter kept in the URL and in the sidebar's links."""

    def __init__(self, context: AppContext, run_id: str = NONE, scenario: str | None = None, **params) -> None:
        self.context = context
        super().__init__(**params)
        choose_run(self, run_options(context.store, where=has_rewards), run_id)
        self._run_changed()
        if scenario in self.param.scenario.objects:
            self.scenario = scenario

    def run(self):
        return self.context.store.get_run(self.run_id) if self.run_id else None

    def steps(self) -> pd.DataFrame:
        labels = self.param.scenario.objects
        return step_components(self.run().load_table("rewards"), labels.index(self.scenario))

    @param.depends("run_id", watch=True)
    def _run_changed(self) -> None:
        if not self.run_id:
            self.param.scenario.objects = []
            return
        labels = list(app_services.equity_curves(self.run()).columns)
        self.param.scenario.objects = labels
        self.scenario = labels[0]

    @param.depends("run_id", "scenario", "dominance")
    def _view(self):
        if not self.run_id:
            return pn.Column(alert("Choose a backtest of a policy: backtests store the reward components of every "
                                   "decision (measured with the training environment's reward), or open one of "
                                   "the recent runs below.", "info"),
                             recent_runs(self.context.store, "rewards", where=has_rewards), sizing_mode="stretch_width")

        def build():
            steps = self.steps()
            totals = component_totals(steps)
            curve = app_services.equity_curves(self.run())[self.scenario].dropna()
            equity = plots.equity_figure(curve.to_frame("equity"), f"Equity: {self.scenario}")
            stack = plots.signed_stack_figure(bucketed(steps), "Reward components per step (summed over symbols)",
                                              x_range=equity.x_range)
            parts = []
            top = dominant(totals, self.dominance)
            if top is not None:
                share = float(totals.loc[totals["component"] == top, "share"].iloc[0])
                parts.append(alert(f"The {top} component is {share:.0%} of the reward's total magnitude: it "
                                   "dominates, so training on this reward would mostly optimise it.", "warning"))
            parts += [pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
                      pn.pane.Bokeh(stack, sizing_mode="stretch_width"),
                      heading("Totals and shares"), table(totals, name="reward-totals"),
                      note("Share: |total| of the component over the sum of |totals| of all seven. Components "
                           "are signed (costs and drawdown are penalties); the default weights apply.")]
            return pn.Column(*parts, sizing_mode="stretch_width")
        return guarded(build, "reward components")

    def __panel__(self):
        choices = controls(pn.widgets.Select.from_param(self.param.run_id, width=520),
                          pn.widgets.Select.from_param(self.param.scenario, width=280),
                          pn.widgets.FloatSlider.from_param(self.param.dominance, width=260))
        return pn.Column(heading("Reward components", 2), choices, self._view, sizing_mode="stretch_width")
