"""The program plan's training warning signs, detected while a policy trains.

The program plan (Phase 3, "Warning Signs") lists four ways a PPO run goes wrong; :class:`WarningMonitor`
watches for each and reports the first occurrence (with how often it recurred) in the log and in
the model card (``warnings``):

================  ==========================================================================
nan_loss          a loss or the policy's entropy is NaN or infinite after an update (gradient
                  explosion; the plan: reduce the learning rate or clip harder). Training stops.
entropy_collapse  the policy's entropy fell below ``entropy_collapse_fraction`` of its first
                  value before ``entropy_collapse_before`` of the run (premature convergence;
                  the plan: raise the entropy coefficient)
value_collapse    the explained variance of the value function stayed below 0 for
                  ``explained_variance_patience`` updates in a row (the plan: check reward scaling)
all_hold          the policy does (nearly) nothing: at least ``hold_share`` of its decisions are
                  HOLD, in the training rollouts or in a validation, or a validation finds it in
                  the market less than ``min_time_in_market`` of the time or trading fewer than
                  ``min_trades_per_year`` times a year (the plan: check the reward weights)
================  ==========================================================================

The thresholds are a frozen :class:`WarningThresholds`; the monitor only reads numbers, so it
works for any trainer that reports them.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from engine.errors import InvalidParameterError

logger = logging.getLogger(__name__)

WARNING_SIGNS = ("nan_loss", "entropy_collapse", "value_collapse", "all_hold")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the weights after that update are unusable."""


@dataclass(frozen=True)
class WarningThresholds:
    """When each warning sign fires (module docstring).

    Attributes:
        entropy_collapse_fraction: Entropy below this fraction of the first update's is a collapse...
        entropy_collapse_before: ...when it happens before this fraction of the run.
        explained_variance_patience: Consecutive updates with explained variance < 0 that fire.
        hold_share: Share of HOLD decisions at or above which the policy "does nothing".
        min_time_in_market: A validation below this time in market does nothing.
        min_trades_per_year: A validation below this trade rate does nothing.
    """

    entropy_collapse_fraction: float = 0.2
    entropy_collapse_before: float = 0.5
    explained_variance_patience: int = 3
    hold_share: float = 0.98
    min_time_in_market: float = 0.05
    min_trades_per_year: float = 2.0

    def __post_init__(self) -> None:
        for name in ("entropy_collapse_fraction", "entropy_collapse_before", "hold_share", "min_time_in_market"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InvalidParameterError(f"WarningThresholds.{name} must be in [0, 1], got {value!r}")
        if not isinstance(self.explained_variance_patience, int) or self.explained_variance_patience < 1:
            raise InvalidParameterError("WarningThresholds.explained_variance_patience must be a positive integer")
        if not isinstance(self.min_trades_per_year, (int, float)) or self.min_trades_per_year < 0:
            raise InvalidParameterError("WarningThresholds.min_trades_per_year must be >= 0")

    def inactive(self, metrics: Mapping[str, float]) -> str:
        """Why evaluation ``metrics`` (``hold_share``, ``time_in_market``, ``trades_per_year``, no prefix)
        show a policy that does (nearly) nothing, or "" when they do not."""
        reasons = []
        if metrics.get("hold_share", 0.0) >= self.hold_share:
            reasons.append(f"{metrics['hold_share']:.1%} of decisions are HOLD")
        if metrics.get("time_in_market", 1.0) < self.min_time_in_market:
            reasons.append(f"in the market {metrics['time_in_market']:.1%} of the time")
        if metrics.get("trades_per_year", math.inf) < self.min_trades_per_year:
            reasons.append(f"{metrics['trades_per_year']:.1f} trades a year")
        return "; ".join(reasons)


@dataclass
class TrainingWarning:
    """One warning sign: where it first fired, what was seen, and how often it fired.

    Attributes:
        sign: One of :data:`WARNING_SIGNS`.
        timesteps: Timesteps trained when it first fired.
        message: What was measured, in words.
        count: How many checks fired it.
    """

    sign: str
    timesteps: int
    message: str
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WarningMonitor:
    """Collects the warning signs of one run (module docstring).

    Args:
        total_timesteps: The run's length, to tell "early" from "late".
        thresholds: When each sign fires.
    """

    total_timesteps: int
    thresholds: WarningThresholds = field(default_factory=WarningThresholds)
    first_entropy: float | None = None
    negative_variance_streak: int = 0
    found: dict[str, TrainingWarning] = field(default_factory=dict)

    def after_update(self, timesteps: int, metrics: Mapping[str, float]) -> None:
        """Check an update's metrics: ``loss``, ``policy_loss``, ``value_loss``, ``entropy`` and
        ``explained_variance`` (missing keys are skipped).

        Raises:
            TrainingDiverged: a loss or the entropy is not finite (after recording ``nan_loss``).
        """
        bad = sorted(k for k in ("loss", "policy_loss", "value_loss", "entropy")
                     if k in metrics and not math.isfinite(metrics[k]))
        if bad:
            self._fire("nan_loss", timesteps, f"{', '.join(bad)} not finite after the update")
            raise TrainingDiverged(self.found["nan_loss"].message)
        entropy = metrics.get("entropy")
        if entropy is not None:
            if self.first_entropy is None:
                self.first_entropy = float(entropy)
            elif (timesteps < self.thresholds.entropy_collapse_before * self.total_timesteps
                  and entropy < self.thresholds.entropy_collapse_fraction * self.first_entropy):
                self._fire("entropy_collapse", timesteps,
                           f"entropy {entropy:.3f} is below {self.thresholds.entropy_collapse_fraction:.0%} of its "
                           f"first value {self.first_entropy:.3f} after {timesteps / self.total_timesteps:.0%} of "
                           "the run")
        variance = metrics.get("explained_variance")
        if variance is not None and math.isfinite(variance):
            self.negative_variance_streak = self.negative_variance_streak + 1 if variance < 0.0 else 0
            if self.negative_variance_streak >= self.thresholds.explained_variance_patience:
                self._fire("value_collapse", timesteps,
                           f"explained variance {variance:.3f} < 0 for {self.negative_variance_streak} updates in a row")

    def after_rollout(self, timesteps: int, hold_share: float) -> None:
        """Check the share of HOLD among the actions sampled in a training rollout."""
        if hold_share >= self.thresholds.hold_share:
            self._fire("all_hold", timesteps, f"{hold_share:.1%} of the actions sampled in training are HOLD")

    def after_validation(self, timesteps: int, metrics: Mapping[str, float]) -> str:
        """Check a validation's ``hold_share``, ``time_in_market`` and ``trades_per_year`` (no prefix);
        returns why the policy does nothing, or ""."""
        reason = self.thresholds.inactive(metrics)
        if reason:
            self._fire("all_hold", timesteps, f"validation: {reason}")
        return reason

    def warnings(self) -> list[dict[str, Any]]:
        """Every sign that fired, in the order they first fired."""
        return [w.to_dict() for w in self.found.values()]

    def state(self) -> dict[str, Any]:
        """What :meth:`restore` needs to continue a resumed run (JSON types)."""
        return {"first_entropy": self.first_entropy, "negative_variance_streak": self.negative_variance_streak,
                "found": self.warnings()}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state`."""
        self.first_entropy = state["first_entropy"]
        self.negative_variance_streak = int(state["negative_variance_streak"])
        self.found = {w["sign"]: TrainingWarning(**w) for w in state["found"]}

    def _fire(self, sign: str, timesteps: int, message: str) -> None:
        if sign in self.found:
            self.found[sign].count += 1
            return
        self.found[sign] = TrainingWarning(sign, int(timesteps), message)
        logger.warning("training warning sign %s at %d steps: %s", sign, timesteps, message)
