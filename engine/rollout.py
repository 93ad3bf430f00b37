"""Batched rollout: every scenario of a `ScenarioBatch` stepped together through the same kernels.

Each bar calls the two halves of ``engine.bar_loop``: fill the intents decided at ``t - 1`` at
``t``'s open and mark at ``t``'s close (``open_bar``); then the decision at ``t``'s close and its
intents with the risk overlay (``submit``). Nothing is decided on the last bar. Market-scope
policies are evaluated once per distinct price path and the whole run is compiled end to end
(``engine.simulate``); portfolio-scope policies are called once per bar with a batch of ``S * N``
observations.

A rollout can also measure what its decisions earned in training terms (``rewards``: the seven
reward components, from ``engine.reward_meter``, the same outcome the training environments
compute) and keep a policy's detailed extras every ``explain_every`` bars (e.g. attention maps,
returned by the same forward pass that decided). With rewards a market-scope run stays compiled end
to end (``engine.measured_simulation`` measures each step inside the loop, bit for bit as the meter
does bar by bar).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd

from engine.actions import ActionSpace, BarContext, allowed_actions
from engine.bar_loop import BarLoop
from engine.data.market import bars_per_year
from engine.errors import InvalidParameterError
from engine.measured_simulation import simulate_measured
from engine.policy import MarketView, Policy, PolicyOutput
from engine.reward_meter import RewardMeter, RewardSettings
from engine.scenarios import ScenarioBatch
from engine.simulate import simulate_intents
from engine.state import KernelParams, PortfolioState, initial_state

logger = logging.getLogger(__name__)
ProgressCallback = Callable[[int, int], None]


class Observer(Protocol):
    """Builds the observation batch ``[S * N, ...]`` that portfolio-scope policies read."""

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        ...


@dataclass
class RolloutResult:
    """Everything a rollout produced.

    Attributes:
        equity: ``[T, S]`` equity at every close.
        records: order records (``engine.records.order_dt``), in execution order.
        actions: market scope ``[P, T, N, ...]`` per distinct path; portfolio scope ``[T - 1, S * N, ...]``.
        extras: the policy's extras, stacked like ``actions``.
        state: the portfolio state after the last bar.
        path_ids: ``[S]`` the price path of each scenario.
        rewards: reward components and ``total`` of every decision, ``[T - 1, S, N]`` each (empty
            unless asked for).
        explained_bars: ``[K]`` the decision bars whose detailed extras were kept.
        explained: the policy's detailed extras at those bars, ``[K, S * N, ...]`` each.
    """

    equity: np.ndarray
    records: np.ndarray
    actions: np.ndarray
    extras: dict[str, np.ndarray]
    state: PortfolioState
    path_ids: np.ndarray
    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    labels: tuple[str, ...] = field(default_factory=tuple)
    rewards: dict[str, np.ndarray] = field(default_factory=dict)
    explained_bars: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    explained: dict[str, np.ndarray] = field(default_factory=dict)


def kernel_params(batch: ScenarioBatch) -> KernelParams:
    """The batch's per-scenario parameters as the kernel's arrays."""
    return KernelParams(**{name: batch.param_array(name) for name in KernelParams._fields})


def trading_day_ids(batch: ScenarioBatch) -> np.ndarray:
    """``[S, T]`` trading-day ids: a counter per scenario that steps at each day's first bar."""
    return np.cumsum(batch.day_starts(), axis=1) - 1


def path_view(batch: ScenarioBatch, path: int) -> MarketView:
    """The market view of one distinct price path of ``batch``."""
    return batch.path(int(np.flatnonzero(batch.path_ids == path)[0]))


def run_rollout(
    batch: ScenarioBatch,
    policy: Policy,
    observer: Observer | None = None,
    progress: ProgressCallback | None = None,
    rewards: RewardSettings | None = None,
    explain_every: int = 0,
) -> RolloutResult:
    """Run ``policy`` over every scenario of ``batch``.

    Args:
        batch: The scenarios.
        policy: What decides (its scope picks the driver).
        observer: Builds the observations of a portfolio-scope policy.
        progress: Called with ``(bars done, bars)`` after each bar of a portfolio-scope run.
        rewards: Measure the reward components of every decision with these settings (None: don't).
        explain_every: Ask a portfolio-scope policy for its detailed extras (``act(..., explain=True)``)
            on decision bars ``0, k, 2k, ...``; 0 never asks.

    Raises:
        InvalidParameterError: an unknown scope, a portfolio policy without an observer, or rewards
            asked for a batch with padded windows.
    """
    if isinstance(explain_every, bool) or not isinstance(explain_every, (int, np.integer)) or explain_every < 0:
        raise InvalidParameterError(f"explain_every must be an integer >= 0, got {explain_every!r}")
    if rewards is not None and np.any(batch.n_valid != batch.n_bars):
        raise InvalidParameterError("rewards are measured for batches whose scenarios all have every bar; "
                                    "this one has padded windows")
    if policy.scope == "market":
        return _run_market(batch, policy, rewards)
    if policy.scope == "portfolio":
        if observer is None:
            raise InvalidParameterError(f"policy {policy.name!r} reads the portfolio; pass an observer")
        return _run_portfolio(batch, policy, observer, progress, rewards, int(explain_every))
    raise InvalidParameterError(f"policy {policy.name!r} has unknown scope {policy.scope!r}; use 'market' or 'portfolio'")


def _run_market(batch: ScenarioBatch, policy: Policy, rewards: RewardSettings | None) -> RolloutResult:
    paths = np.unique(batch.path_ids)
    outputs = [policy.act_market(path_view(batch, int(p))) for p in paths]
    # A padded window's view stops at its last real bar: its intents, actions and extras are
    # padded back to the batch's T bars (no intents, NaN values).
    intents = [policy.action_space.path_intents(o.actions) for o in outputs]
    kind = np.stack([_pad_rows(k, batch.n_bars, 0) for k, _ in intents], axis=1).astype(np.int8)
    size = np.stack([_pad_rows(z, batch.n_bars, 0.0) for _, z in intents], axis=1)
    position = np.searchsorted(paths, batch.path_ids)
    kind, size = kind[:, position, :], size[:, position, :]
    params = kernel_params(batch)
    measured: dict[str, np.ndarray] = {}
    state = initial_state(params, batch.n_symbols)
    if rewards is None:
        equity, records = simulate_intents(batch.open, batch.close, trading_day_ids(batch), kind, size, params,
                                           state, batch.n_valid)
    else:
        equity, records, measured = simulate_measured(batch.open, batch.close, trading_day_ids(batch), kind, size,
                                                      params, state, bars_per_year(batch.frequency), rewards)
    padded = [PolicyOutput(_pad_rows(o.actions, batch.n_bars, np.nan),
                           {k: _pad_rows(v, batch.n_bars, np.nan) for k, v in o.extras.items()})
              for o in outputs]
    return RolloutResult(
        equity=equity, records=records,
        actions=np.stack([o.actions for o in padded]),
        extras=_stack_extras([o.extras for o in padded]),
        state=state, path_ids=batch.path_ids, index=batch.index, symbols=batch.symbols,
        labels=batch.labels, rewards=measured,
    )


def _pad_rows(values: np.ndarray, n_rows: int, fill: float) -> np.ndarray:
    """``values`` with rows appended up to ``n_rows`` (floats when the fill is NaN)."""
    values = np.asarray(values)
    if len(values) == n_rows:
        return values
    dtype = np.result_type(values.dtype, np.asarray(fill).dtype)
    out = np.full((n_rows,) + values.shape[1:], fill, dtype=dtype)
    out[: len(values)] = values
    return out


def _meter(batch: ScenarioBatch, settings: RewardSettings) -> RewardMeter:
    return RewardMeter(batch.n_scenarios, batch.n_symbols, batch.n_bars - 1, bars_per_year(batch.frequency),
                       settings)


Decide = Callable[[int, BarContext], tuple[np.ndarray, np.ndarray, np.ndarray | None]]
"""``(bar, context) -> (kind, size, actions)``: a bar's intents ``[S, N]`` and, for the reward
meter's masks, the discrete actions ``[S, N]`` they came from (None: nothing masked)."""


def _drive(batch: ScenarioBatch, loop: BarLoop, decide: Decide, meter: RewardMeter | None,
           progress: ProgressCallback | None = None, action_space: ActionSpace | None = None) -> np.ndarray:
    """Step ``loop`` over every bar of ``batch``, deciding with ``decide``; returns equity ``[T, S]``.

    ``action_space`` gives the masks the meter reads (None: every action allowed).
    """
    n_bars = batch.n_bars
    days = trading_day_ids(batch)
    last_decision = batch.n_valid.astype(np.int64) - 1
    equity = np.empty((n_bars, batch.n_scenarios))
    step_start = 0
    for t in range(n_bars):
        # Contiguous copies: the env stepper passes the same layout, so each kernel compiles once.
        close_t = np.array(batch.close[:, t, :])
        loop.open_bar(t, batch.open[:, t, :], close_t, days[:, t])
        equity[t] = loop.state.equity
        if meter is not None:
            if t == 0:
                meter.start(0, loop.state)
            else:
                meter.judged(t - 1, loop.records_since(step_start), batch.open[:, t, :], close_t, loop.state)
        if t == n_bars - 1:
            break
        context = BarContext(t, loop.state, close_t, loop.params, loop.last_target)
        kind, size, actions = decide(t, context)
        if meter is not None:
            allowed = (np.ones(close_t.shape, dtype=bool) if actions is None or action_space is None
                       else allowed_actions(action_space, actions, context))
            meter.decided(loop.state, close_t, allowed)
        step_start = loop.n_records
        loop.submit(t, close_t, kind, size, last_decision)
        if progress is not None:
            progress(t + 1, n_bars)
    return equity


class _PolicyDecisions:
    """A portfolio-scope policy deciding bar by bar: observe, act, turn actions into intents."""

    def __init__(self, policy: Policy, observer: Observer, n_scenarios: int, n_symbols: int,
                 explain_every: int) -> None:
        self.policy = policy
        self.observer = observer
        self.shape = (n_scenarios, n_symbols)
        self.explain_every = explain_every
        self.outputs: list[PolicyOutput] = []
        self.explained_bars: list[int] = []

    def __call__(self, bar: int, context: BarContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        observation = self.observer.observe(bar, context)
        if self.explain_every and bar % self.explain_every == 0:
            output = self.policy.act(observation, explain=True)
            self.explained_bars.append(bar)
        else:
            output = self.policy.act(observation)
        actions = np.asarray(output.actions)
        actions = actions.reshape(self.shape + actions.shape[1:])
        kind, size = self.policy.action_space.bar_intents(actions, context)
        self.outputs.append(output)
        return kind, size, actions


def _run_portfolio(batch: ScenarioBatch, policy: Policy, observer: Observer, progress: ProgressCallback | None,
                   rewards: RewardSettings | None, explain_every: int) -> RolloutResult:
    loop = BarLoop(kernel_params(batch), batch.n_symbols)
    decisions = _PolicyDecisions(policy, observer, batch.n_scenarios, batch.n_symbols, explain_every)
    meter = None if rewards is None else _meter(batch, rewards)
    equity = _drive(batch, loop, decisions, meter, progress, policy.action_space)
    outputs = decisions.outputs  # one per decision bar, from bar 0
    explained = [outputs[bar].explained for bar in decisions.explained_bars]
    return RolloutResult(
        equity=equity, records=loop.all_records(),
        actions=np.stack([np.asarray(o.actions) for o in outputs]) if outputs else np.empty((0,)),
        extras=_stack_extras([o.extras for o in outputs]),
        state=loop.state, path_ids=batch.path_ids, index=batch.index, symbols=batch.symbols,
        labels=batch.labels, rewards={} if meter is None else meter.components,
        explained_bars=np.asarray(decisions.explained_bars, dtype=np.int64),
        explained=_stack_extras(explained),
    )


def _stack_extras(extras: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not extras:
        return {}
    keys = set(extras[0])
    return {k: np.stack([np.asarray(e[k]) for e in extras]) for k in sorted(keys) if all(k in e for e in extras)}


def check_market_policy_causal(policy: Policy, view: MarketView, cuts: list[int]) -> None:
    """Raise if a market-scope policy's action at bar ``t`` changes when bars after ``t`` are removed.

    This is the look-ahead canary: a policy that peeks at later bars fails it.
    """
    full = np.asarray(policy.act_market(view).actions)
    for cut in cuts:
        if not 2 <= cut <= len(view.index):
            raise InvalidParameterError(f"cut {cut} is outside 2..{len(view.index)} (a path has at least 2 bars)")
        partial = np.asarray(policy.act_market(view.truncated(cut)).actions)
        if not np.array_equal(full[:cut], partial, equal_nan=True):
            bar = int(np.flatnonzero(np.any((full[:cut] != partial).reshape(cut, -1), axis=1))[0])
            raise InvalidParameterError(
                f"policy {policy.name!r} looks ahead: its action at bar {bar} ({view.index[bar]}) changes "
                f"when the bars after bar {cut - 1} are removed"
            )
