"""The accounts a tactical team trains on: ``K`` accounts x ``N`` symbols on the engine's kernels.

Account ``k`` trades every symbol of a dataset from its own seeded episode window
(:class:`~engine.envs.stepper.KernelStepper`, so fills, costs, limits and the risk overlay are the
backtest's). Each (account, symbol) is one team instance of the MAPPO trainer (``n_envs = K * N``):
its agents observe the symbol's tactical window (``engine.tactical_observation.TacticalObserver``,
the checkpoint's normalizer), vote, and the team's vote rule (``engine.votes``) turns the votes into
the symbol's action under :class:`~engine.actions.TacticalActions` with the exposure split across the
symbols (the action space the saved policy trades with). The joint state of an instance is its
window flattened (420 values, as ``engine.envs.marl_env.MarlTradingEnv.state``).

Reward of an instance: its symbol's total engine reward (``engine.rewards``, weighted components),
shared by the three agents (``reward_mode="team"``), or each agent's own vote's return over the
step, ``clip(d_i * (c_{t+1} / c_t - 1) / pnl_scale, -1, 1)`` with ``d_i`` = -1 / 0 / +1 for short /
hold / long (``"vote_pnl"``, as ``MarlTradingEnv``'s; no costs, credit per agent). Episodes end at
their time limit (or in ruin) and are reset in the same step.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.actions import TacticalActions
from engine.data.market import MarketData, bars_per_year
from engine.envs.episode import EpisodeConfig
from engine.envs.sources import scenario_batch
from engine.envs.stepper import KernelStepper
from engine.errors import InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights
from engine.scenarios import ScenarioParams
from engine.tactical_observation import TacticalObserver
from engine.tracking import AccountTracker
from engine.votes import LONG, SHORT, agreement, check_vote_rule, team_decision
from models.mappo import TeamStep

REWARD_MODES: tuple[str, ...] = ("team", "vote_pnl")


class TacticalTeamEnv:
    """``K`` accounts trading every symbol of ``data`` by team votes (module docstring).

    Args:
        data: The training data.
        normalizer: Frozen statistics of the tactical columns.
        agents: The team's agents.
        params: One parameter set per account.
        episode: Decisions per episode and where episodes start.
        vote: The team's vote rule.
        exposure: Exposure of a book whose every symbol is long.
        reward_mode: ``team`` or ``vote_pnl``.
        reward_weights, reward_scales: The engine reward's weights and scales.
    """

    def __init__(self, data: MarketData, normalizer: FittedNormalizer | None, agents: Sequence[str], *,
                 params: Sequence[ScenarioParams], episode: EpisodeConfig, vote: str = "plurality",
                 exposure: float = 1.0, reward_mode: str = "team", reward_weights: RewardWeights = RewardWeights(),
                 reward_scales: RewardScales = RewardScales()) -> None:
        if reward_mode not in REWARD_MODES:
            raise InvalidParameterError(f"reward_mode {reward_mode!r} is not one of {', '.join(REWARD_MODES)}")
        check_vote_rule(vote)
        batch = scenario_batch(data, None, list(params))
        self.agents = tuple(agents)
        self.vote, self.reward_mode, self.episode = vote, reward_mode, episode
        self.observer = TacticalObserver(batch, normalizer)
        self.action_space = TacticalActions(exposure=exposure, split_across_symbols=True)
        tracker = AccountTracker(batch.n_scenarios, batch.n_symbols, bars_per_year=bars_per_year(batch.frequency))
        self.stepper = KernelStepper(batch, self.action_space, tracker, reward_weights, reward_scales)
        self.n_accounts, self.n_symbols = batch.n_scenarios, batch.n_symbols
        self.n_envs = self.n_accounts * self.n_symbols
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """New episodes in every account, their starts drawn from ``seed``; ``(observation, state)``."""
        self.rng = np.random.default_rng(seed)
        self._reset(np.arange(self.n_accounts))
        return self._observe()

    def step(self, actions: np.ndarray, probabilities: np.ndarray) -> TeamStep:
        """Votes ``[K * N, agents]`` (with their probabilities) -> one step of every account."""
        votes = np.asarray(actions).reshape(self.n_envs, len(self.agents))
        joint = team_decision(self.vote, votes, np.asarray(probabilities).reshape(self.n_envs, len(self.agents), 3))
        close_before = self.stepper.close_prices().reshape(-1)
        result = self.stepper.step(joint.reshape(self.n_accounts, self.n_symbols))
        if self.reward_mode == "team":
            rewards = np.repeat(result.rewards["total"].reshape(-1, 1), len(self.agents), axis=1)
        else:
            move = self.stepper.close_prices().reshape(-1) / close_before - 1.0
            direction = np.where(votes == LONG, 1.0, np.where(votes == SHORT, -1.0, 0.0))
            rewards = np.clip(direction * move[:, None] / self.stepper.scales.pnl_scale, -1.0, 1.0)
        info = {f"reward/{name}": result.rewards[name].reshape(-1) for name in REWARD_COMPONENTS}
        info["team/agreement"] = agreement(votes, joint)
        info["team/in_market"] = (self.stepper.state.units != 0.0).reshape(-1).astype(np.float64)
        done = result.terminated | result.truncated
        final_state = None
        if done.any():
            final_state = self._observe()[1]
            self._reset(np.flatnonzero(done))
        observation, state = self._observe()
        per_symbol = lambda flags: np.repeat(flags, self.n_symbols)  # noqa: E731
        return TeamStep(observation, state, rewards.astype(np.float32), per_symbol(result.terminated),
                        per_symbol(result.truncated & ~result.terminated), final_state, info)

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        window = self.observer.windows(np.arange(self.n_accounts), self.stepper.bar)
        return np.ascontiguousarray(window), window.reshape(self.n_envs, -1)

    def _reset(self, accounts: np.ndarray) -> None:
        bounds = [self.episode.bounds(int(self.stepper.last_bars[k]), self.rng, None, self.observer.warmup)
                  for k in accounts]
        starts, ends = (np.array(b, dtype=np.int64) for b in zip(*bounds))
        self.stepper.reset(accounts, starts, ends)
