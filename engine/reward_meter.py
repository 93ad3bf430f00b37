"""What one step did (:class:`~engine.rewards.StepOutcome`) and the reward components it earned,
measured as a driver steps the bar loop.

:func:`step_outcome` is the one definition of a step's outcome: the training environments'
stepper (``engine.envs.stepper``) and the batched rollout (through :class:`RewardMeter`) both call
it, so a backtest's stored reward components are the ones the same actions earn in training. A
market-scope rollout, compiled end to end, measures it in compiled form
(``engine.measured_simulation``); tests hold the two equal bit for bit.

A step is the decision at bar ``t``: its intents (and the risk overlay's) fill at ``t + 1``'s open
and the step is judged at ``t + 1``'s close. The step's records are every record written from the
decision's overlay to the close of ``t + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidParameterError
from engine.records import REASON_POLICY, STATUS_CLIPPED
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights, StepOutcome, reward_components
from engine.state import PortfolioState
from engine.tracking import AccountTracker

COMPONENT_CHUNK = 256
"""Steps whose reward components a :class:`RewardMeter` computes in one call."""


def step_outcome(records: np.ndarray, open_: np.ndarray, close: np.ndarray, state: PortfolioState,
                 value_before: np.ndarray, equity_before: np.ndarray, allowed: np.ndarray,
                 tracker: AccountTracker) -> StepOutcome:
    """The outcome of one step of ``K`` accounts over ``N`` symbols (arrays ``[K, N]``).

    Args:
        records: The step's ``order_dt`` records; ``scenario`` is the account.
        open_: ``[K, N]`` open prices of the fill bar.
        close: ``[K, N]`` close prices of the fill bar.
        state: The state after the fill bar's close.
        value_before: ``[K, N]`` signed position values at the decision bar's close.
        equity_before: ``[K]`` equity at the decision bar's close.
        allowed: ``[K, N]`` whether the action was allowed by the action space's mask.
        tracker: The accounts' statistics, already updated with the fill bar's close.
    """
    shape = state.units.shape
    cash_flow = np.zeros(shape)
    costs = np.zeros(shape)
    traded = np.zeros(shape, dtype=bool)
    failed = ~np.asarray(allowed, dtype=bool)
    if len(records):  # most steps of most accounts fill nothing
        filled = records[(records["side"] != 0) & (records["status"] <= STATUS_CLIPPED)]
        account, symbol = filled["scenario"].astype(np.int64), filled["symbol"].astype(np.int64)
        np.add.at(cash_flow, (account, symbol), -filled["side"] * filled["units"] * filled["price"] - filled["fees"])
        np.add.at(costs, (account, symbol),
                  filled["fees"] + filled["units"] * np.abs(filled["price"] - open_[account, symbol]))
        traded[account, symbol] = True
        rejected = records[(records["status"] > STATUS_CLIPPED) & (records["reason"] == REASON_POLICY)]
        failed[rejected["scenario"].astype(np.int64), rejected["symbol"].astype(np.int64)] = True

    units = state.units
    held = units != 0.0
    equity = state.equity
    entry = np.where(held, state.entry_price, close)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(equity[:, None] > 0.0, np.abs(units * close) / equity[:, None], 0.0)
    return StepOutcome(
        pnl=units * close - value_before + cash_flow,
        equity_before=np.asarray(equity_before)[:, None],
        costs=costs,
        position_return=np.where(held, np.sign(units) * (close / entry - 1.0), 0.0),
        hold_bars=tracker.hold_bars(),
        in_position=held,
        sharpe=tracker.sharpe()[:, None],
        drawdown=tracker.drawdown(equity)[:, None],
        weight=weight,
        idle=~held & ~traded,
        failed=failed,
    )


@dataclass(frozen=True)
class RewardSettings:
    """How a rollout measures the reward components of its decisions (the training defaults).

    Attributes:
        weights: Weights of the total.
        scales: Scales of the components.
        stats_window: Bar returns behind the rolling Sharpe estimate.
        ratio_clip: Bound of the rolling Sharpe estimate.
    """

    weights: RewardWeights = RewardWeights()
    scales: RewardScales = RewardScales()
    stats_window: int = 60
    ratio_clip: float = 10.0


class RewardMeter:
    """The reward components of every decision of ``K`` accounts, measured while they are stepped.

    A driver calls :meth:`start` after the first bar's close, :meth:`decided` at each decision
    (before the overlay), and :meth:`judged` after the next bar's close. Each step's outcome is
    measured when it is judged (it reads the accounts' statistics at that bar); the components, an
    elementwise function of the outcomes, are computed for :data:`COMPONENT_CHUNK` steps at a time
    (one call instead of one per bar; the same numbers).

    Args:
        n_accounts, n_symbols: ``K`` and ``N``.
        n_decisions: Decisions per account (``T - 1``); the components are kept ``[T - 1, K, N]``.
        bars_per_year: Annualization of the Sharpe estimate.
        settings: Weights, scales and the estimate's window.
    """

    def __init__(self, n_accounts: int, n_symbols: int, n_decisions: int, bars_per_year: float,
                 settings: RewardSettings = RewardSettings()) -> None:
        self.settings = settings
        self.tracker = AccountTracker(n_accounts, n_symbols, settings.stats_window, bars_per_year,
                                      settings.ratio_clip)
        self._components = {name: np.zeros((n_decisions, n_accounts, n_symbols))
                            for name in (*REWARD_COMPONENTS, "total")}
        self._before: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._pending: list[tuple[int, StepOutcome]] = []

    @property
    def components(self) -> dict[str, np.ndarray]:
        """``{component: [T - 1, K, N]}`` plus ``total``, for every step judged so far (0 for the others)."""
        self._flush()
        return self._components

    def start(self, bar: int, state: PortfolioState) -> None:
        """Start every account's statistics at ``bar`` (its first close)."""
        accounts = np.arange(len(state.equity))
        self.tracker.reset(accounts, np.full(len(accounts), bar, dtype=np.int64), state)

    def decided(self, state: PortfolioState, close: np.ndarray, allowed: np.ndarray) -> None:
        """Keep what the step is judged against: positions and equity at the decision's close."""
        self._before = (state.units * close, state.equity.copy(), np.asarray(allowed, dtype=bool))

    def judged(self, decision: int, records: np.ndarray, open_: np.ndarray, close: np.ndarray,
               state: PortfolioState) -> None:
        """Measure decision ``decision`` after bar ``decision + 1``'s close (``records``: the step's)."""
        if self._before is None:
            raise InvalidParameterError("RewardMeter.judged before decided: a step starts at a decision")
        bars = np.full(len(state.equity), decision + 1, dtype=np.int64)
        self.tracker.update(bars, state)
        value_before, equity_before, allowed = self._before
        outcome = step_outcome(records, open_, close, state, value_before, equity_before, allowed, self.tracker)
        self._pending.append((decision, outcome))
        self._before = None
        if len(self._pending) >= COMPONENT_CHUNK:
            self._flush()

    def _flush(self) -> None:
        """The components of the steps judged since the last flush, in one call over their outcomes."""
        if not self._pending:
            return
        steps = np.array([d for d, _ in self._pending])
        stacked = StepOutcome(*(np.stack([np.asarray(field) for field in fields])
                                for fields in zip(*(o for _, o in self._pending))))
        self._pending = []
        for name, values in reward_components(stacked, self.settings.weights, self.settings.scales).items():
            self._components[name][steps] = values
