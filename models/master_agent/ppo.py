"""The PPO pieces of the master agent's training: rollout collection with GAE and the clipped update.

:func:`collect_rollout` steps every account with actions drawn from the logistic-normal distribution
(``models.master_agent.policy_network``) and computes GAE advantages; :func:`ppo_update` runs the clipped PPO
objective with a value loss, an entropy bonus, gradient-norm clipping and Adam. Both read their
hyperparameters from ``models.master_agent.config.MasterTrainingConfig``.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch

from engine.rewards import REWARD_COMPONENTS
from models.master_agent.config import MasterTrainingConfig
from models.master_agent.env import MasterEnvironment
from models.master_agent.policy_network import (
    MasterObservation,
    MasterPolicyNetwork,
    entropy,
    log_prob,
    logits_to_weights,
    sample_logits,
)


class Rollout(NamedTuple):
    """``accounts * n_steps`` decisions flattened for the update (step-major)."""

    observation: MasterObservation
    logits: torch.Tensor  # [B, N + 1] the sampled logistic-normal logits (the PPO action)
    log_probs: torch.Tensor  # [B]
    values: torch.Tensor  # [B]
    advantages: torch.Tensor  # [B]
    returns: torch.Tensor  # [B]


def generalized_advantages(rewards: torch.Tensor, dones: torch.Tensor, values: torch.Tensor,
                           next_value: torch.Tensor, gamma: float, gae_lambda: float) -> torch.Tensor:
    """GAE advantages ``[T, K]`` (Schulman et al. 2016).

    Args:
        rewards: ``[T, K]`` rewards of each step (time-limit bootstraps already added).
        dones: ``[T, K]`` 1.0 where the step ended an episode (nothing flows back across it).
        values: ``[T, K]`` the critic's values of the observations acted on.
        next_value: ``[K]`` value of the observation after the last step.
        gamma, gae_lambda: Discount and GAE lambda.
    """
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(next_value)
    for t in reversed(range(len(values))):
        following = next_value if t == len(values) - 1 else values[t + 1]
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * alive - values[t]
        last = delta + gamma * gae_lambda * alive * last
        advantages[t] = last
    return advantages


def collect_rollout(network: MasterPolicyNetwork, env: MasterEnvironment, observation: MasterObservation,
                    config: MasterTrainingConfig, generator: torch.Generator,
                    on_step: Callable[[int], object]) -> tuple[Rollout, MasterObservation, dict[str, float]]:
    """Step every account ``n_steps`` times with sampled actions; returns the rollout with GAE advantages.

    A truncated episode (time limit) is bootstrapped with the value of the observation it ended on;
    a terminated one (ruin) is not. ``on_step(n)`` is called with the decisions of each step.

    Returns:
        The rollout, the observation to continue from, and ``reward/...`` means per account step.
    """
    steps: list[tuple[MasterObservation, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    rewards, dones = [], []
    sums = dict.fromkeys((*REWARD_COMPONENTS, "total"), 0.0)
    network.eval()
    with torch.no_grad():
        for _ in range(config.n_steps):
            out = network(observation)
            logits = sample_logits(out.log_weights, network.log_std, observation.absent, generator)
            steps.append((observation, logits, log_prob(logits, out.log_weights, network.log_std, observation.absent),
                          out.value))
            step = env.step(logits_to_weights(logits, observation.absent)[:, :-1].cpu().numpy())
            reward = step.reward.copy()
            if step.truncated.any():
                reward[step.truncated] += config.gamma * network(step.final).value.cpu().numpy()[step.truncated]
            rewards.append(reward)
            dones.append(step.terminated | step.truncated)
            for name in REWARD_COMPONENTS:
                sums[name] += float(step.components[name].sum())
            sums["total"] += float(step.reward.sum())
            observation = step.observation
            on_step(env.n_accounts)
        next_value = network(observation).value
    network.train()
    device = next_value.device
    values = torch.stack([s[3] for s in steps])
    advantages = generalized_advantages(torch.as_tensor(np.stack(rewards), dtype=torch.float32, device=device),
                                        torch.as_tensor(np.stack(dones), dtype=torch.float32, device=device),
                                        values, next_value, config.gamma, config.gae_lambda)
    flat = lambda items: torch.cat(list(items))  # noqa: E731  step-major [T * K, ...]
    rollout = Rollout(
        MasterObservation(*(flat(s[0][i] for s in steps) for i in range(3))),
        flat(s[1] for s in steps), flat(s[2] for s in steps), values.reshape(-1), advantages.reshape(-1),
        (advantages + values).reshape(-1))
    count = config.n_steps * env.n_accounts
    return rollout, observation, {f"reward/{k}": v / count for k, v in sums.items()}


def ppo_update(network: MasterPolicyNetwork, optimizer: torch.optim.Optimizer, rollout: Rollout,
               config: MasterTrainingConfig, rng: np.random.Generator) -> dict[str, float]:
    """``n_epochs`` passes of clipped PPO over shuffled minibatches; returns ``train/...`` diagnostics."""
    size = len(rollout.log_probs)
    bounds = np.linspace(0, size, config.n_minibatches + 1).astype(int)
    stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                                     "clip_fraction")}
    for _ in range(config.n_epochs):
        order = torch.as_tensor(rng.permutation(size), device=rollout.log_probs.device)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            index = order[lo:hi]
            observation = MasterObservation(*(part[index] for part in rollout.observation))
            out = network(observation)
            new_log_prob = log_prob(rollout.logits[index], out.log_weights, network.log_std, observation.absent)
            log_ratio = new_log_prob - rollout.log_probs[index]
            ratio = log_ratio.exp()
            advantages = rollout.advantages[index]
            if len(index) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            policy_loss = torch.max(-advantages * ratio,
                                    -advantages * ratio.clamp(1.0 - config.clip_range, 1.0 + config.clip_range)).mean()
            value_loss = 0.5 * (out.value - rollout.returns[index]).pow(2).mean()
            entropy_mean = entropy(network.log_std, observation.absent).mean()
            loss = policy_loss - config.ent_coef * entropy_mean + config.vf_coef * value_loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in network.parameters() if p.requires_grad], config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                stats["policy_loss"].append(float(policy_loss))
                stats["value_loss"].append(float(value_loss))
                stats["entropy"].append(float(entropy_mean))
                stats["approx_kl"].append(float(((ratio - 1.0) - log_ratio).mean()))
                stats["clip_fraction"].append(float(((ratio - 1.0).abs() > config.clip_range).float().mean()))
    variance = float(rollout.returns.var())
    explained = math.nan if variance == 0.0 else 1.0 - float((rollout.returns - rollout.values).var()) / variance
    return {**{f"train/{k}": float(np.mean(v)) for k, v in stats.items()},
            "train/explained_variance": explained, "train/std": float(network.log_std.detach().exp()),
            "train/learning_rate": config.learning_rate}
