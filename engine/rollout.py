"""Batched rollout: every scenario of a `ScenarioBatch` stepped together through the same kernels.

Per bar ``t``: fill the intents decided at ``t - 1`` at ``t``'s open (``fill_bar_nb``), mark equity
and update the risk state at ``t``'s close (``close_bar_nb``), ask the policy, turn its actions into
intents (the action space), then apply the risk overlay (``apply_risk_overlay_nb``). Nothing is
decided on the last bar. Market-scope policies are evaluated once per distinct price path and the
whole run is compiled end to end (``engine.simulate``); portfolio-scope policies are called once per
bar with a batch of ``S * N`` observations.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd

from engine.actions import BarContext
from engine.errors import InvalidParameterError
from engine.execution import ensure_capacity_nb, fill_bar_nb
from engine.policy import MarketView, Policy, PolicyOutput
from engine.records import order_dt
from engine.risk import apply_risk_overlay_nb, close_bar_nb
from engine.scenarios import ScenarioBatch
from engine.simulate import simulate_intents
from engine.state import Intents, KernelParams, PortfolioState, empty_intents, initial_state

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
) -> RolloutResult:
    """Run ``policy`` over every scenario of ``batch``."""
    if policy.scope == "market":
        return _run_market(batch, policy)
    if policy.scope == "portfolio":
        if observer is None:
            raise InvalidParameterError(f"policy {policy.name!r} reads the portfolio; pass an observer")
        return _run_portfolio(batch, policy, observer, progress)
    raise InvalidParameterError(f"policy {policy.name!r} has unknown scope {policy.scope!r}; use 'market' or 'portfolio'")


def _run_market(batch: ScenarioBatch, policy: Policy) -> RolloutResult:
    paths = np.unique(batch.path_ids)
    outputs = [policy.act_market(path_view(batch, int(p))) for p in paths]
    # A padded window's view stops at its last real bar: its intents, actions and extras are
    # padded back to the batch's T bars (no intents, NaN values).
    intents = [policy.action_space.path_intents(o.actions) for o in outputs]
    kind = np.stack([_pad_rows(k, batch.n_bars, 0) for k, _ in intents], axis=1).astype(np.int8)
    size = np.stack([_pad_rows(z, batch.n_bars, 0.0) for _, z in intents], axis=1)
    position = np.searchsorted(paths, batch.path_ids)
    params = kernel_params(batch)
    state = initial_state(params, batch.n_symbols)
    equity, records = simulate_intents(batch.open, batch.close, trading_day_ids(batch),
                                       kind[:, position, :], size[:, position, :], params, state,
                                       batch.n_valid)
    padded = [PolicyOutput(_pad_rows(o.actions, batch.n_bars, np.nan),
                           {k: _pad_rows(v, batch.n_bars, np.nan) for k, v in o.extras.items()})
              for o in outputs]
    return RolloutResult(
        equity=equity, records=records,
        actions=np.stack([o.actions for o in padded]),
        extras=_stack_extras([o.extras for o in padded]),
        state=state, path_ids=batch.path_ids, index=batch.index, symbols=batch.symbols,
        labels=batch.labels,
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


def _run_portfolio(batch: ScenarioBatch, policy: Policy, observer: Observer,
                   progress: ProgressCallback | None) -> RolloutResult:
    params = kernel_params(batch)
    n_scenarios, n_bars, n_symbols = batch.close.shape
    state = initial_state(params, n_symbols)
    pending: Intents = empty_intents(n_scenarios, n_symbols)
    last_target = np.full((n_scenarios, n_symbols), np.nan)
    records = np.empty(max(16, 4 * n_scenarios * n_symbols), dtype=order_dt)
    days = trading_day_ids(batch)
    last_decision = batch.n_valid.astype(np.int64) - 1
    equity = np.empty((n_bars, n_scenarios))
    outputs: list[PolicyOutput] = []
    n = 0
    for t in range(n_bars):
        records = ensure_capacity_nb(records, n, 2 * n_scenarios * n_symbols)
        # Contiguous copies: the env stepper passes the same layout, so each kernel compiles once.
        if t > 0:
            n = fill_bar_nb(t, np.ascontiguousarray(batch.open[:, t, :]), state, pending, params, records, n)
        close_t = np.array(batch.close[:, t, :])
        close_bar_nb(t, days[:, t], close_t, state, params)
        equity[t] = state.equity
        if t == n_bars - 1:
            break
        context = BarContext(t, state, close_t, params, last_target)
        output = policy.act(observer.observe(t, context))
        kind, size = policy.action_space.bar_intents(
            np.asarray(output.actions).reshape((n_scenarios, n_symbols) + np.shape(output.actions)[1:]),
            context,
        )
        pending.kind[:] = kind
        pending.size[:] = size
        pending.reason[:] = 0
        n = apply_risk_overlay_nb(t, close_t, state, pending, params, last_decision, records, n)
        outputs.append(output)
        if progress is not None:
            progress(t + 1, n_bars)
    return RolloutResult(
        equity=equity, records=records[:n].copy(),
        actions=np.stack([np.asarray(o.actions) for o in outputs]) if outputs else np.empty((0,)),
        extras=_stack_extras([o.extras for o in outputs]),
        state=state, path_ids=batch.path_ids, index=batch.index, symbols=batch.symbols,
        labels=batch.labels,
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
