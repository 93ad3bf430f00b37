"""The look-ahead canary: a decider's decisions up to bar t must not change when later bars are removed.

The decider runs once on the whole window and once on the window truncated after each cut point;
the decisions the truncated run made must equal the full run's on the same bars. A decision that
changes reads bars after its own, which no live run can: a peeking indicator, a normalizer
fitted on the whole window, a centred filter. Market-scope deciders (the baselines) are asked for
their actions directly (as ``engine.rollout.check_market_policy_causal`` does); portfolio-scope
deciders (neural policies) are rolled out with their observation builder, since look-ahead can hide
in the observation as well as in the network. A stochastic policy (sampling, not argmax) fails by
construction: its draws depend on how many bars came before, not only on the data.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from engine.data.market import MarketData
from engine.errors import InvalidParameterError
from engine.rollout import Observer, run_rollout
from engine.scenarios import ScenarioBatch, from_market
from workbench.runs.evaluate import Decider

logger = logging.getLogger(__name__)

DEFAULT_CUTS = 3
# A cut leaves at least this many bars: features and moving averages need some history to differ.
MIN_CUT = 2

ObserverFactory = Callable[[ScenarioBatch], Observer]


@dataclass(frozen=True)
class CanaryResult:
    """The canary's verdict on one decider.

    Attributes:
        passed: Decisions were identical at every cut.
        decider: The decider's name.
        window: The data it ran on, for the report (``"stocks AAPL,MSFT 2004-01-02..2005-03-15, 300 bars"``).
        n_bars: Bars in the full window.
        cuts: Bar counts the window was truncated to.
        failed_cuts: The cuts at which some decision differed.
        first_difference: Earliest bar (index into the window) whose decision differed, or None.
        first_difference_at: Its timestamp (ISO), or None.
    """

    passed: bool
    decider: str
    window: str
    n_bars: int
    cuts: tuple[int, ...]
    failed_cuts: tuple[int, ...] = ()
    first_difference: int | None = None
    first_difference_at: str | None = None

    @property
    def violations(self) -> int:
        """How many cuts changed a decision (the gate metric ``lookahead_violations``)."""
        return len(self.failed_cuts)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types."""
        return {**asdict(self), "cuts": list(self.cuts), "failed_cuts": list(self.failed_cuts),
                "violations": self.violations}


def default_cuts(n_bars: int, n_cuts: int = DEFAULT_CUTS) -> tuple[int, ...]:
    """``n_cuts`` bar counts spread evenly inside ``(0, n_bars)``: 300 bars -> (75, 150, 225)."""
    cuts = sorted({max(MIN_CUT, n_bars * (i + 1) // (n_cuts + 1)) for i in range(n_cuts)})
    return tuple(c for c in cuts if c < n_bars)


def run_canary(decider: Decider, data: MarketData, cuts: Sequence[int] | None = None,
               observer_factory: ObserverFactory | None = None) -> CanaryResult:
    """Run the look-ahead canary of ``decider`` on ``data``.

    Args:
        decider: What decides (``workbench.runs.evaluate.spec_decider``).
        data: The window to run on; every symbol needs a bar at every timestamp. Keep it short
            (a few hundred bars): the decider runs ``len(cuts) + 1`` times.
        cuts: Bar counts to truncate to, each in ``2..len(data.index) - 1``; default
            :func:`default_cuts`.
        observer_factory: Builds a portfolio-scope decider's observer for a batch; default the
            policy's own (its family's observer with its frozen normalizer).

    Raises:
        InvalidParameterError: a cut outside the window, or a window too short to cut.
    """
    n_bars = len(data.index)
    cuts = tuple(sorted(set(int(c) for c in (default_cuts(n_bars) if cuts is None else cuts))))
    if not cuts:
        raise InvalidParameterError(f"the canary window has {n_bars} bars; it needs at least 3 to cut")
    for cut in cuts:
        if not MIN_CUT <= cut < n_bars:
            raise InvalidParameterError(f"canary cut {cut} is outside {MIN_CUT}..{n_bars - 1} (the window's bars)")
    factory = observer_factory or decider.observer
    full = _decisions(decider, data, factory)
    failed, first = [], None
    for cut in cuts:
        partial = _decisions(decider, data.slice(None, data.index[cut - 1]), factory)
        bar = _first_difference(full[: len(partial)], partial)
        if bar is not None:
            failed.append(cut)
            first = bar if first is None else min(first, bar)
    result = CanaryResult(
        passed=not failed, decider=decider.name, window=_describe(data), n_bars=n_bars, cuts=cuts,
        failed_cuts=tuple(failed), first_difference=first,
        first_difference_at=None if first is None else data.index[first].isoformat())
    logger.info("look-ahead canary on %s: %s", decider.name, "passed" if result.passed else
                f"decisions change at cuts {failed} (first at bar {first})")
    return result


def _decisions(decider: Decider, data: MarketData, factory: ObserverFactory) -> np.ndarray:
    """The decider's actions on ``data``, leading axis bars."""
    batch = from_market(data)
    policy = decider.policy
    if policy.scope == "market":
        return np.asarray(policy.act_market(batch.path(0)).actions)
    return np.asarray(run_rollout(batch, policy, observer=factory(batch)).actions)


def _first_difference(full: np.ndarray, partial: np.ndarray) -> int | None:
    """First row where the two decision arrays differ (NaN equals NaN), or None."""
    if full.shape != partial.shape:
        return 0
    same = (full == partial) | (_isnan(full) & _isnan(partial))
    rows = np.flatnonzero(~same.reshape(len(full), -1).all(axis=1))
    return int(rows[0]) if len(rows) else None


def _isnan(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) if np.issubdtype(values.dtype, np.floating) else np.zeros(values.shape, bool)


def _describe(data: MarketData) -> str:
    symbols = ",".join(data.symbols[:5]) + (f",... ({len(data.symbols)})" if len(data.symbols) > 5 else "")
    return (f"{data.name} {symbols} {data.index[0].date()}..{data.index[-1].date()}, "
            f"{len(data.index)} bars")
