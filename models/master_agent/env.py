"""The master agent's environment: ``K`` accounts trading ``N`` symbols by target weights, through a frozen encoder.

Account ``k`` trades scenario ``k`` of a batch (copies of one dataset under the same costs, each with
its own seeded episode window) with :class:`~engine.actions.TargetWeights` through
:class:`~engine.envs.stepper.KernelStepper`, so fills, costs, limits and the risk overlay are the
backtest's. Its observation is the symbol agents' observation (``ObservationBuilder``, the symbol
agent's frozen normalizer, no action mask) turned into embeddings ``[K, N, E]`` by the frozen encoder,
with the portfolio vector ``[K, 8]`` and the absent symbols (no price at the bar).

Reward: the engine's total reward (``engine.rewards``: seven weighted components, clipped per
symbol) summed over the account's symbols; each component is summed the same way and reported.
Episodes that end are reset in the same step (``final`` holds the observation they ended on).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from engine.actions import TargetWeights
from engine.data.market import MarketData
from engine.envs.episode import EpisodeConfig
from engine.envs.sources import scenario_batch
from engine.envs.stepper import KernelStepper
from engine.features.normalize import FittedNormalizer
from engine.observation import ObservationBuilder
from engine.rewards import REWARD_COMPONENTS, RewardWeights
from engine.scenarios import ScenarioParams
from models.master_agent.policy_network import MasterObservation, MasterPolicyNetwork
from models.symbol_agent.encoder import as_tensors


class MasterStep(NamedTuple):
    """One step of every account.

    Attributes:
        observation: The next observation (the new episode's first one where an episode ended).
        reward: ``[K]`` the total reward summed over each account's symbols.
        components: ``{name: [K]}`` each reward component summed over the account's symbols.
        terminated: ``[K]`` the account is ruined (equity <= 0).
        truncated: ``[K]`` the episode reached its last bar.
        final: The observation the finished episodes ended on (all accounts' rows; None when none ended).
        equity: ``[K]`` equity after the step (before any reset).
    """

    observation: MasterObservation
    reward: np.ndarray
    components: dict[str, np.ndarray]
    terminated: np.ndarray
    truncated: np.ndarray
    final: MasterObservation | None
    equity: np.ndarray


class MasterEnvironment:
    """``K`` target-weight accounts observed through a frozen symbol encoder (see the module docstring).

    Args:
        source: The data traded.
        network: Its encoder turns observations into embeddings (run without gradients).
        normalizer: The symbol agent's frozen normalizer of the technical block.
        params: One parameter set per account.
        episode: Where episodes start and how long they run.
        action_space: The target-weight action space.
        reward_weights: Weights of the reward components.
        seed: Seeds the episode starts.
        device: Where the observation tensors go.
    """

    def __init__(self, source: MarketData, network: MasterPolicyNetwork, normalizer: FittedNormalizer, *,
                 params: Sequence[ScenarioParams], episode: EpisodeConfig, action_space: TargetWeights,
                 reward_weights: RewardWeights, seed: int, device: torch.device) -> None:
        batch = scenario_batch(source, None, list(params))
        self.network = network
        self.episode = episode
        self.device = device
        self.builder = ObservationBuilder(batch, normalizer=normalizer)
        self.stepper = KernelStepper(batch, action_space, self.builder.new_tracker(batch.n_scenarios), reward_weights)
        self.n_accounts, self.n_symbols = batch.n_scenarios, batch.n_symbols
        self.rng = np.random.default_rng(seed)

    @property
    def frequency(self) -> str:
        """The data's bar frequency."""
        return self.stepper.batch.frequency

    def reset(self) -> MasterObservation:
        """Start a new episode in every account."""
        self._reset(np.arange(self.n_accounts))
        return self.observe()

    def observe(self) -> MasterObservation:
        """The current observation of every account."""
        stepper = self.stepper
        rows = as_tensors(self.builder.build(stepper.bar, stepper.context(), stepper.tracker), self.device)
        absent = torch.as_tensor(~np.isfinite(stepper.close_prices()), device=self.device)
        return self.network.observe(rows, self.n_symbols, absent)

    def step(self, weights: np.ndarray) -> MasterStep:
        """Trade target weights ``[K, N]`` (fractions of equity per symbol; the rest stays in cash)."""
        result = self.stepper.step(np.asarray(weights, dtype=np.float64))
        rewards = result.rewards
        equity = self.stepper.state.equity.copy()
        observation = self.observe()
        done = result.terminated | result.truncated
        final = None
        if done.any():
            final = observation
            self._reset(np.flatnonzero(done))
            observation = self.observe()
        return MasterStep(observation, rewards["total"].sum(axis=1),
                          {name: rewards[name].sum(axis=1) for name in REWARD_COMPONENTS},
                          result.terminated, result.truncated & ~result.terminated, final, equity)

    def _reset(self, accounts: np.ndarray) -> None:
        bounds = [self.episode.bounds(int(self.stepper.last_bars[k]), self.rng, None, self.builder.warmup)
                  for k in accounts]
        starts, ends = (np.array(b, dtype=np.int64) for b in zip(*bounds))
        self.stepper.reset(accounts, starts, ends)
