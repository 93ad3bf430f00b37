"""Action spaces: how a policy's actions become order intents (``engine.records.OrderKind``).

* :class:`SymbolActions`: seven discrete actions with cash/position masks (docs/design.md, symbol agent).
* :class:`TacticalActions`: short / hold / long (docs/design.md, tactical team).
* :class:`StrategicExposure`: bull / neutral / bear probabilities mapped to a target exposure
  (docs/design.md, strategic team).
* :class:`TargetWeights`: a target weight per symbol (portfolio agent).

Target-based spaces emit an intent only when a target changes (by more than ``threshold``), so the
engine never trades to chase the price drift of an unchanged target. Everything is vectorized over
the batch; no Python loop runs over scenarios or symbols.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple, Protocol

import numpy as np

from engine.errors import InvalidParameterError
from engine.records import (
    KIND_DELTA_PERCENT,
    KIND_NONE,
    KIND_POSITION_FRACTION,
    KIND_TARGET_PERCENT,
)
from engine.state import KernelParams, PortfolioState


class BarContext(NamedTuple):
    """What an action space may read at a bar's close (arrays ``[S, N]`` unless noted).

    ``bar`` is the kernel's clock, the unit of the state's bar-valued fields (``cooldown_until``,
    ``breaker_until``). ``path_bar`` is each scenario's bar within its price path (an int, or
    ``[S]`` when accounts run on their own clocks as in the envs); ``None`` means ``bar``.
    Rebalancing schedules count ``path_bar``.
    """

    bar: int
    state: PortfolioState
    close: np.ndarray
    params: KernelParams
    last_target: np.ndarray  # targets emitted so far (NaN: none yet); updated in place
    path_bar: int | np.ndarray | None = None


class ActionSpace(Protocol):
    """Maps actions to intents ``(kind, size)``."""

    name: str
    n_actions: int  # discrete actions per symbol; 0 for continuous spaces
    action_names: tuple[str, ...]  # names of the discrete actions in index order; () for continuous spaces

    def bar_intents(self, actions: np.ndarray, context: BarContext) -> tuple[np.ndarray, np.ndarray]:
        """Intents ``[S, N]`` for actions decided at one bar (portfolio-scope rollout)."""
        ...

    def path_intents(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intents ``[T, N]`` for one path's actions at every bar (market-scope rollout)."""
        ...


class SymbolAction(IntEnum):
    """The seven discrete actions of the symbol-agent specification and the program plan (docs/design.md)."""

    HOLD = 0
    BUY_SMALL = 1
    BUY_MEDIUM = 2
    BUY_LARGE = 3
    SELL_PARTIAL = 4
    SELL_ALL = 5
    ADD_TO_POSITION = 6


@dataclass(frozen=True)
class SymbolActions:
    """Seven discrete actions per symbol, masked by position and cash (the symbol-agent specification).

    Sizes are fractions of the scenario's equity (buys, add) or of the position (partial sell):
    BUY_SMALL 2.5%, BUY_MEDIUM 6%, BUY_LARGE 9%, SELL_PARTIAL 50%, ADD_TO_POSITION 3%.
    Masks (``True`` = allowed): HOLD always; buys only without a position, while the scenario's
    gross exposure is below ``max_exposure`` and cash covers the buy with fees; sells only with a
    position; add only with a position, exposure below ``max_exposure`` and cash for 3%; buys and
    add also need room under the position and gross limits and no active halt or cooldown.
    A masked action that reaches ``bar_intents`` anyway is executed as HOLD.
    """

    buy_sizes: tuple[float, float, float] = (0.025, 0.06, 0.09)
    sell_partial: float = 0.5
    add_size: float = 0.03
    max_exposure: float = 0.9
    name: str = "symbol7"
    n_actions: int = 7
    action_names: tuple[str, ...] = tuple(a.name.lower() for a in SymbolAction)

    def masks(self, context: BarContext) -> np.ndarray:
        """Allowed actions ``[S, N, 7]`` (``True`` = allowed).

        Besides the specification's rules, buys and adds are masked when they would be rejected: while
        the scenario is halted (drawdown breaker, daily loss limit) or the symbol cools down after a
        stop, and when the position or gross limit leaves no room for them.
        """
        state, close, params = context.state, context.close, context.params
        units = state.units
        equity = np.maximum(state.equity, 1e-12)[:, None]
        weight = units * close / equity
        exposure = np.abs(weight).sum(axis=1, keepdims=True)
        cash_fraction = state.cash[:, None] / equity
        fee_factor = (1.0 + params.fees + params.slippage + 0.5 * params.spread)[:, None]
        position_room = params.position_limit[:, None] - weight
        gross_room = params.gross_limit[:, None] - exposure
        halted = ((state.breaker_until >= 0) | (state.day_halted != 0))[:, None] | (state.cooldown_until >= context.bar)
        has_position = units > 0.0
        can_add = (exposure < self.max_exposure) & ~halted

        def fits(size: float) -> np.ndarray:
            return (cash_fraction >= size * fee_factor) & (position_room >= size) & (gross_room >= size)

        mask = np.zeros(units.shape + (7,), dtype=bool)
        mask[..., SymbolAction.HOLD] = True
        for action, size in zip((1, 2, 3), self.buy_sizes):
            mask[..., action] = ~has_position & can_add & fits(size)
        mask[..., SymbolAction.SELL_PARTIAL] = has_position
        mask[..., SymbolAction.SELL_ALL] = has_position
        mask[..., SymbolAction.ADD_TO_POSITION] = has_position & can_add & fits(self.add_size)
        return mask

    def bar_intents(self, actions: np.ndarray, context: BarContext) -> tuple[np.ndarray, np.ndarray]:
        actions = _check_discrete(actions, 7, context.state.units.shape)
        allowed = np.take_along_axis(self.masks(context), actions[..., None], axis=-1)[..., 0]
        actions = np.where(allowed, actions, SymbolAction.HOLD)
        kind_table = np.array([KIND_NONE, KIND_DELTA_PERCENT, KIND_DELTA_PERCENT, KIND_DELTA_PERCENT,
                               KIND_POSITION_FRACTION, KIND_POSITION_FRACTION, KIND_DELTA_PERCENT], np.int8)
        size_table = np.array([0.0, *self.buy_sizes, 1.0 - self.sell_partial, 0.0, self.add_size])
        return kind_table[actions], size_table[actions]

    def path_intents(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise InvalidParameterError(
            "the seven-action space depends on the portfolio (its masks read position and cash); "
            "declare the policy's scope as 'portfolio'"
        )


@dataclass(frozen=True)
class TacticalActions:
    """Short (0) / hold (1) / long (2) per symbol; hold keeps the last target (tactical-team specification).

    Long and short target ``+exposure`` / ``-exposure`` of equity per symbol (a long-only scenario
    turns short into flat). With ``split_across_symbols`` the target is ``+-exposure / N`` in each of
    the ``N`` symbols, so a book whose every symbol is long holds ``exposure`` in all (a team that
    decides each symbol on its own stays inside a gross limit of 1).
    """

    exposure: float = 1.0
    split_across_symbols: bool = False
    name: str = "tactical3"
    n_actions: int = 3
    action_names: tuple[str, ...] = ("short", "hold", "long")

    def _targets(self, actions: np.ndarray) -> np.ndarray:
        exposure = self.exposure / actions.shape[-1] if self.split_across_symbols and actions.ndim else self.exposure
        return np.where(actions == 2, exposure, np.where(actions == 0, -exposure, np.nan))

    def bar_intents(self, actions: np.ndarray, context: BarContext) -> tuple[np.ndarray, np.ndarray]:
        actions = _check_discrete(actions, 3, context.state.units.shape)
        return _emit_changes(self._targets(actions), context.last_target, threshold=0.0)

    def path_intents(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        actions = _check_discrete(actions, 3, actions.shape)
        return _path_changes(self._targets(actions), threshold=0.0)


@dataclass(frozen=True)
class StrategicExposure:
    """Probabilities ``[..., 3]`` (bull, neutral, bear) -> target ``max_exposure * (p_bull - p_bear)``.

    The strategic-team specification's bull / neutral / bear output. A new target is emitted when it
    moves at least ``threshold`` from the last emitted one.
    """

    max_exposure: float = 1.0
    threshold: float = 0.05
    name: str = "strategic3"
    n_actions: int = 0
    action_names: tuple[str, ...] = ()

    def _targets(self, probabilities: np.ndarray) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape[-1] != 3:
            raise InvalidParameterError(
                f"strategic actions are (bull, neutral, bear) probabilities, last axis 3; got {probabilities.shape}"
            )
        if np.any(probabilities < -1e-9) or np.any(np.abs(probabilities.sum(-1) - 1.0) > 1e-6):
            raise InvalidParameterError("strategic probabilities must be >= 0 and sum to 1 per decision")
        return self.max_exposure * (probabilities[..., 0] - probabilities[..., 2])

    def bar_intents(self, actions: np.ndarray, context: BarContext) -> tuple[np.ndarray, np.ndarray]:
        return _emit_changes(self._targets(actions), context.last_target, self.threshold)

    def path_intents(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _path_changes(self._targets(actions), self.threshold)


@dataclass(frozen=True)
class TargetWeights:
    """A target weight of equity per symbol; NaN keeps the last target.

    With ``rebalance_every = k > 0`` every non-NaN target is also re-sent on bars ``0, k, 2k, ...``
    (a rebalancing schedule), so weights that drifted with prices are restored.
    """

    threshold: float = 0.0
    rebalance_every: int = 0
    name: str = "weights"
    n_actions: int = 0
    action_names: tuple[str, ...] = ()

    def bar_intents(self, actions: np.ndarray, context: BarContext) -> tuple[np.ndarray, np.ndarray]:
        targets = np.asarray(actions, dtype=np.float64)
        kind, size = _emit_changes(targets, context.last_target, self.threshold)
        if self.rebalance_every > 0:
            path_bar = context.bar if context.path_bar is None else context.path_bar
            on_schedule = np.reshape(np.asarray(path_bar) % self.rebalance_every == 0, (-1, 1))
            due = ~np.isnan(targets) & on_schedule
            kind[due] = KIND_TARGET_PERCENT
            size[due] = targets[due]
        return kind, size

    def path_intents(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        targets = np.asarray(actions, dtype=np.float64)
        kind, size = _path_changes(targets, self.threshold)
        if self.rebalance_every > 0:
            scheduled = np.zeros(len(targets), dtype=bool)
            scheduled[:: self.rebalance_every] = True
            due = scheduled.reshape((-1,) + (1,) * (targets.ndim - 1)) & ~np.isnan(targets)
            kind[due] = KIND_TARGET_PERCENT
            size[due] = targets[due]
        return kind, size


def _check_discrete(actions: np.ndarray, n_actions: int, shape: tuple[int, ...]) -> np.ndarray:
    actions = np.asarray(actions)
    if actions.shape != shape:
        raise InvalidParameterError(f"expected actions of shape {shape}, got {actions.shape}")
    if not np.issubdtype(actions.dtype, np.integer):
        if not np.all(np.isfinite(actions)) or np.any(actions != np.round(actions)):
            raise InvalidParameterError("discrete actions must be integers")
        actions = actions.astype(np.int64)
    if actions.size and (actions.min() < 0 or actions.max() >= n_actions):
        raise InvalidParameterError(f"discrete actions must lie in 0..{n_actions - 1}")
    return actions


def _emit_changes(targets: np.ndarray, last_target: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """TARGET_PERCENT intents where a (non-NaN) target moved more than ``threshold``; updates ``last_target``."""
    if targets.shape != last_target.shape:
        raise InvalidParameterError(f"expected targets of shape {last_target.shape}, got {targets.shape}")
    changed = ~np.isnan(targets) & (np.isnan(last_target) | (np.abs(targets - last_target) > threshold))
    kind = np.where(changed, KIND_TARGET_PERCENT, KIND_NONE).astype(np.int8)
    size = np.where(changed, targets, 0.0)
    last_target[changed] = targets[changed]
    return kind, size


def _path_changes(targets: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_emit_changes` over the bar axis of ``targets`` ``[T, ...]``."""
    last = np.full(targets.shape[1:], np.nan)
    kind = np.zeros(targets.shape, dtype=np.int8)
    size = np.zeros(targets.shape)
    if threshold == 0.0:
        # Vectorized: an intent wherever the forward-filled target differs from the previous one.
        filled = _forward_fill(targets)
        previous = np.concatenate([np.full((1,) + targets.shape[1:], np.nan), filled[:-1]])
        changed = ~np.isnan(targets) & (np.isnan(previous) | (targets != previous))
        kind[changed] = KIND_TARGET_PERCENT
        size[changed] = targets[changed]
        return kind, size
    for t in range(len(targets)):  # a threshold makes each emission depend on the last one
        kind[t], size[t] = _emit_changes(targets[t], last, threshold)
    return kind, size


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along axis 0."""
    index = np.where(~np.isnan(values), np.arange(len(values)).reshape((-1,) + (1,) * (values.ndim - 1)), 0)
    np.maximum.accumulate(index, axis=0, out=index)
    filled = np.take_along_axis(values, index, axis=0)
    return filled


def allowed_actions(action_space: ActionSpace, actions: np.ndarray, context: BarContext) -> np.ndarray:
    """``[S, N]`` whether each discrete action is allowed by the space's masks at ``context``.

    Spaces without masks (targets, weights) allow every action.
    """
    masks = getattr(action_space, "masks", None)
    if masks is None:
        return np.ones(context.state.units.shape, dtype=bool)
    allowed = masks(context)
    index = np.clip(np.asarray(actions).astype(np.int64), 0, allowed.shape[-1] - 1)[..., None]
    return np.take_along_axis(allowed, index, axis=-1)[..., 0]
