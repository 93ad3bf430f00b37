"""The symbol agent's observation of every (scenario, symbol) row, for the rollout and the environments.

``ObservationBuilder`` implements the rollout's ``Observer``: at bar ``t`` it returns, for the batch
of ``S * N`` rows (scenario-major: row ``s * N + n``), the dict

=============  ===========  ==================================================================
technical      [B, 24, 23]  the technical block (``engine.features.technical``), rows ``t-23..t``,
                            normalized with a frozen ``FittedNormalizer`` and clipped to +-10
sl_probs       [B, 3]       supervised-model probabilities (MLP, LSTM, GRU); 0.5 each (neutral)
                            unless causal probabilities are supplied
position       [B, 5]       :data:`POSITION_FIELDS`
portfolio      [B, 8]       :data:`PORTFOLIO_FIELDS` (per scenario, repeated for its symbols)
regime         [B, 10]      the regime block (``engine.features.regime_block``) at ``t``, raw:
                            it is bounded by construction and needs no normalizer
action_mask    [B, 7]       ``SymbolActions.masks`` (only when the builder has an action space)
=============  ===========  ==================================================================

All values are float32 (the mask is bool); position and portfolio slots are clipped to
``+-state_clip`` (100). Warm-up: a feature that is still NaN at ``t`` and a window
row before bar 0 read as 0; every slot is warm from :attr:`ObservationBuilder.warmup` (bar 271, the
regime block's ``vol_percentile``) on. Features at bar ``t`` read bars ``0..t`` only, the portfolio
slots the state after ``t``'s close, so no observation sees a later bar.

Position slots (per symbol, at ``t``'s close ``c``, equity ``E``, units ``u``, entry price ``p``):

* ``entry_vs_close`` ``p / c - 1`` (0 when flat);
* ``weight`` ``u * c / E`` (signed: negative when short);
* ``unrealized_pnl`` ``u * (c - p) / E``, the open position's profit as a fraction of equity;
* ``hold_time`` bars since the position was opened / ``hold_scale`` (100 bars = 1.0);
* ``side`` ``sign(u)``: +1 long, -1 short, 0 flat.

Portfolio slots (per scenario, initial cash ``C0``):

* ``equity_return`` ``E / C0 - 1``;
* ``gross_exposure`` ``sum |u * c| / E``;
* ``cash_fraction`` ``cash / E``;
* ``drawdown`` ``1 - E / peak``, peak = the highest close equity since the start (>= 0);
* ``realized_pnl`` ``(E - C0 - sum u * (c - p)) / C0``, closed trades' profit net of all fees;
* ``sharpe``, ``sortino`` rolling annualized ratios of the last ``stats_window`` bar returns,
  clipped to +-10 (``engine.tracking``);
* ``open_positions`` number of open positions / ``N``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from engine.actions import BarContext, SymbolActions
from engine.data.market import MarketData, bars_per_year
from engine.errors import InvalidParameterError
from engine.feature_windows import FeatureWindows, Period, compute_family, fit_normalizer
from engine.features.normalize import NORMALIZATION_METHODS, FittedNormalizer
from engine.features.regime_block import REGIME_COLUMNS, REGIME_WARMUP, regime_features
from engine.features.technical import (
    TECHNICAL_COLUMNS,
    TECHNICAL_WARMUP,
    TECHNICAL_WINDOW,
    technical_features,
)
from engine.scenarios import ScenarioBatch, from_market
from engine.tracking import AccountTracker

logger = logging.getLogger(__name__)

POSITION_FIELDS: tuple[str, ...] = ("entry_vs_close", "weight", "unrealized_pnl", "hold_time", "side")
PORTFOLIO_FIELDS: tuple[str, ...] = (
    "equity_return", "gross_exposure", "cash_fraction", "drawdown", "realized_pnl", "sharpe", "sortino",
    "open_positions",
)
SL_MODELS: tuple[str, ...] = ("mlp", "lstm", "gru")
NEUTRAL_SL_PROBABILITY = 0.5
OBSERVATION_WARMUP = max(TECHNICAL_WARMUP + TECHNICAL_WINDOW - 1, REGIME_WARMUP)
REGIME_CLIP = 1.0
"""Bound of the regime rows (bounded by construction; the clip only guards against rounding)."""
"""First bar at which no slot of the observation is a zero-filled warm-up value (271)."""


@dataclass(frozen=True)
class ObservationConfig:
    """Scales of the observation.

    Attributes:
        stats_window: Bar returns behind the rolling Sharpe and Sortino ratios.
        hold_scale: Bars of holding that read as 1.0 in ``hold_time``.
        ratio_clip: Bound of the Sharpe and Sortino slots.
        feature_clip: Bound of the normalized technical values.
        state_clip: Bound of the position and portfolio slots (a guard against extreme leverage or
            runaway equity; ordinary values are far inside it).
        normalization: Method of a normalizer fitted here (``zscore``, ``minmax``, ``robust``).
    """

    stats_window: int = 60
    hold_scale: float = 100.0
    ratio_clip: float = 10.0
    feature_clip: float = 10.0
    state_clip: float = 100.0
    normalization: str = "zscore"

    def __post_init__(self) -> None:
        if isinstance(self.stats_window, bool) or not isinstance(self.stats_window, int) or self.stats_window < 2:
            raise InvalidParameterError(f"stats_window must be an integer >= 2, got {self.stats_window!r}")
        for name in ("hold_scale", "ratio_clip", "feature_clip", "state_clip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isfinite(value) and value > 0):
                raise InvalidParameterError(f"ObservationConfig.{name} must be a positive number, got {value!r}")
        if self.normalization not in NORMALIZATION_METHODS:
            raise InvalidParameterError(
                f"unknown normalization {self.normalization!r}; use one of {', '.join(NORMALIZATION_METHODS)}")


class ObservationBuilder:
    """Builds the symbol agent's dict observation for every (scenario, symbol) row of a batch.

    Args:
        batch: The scenarios observed; features are computed once per distinct market path.
        normalizer: Frozen statistics of the technical block (e.g. from a checkpoint).
        fit_period: ``(start, end)`` of the training period to fit the normalizer on instead
            (None for an open end; ``(None, None)`` fits on all bars, which leaks later statistics
            into earlier observations and is only fair for in-sample work).
        config: Scales of the observation.
        sl_probs: Optional ``[P, T, N, 3]`` probabilities per distinct path (``path_ids`` order), bar
            and symbol from supervised models; the value at bar ``t`` must use bars ``0..t`` only.
            Without it every row reads :data:`NEUTRAL_SL_PROBABILITY`.
        action_space: When given, observations carry its ``action_mask``.

    Raises:
        InvalidParameterError: neither or both of ``normalizer`` and ``fit_period``, or a malformed
            ``sl_probs``.
    """

    def __init__(self, batch: ScenarioBatch, *, normalizer: FittedNormalizer | None = None,
                 fit_period: Period | None = None, config: ObservationConfig = ObservationConfig(),
                 sl_probs: np.ndarray | None = None, action_space: SymbolActions | None = None) -> None:
        if (normalizer is None) == (fit_period is None):
            raise InvalidParameterError(
                "pass exactly one of normalizer= (frozen statistics, e.g. from a checkpoint) and "
                "fit_period=(start, end) (the training period to fit them on)")
        self.batch = batch
        self.config = config
        self.action_space = action_space
        self.bars_per_year = bars_per_year(batch.frequency)
        technical, columns = compute_family(batch, technical_features)
        if normalizer is None:
            normalizer = fit_normalizer(batch, technical, columns, fit_period, config.normalization)
            logger.info("fitted a %s normalizer of the technical block on %d rows (%s .. %s)",
                        normalizer.method, normalizer.n_rows, normalizer.fit_start, normalizer.fit_end)
        self.technical = FeatureWindows(technical, columns, TECHNICAL_WINDOW, normalizer, config.feature_clip)
        regime, regime_columns = compute_family(
            batch, lambda bars: regime_features(bars, bars_per_year=self.bars_per_year))
        self.regime = FeatureWindows(regime, regime_columns, 1, None, clip=REGIME_CLIP)
        self.sl_probs = None if sl_probs is None else self._check_sl_probs(sl_probs)
        self._tracker: AccountTracker | None = None
        self._last_bar: int | None = None

    @classmethod
    def from_market(cls, data: MarketData, **kwargs) -> "ObservationBuilder":
        """A builder over ``data`` as one scenario (``engine.scenarios.from_market``)."""
        return cls(from_market(data), **kwargs)

    @property
    def normalizer(self) -> FittedNormalizer:
        """The frozen statistics of the technical block; store them with a checkpoint."""
        return self.technical.normalizer

    @property
    def warmup(self) -> int:
        """First bar at which no slot is a zero-filled warm-up value."""
        return OBSERVATION_WARMUP

    def new_tracker(self, n_accounts: int) -> AccountTracker:
        """An :class:`AccountTracker` with this builder's window and annualization."""
        return account_tracker(n_accounts, self.batch.n_symbols, self.config, self.bars_per_year)

    def observation_space(self, include_mask: bool = False) -> spaces.Dict:
        """The gymnasium space of one row's observation (``action_mask`` only when asked)."""
        clip, bound = self.config.feature_clip, self.config.state_clip
        parts = {
            "technical": spaces.Box(-clip, clip, (TECHNICAL_WINDOW, len(TECHNICAL_COLUMNS)), np.float32),
            "sl_probs": spaces.Box(0.0, 1.0, (len(SL_MODELS),), np.float32),
            "position": spaces.Box(-bound, bound, (len(POSITION_FIELDS),), np.float32),
            "portfolio": spaces.Box(-bound, bound, (len(PORTFOLIO_FIELDS),), np.float32),
            "regime": spaces.Box(-1.0, 1.0, (len(REGIME_COLUMNS),), np.float32),
        }
        if include_mask:
            parts["action_mask"] = spaces.MultiBinary(7)
        return spaces.Dict(parts)

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        """The rollout's ``Observer``: rows of every scenario at ``bar`` (bars must come in order).

        A bar at or before the previous one starts a new run.
        """
        n_scenarios = context.state.units.shape[0]
        bars = np.full(n_scenarios, bar, dtype=np.int64)
        if self._tracker is None or self._last_bar is None or bar <= self._last_bar:
            self._tracker = self.new_tracker(n_scenarios)
            self._tracker.reset(np.arange(n_scenarios), bars, context.state)
        elif bar != self._last_bar + 1:
            raise InvalidParameterError(
                f"observe() got bar {bar} after bar {self._last_bar}; it tracks hold times and returns "
                "bar by bar, so call it on every bar in order")
        else:
            self._tracker.update(bars, context.state)
        self._last_bar = bar
        return self.build(bars, context, self._tracker)

    def build(self, bars: np.ndarray, context: BarContext, tracker: AccountTracker) -> dict[str, np.ndarray]:
        """Rows ``[K * N]`` of ``K`` accounts, account ``k`` observing scenario ``k`` at ``bars[k]``.

        ``tracker`` must have been updated with the state at those bars.
        """
        state = context.state
        n_accounts, n_symbols = state.units.shape
        if n_accounts != self.batch.n_scenarios or n_symbols != self.batch.n_symbols:
            raise InvalidParameterError(
                f"the state holds {n_accounts} scenarios x {n_symbols} symbols, the builder's batch "
                f"{self.batch.n_scenarios} x {self.batch.n_symbols}; build the builder on the batch you run")
        bars = np.asarray(bars, dtype=np.int64)
        paths = np.repeat(self.batch.path_ids, n_symbols)
        symbols = np.tile(np.arange(n_symbols), n_accounts)
        row_bars = np.repeat(bars, n_symbols)
        sl = None if self.sl_probs is None else self.sl_probs[paths, row_bars, symbols]
        return assemble_observation(self.technical.windows(paths, symbols, row_bars),
                                    self.regime.rows(paths, symbols, row_bars), sl, context, tracker,
                                    self.config, self.action_space)

    def _check_sl_probs(self, sl_probs: np.ndarray) -> np.ndarray:
        expected = (self.batch.n_paths, self.batch.n_bars, self.batch.n_symbols, len(SL_MODELS))
        probs = np.asarray(sl_probs, dtype=np.float32)
        if probs.shape != expected:
            raise InvalidParameterError(
                f"sl_probs must be [paths, bars, symbols, 3] = {expected}, got {probs.shape}")
        if not np.all(np.isfinite(probs)) or probs.min() < 0.0 or probs.max() > 1.0:
            raise InvalidParameterError("sl_probs must be finite probabilities in [0, 1]")
        return probs


def account_tracker(n_accounts: int, n_symbols: int, config: ObservationConfig, bars_per_year: float) -> AccountTracker:
    """The :class:`AccountTracker` behind the portfolio slots: ``config``'s window and clip."""
    return AccountTracker(n_accounts, n_symbols, config.stats_window, bars_per_year, config.ratio_clip)


def assemble_observation(technical: np.ndarray, regime: np.ndarray, sl_probs: np.ndarray | None,
                         context: BarContext, tracker: AccountTracker, config: ObservationConfig,
                         action_space: SymbolActions | None) -> dict[str, np.ndarray]:
    """The observation dict of ``K * N`` rows from their feature blocks and the accounts' state.

    Args:
        technical: ``[K * N, 24, 23]`` float32 technical windows (normalized, clipped).
        regime: ``[K * N, 10]`` float32 regime rows.
        sl_probs: ``[K * N, 3]`` supervised probabilities, or None for the neutral 0.5.
        context: The accounts after the bar's close.
        tracker: Their return and hold-time statistics, updated at the bar.
        config: Scales of the slots.
        action_space: Adds ``action_mask`` when given.
    """
    n_symbols = context.state.units.shape[1]
    if sl_probs is None:
        sl_probs = np.full((len(technical), len(SL_MODELS)), NEUTRAL_SL_PROBABILITY, dtype=np.float32)
    observation = {
        "technical": technical,
        "sl_probs": sl_probs,
        "position": position_slots(context, tracker, config).reshape(-1, len(POSITION_FIELDS)),
        "portfolio": np.repeat(portfolio_slots(context, tracker, config), n_symbols, axis=0),
        "regime": regime,
    }
    if action_space is not None:
        observation["action_mask"] = action_space.masks(context).reshape(-1, 7)
    return observation


def position_slots(context: BarContext, tracker: AccountTracker, config: ObservationConfig) -> np.ndarray:
    """``[K, N, 5]`` float32 :data:`POSITION_FIELDS` of every account and symbol."""
    state, close = context.state, context.close
    units = state.units
    held = units != 0.0
    equity = state.equity[:, None]
    entry = np.where(held, state.entry_price, close)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_equity = np.where(equity > 0.0, 1.0 / equity, 0.0)
        slots = np.stack([
            np.where(held, entry / close - 1.0, 0.0),
            units * close * per_equity,
            units * (close - entry) * per_equity,
            tracker.hold_bars() / config.hold_scale,
            np.sign(units),
        ], axis=-1)
    return np.clip(slots, -config.state_clip, config.state_clip).astype(np.float32)


def portfolio_slots(context: BarContext, tracker: AccountTracker, config: ObservationConfig) -> np.ndarray:
    """``[K, 8]`` float32 :data:`PORTFOLIO_FIELDS` of every account."""
    state, close = context.state, context.close
    units = state.units
    held = units != 0.0
    equity = state.equity
    init = context.params.init_cash
    unrealized = np.where(held, units * (close - np.where(held, state.entry_price, close)), 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_equity = np.where(equity > 0.0, 1.0 / equity, 0.0)
        slots = np.stack([
            equity / init - 1.0,
            np.abs(units * close).sum(axis=1) * per_equity,
            state.cash * per_equity,
            tracker.drawdown(equity),
            (equity - init - unrealized) / init,
            tracker.sharpe(),
            tracker.sortino(),
            held.sum(axis=1) / units.shape[1],
        ], axis=-1)
    return np.clip(slots, -config.state_clip, config.state_clip).astype(np.float32)
