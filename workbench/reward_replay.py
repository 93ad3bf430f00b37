"""The reward components a backtest's decisions would have earned in training, by replaying them.

A rollout keeps equity and order records but not the per-bar state the rewards read (entry prices,
hold times, the rolling Sharpe estimate). Rather than re-derive that state a second way, the
recorded actions are fed through :class:`engine.envs.stepper.KernelStepper`, the bar loop every
training environment uses, with the observation's return-statistics tracker and the default reward
weights and scales. The stepper runs the same kernels as the rollout, so it reproduces the rollout's
ledger exactly; the replay checks the equity at every bar and raises if they ever differ.
"""
from __future__ import annotations

import numpy as np

from engine.actions import ActionSpace
from engine.data.market import bars_per_year
from engine.envs.stepper import KernelStepper
from engine.errors import InvalidParameterError
from engine.observation import ObservationConfig
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from engine.tracking import AccountTracker
from workbench.run_tables import decisions


def replay_rewards(batch: ScenarioBatch, action_space: ActionSpace, scope: str, rollout: RolloutResult,
                   weights: RewardWeights = RewardWeights(), scales: RewardScales = RewardScales(),
                   config: ObservationConfig = ObservationConfig()) -> dict[str, np.ndarray]:
    """Reward components (and ``"total"``) of every decision of ``rollout``, each ``[T - 1, S, N]``.

    Entry ``[t, s, n]`` rewards the action decided at bar ``t``, judged at bar ``t + 1``'s close.

    Args:
        batch: The batch the rollout ran.
        action_space: The policy's action space.
        scope: The policy's scope (``"market"`` or ``"portfolio"``: how its actions are stacked).
        rollout: The rollout to replay.
        weights, scales: Reward weights and scales (training defaults).
        config: Observation config whose ``stats_window`` and ``ratio_clip`` the tracker uses.

    Raises:
        InvalidParameterError: the batch's scenarios have different lengths (padded windows).
        RuntimeError: the replay's equity differs from the rollout's (a parity bug in the engine).
    """
    n_scenarios, n_bars, n_symbols = batch.close.shape
    if np.any(batch.n_valid != n_bars):
        raise InvalidParameterError("rewards are replayed for batches whose scenarios all have every bar; "
                                    "this one has padded windows")
    actions = decisions(rollout, rollout.actions, scope)
    tracker = AccountTracker(n_scenarios, n_symbols, config.stats_window, bars_per_year(batch.frequency),
                             config.ratio_clip)
    stepper = KernelStepper(batch, action_space, tracker, weights, scales)
    stepper.reset(np.arange(n_scenarios), np.zeros(n_scenarios, dtype=np.int64), batch.n_valid - 1)
    names = [*REWARD_COMPONENTS, "total"]
    out = {name: np.empty((n_bars - 1, n_scenarios, n_symbols)) for name in names}
    for t in range(n_bars - 1):
        step = stepper.step(actions[t])
        if not np.array_equal(stepper.state.equity, rollout.equity[t + 1]):
            raise RuntimeError(f"reward replay diverged from the rollout at bar {t + 1}; the stepper and "
                               "the rollout no longer run the same kernels the same way")
        for name in names:
            out[name][t] = np.broadcast_to(step.rewards[name], (n_scenarios, n_symbols))
    return out
