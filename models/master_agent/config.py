"""What a master-agent training run does: :class:`MasterTrainingConfig` (the trainer and its PPO
update read it)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.actions import TargetWeights
from engine.errors import InvalidParameterError
from engine.rewards import RewardWeights
from engine.scenarios import ScenarioParams
from models.devices import check_device
from models.limits import check_count, check_rollout
from models.master_agent.policy_network import MASTER_PRESETS


@dataclass(frozen=True)
class MasterTrainingConfig:
    """What a master training run does.

    Attributes:
        preset: Master agent preset (``compact``).
        timesteps: Account decisions to train for (``accounts`` per environment step).
        seed: Seeds the master's initialization, the action noise, the episode starts and the minibatches.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        threads: Torch CPU threads during training (restored afterwards). One by default: the batches
            are small, on a shared machine extra threads spin more than they compute, and a fixed
            count keeps CPU results independent of the machine's core count.
        accounts: Independent training accounts stepped together.
        episode_length: Decisions per training episode (random starts inside the training period).
        n_steps: Rollout steps per account between PPO updates.
        n_minibatches: Minibatches per PPO epoch (the rollout holds ``accounts * n_steps`` decisions).
        n_epochs: PPO epochs per update.
        learning_rate: Adam learning rate.
        gamma: Discount factor.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range of the probability ratio.
        ent_coef: Entropy bonus coefficient.
        vf_coef: Value loss coefficient.
        max_grad_norm: Gradient norm clip.
        init_log_std: Initial log-std of the logistic-normal action noise (on the logits).
        threshold: Rebalancing threshold of the ``TargetWeights`` action space: a symbol's order is
            sent only when its target moves by more than this (so noise does not trade every bar).
        eval_every: Validate every this many timesteps (0: only at the end).
        fees: Fee fraction of traded notional in training and validation.
        slippage: Slippage fraction in training and validation.
        reward_weights: Weights of the engine's reward components. ``sizing`` is 0 by default: it
            rewards a fixed 6% position (the symbol agent's bet size), while a portfolio's sizes are
            the master's decision.
    """

    preset: str = "compact"
    timesteps: int = 100_000
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    accounts: int = 16
    episode_length: int = 252
    n_steps: int = 64
    n_minibatches: int = 4
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.001
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    init_log_std: float = -1.0
    threshold: float = 0.02
    eval_every: int = 16_384
    fees: float = 0.001
    slippage: float = 0.0005
    reward_weights: RewardWeights = field(default_factory=lambda: RewardWeights(sizing=0.0))

    def __post_init__(self) -> None:
        if self.preset not in MASTER_PRESETS:
            raise InvalidParameterError(
                f"unknown master preset {self.preset!r} (use one of {', '.join(MASTER_PRESETS)})")
        check_device(self.device)
        for name in ("timesteps", "threads", "accounts", "episode_length", "n_steps", "n_minibatches", "n_epochs"):
            check_count("MasterTrainingConfig", name, getattr(self, name), low=1)
        for name in ("seed", "eval_every"):
            check_count("MasterTrainingConfig", name, getattr(self, name), low=0)
        check_rollout("MasterTrainingConfig", self.accounts, self.n_steps)
        if self.accounts * self.n_steps < self.n_minibatches:
            raise InvalidParameterError(f"a rollout of {self.accounts} accounts x {self.n_steps} steps cannot fill "
                                        f"{self.n_minibatches} minibatches")
        for name, low, high in (("learning_rate", 0.0, math.inf), ("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0),
                                ("clip_range", 0.0, math.inf), ("max_grad_norm", 0.0, math.inf)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low < value <= high:
                raise InvalidParameterError(f"MasterTrainingConfig.{name} must be in ({low}, {high}], got {value!r}")
        for name in ("ent_coef", "vf_coef", "threshold", "fees", "slippage"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < math.inf:
                raise InvalidParameterError(f"MasterTrainingConfig.{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.reward_weights, RewardWeights):
            raise InvalidParameterError("MasterTrainingConfig.reward_weights must be an engine.rewards.RewardWeights")

    def action_space(self) -> TargetWeights:
        """The target-weight action space of training, validation and the saved policy."""
        return TargetWeights(threshold=self.threshold)

    def params(self) -> ScenarioParams:
        """Costs of every training and validation account (other limits at their defaults: long-only)."""
        return ScenarioParams(fees=self.fees, slippage=self.slippage)
