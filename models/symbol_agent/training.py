"""Train a :class:`SymbolAgent` with sb3-contrib ``MaskablePPO`` on the engine's vector environment.

Reads top to bottom: :class:`TrainingConfig` (every knob, documented, defaulting to the program
plan's PPO configuration), the environments, then :func:`train_symbol_agent`, which returns a
:class:`TrainingResult` ready for ``models.checkpoint.save_checkpoint``. What happens after each PPO
update (warning signs, validation, resume points) is ``models.symbol_agent.hooks.TrainingRun``.

Periods (``models.splits.DataSplit``): the training accounts trade the training period; every
``eval_every`` timesteps (at the first update after each multiple: the policy only changes there)
and at the end, the deterministic masked policy trades the validation period in ``eval_episodes``
staggered episodes (``models.symbol_agent.evaluation``). The kept weights are the best validated
ones: a policy that shows the all-HOLD warning sign ranks below every one that does not, then the
validation Sharpe decides (ties: mean reward). The test period, when there is one, is traded once,
by the kept weights, at the end.

Resume: every ``checkpoint_every`` timesteps (at update boundaries) the whole training state is
written to a resume folder (``models.symbol_agent.resume``); ``resume=True`` continues from the
newest one, bit for bit on the CPU.

Env workers: with ``env_workers`` K > 1 the training accounts are cut into K shards of consecutive
accounts (``engine.envs.sharded``), each its own environment, with the normalizer fitted once here
on the training data and handed to every shard. A *shard runner* decides where the shards live:
in this process by default, or e.g. one Ray actor each (``workbench.services.ray_training``).
Results depend on K (shard ``k`` draws its own episode starts), never on the runner.

Logging: the SB3 logger writes ``progress.csv`` into ``log_dir`` (stdout when ``verbose``,
TensorBoard events when installed): ``train/...`` per update, ``rollout/...`` and
``reward/<component>`` per rollout, ``validation/...`` per validation.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import set_random_seed

from engine.data.market import MarketData
from engine.envs.episode import EpisodeConfig
from engine.envs.sharded import EnvFactory, InProcessShards, ShardedVecEnv, ShardRunnerFactory, account_shards
from engine.envs.sources import scenario_batch
from engine.envs.vector_env import SB3VecEnv, TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.observation import ObservationBuilder
from engine.rewards import RewardWeights
from engine.scenarios import ScenarioParams
from models.checkpoint import ModelCard
from models.devices import check_device, device_description
from models.limits import check_count, check_rollout
from models.schedules import Schedule
from models.splits import DataSplit
from models.symbol_agent.evaluation import make_evaluation_env, run_episodes, summarize_episodes
from models.symbol_agent.hooks import (
    ProgressBarCallback,
    RolloutStatsCallback,
    TrainingRun,
    ValidationHook,
    predictor,
)
from models.symbol_agent.network import ARCHITECTURE, SymbolAgent, SymbolAgentConfig
from models.symbol_agent.ppo import ScheduledMaskablePPO
from models.symbol_agent.sb3_policy import agent_from_policy, copy_agent_into_policy, policy_kwargs
from models.training_checks import TrainingDiverged, WarningMonitor, WarningThresholds
from models.training_log import logger_formats

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrainingConfig:
    """What a training run does (defaults: the program plan's Phase 3 PPO configuration).

    Attributes:
        preset: Symbol agent preset (``compact``, or ``seed``: the symbol-agent specification's size).
        timesteps: Environment steps to train for (summed over all sub-environments).
        seed: Seeds torch, numpy, the environments and SB3.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        threads: Torch CPU threads while training (restored afterwards): one, because the batches
            are small and on a shared 2-core machine a second thread spins more than it computes.
        accounts: Independent training accounts; the vector env holds ``accounts * n_symbols``
            sub-environments (the plan's 8 parallel environments: 3 accounts of 3 symbols is the
            closest, all stepped in one kernel call).
        episode_length: Decisions per training episode (random starts inside the training period).
        n_steps: Rollout steps per sub-environment between PPO updates (plan: 2048).
        batch_size: PPO minibatch size (plan: 64).
        n_epochs: PPO epochs per update (plan: 10).
        learning_rate: Adam learning rate over the run (plan: cosine 3e-4 -> 1e-5).
        ent_coef: Entropy bonus coefficient over the run (plan: 0.01 -> 0.001, linear here).
        gamma: Discount factor.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range.
        vf_coef: Value loss coefficient.
        max_grad_norm: Gradient norm clip.
        reward_weights: Weights of the reward components in training and validation (plan: the engine's
            defaults, ``hold`` 0).
        eval_every: Validate every this many timesteps (0: only at the end).
        eval_episodes: Staggered validation episodes per validation (plan: 10).
        checkpoint_every: Write a resume point every this many timesteps (0: never).
        fees: Fee fraction of traded notional in training and evaluation.
        slippage: Slippage fraction in training and evaluation.
        env_workers: Shards the training accounts are cut into (1 to ``accounts``); 1 keeps one
            environment. Changes the episode starts, hence the results (module docstring).
        warnings: Thresholds of the warning signs (``models.training_checks``).
    """

    preset: str = "compact"
    timesteps: int = 100_000
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    accounts: int = 3
    episode_length: int = 256
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    learning_rate: Schedule = Schedule("cosine", 3e-4, 1e-5)
    ent_coef: Schedule = Schedule("linear", 0.01, 0.001)
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_weights: RewardWeights = RewardWeights()
    eval_every: int = 5_000
    eval_episodes: int = 10
    checkpoint_every: int = 10_000
    fees: float = 0.001
    slippage: float = 0.0005
    env_workers: int = 1
    warnings: WarningThresholds = field(default_factory=WarningThresholds)

    def __post_init__(self) -> None:
        SymbolAgentConfig.preset(self.preset)  # raises with a "did you mean" on an unknown preset
        check_device(self.device)
        for name in ("timesteps", "threads", "accounts", "episode_length", "n_steps", "batch_size", "n_epochs",
                     "eval_episodes", "env_workers"):
            check_count("TrainingConfig", name, getattr(self, name), low=1)
        for name in ("seed", "eval_every", "checkpoint_every"):
            check_count("TrainingConfig", name, getattr(self, name), low=0)
        check_rollout("TrainingConfig", self.accounts, self.n_steps)
        for name in ("gamma", "gae_lambda", "clip_range", "vf_coef", "max_grad_norm", "fees", "slippage"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidParameterError(f"TrainingConfig.{name} must be a finite number >= 0, got {value!r}")
        for name, kind in (("learning_rate", Schedule), ("ent_coef", Schedule), ("reward_weights", RewardWeights),
                           ("warnings", WarningThresholds)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidParameterError(f"TrainingConfig.{name} must be a {kind.__name__}")
        if self.env_workers > self.accounts:
            raise InvalidParameterError(
                f"TrainingConfig.env_workers {self.env_workers} exceeds accounts {self.accounts}: each env worker "
                f"steps at least one account, so use 1 to {self.accounts} env workers or more accounts")

    def agent_config(self) -> SymbolAgentConfig:
        """The symbol agent's sizes for :attr:`preset`."""
        return SymbolAgentConfig.preset(self.preset)

    def costs(self) -> ScenarioParams:
        """Costs of every training and evaluation account."""
        return ScenarioParams(fees=self.fees, slippage=self.slippage)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (what the model card and resume points record)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainingConfig":
        """Inverse of :meth:`to_dict`. Cards written before schedules existed hold plain numbers for
        ``learning_rate`` and ``ent_coef`` (constants), and lack the settings added since (defaults).

        Raises:
            InvalidParameterError: an unknown key or a bad value.
        """
        values = dict(data)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InvalidParameterError(f"unknown training setting(s) {', '.join(unknown)}")
        for name in ("learning_rate", "ent_coef"):
            if isinstance(values.get(name), (int, float)):
                values[name] = Schedule.constant(values[name])
            elif isinstance(values.get(name), Mapping):
                values[name] = Schedule.from_dict(values[name])
        for name, kind in (("reward_weights", RewardWeights), ("warnings", WarningThresholds)):
            if isinstance(values.get(name), Mapping):
                values[name] = kind(**values[name])
        return cls(**values)


@dataclass(frozen=True)
class TrainingResult:
    """A trained agent and what goes into its checkpoint.

    Attributes:
        agent: The best agent (CPU, eval mode).
        card: Its model card (periods, seed, metrics, warnings, config).
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
            "training": config.to_dict()}


def make_training_env(train: MarketData, config: TrainingConfig) -> TradingVectorEnv:
    """``accounts`` copies of the training data, random episode starts, normalizer fitted on it."""
    return TradingVectorEnv(train, params=[config.costs()] * config.accounts,
                            fit_period=(train.index[0], train.index[-1]),
                            episode=EpisodeConfig(episode_length=config.episode_length),
                            reward_weights=config.reward_weights)


def fit_training_normalizer(train: MarketData, config: TrainingConfig) -> FittedNormalizer:
    """The statistics :func:`make_training_env` fits: every account trades one path, fitted once."""
    batch = scenario_batch(train, None, config.costs())
    return ObservationBuilder(batch, fit_period=(train.index[0], train.index[-1])).normalizer


def make_training_shards(train: MarketData, normalizer: FittedNormalizer,
                         config: TrainingConfig) -> list[EnvFactory]:
    """One env factory per env worker: ``env_workers`` runs of consecutive training accounts, each
    an environment like :func:`make_training_env`'s over its accounts, with ``normalizer``."""
    episode = EpisodeConfig(episode_length=config.episode_length)
    return [functools.partial(TradingVectorEnv, train, params=[config.costs()] * (stop - start),
                              normalizer=normalizer, episode=episode, reward_weights=config.reward_weights)
            for start, stop in account_shards(config.accounts, config.env_workers)]


def train_symbol_agent(split: DataSplit, config: TrainingConfig, *, log_dir: str | Path, code_version: str,
                       progress: bool = False, verbose: bool = False,
                       shard_runner: ShardRunnerFactory | None = None, checkpoints: str | Path | None = None,
                       resume: bool = False, on_validation: ValidationHook | None = None) -> TrainingResult:
    """Train a symbol agent on ``split``'s training period and keep the weights that validate best.

    Args:
        split: The periods (``models.splits``); with a test period the kept weights trade it once
            at the end (``test_metrics`` of the card).
        config: The run's settings.
        log_dir: Folder for the SB3 logger's files.
        code_version: Recorded in the model card.
        progress: Show a tqdm progress bar.
        verbose: Print SB3's metric tables to stdout.
        shard_runner: Where the ``env_workers`` shards live (e.g. ``workbench.services.ray_training.RayShards``);
            None keeps them in this process, and with one env worker steps one environment directly.
        checkpoints: Folder for resume points every ``checkpoint_every`` timesteps (None: none).
        resume: Continue from the newest resume point in ``checkpoints``.
        on_validation: Called after each validation (:data:`ValidationHook`).

    Raises:
        InvalidParameterError: resuming without a folder, with env workers, or from another run's folder.
    """
    if resume and checkpoints is None:
        raise InvalidParameterError("resuming needs the folder of resume points (checkpoints)")
    if checkpoints is not None and (config.env_workers > 1 or shard_runner is not None):
        raise InvalidParameterError(
            "resume points need one in-process environment (env workers 1, executor local); train with env "
            "workers without resume points (checkpoint_every 0)")
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(split, config, Path(log_dir), code_version, progress, verbose, shard_runner,
                      None if checkpoints is None else Path(checkpoints), resume, on_validation)
    finally:
        torch.set_num_threads(threads)


def _train(split: DataSplit, config: TrainingConfig, log_dir: Path, code_version: str, progress: bool,
           verbose: bool, shard_runner: ShardRunnerFactory | None, checkpoints: Path | None, resume: bool,
           on_validation: ValidationHook | None) -> TrainingResult:
    set_random_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    train = split.part(split.train)
    agent_config = config.agent_config()
    initial = SymbolAgent(agent_config)
    venv, normalizer = _training_vec_env(train, config, shard_runner)
    try:  # the shards may hold remote workers
        validation_env, starts = make_evaluation_env(split.through(split.validation), split.validation[0], normalizer,
                                                     config.costs(), config.eval_episodes, config.reward_weights)
        run = TrainingRun(config, validation_env, starts, WarningMonitor(config.timesteps, config.warnings), checkpoints,
                   log_dir, {"config": config.to_dict(), "data_fingerprint": split.data.fingerprint(),
                             "periods": split.to_dict()}, on_validation)
        model = ScheduledMaskablePPO(
            "MultiInputPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
            learning_rate=config.learning_rate.sb3(), gamma=config.gamma, gae_lambda=config.gae_lambda,
            clip_range=config.clip_range, vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm,
            ent_schedule=config.ent_coef, after_update=run.after_update, policy_kwargs=policy_kwargs(agent_config),
            seed=config.seed, device=config.device)
        run.model = model
        copy_agent_into_policy(initial, model.policy)
        model.set_logger(configure(str(log_dir), logger_formats(verbose)))
        if resume:
            run.resume()
        callbacks = [RolloutStatsCallback(run.monitor)]
        callbacks += [ProgressBarCallback(config.timesteps)] if progress else []
        started = time.perf_counter()
        try:
            model.learn(config.timesteps - model.num_timesteps, callback=CallbackList(callbacks),
                        reset_num_timesteps=not resume)
        except TrainingDiverged:
            logger.error("training stopped at %d steps: a loss is not finite; keeping the best weights validated "
                         "before it", model.num_timesteps)
            if run.best_state is None:
                raise
        elapsed = time.perf_counter() - started
        training_metrics = {k: float(v) for k, v in model.logger.name_to_value.items() if k.startswith("train/")}
        model.logger.dump(model.num_timesteps)
    finally:
        venv.close()
    # Speed of rollouts plus updates; the validation episodes are timed apart.
    training_metrics.update({"train/timesteps": float(model.num_timesteps), "train/seconds": elapsed,
                             "train/validation_seconds": run.validation_seconds,
                             "train/steps_per_second": (model.num_timesteps - run.resumed_from) / max(
                                 elapsed - run.validation_seconds, 1e-9)})
    model.policy.load_state_dict(run.best_state)
    test_metrics = {}
    if split.test is not None:
        test_env, test_starts = make_evaluation_env(split.through(split.test), split.test[0], normalizer,
                                                    config.costs(), config.eval_episodes, config.reward_weights)
        figures = summarize_episodes(run_episodes(predictor(model), test_env, test_starts))
        test_metrics = {f"test/{k}": v for k, v in figures.items()}
    agent = agent_from_policy(model.policy.to("cpu"), agent_config)
    card = ModelCard(
        architecture=ARCHITECTURE, config={**agent_card_config(config), "trained_on": device_description(model.device)},
        train_period=tuple(t.isoformat() for t in split.train),
        validation_period=tuple(t.isoformat() for t in split.validation),
        test_period=None if split.test is None else tuple(t.isoformat() for t in split.test),
        data_fingerprint=train.fingerprint(), seed=config.seed, code_version=code_version,
        training_metrics=training_metrics, validation_metrics=_finite(run.best_metrics),
        test_metrics=_finite(test_metrics), warnings=tuple(run.monitor.warnings()))
    return TrainingResult(agent, card, normalizer, tuple(run.history))


def _finite(metrics: Mapping[str, float] | None) -> dict[str, float]:
    """The defined figures (an undefined one, e.g. a win rate without closed trades, is left out)."""
    return {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(v)}


def _training_vec_env(train: MarketData, config: TrainingConfig,
                      shard_runner: ShardRunnerFactory | None) -> tuple[SB3VecEnv | ShardedVecEnv, FittedNormalizer]:
    """The training accounts as SB3 sees them, and the normalizer fitted on the training data."""
    if config.env_workers == 1 and shard_runner is None:
        venv = SB3VecEnv(make_training_env(train, config))
        return venv, venv.env.builder.normalizer
    normalizer = fit_training_normalizer(train, config)
    runner = (shard_runner or InProcessShards)(make_training_shards(train, normalizer, config))
    return ShardedVecEnv(runner), normalizer
