"""`KernelStepper`: the rollout's bar loop, one bar per call, for ``K`` accounts at their own bars.

Every environment (single, vectorized, multi-agent) steps through this class, and this class steps
through the engine's kernels exactly as ``engine.rollout`` does; it keeps no accounting of its own.
Account ``k`` trades the ``N`` symbols of scenario ``k`` of a :class:`ScenarioBatch`. A step is:

1. the action space turns the actions decided at the current bar ``t`` into intents
   (``bar_intents`` on the state after ``t``'s close);
2. ``apply_risk_overlay_nb`` at ``t``;
3. ``fill_bar_nb`` at ``t + 1``'s open, then ``close_bar_nb`` at ``t + 1``'s close;

which is the rollout's order (fill, close, decide, overlay) seen from the decision. An episode starts
with ``close_bar_nb`` on a fresh account at its first bar (the rollout's bar 0: nothing to fill) and
ends at its last bar, on which nothing is decided.

Accounts run at different bars (random episode starts, autoreset), but the kernels take one ``bar``
per call. The kernels receive a shared *clock* that advances by one per step instead: they use
``bar`` only to compare bars (cooldowns, breaker release, the last deciding bar) and to stamp
records, and every account advances one bar per step, so each comparison comes out as with the
account's own bars. The last deciding bar is passed on the clock (``clock + end - bar``), and the
step's records are re-stamped with each account's own data bar after the call. Trading days are
per account (``engine.rollout.trading_day_ids`` of its scenario).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.actions import ActionSpace, BarContext
from engine.errors import InvalidParameterError
from engine.execution import ensure_capacity_nb, fill_bar_nb
from engine.records import REASON_POLICY, STATUS_CLIPPED, order_dt
from engine.rewards import RewardScales, RewardWeights, StepOutcome, reward_components
from engine.risk import apply_risk_overlay_nb, close_bar_nb
from engine.rollout import kernel_params, trading_day_ids
from engine.scenarios import ScenarioBatch
from engine.state import KernelParams, PortfolioState, empty_intents, initial_state
from engine.tracking import AccountTracker


def order_columns(records: np.ndarray) -> dict[str, np.ndarray]:
    """``order_dt`` records as one array per field (how environments put them in ``info``).

    Environment checkers compare infos with ``np.allclose``, which structured arrays do not support.
    """
    return {name: records[name].copy() for name in order_dt.names}


def order_records(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The ``order_dt`` records of :func:`order_columns` output."""
    records = np.empty(len(columns["bar"]), dtype=order_dt)
    for name in order_dt.names:
        records[name] = columns[name]
    return records


class StepResult(NamedTuple):
    """What one step produced for every account (arrays ``[K, N]`` unless noted).

    Attributes:
        records: The step's ``order_dt`` records; ``scenario`` is the account, ``bar`` its data bar.
        rewards: Reward components and ``"total"`` (``engine.rewards``).
        outcome: The quantities the rewards were computed from.
        allowed: Whether each action was allowed by the action space's mask (all True without masks).
        terminated: ``[K]`` the account is ruined (equity <= 0).
        truncated: ``[K]`` the episode reached its last bar.
    """

    records: np.ndarray
    rewards: dict[str, np.ndarray]
    outcome: StepOutcome
    allowed: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray


class KernelStepper:
    """``K`` accounts, one per scenario of ``batch``, stepped bar by bar through the engine kernels.

    Args:
        batch: Prices and parameters; account ``k`` trades scenario ``k``.
        action_space: Turns actions ``[K, N, ...]`` into intents.
        tracker: Return and hold-time statistics of the ``K`` accounts (observation and rewards).
        weights, scales: Reward weights and scales.
    """

    def __init__(self, batch: ScenarioBatch, action_space: ActionSpace, tracker: AccountTracker,
                 weights: RewardWeights = RewardWeights(), scales: RewardScales = RewardScales()) -> None:
        self.batch = batch
        self.action_space = action_space
        self.tracker = tracker
        self.weights = weights
        self.scales = scales
        self.params: KernelParams = kernel_params(batch)
        n_accounts, n_symbols = batch.n_scenarios, batch.n_symbols
        self.accounts = np.arange(n_accounts)
        self.days = trading_day_ids(batch)
        self.state: PortfolioState = initial_state(self.params, n_symbols)
        self.pending = empty_intents(n_accounts, n_symbols)
        self.last_target = np.full((n_accounts, n_symbols), np.nan)
        self.bar = np.zeros(n_accounts, dtype=np.int64)
        self.start = np.zeros(n_accounts, dtype=np.int64)
        self.end = np.zeros(n_accounts, dtype=np.int64)
        self.clock = 0
        self._records = np.empty(max(16, 2 * n_accounts * n_symbols), dtype=order_dt)

    @property
    def last_bars(self) -> np.ndarray:
        """``[K]`` each scenario's last real bar."""
        return self.batch.n_valid - 1

    def close_prices(self) -> np.ndarray:
        """``[K, N]`` close of every account at its current bar."""
        return self.batch.close[self.accounts, self.bar]

    def context(self) -> BarContext:
        """What the action space and the observer read at the current bars.

        ``bar`` is the kernels' shared clock; ``path_bar`` is an int when every account is at the
        same bar of its path (always so for one account), else the ``[K]`` array of bars.
        """
        same = bool(np.all(self.bar == self.bar[0]))
        bar = int(self.bar[0]) if same else self.bar.copy()
        return BarContext(self.clock, self.state, self.close_prices(), self.params, self.last_target, path_bar=bar)

    def masks(self) -> np.ndarray | None:
        """``[K, N, A]`` allowed actions at the current bars, or None when the space has no masks."""
        masks = getattr(self.action_space, "masks", None)
        return None if masks is None else masks(self.context())

    def reset(self, accounts: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Start fresh episodes of ``accounts`` at bars ``starts``, ending at ``ends``.

        The fresh accounts are marked at their first close by ``close_bar_nb``; other accounts are
        untouched.
        """
        accounts = np.asarray(accounts, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        if np.any(starts >= ends) or np.any(starts < 0) or np.any(ends > self.last_bars[accounts]):
            raise InvalidParameterError(f"episodes must satisfy 0 <= start < end <= last bar; got {starts} .. {ends}")
        params = KernelParams(*(p[accounts] for p in self.params))
        fresh = initial_state(params, self.batch.n_symbols)
        self._close_bar(fresh, params, accounts, starts)
        for full, part in zip(self.state, fresh):
            full[accounts] = part
        self.pending.kind[accounts] = 0
        self.last_target[accounts] = np.nan
        self.bar[accounts] = starts
        self.start[accounts] = starts
        self.end[accounts] = ends
        self.tracker.reset(accounts, starts, self.state)

    def step(self, actions: np.ndarray) -> StepResult:
        """Decide at every account's current bar, fill at the next open, mark at the next close."""
        if np.any(self.bar >= self.end):
            raise InvalidParameterError("an episode has reached its last bar; reset it before stepping")
        state, params = self.state, self.params
        context = self.context()
        actions = np.asarray(actions)
        masks = self.masks()
        if masks is None:
            allowed = np.ones(state.units.shape, dtype=bool)
        else:
            index = np.clip(actions.astype(np.int64), 0, masks.shape[-1] - 1)[..., None]
            allowed = np.take_along_axis(masks, index, axis=-1)[..., 0]
        kind, size = self.action_space.bar_intents(actions, context)
        self.pending.kind[:] = kind
        self.pending.size[:] = size
        self.pending.reason[:] = REASON_POLICY

        units_before = state.units.copy()
        value_before = units_before * context.close
        equity_before = state.equity.copy()
        records = ensure_capacity_nb(self._records, 0, 2 * units_before.size)
        last_decision = self.clock + (self.end - self.bar)  # each account's last bar, on the clock
        n = apply_risk_overlay_nb(self.clock, context.close, state, self.pending, params, last_decision,
                                  records, 0)
        self.clock += 1
        self.bar += 1
        open_ = self.batch.open[self.accounts, self.bar]
        n = fill_bar_nb(self.clock, open_, state, self.pending, params, records, n)
        self._close_bar(state, params, self.accounts, self.bar)
        self._records = records
        step_records = records[:n].copy()
        step_records["bar"] = self.bar[step_records["scenario"]]
        self.tracker.update(self.bar, state)

        outcome = self._outcome(step_records, open_, value_before, equity_before, allowed)
        rewards = reward_components(outcome, self.weights, self.scales)
        return StepResult(step_records, rewards, outcome, allowed,
                          terminated=state.equity <= 0.0, truncated=self.bar >= self.end)

    def _close_bar(self, state: PortfolioState, params: KernelParams, accounts: np.ndarray,
                   bars: np.ndarray) -> None:
        """``close_bar_nb`` on ``state`` (rows = ``accounts``) at their own ``bars``."""
        close_bar_nb(self.clock, self.days[accounts, bars], self.batch.close[accounts, bars], state, params)

    def _outcome(self, records: np.ndarray, open_: np.ndarray, value_before: np.ndarray,
                 equity_before: np.ndarray, allowed: np.ndarray) -> StepOutcome:
        state = self.state
        shape = state.units.shape
        close = self.close_prices()
        filled = records[(records["side"] != 0) & (records["status"] <= STATUS_CLIPPED)]
        account, symbol = filled["scenario"].astype(np.int64), filled["symbol"].astype(np.int64)
        cash_flow = np.zeros(shape)
        costs = np.zeros(shape)
        traded = np.zeros(shape, dtype=bool)
        np.add.at(cash_flow, (account, symbol), -filled["side"] * filled["units"] * filled["price"] - filled["fees"])
        np.add.at(costs, (account, symbol),
                  filled["fees"] + filled["units"] * np.abs(filled["price"] - open_[account, symbol]))
        traded[account, symbol] = True
        rejected = records[(records["status"] > STATUS_CLIPPED) & (records["reason"] == REASON_POLICY)]
        failed = ~allowed
        failed[rejected["scenario"].astype(np.int64), rejected["symbol"].astype(np.int64)] = True

        units = state.units
        held = units != 0.0
        equity = state.equity
        entry = np.where(held, state.entry_price, close)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(equity[:, None] > 0.0, np.abs(units * close) / equity[:, None], 0.0)
        return StepOutcome(
            pnl=units * close - value_before + cash_flow,
            equity_before=equity_before[:, None],
            costs=costs,
            position_return=np.where(held, np.sign(units) * (close / entry - 1.0), 0.0),
            hold_bars=self.tracker.hold_bars(),
            in_position=held,
            sharpe=self.tracker.sharpe()[:, None],
            drawdown=self.tracker.drawdown(equity)[:, None],
            weight=weight,
            idle=~held & ~traded,
            failed=failed,
        )
