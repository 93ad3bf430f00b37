"""`KernelStepper`: the rollout's bar loop, one bar per call, for ``K`` accounts at their own bars.

Every environment (single, vectorized, multi-agent) steps through this class, and this class steps
a :class:`~engine.bar_loop.BarLoop` as ``engine.rollout`` does; it keeps no accounting of its own.
Account ``k`` trades the ``N`` symbols of scenario ``k`` of a :class:`ScenarioBatch`. A step is:

1. the action space turns the actions decided at the current bar ``t`` into intents
   (``bar_intents`` on the state after ``t``'s close);
2. the bar loop's second half at ``t`` (``submit``: the intents and the risk overlay);
3. the bar loop's first half at ``t + 1`` (``open_bar``: fill at the open, mark at the close);

which is the rollout's bar seen from the decision. An episode starts with ``open_bar`` of a fresh
account at its first bar (the rollout's bar 0: nothing to fill) and ends at its last bar, on which
nothing is decided. Its rewards come from ``engine.reward_meter.step_outcome``, as a backtest's do.

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

from engine.actions import ActionSpace, BarContext, allowed_actions
from engine.bar_loop import BarLoop
from engine.errors import InvalidParameterError
from engine.records import order_dt
from engine.reward_meter import step_outcome
from engine.rewards import RewardScales, RewardWeights, StepOutcome, reward_components
from engine.rollout import kernel_params, trading_day_ids
from engine.scenarios import ScenarioBatch
from engine.state import KernelParams, PortfolioState
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
        n_accounts = batch.n_scenarios
        self.accounts = np.arange(n_accounts)
        self.days = trading_day_ids(batch)
        self.loop = BarLoop(self.params, batch.n_symbols)
        self.bar = np.zeros(n_accounts, dtype=np.int64)
        self.start = np.zeros(n_accounts, dtype=np.int64)
        self.end = np.zeros(n_accounts, dtype=np.int64)
        self.clock = 0

    @property
    def state(self) -> PortfolioState:
        """The accounts' portfolio state."""
        return self.loop.state

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
        return BarContext(self.clock, self.state, self.close_prices(), self.params, self.loop.last_target,
                          path_bar=bar)

    def masks(self) -> np.ndarray | None:
        """``[K, N, A]`` allowed actions at the current bars, or None when the space has no masks."""
        masks = getattr(self.action_space, "masks", None)
        return None if masks is None else masks(self.context())

    def reset(self, accounts: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Start fresh episodes of ``accounts`` at bars ``starts``, ending at ``ends``.

        The fresh accounts open their first bar (nothing to fill; marked at its close); other
        accounts are untouched.
        """
        accounts = np.asarray(accounts, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        if np.any(starts >= ends) or np.any(starts < 0) or np.any(ends > self.last_bars[accounts]):
            raise InvalidParameterError(f"episodes must satisfy 0 <= start < end <= last bar; got {starts} .. {ends}")
        fresh = BarLoop(KernelParams(*(p[accounts] for p in self.params)), self.batch.n_symbols)
        first_close = self.batch.close[accounts, starts]
        fresh.open_bar(self.clock, first_close, first_close, self.days[accounts, starts])
        for full, part in zip(self.state, fresh.state):
            full[accounts] = part
        self.loop.pending.kind[accounts] = 0
        self.loop.last_target[accounts] = np.nan
        self.bar[accounts] = starts
        self.start[accounts] = starts
        self.end[accounts] = ends
        self.tracker.reset(accounts, starts, self.state)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of what stepping changes: the portfolio state, pending intents, targets, bars and
        clock, keyed ``stepper.<field>`` (the tracker keeps its own, :meth:`AccountTracker.snapshot`)."""
        arrays = {f"stepper.state.{name}": value.copy() for name, value in self.state._asdict().items()}
        arrays.update({f"stepper.pending.{name}": value.copy() for name, value in self.loop.pending._asdict().items()})
        arrays.update({"stepper.last_target": self.loop.last_target.copy(), "stepper.bar": self.bar.copy(),
                       "stepper.start": self.start.copy(), "stepper.end": self.end.copy(),
                       "stepper.clock": np.array(self.clock, dtype=np.int64)})
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Return to a :meth:`snapshot` of a stepper over the same batch, in place.

        Raises:
            InvalidParameterError: an entry is missing or has another shape or dtype.
        """
        targets = {f"stepper.state.{name}": value for name, value in self.state._asdict().items()}
        targets.update({f"stepper.pending.{name}": value for name, value in self.loop.pending._asdict().items()})
        targets.update({"stepper.last_target": self.loop.last_target, "stepper.bar": self.bar,
                        "stepper.start": self.start, "stepper.end": self.end})
        for key, target in targets.items():
            target[...] = _snapshot_entry(arrays, key, target)
        self.clock = int(_snapshot_entry(arrays, "stepper.clock", np.array(self.clock, dtype=np.int64)))

    def step(self, actions: np.ndarray) -> StepResult:
        """Decide at every account's current bar, fill at the next open, mark at the next close."""
        if np.any(self.bar >= self.end):
            raise InvalidParameterError("an episode has reached its last bar; reset it before stepping")
        loop = self.loop
        state = loop.state
        context = self.context()
        actions = np.asarray(actions)
        allowed = allowed_actions(self.action_space, actions, context)
        kind, size = self.action_space.bar_intents(actions, context)
        value_before = state.units * context.close
        equity_before = state.equity.copy()
        loop.clear_records()
        loop.submit(self.clock, context.close, kind, size, self.clock + (self.end - self.bar))  # last bars, on the clock
        self.clock += 1
        self.bar += 1
        open_, close = self.batch.open[self.accounts, self.bar], self.close_prices()
        loop.open_bar(self.clock, open_, close, self.days[self.accounts, self.bar])
        step_records = loop.all_records()
        step_records["bar"] = self.bar[step_records["scenario"]]
        self.tracker.update(self.bar, state)

        outcome = step_outcome(step_records, open_, close, state, value_before, equity_before, allowed,
                               self.tracker)
        rewards = reward_components(outcome, self.weights, self.scales)
        return StepResult(step_records, rewards, outcome, allowed,
                          terminated=state.equity <= 0.0, truncated=self.bar >= self.end)


def _snapshot_entry(arrays: dict[str, np.ndarray], key: str, like: np.ndarray) -> np.ndarray:
    """``arrays[key]``, checked to have ``like``'s shape and dtype."""
    if key not in arrays:
        raise InvalidParameterError(f"the snapshot lacks {key!r}; take it with snapshot() of the same kind of object")
    value = np.asarray(arrays[key])
    if value.shape != like.shape or value.dtype != like.dtype:
        raise InvalidParameterError(
            f"snapshot entry {key!r} is {value.dtype} {value.shape}, expected {like.dtype} {like.shape}: it was "
            "taken from an environment over other scenarios")
    return value
