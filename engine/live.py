"""One live account stepped one bar at a time as bars arrive: the rollout's bar loop for paper trading.

``engine.rollout`` steps a whole :class:`~engine.scenarios.ScenarioBatch` whose bars are known in
advance; a paper-trading loop gets one bar at a time from a feed. :class:`LiveAccount` steps the
same :class:`~engine.bar_loop.BarLoop` on one scenario (``S = 1``), so a replay of a dataset
reproduces the backtest's orders, fills and equity bit for bit. Per bar ``t``:

1. :meth:`LiveAccount.open_bar`: the intents decided at ``t - 1`` fill at ``t``'s open and equity is
   marked at ``t``'s close (the bar loop's first half); the caller (a broker simulator) owns the
   working intents; the trading-day id steps at each new UTC date, as
   ``engine.rollout.trading_day_ids`` counts it;
2. a live policy (:class:`LiveMarketPolicy`, :class:`LivePortfolioPolicy`) turns the policy's
   actions at ``t`` into intents through the action space's ``bar_intents``;
3. :meth:`LiveAccount.submit`: those intents and the risk overlay (the bar loop's second half).

Nothing is decided on a feed's final bar (the rollout's last bar). A market-scope policy's view is
built from the bars received so far (:class:`BarHistory`): every baseline signal at bar ``t`` reads
bars ``0..t`` only and never changes when later bars are added, so building it from the history up
to ``t`` gives the value a backtest reads at ``t`` from the whole path. A portfolio-scope policy
observes through an :class:`~engine.live_observation.LiveObservation`, which takes each bar once and
computes only its feature rows, equal bit for bit to the batch builder's rows at that bar. A history
of one bar is padded with one flat bar when a path is asked for (a path needs two); the padding comes
after bar ``t`` and so cannot change what is read at ``t``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from engine.actions import BarContext
from engine.bar_loop import BarLoop
from engine.data.market import FIELDS
from engine.errors import InvalidParameterError
from engine.features.streaming import StreamingFeatures
from engine.live_observation import LiveObservation
from engine.policy import Policy
from engine.records import KIND_POSITION_FRACTION, REASON_KILL_SWITCH
from engine.scenarios import ScenarioParams
from engine.scenarios.path import PricePath
from engine.state import Intents, KernelParams, PortfolioState, empty_intents, initial_state
from engine.tracking import AccountTracker

# Decides on every bar it is asked to: a live account has no known last bar.
_NO_LAST_DECISION = np.array([np.iinfo(np.int64).max], dtype=np.int64)
_TRACKER_FIELDS = ("returns", "head", "prev_equity", "peak", "prev_units", "entry_bar", "bar", "annualize",
                   "ratio_clip", "window")


class Decision(NamedTuple):
    """What a live policy produced at one bar.

    Attributes:
        actions: The policy's actions for the bar, ``[N, ...]``.
        kind, size: Intents ``[1, N]`` from the action space (before the risk overlay).
        extras: The policy's extras for the bar (``[N, ...]`` each).
    """

    actions: np.ndarray
    kind: np.ndarray
    size: np.ndarray
    extras: dict[str, np.ndarray]


class BarHistory:
    """The bars received so far, ``[t + 1, N]`` per OHLCV field, grown one bar at a time.

    Args:
        symbols: Symbol names (the column order of every bar).
        frequency: Bar frequency (pandas offset alias); the features' annualization reads it.
        label: Name of the market path in views and batches.
    """

    def __init__(self, symbols: tuple[str, ...], frequency: str, label: str = "live") -> None:
        self.symbols = tuple(symbols)
        self.frequency = frequency
        self.label = label
        self._step = pd.Timedelta(pd.tseries.frequencies.to_offset(frequency))
        self._arrays = {f: np.empty((64, len(self.symbols))) for f in FIELDS}
        self._stamps = np.empty(64, dtype=np.int64)
        self.n_bars = 0

    def append(self, timestamp: pd.Timestamp, bar: dict[str, np.ndarray]) -> int:
        """Add the next bar (``{field: [N]}``); returns its index. Timestamps must increase."""
        stamp = pd.Timestamp(timestamp).as_unit("ns").value
        if self.n_bars and stamp <= self._stamps[self.n_bars - 1]:
            raise InvalidParameterError(
                f"bar at {pd.Timestamp(stamp, tz='UTC')} does not follow the previous bar "
                f"({pd.Timestamp(int(self._stamps[self.n_bars - 1]), tz='UTC')}); bars must arrive in order")
        if self.n_bars == len(self._stamps):
            self._stamps = np.concatenate([self._stamps, np.empty_like(self._stamps)])
            self._arrays = {f: np.concatenate([a, np.empty_like(a)]) for f, a in self._arrays.items()}
        for f in FIELDS:
            values = np.asarray(bar[f], dtype=np.float64)
            if values.shape != (len(self.symbols),):
                raise InvalidParameterError(f"bar field {f!r} has shape {values.shape}, expected ({len(self.symbols)},)")
            self._arrays[f][self.n_bars] = values
        self._stamps[self.n_bars] = stamp
        self.n_bars += 1
        return self.n_bars - 1

    @property
    def last_timestamp(self) -> pd.Timestamp | None:
        """The newest bar's timestamp (None before the first bar)."""
        return pd.Timestamp(int(self._stamps[self.n_bars - 1]), tz="UTC") if self.n_bars else None

    def bar(self, t: int) -> dict[str, np.ndarray]:
        """Bar ``t``'s fields (``{field: [N]}``, copies)."""
        if not 0 <= t < self.n_bars:
            raise InvalidParameterError(f"bar {t} is not in the history of {self.n_bars} bar(s)")
        return {f: self._arrays[f][t].copy() for f in FIELDS}

    def path(self) -> PricePath:
        """The history as a market path (padded to two bars after the first bar)."""
        n = self.n_bars
        if n == 0:
            raise InvalidParameterError("the history holds no bar yet")
        arrays = {f: self._arrays[f][:n] for f in FIELDS}
        stamps = self._stamps[:n]
        if n == 1:
            last = arrays["close"][0]
            pad = {"open": last, "high": last, "low": last, "close": last, "volume": np.zeros_like(last)}
            arrays = {f: np.vstack([arrays[f], pad[f][None]]) for f in FIELDS}
            stamps = np.append(stamps, stamps[0] + self._step.value)
        index = pd.DatetimeIndex(pd.to_datetime(stamps, unit="ns", utc=True), name="timestamp")
        return PricePath(self.label, index, self.symbols, frequency=self.frequency, **arrays)


class LiveAccount:
    """One account over ``N`` symbols, advanced bar by bar through the engine's bar loop.

    Args:
        params: Costs, cash and risk limits.
        n_symbols: ``N``.
    """

    def __init__(self, params: ScenarioParams, n_symbols: int) -> None:
        self.scenario_params = params
        self.params = KernelParams(**{name: np.array([float(getattr(params, name))]) for name in KernelParams._fields})
        self.n_symbols = n_symbols
        self.loop = BarLoop(self.params, n_symbols)
        self.day = -1
        self.date = -1  # UTC date (ns at midnight) of the last closed bar
        self.bar = -1  # last closed bar

    @property
    def state(self) -> PortfolioState:
        """The account's portfolio state (``S = 1``)."""
        return self.loop.state

    @property
    def last_target(self) -> np.ndarray:
        """``[1, N]`` targets emitted so far (NaN: none); target action spaces update it in place."""
        return self.loop.last_target

    def open_bar(self, bar: int, timestamp: pd.Timestamp, open_: np.ndarray, close: np.ndarray,
                 intents: Intents) -> np.ndarray:
        """Fill ``intents`` at bar ``bar``'s open ``[N]``, then mark at its close ``[N]``; returns the fill records."""
        date = pd.Timestamp(timestamp).normalize().as_unit("ns").value
        if date != self.date:
            self.day += 1
            self.date = date
        self.loop.clear_records()
        self.loop.open_bar(bar, self.prices(open_), self.prices(close), np.array([self.day], dtype=np.int64),
                           pending=intents)
        self.bar = bar
        return self.loop.all_records()

    @staticmethod
    def prices(values: np.ndarray) -> np.ndarray:
        """``values`` ``[N]`` as the kernels' ``[1, N]`` contiguous array."""
        return np.array(values, dtype=np.float64).reshape(1, -1)

    def context(self, close: np.ndarray) -> BarContext:
        """What the action space and the observation read after bar ``bar``'s close."""
        return BarContext(self.bar, self.state, self.prices(close), self.params, self.last_target)

    def submit(self, bar: int, close: np.ndarray, kind: np.ndarray, size: np.ndarray) -> tuple[Intents, np.ndarray]:
        """The intents ``kind``/``size`` ``[1, N]`` decided at bar ``bar`` under the risk overlay.

        Returns the intents that go to the broker (a copy) and the overlay's records (blocked intents).
        """
        self.loop.clear_records()
        self.loop.submit(bar, self.prices(close), kind, size, _NO_LAST_DECISION)
        pending = self.loop.pending
        return Intents(pending.kind.copy(), pending.size.copy(), pending.reason.copy()), self.loop.all_records()

    def flatten_intents(self) -> Intents:
        """Intents that close every open position at the next open (the kill switch)."""
        intents = empty_intents(1, self.n_symbols)
        held = self.state.units != 0.0
        intents.kind[held] = KIND_POSITION_FRACTION
        intents.reason[held] = REASON_KILL_SWITCH
        return intents

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly, as JSON types (floats round-trip exactly)."""
        return {"state": {name: getattr(self.state, name).tolist() for name in PortfolioState._fields},
                "last_target": self.last_target.tolist(), "day": self.day, "date": self.date, "bar": self.bar}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot`."""
        fresh = initial_state(self.params, self.n_symbols)
        values = snapshot["state"]
        for name in PortfolioState._fields:
            getattr(self.state, name)[...] = np.array(values[name], dtype=getattr(fresh, name).dtype)
        self.last_target[...] = np.array(snapshot["last_target"], dtype=np.float64)
        self.day, self.date, self.bar = int(snapshot["day"]), int(snapshot["date"]), int(snapshot["bar"])


def warm_up_kernels(params: ScenarioParams, n_symbols: int) -> None:
    """Load the bar loop's kernels and the streaming features' steps for ``n_symbols`` on a scratch
    account, so that the first live bar does not pay for Numba's cache load (about a
    second) and numpy's first calls."""
    account = LiveAccount(params, n_symbols)
    prices = np.ones(n_symbols)
    nothing = np.zeros((1, n_symbols))
    account.open_bar(0, pd.Timestamp("2000-01-03", tz="UTC"), prices, prices, empty_intents(1, n_symbols))
    account.submit(0, prices, nothing.astype(np.int8), nothing)
    features = StreamingFeatures(n_symbols, 252.0)
    for _ in range(2):
        features.append(prices, prices, prices, prices, prices)


class LiveMarketPolicy:
    """A market-scope policy decided bar by bar: ``act_market`` over the history, the newest row.

    The action space's ``bar_intents`` emits a target when it changes (``last_target``), as its
    ``path_intents`` does over a whole path in the backtest.
    """

    def __init__(self, policy: Policy) -> None:
        if policy.scope != "market":
            raise InvalidParameterError(f"policy {policy.name!r} has scope {policy.scope!r}, not 'market'")
        self.policy = policy

    def track(self, history: BarHistory, bar: int, state: PortfolioState) -> None:
        """Market-scope policies keep no account statistics."""

    def decide(self, history: BarHistory, context: BarContext) -> Decision:
        """The policy's decision at the newest bar of ``history``."""
        t = history.n_bars - 1
        output = self.policy.act_market(history.path())
        actions = np.asarray(output.actions)[t]
        kind, size = self.policy.action_space.bar_intents(actions.reshape((1,) + actions.shape), context)
        extras = {k: np.asarray(v)[t] for k, v in output.extras.items()}
        return Decision(actions, kind, size, extras)

    def snapshot(self) -> dict[str, Any]:
        """Market-scope policies carry no state between bars (the account holds the last targets)."""
        return {}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Nothing to restore (see :meth:`snapshot`)."""


class LivePortfolioPolicy:
    """A portfolio-scope policy decided bar by bar on observations grown with the history.

    Args:
        policy: The policy (``act`` on ``[N, ...]`` observation rows).
        observation: The account's live observation, e.g.
            :class:`~engine.live_observation.LiveObservation` with the checkpoint's normalizer; it
            takes each bar of the history once (in :meth:`track`), so a bar costs the same however
            long the history is.
    """

    def __init__(self, policy: Policy, observation: LiveObservation) -> None:
        if policy.scope != "portfolio":
            raise InvalidParameterError(f"policy {policy.name!r} has scope {policy.scope!r}, not 'portfolio'")
        self.policy = policy
        self.observation = observation
        self.tracker: AccountTracker | None = None
        self._restored: dict[str, Any] | None = None

    def track(self, history: BarHistory, bar: int, state: PortfolioState) -> None:
        """Take the history's new bars and record the account's close at ``bar`` in the return and
        hold-time statistics.

        Called on every bar after ``close``, as the rollout's observer sees every deciding bar; the
        statistics start at the first bar (or continue a restored :meth:`snapshot`).
        """
        while self.observation.n_bars < history.n_bars:
            self.observation.append(history.bar(self.observation.n_bars))
        bars = np.array([bar], dtype=np.int64)
        if self.tracker is None:
            self.tracker = self.observation.new_tracker(1)
            if self._restored is None:
                self.tracker.reset(np.arange(1), bars, state)
                return
            _load_tracker(self.tracker, self._restored)
            self._restored = None
        self.tracker.update(bars, state)

    def decide(self, history: BarHistory, context: BarContext) -> Decision:
        """The policy's decision at the newest bar of ``history`` (after :meth:`track`)."""
        if self.tracker is None or self.observation.n_bars != history.n_bars:
            raise InvalidParameterError("track() the bar before deciding on it")
        output = self.policy.act(self.observation.build(context, self.tracker))
        actions = np.asarray(output.actions)
        n = context.state.units.shape[1]
        kind, size = self.policy.action_space.bar_intents(actions.reshape((1, n) + actions.shape[1:]), context)
        return Decision(actions, kind, size, {k: np.asarray(v) for k, v in output.extras.items()})

    def snapshot(self) -> dict[str, Any]:
        """The account statistics as JSON types (empty before the first bar).

        The observation's feature state is not in it: it is rebuilt from the journaled bars.
        """
        if self.tracker is None:
            return dict(self._restored or {})
        return {name: (v.tolist() if isinstance(v := getattr(self.tracker, name), np.ndarray) else v)
                for name in _TRACKER_FIELDS}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue the statistics of a :meth:`snapshot` at the next :meth:`track`."""
        self.tracker = None
        self._restored = dict(snapshot) if snapshot else None


def _load_tracker(tracker: AccountTracker, values: dict[str, Any]) -> None:
    """Set ``tracker``'s statistics from a :meth:`LivePortfolioPolicy.snapshot`."""
    for name in _TRACKER_FIELDS:
        current = getattr(tracker, name)
        if isinstance(current, np.ndarray):
            setattr(tracker, name, np.array(values[name], dtype=current.dtype).reshape(current.shape))
        else:
            setattr(tracker, name, type(current)(values[name]))


def live_policy(policy: Policy, observation: LiveObservation | None) -> LiveMarketPolicy | LivePortfolioPolicy:
    """The live form of ``policy`` for its scope (portfolio scope needs the account's ``observation``)."""
    if policy.scope == "market":
        return LiveMarketPolicy(policy)
    if policy.scope == "portfolio":
        if observation is None:
            raise InvalidParameterError(f"policy {policy.name!r} reads the portfolio; pass its live observation")
        return LivePortfolioPolicy(policy, observation)
    raise InvalidParameterError(f"policy {policy.name!r} has unknown scope {policy.scope!r}; use 'market' or 'portfolio'")
