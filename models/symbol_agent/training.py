"""Train a :class:`SymbolAgent` with sb3-contrib ``MaskablePPO`` on the engine's vector environment.

Reads top to bottom: :class:`TrainingConfig` (every knob, documented), the environments (training
accounts on the training period; one validation account that starts at the validation period's
first bar, with the training period's frozen normalizer), :func:`evaluate_validation`, the
callbacks (reward components, periodic validation keeping the best weights, a tqdm progress bar),
then :func:`train_symbol_agent`, which returns a :class:`TrainingResult` ready for
``models.checkpoint.save_checkpoint``.

Best weights: every ``eval_every`` timesteps and once at the end, the deterministic (argmax,
masked) policy trades the validation period; the weights with the highest validation Sharpe
(ties: higher mean reward) are kept and become the trained agent.

Env workers: with ``env_workers`` K > 1 the training accounts are cut into K shards of consecutive
accounts (``engine.envs.sharded``), each its own environment, with the normalizer fitted once here
on the training data and handed to every shard. A *shard runner* decides where the shards live:
in this process by default, or e.g. one Ray actor each (``workbench.services.ray_training``). Results depend
on K (shard ``k`` draws its own episode starts), never on the runner.

Logging: the SB3 logger writes stdout (when ``verbose``) and ``progress.csv`` into ``log_dir``, plus
TensorBoard events when the ``tensorboard`` package is installed. Reward components are logged as
``reward/<component>`` (mean per step over the rollout), validation metrics as ``validation/...``.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import set_random_seed

from engine.data.market import MarketData, bars_per_year
from engine.envs.episode import EpisodeConfig
from engine.envs.sharded import (
    EnvFactory,
    InProcessShards,
    ShardedVecEnv,
    ShardRunnerFactory,
    account_shards,
)
from engine.envs.sources import scenario_batch
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.metrics import max_drawdown, sharpe_ratio
from engine.observation import ObservationBuilder
from engine.rewards import REWARD_COMPONENTS
from engine.scenarios import ScenarioParams
from models.checkpoint import ModelCard
from models.devices import check_device, device_description
from models.limits import check_count, check_rollout
from models.symbol_agent.network import ARCHITECTURE, SymbolAgent, SymbolAgentConfig
from models.symbol_agent.sb3_policy import agent_from_policy, copy_agent_into_policy, policy_kwargs
from models.training_log import logger_formats

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class TrainingConfig:
    """What a training run does.

    Attributes:
        preset: Symbol agent preset (``compact``, or ``seed``: the symbol-agent specification's size).
        timesteps: Environment steps to train for (summed over all sub-environments).
        seed: Seeds torch, numpy, the environments and SB3.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        accounts: Independent training accounts (scenarios); the vector env holds
            ``accounts * n_symbols`` sub-environments.
        episode_length: Decisions per training episode (random starts inside the training period).
        n_steps: Rollout steps per sub-environment between PPO updates.
        batch_size: PPO minibatch size.
        n_epochs: PPO epochs per update.
        learning_rate: Adam learning rate.
        gamma: Discount factor.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range.
        ent_coef: Entropy bonus coefficient.
        eval_every: Validate every this many timesteps (0: only at the end).
        fees: Fee fraction of traded notional in training and validation.
        slippage: Slippage fraction in training and validation.
        env_workers: Shards the training accounts are cut into (1 to ``accounts``); 1 keeps one
            environment. Changes the episode starts, hence the results (module docstring).
    """

    preset: str = "compact"
    timesteps: int = 100_000
    seed: int = 0
    device: str = "auto"
    accounts: int = 4
    episode_length: int = 256
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    eval_every: int = 10_000
    fees: float = 0.001
    slippage: float = 0.0005
    env_workers: int = 1

    def __post_init__(self) -> None:
        SymbolAgentConfig.preset(self.preset)  # raises with a "did you mean" on an unknown preset
        check_device(self.device)
        for name in ("timesteps", "accounts", "episode_length", "n_steps", "batch_size", "n_epochs",
                     "env_workers"):
            check_count("TrainingConfig", name, getattr(self, name), low=1)
        for name in ("seed", "eval_every"):
            check_count("TrainingConfig", name, getattr(self, name), low=0)
        check_rollout("TrainingConfig", self.accounts, self.n_steps)
        if self.env_workers > self.accounts:
            raise InvalidParameterError(
                f"TrainingConfig.env_workers {self.env_workers} exceeds accounts {self.accounts}: each env worker "
                f"steps at least one account, so use 1 to {self.accounts} env workers or more accounts")

    def agent_config(self) -> SymbolAgentConfig:
        """The symbol agent's sizes for :attr:`preset`."""
        return SymbolAgentConfig.preset(self.preset)


@dataclass(frozen=True)
class TrainingResult:
    """A trained agent and what goes into its checkpoint.

    Attributes:
        agent: The best agent (CPU, eval mode).
        card: Its model card (periods, seed, metrics, config).
        normalizer: The technical block's statistics, fitted on the training period only.
        history: One dict per validation (``timesteps`` plus ``validation/...`` metrics).
    """

    agent: SymbolAgent
    card: ModelCard
    normalizer: FittedNormalizer
    history: tuple[dict[str, float], ...]


def agent_card_config(config: TrainingConfig) -> dict[str, Any]:
    """The model card's ``config``: preset, the agent's exact sizes and the training knobs."""
    return {"preset": config.preset, "agent": dataclasses.asdict(config.agent_config()),
            "training": dataclasses.asdict(config)}


def make_training_env(train: MarketData, config: TrainingConfig) -> TradingVectorEnv:
    """``accounts`` copies of the training data, random episode starts, normalizer fitted on it."""
    params = [_costs(config)] * config.accounts
    return TradingVectorEnv(train, params=params, fit_period=(train.index[0], train.index[-1]),
                            episode=EpisodeConfig(episode_length=config.episode_length))


def fit_training_normalizer(train: MarketData, config: TrainingConfig) -> FittedNormalizer:
    """The statistics :func:`make_training_env` fits: every account trades one path, fitted once."""
    batch = scenario_batch(train, None, _costs(config))
    return ObservationBuilder(batch, fit_period=(train.index[0], train.index[-1])).normalizer


def make_training_shards(train: MarketData, normalizer: FittedNormalizer,
                         config: TrainingConfig) -> list[EnvFactory]:
    """One env factory per env worker: ``env_workers`` runs of consecutive training accounts, each
    an environment like :func:`make_training_env`'s over its accounts, with ``normalizer``."""
    episode = EpisodeConfig(episode_length=config.episode_length)
    return [functools.partial(TradingVectorEnv, train, params=[_costs(config)] * (stop - start),
                              normalizer=normalizer, episode=episode)
            for start, stop in account_shards(config.accounts, config.env_workers)]


def _costs(config: TrainingConfig) -> ScenarioParams:
    return ScenarioParams(fees=config.fees, slippage=config.slippage)


def make_validation_env(history: MarketData, validation_start: Any, normalizer: FittedNormalizer,
                        config: TrainingConfig) -> TradingVectorEnv:
    """One account trading every symbol from ``validation_start`` to the end of ``history``.

    ``history`` includes the bars before the validation period so that its first decision sees
    warm features; features stay causal, and the normalizer is the training period's.
    """
    first = int(np.searchsorted(history.index, validation_start))
    if first >= len(history.index) - 1:
        raise InvalidParameterError(f"the validation period starting {validation_start} holds fewer than 2 bars")
    return TradingVectorEnv(history, params=_costs(config), normalizer=normalizer,
                            episode=EpisodeConfig(episode_length=None, random_start=False, min_start=first))


def evaluate_validation(model: MaskablePPO, env: TradingVectorEnv) -> dict[str, float]:
    """Trade one validation episode with the masked argmax policy; metrics under ``validation/``.

    ``sharpe`` and ``max_drawdown`` are ``engine.metrics``' figures of the account's bar returns and
    equity (Sharpe annualized at the bar frequency, ddof 1, 0 when the returns are flat).
    """
    observation, info = env.reset(seed=0)
    equity = [float(info["equity"][0])]
    rewards: list[float] = []
    while True:
        actions, _ = model.predict(observation, action_masks=env.action_masks(), deterministic=True)
        observation, reward, terminated, truncated, info = env.step(actions)
        rewards.append(float(reward.mean()))
        if terminated.any() or truncated.any():
            equity.append(float(info["final_info"]["equity"][0]))
            break
        equity.append(float(info["equity"][0]))
    curve = np.asarray(equity)
    returns = curve[1:] / curve[:-1] - 1.0
    sharpe = sharpe_ratio(returns, bars_per_year(env.batch.frequency))
    return {"validation/sharpe": sharpe, "validation/mean_reward": float(np.mean(rewards)),
            "validation/total_return": float(curve[-1] / curve[0] - 1.0),
            "validation/max_drawdown": max_drawdown(curve), "validation/bars": float(len(rewards))}


class RewardComponentCallback(BaseCallback):
    """Logs the mean of each reward component per step over a rollout as ``reward/<component>``."""

    def _on_rollout_start(self) -> None:
        self._sums = dict.fromkeys(REWARD_COMPONENTS, 0.0)
        self._count = 0

    def _on_step(self) -> bool:
        for item in self.locals["infos"]:
            for name in REWARD_COMPONENTS:
                self._sums[name] += item[f"reward_{name}"]
            self._count += 1
        return True

    def _on_rollout_end(self) -> None:
        for name, total in self._sums.items():
            self.logger.record(f"reward/{name}", total / max(self._count, 1))


class ValidationCallback(BaseCallback):
    """Validates every ``every`` timesteps (and at the end), keeping the best policy weights."""

    def __init__(self, env: TradingVectorEnv, every: int) -> None:
        super().__init__()
        self.env, self.every = env, every
        self.history: list[dict[str, float]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_metrics: dict[str, float] | None = None
        self.seconds = 0.0
        self._next = every

    def _on_step(self) -> bool:
        if self.every and self.num_timesteps >= self._next:
            self._next += self.every
            self.validate()
        return True

    def _on_training_end(self) -> None:
        if not self.history or self.history[-1]["timesteps"] != self.num_timesteps:
            self.validate()

    def validate(self) -> None:
        """Run the validation episode now; keep the weights if they are the best so far."""
        started = time.perf_counter()
        metrics = evaluate_validation(self.model, self.env)
        self.seconds += time.perf_counter() - started
        for key, value in metrics.items():
            self.logger.record(key, value)
        self.history.append({"timesteps": float(self.num_timesteps), **metrics})
        score = (metrics["validation/sharpe"], metrics["validation/mean_reward"])
        if self.best_metrics is None or score > (self.best_metrics["validation/sharpe"],
                                                 self.best_metrics["validation/mean_reward"]):
            self.best_metrics = {**metrics, "validation/timesteps": float(self.num_timesteps)}
            self.best_state = copy.deepcopy(self.model.policy.state_dict())
        logger.info("validation at %d steps: sharpe %.3f, mean reward %.4f", self.num_timesteps,
                    metrics["validation/sharpe"], metrics["validation/mean_reward"])


class ProgressBarCallback(BaseCallback):
    """A tqdm bar over the timesteps (SB3's own bar needs ``rich``, which is not a dependency)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, unit="step", desc="training")

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def train_symbol_agent(train: MarketData, history: MarketData, validation_period: tuple[Any, Any],
                       config: TrainingConfig, *, log_dir: str | Path, code_version: str,
                       progress: bool = False, verbose: bool = False,
                       shard_runner: ShardRunnerFactory | None = None) -> TrainingResult:
    """Train a symbol agent on ``train`` and keep the weights that validate best.

    Args:
        train: The training period's data (the normalizer is fitted on it alone).
        history: Data from the training start through the validation end (validation warm-up).
        validation_period: ``(start, end)`` of the validation period, inside ``history``.
        config: The run's settings.
        log_dir: Folder for the SB3 logger's files.
        code_version: Recorded in the model card.
        progress: Show a tqdm progress bar.
        verbose: Print SB3's metric tables to stdout.
        shard_runner: Where the ``env_workers`` shards live (e.g. ``workbench.services.ray_training.RayShards``);
            None keeps them in this process, and with one env worker steps one environment directly.

    Returns:
        The best agent, its model card and the fitted normalizer.
    """
    set_random_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    agent_config = config.agent_config()
    initial = SymbolAgent(agent_config)
    venv, normalizer = _training_vec_env(train, config, shard_runner)
    try:  # the shards may hold remote workers
        validation_env = make_validation_env(history, validation_period[0], normalizer, config)
        model = MaskablePPO("MultiInputPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size,
                            n_epochs=config.n_epochs, learning_rate=config.learning_rate, gamma=config.gamma,
                            gae_lambda=config.gae_lambda, clip_range=config.clip_range, ent_coef=config.ent_coef,
                            policy_kwargs=policy_kwargs(agent_config), seed=config.seed, device=config.device)
        copy_agent_into_policy(initial, model.policy)
        model.set_logger(configure(str(log_dir), logger_formats(verbose)))
        validation = ValidationCallback(validation_env, config.eval_every)
        callbacks = [RewardComponentCallback(), validation]
        callbacks += [ProgressBarCallback(config.timesteps)] if progress else []
        started = time.perf_counter()
        model.learn(config.timesteps, callback=CallbackList(callbacks))
        elapsed = time.perf_counter() - started
    finally:
        venv.close()
    training_metrics = {k: float(v) for k, v in model.logger.name_to_value.items() if k.startswith("train/")}
    # Speed of rollouts plus updates; the validation episodes are timed apart.
    training_metrics.update({"train/timesteps": float(model.num_timesteps), "train/seconds": elapsed,
                             "train/validation_seconds": validation.seconds,
                             "train/steps_per_second": model.num_timesteps / max(elapsed - validation.seconds, 1e-9)})
    model.logger.dump(model.num_timesteps)
    model.policy.load_state_dict(validation.best_state)
    agent = agent_from_policy(model.policy.to("cpu"), agent_config)
    card = ModelCard(
        architecture=ARCHITECTURE, config={**agent_card_config(config), "trained_on": device_description(model.device)},
        train_period=(train.index[0].isoformat(), train.index[-1].isoformat()),
        validation_period=tuple(pd.Timestamp(p).isoformat() for p in validation_period),
        data_fingerprint=train.fingerprint(), seed=config.seed, code_version=code_version,
        training_metrics=training_metrics, validation_metrics=validation.best_metrics)
    return TrainingResult(agent, card, normalizer, tuple(validation.history))


def _training_vec_env(train: MarketData, config: TrainingConfig,
                      shard_runner: ShardRunnerFactory | None) -> tuple[SB3VecEnv | ShardedVecEnv, FittedNormalizer]:
    """The training accounts as SB3 sees them, and the normalizer fitted on the training data."""
    if config.env_workers == 1 and shard_runner is None:
        venv = SB3VecEnv(make_training_env(train, config))
        return venv, venv.env.builder.normalizer
    normalizer = fit_training_normalizer(train, config)
    runner = (shard_runner or InProcessShards)(make_training_shards(train, normalizer, config))
    return ShardedVecEnv(runner), normalizer
