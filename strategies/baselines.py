"""Baseline strategies, behind the same `Policy` protocol as the neural policies.

All are market-scope (they read prices only), so the rollout evaluates each once per price path and
shares the actions among every scenario on it. They act through ``TargetWeights``: each emits a
target only when it changes (or on its rebalance schedule). A decision at bar ``t`` reads closes up
to ``t`` and fills at ``t + 1``'s open.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.actions import TargetWeights
from engine.errors import InvalidParameterError
from engine.features.rolling import sma
from engine.policy import MarketView, PolicyOutput


def _sma(close: np.ndarray, window: int) -> np.ndarray:
    """Trailing simple moving average of each column of ``close`` [T, N]."""
    return np.column_stack([sma(close[:, j], window) for j in range(close.shape[1])])


MAX_INTEGER_PARAMETER = 10**9
"""The largest window, period or seed a baseline takes: far beyond any data, inside every int64 kernel."""


def _positive_int(name: str, value: int, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= MAX_INTEGER_PARAMETER:
        raise InvalidParameterError(f"{name} must be an integer from {low} to {MAX_INTEGER_PARAMETER:_}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class BuyAndHold:
    """Invest ``1 / N`` of equity in each symbol at the first bar and never trade again."""

    name: str = "buy_and_hold"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def act_market(self, view: MarketView) -> PolicyOutput:
        weights = np.full(view.close.shape, np.nan)
        weights[0] = 1.0 / view.close.shape[1]
        return PolicyOutput(weights)


@dataclass(frozen=True)
class EqualWeight:
    """Hold ``1 / N`` of equity in each symbol, rebalanced every ``rebalance`` bars."""

    rebalance: int = 21
    name: str = "equal_weight"
    scope: str = "market"

    def __post_init__(self) -> None:
        _positive_int("rebalance", self.rebalance)

    @property
    def action_space(self) -> TargetWeights:
        return TargetWeights(rebalance_every=self.rebalance)

    def act_market(self, view: MarketView) -> PolicyOutput:
        return PolicyOutput(np.full(view.close.shape, 1.0 / view.close.shape[1]))


@dataclass(frozen=True)
class SmaCross:
    """Long when SMA(fast) of close is above SMA(slow) at bar t's close, flat otherwise; all-in.

    With several symbols each symbol gets ``1 / N`` of equity. Flat during the slow SMA's warm-up.
    """

    fast: int = 20
    slow: int = 50
    name: str = "sma_cross"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def __post_init__(self) -> None:
        _positive_int("fast", self.fast)
        _positive_int("slow", self.slow)
        if self.fast >= self.slow:
            raise InvalidParameterError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")

    def act_market(self, view: MarketView) -> PolicyOutput:
        fast, slow = _sma(view.close, self.fast), _sma(view.close, self.slow)
        long = np.nan_to_num(fast) > np.nan_to_num(slow, nan=np.inf)
        return PolicyOutput(np.where(long, 1.0 / view.close.shape[1], 0.0),
                            {"sma_fast": fast, "sma_slow": slow})


@dataclass(frozen=True)
class Momentum:
    """Every ``rebalance`` bars, hold the ``top_k`` symbols with the highest ``lookback``-bar return.

    Each held symbol gets ``1 / top_k`` of equity; nothing is held until ``lookback`` bars exist.
    """

    lookback: int = 60
    top_k: int = 1
    rebalance: int = 21
    name: str = "momentum"
    scope: str = "market"

    def __post_init__(self) -> None:
        for key in ("lookback", "top_k", "rebalance"):
            _positive_int(key, getattr(self, key))

    @property
    def action_space(self) -> TargetWeights:
        return TargetWeights(rebalance_every=self.rebalance)

    def act_market(self, view: MarketView) -> PolicyOutput:
        close = view.close
        n_bars, n_symbols = close.shape
        if self.top_k > n_symbols:
            raise InvalidParameterError(f"top_k ({self.top_k}) exceeds the number of symbols ({n_symbols})")
        past = np.full(close.shape, np.nan)
        if self.lookback < n_bars:
            past[self.lookback:] = close[: -self.lookback]
        score = np.where(np.isnan(past), -np.inf, close / past - 1.0)
        # Stable ranking: ties go to the symbol listed first.
        order = np.argsort(-score, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(n_symbols)[None, :].repeat(n_bars, 0), axis=1)
        weights = np.where((ranks < self.top_k) & np.isfinite(score), 1.0 / self.top_k, 0.0)
        return PolicyOutput(weights, {"momentum": score})


@dataclass(frozen=True)
class RandomPolicy:
    """Seeded coin flips: at each bar, with probability ``switch_probability``, each symbol's target
    is redrawn as flat or ``1 / N`` of equity. Bit-identical for equal seeds."""

    seed: int = 0
    switch_probability: float = 0.05
    name: str = "random"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def __post_init__(self) -> None:
        _positive_int("seed", self.seed, low=0)
        if not 0.0 < self.switch_probability <= 1.0:
            raise InvalidParameterError(
                f"switch_probability must be in (0, 1], got {self.switch_probability}")

    def act_market(self, view: MarketView) -> PolicyOutput:
        rng = np.random.default_rng(self.seed)
        n_bars, n_symbols = view.close.shape
        # One draw of shape (T, N, 2): the first t rows never depend on how many bars follow.
        uniforms = rng.random((n_bars, n_symbols, 2))
        switch = uniforms[..., 0] < self.switch_probability
        draws = np.where(uniforms[..., 1] < 0.5, 0.0, 1.0 / n_symbols)
        switch[0] = True
        return PolicyOutput(np.where(switch, draws, np.nan))
