"""Train the master agent with PPO over frozen symbol agents (CleanRL style: config, environments, loop).

Reads top to bottom: :class:`MasterTrainingConfig` (every knob, documented), the environment
factories (``accounts`` training accounts on random, seeded episode windows of the training period;
one validation account from the validation period's first bar to its last, warm features from the
bars before it), :func:`evaluate_validation`, then :func:`train_master_agent`, which runs the PPO loop
(``models.master_agent.ppo``: rollouts with GAE, clipped updates) and returns a :class:`MasterTrainingResult`
ready for ``models.checkpoint.save_checkpoint``.

The environment (``models.master_agent.env``) observes the symbol agent's frozen encoder embeddings; only
the master agent and the log-std of its logistic-normal action noise (``models.master_agent.policy_network``)
learn. Embeddings are computed once per step without gradients and stored in the rollout, so an
update touches the small master agent alone.

Best weights: every ``eval_every`` timesteps (account decisions) and once at the end, the
deterministic policy (the agent's own weights, no noise) trades the validation period; the weights
with the highest validation Sharpe (ties: higher mean reward) are kept.

Logging: SB3's logger writes ``progress.csv`` into ``log_dir`` (stdout when ``verbose``, TensorBoard
events when ``tensorboard`` is installed): ``train/...`` losses and diagnostics per update,
``reward/<component>`` (mean per account step of each component summed over the account's symbols,
over the rollout), ``validation/...`` metrics.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from stable_baselines3.common.logger import Logger, configure

from engine.data.market import MarketData, bars_per_year
from engine.envs.episode import EpisodeConfig
from engine.errors import InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.metrics import max_drawdown, sharpe_ratio
from models.checkpoint import ModelCard
from models.devices import device_description, resolve_device
from models.master_agent.config import MasterTrainingConfig
from models.master_agent.env import MasterEnvironment
from models.master_agent.policy_network import ARCHITECTURE, MasterPolicyNetwork, master_card_config, master_config
from models.master_agent.ppo import collect_rollout, ppo_update
from models.spec import observation_spec, weights_action_spec
from models.splits import DataSplit
from models.symbol_agent.encoder import FeatureEncoder
from models.training_log import logger_formats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterTrainingResult:
    """A trained master policy and what goes into its checkpoint.

    Attributes:
        network: The best network (frozen encoder + master agent; CPU, eval mode).
        card: Its model card.
        normalizer: The symbol agent's normalizer (the encoder reads what it normalizes).
        history: One dict per validation (``timesteps`` plus ``validation/...`` metrics).
    """

    network: MasterPolicyNetwork
    card: ModelCard
    normalizer: FittedNormalizer
    history: tuple[dict[str, float], ...]


def make_training_env(train: MarketData, network: MasterPolicyNetwork, normalizer: FittedNormalizer,
                      config: MasterTrainingConfig, device: torch.device) -> MasterEnvironment:
    """``accounts`` copies of the training data, each on its own seeded random episode window."""
    return MasterEnvironment(train, network, normalizer, params=[config.params()] * config.accounts,
                             episode=EpisodeConfig(episode_length=config.episode_length),
                             action_space=config.action_space(), reward_weights=config.reward_weights,
                             seed=config.seed, device=device)


def make_validation_env(history: MarketData, validation_start: Any, network: MasterPolicyNetwork,
                        normalizer: FittedNormalizer, config: MasterTrainingConfig,
                        device: torch.device) -> MasterEnvironment:
    """One account trading from ``validation_start`` to the end of ``history`` (warm, causal features)."""
    first = int(np.searchsorted(history.index, validation_start))
    if first >= len(history.index) - 1:
        raise InvalidParameterError(f"the validation period starting {validation_start} holds fewer than 2 bars")
    return MasterEnvironment(history, network, normalizer, params=[config.params()],
                             episode=EpisodeConfig(episode_length=None, random_start=False, min_start=first),
                             action_space=config.action_space(), reward_weights=config.reward_weights,
                             seed=0, device=device)


def evaluate_validation(network: MasterPolicyNetwork, env: MasterEnvironment) -> dict[str, float]:
    """Trade one validation episode with the deterministic weights; metrics under ``validation/``.

    ``sharpe`` and ``max_drawdown`` are ``engine.metrics``' figures of the account's bar returns and
    equity (Sharpe annualized at the bar frequency, ddof 1, 0 when the returns are flat);
    ``mean_cash`` is the average cash weight the policy asked for, ``time_in_market`` the share of
    decisions taken while a position was open.
    """
    network.eval()
    observation = env.reset()
    equity = [float(env.stepper.state.equity[0])]
    rewards: list[float] = []
    cash: list[float] = []
    held: list[bool] = []
    with torch.no_grad():
        while True:
            weights = network(observation).weights
            cash.append(float(weights[0, -1]))
            held.append(bool(np.any(env.stepper.state.units[0] != 0.0)))
            step = env.step(weights[:, :-1].cpu().numpy())
            rewards.append(float(step.reward[0]))
            equity.append(float(step.equity[0]))
            if step.terminated[0] or step.truncated[0]:
                break
            observation = step.observation
    network.train()
    curve = np.asarray(equity)
    returns = curve[1:] / curve[:-1] - 1.0
    sharpe = sharpe_ratio(returns, bars_per_year(env.frequency))
    return {"validation/sharpe": sharpe, "validation/mean_reward": float(np.mean(rewards)),
            "validation/total_return": float(curve[-1] / curve[0] - 1.0),
            "validation/max_drawdown": max_drawdown(curve),
            "validation/mean_cash": float(np.mean(cash)), "validation/time_in_market": float(np.mean(held)),
            "validation/bars": float(len(rewards))}


class _Validator:
    """Validates and keeps the best network state by (Sharpe, mean reward)."""

    def __init__(self, network: MasterPolicyNetwork, env: MasterEnvironment, log: Logger) -> None:
        self.network, self.env, self.log = network, env, log
        self.history: list[dict[str, float]] = []
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_metrics: dict[str, float] | None = None
        self.seconds = 0.0

    def __call__(self, timesteps: int) -> None:
        started = time.perf_counter()
        metrics = evaluate_validation(self.network, self.env)
        self.seconds += time.perf_counter() - started
        for key, value in metrics.items():
            self.log.record(key, value)
        self.history.append({"timesteps": float(timesteps), **metrics})
        score = (metrics["validation/sharpe"], metrics["validation/mean_reward"])
        if self.best_metrics is None or score > (self.best_metrics["validation/sharpe"],
                                                 self.best_metrics["validation/mean_reward"]):
            self.best_metrics = {**metrics, "validation/timesteps": float(timesteps)}
            self.best_state = copy.deepcopy(self.network.state_dict())
        logger.info("validation at %d steps: sharpe %.3f, mean reward %.4f", timesteps,
                    metrics["validation/sharpe"], metrics["validation/mean_reward"])


def train_master_agent(split: DataSplit, encoder: FeatureEncoder, normalizer: FittedNormalizer,
                       symbol_agent: Mapping[str, Any], config: MasterTrainingConfig, *, log_dir: str | Path,
                       code_version: str, progress: bool = False, verbose: bool = False) -> MasterTrainingResult:
    """Train a master agent over a frozen symbol encoder and keep the weights that validate best.

    Args:
        split: The periods (``models.splits``); with a test period, the kept weights trade it once at
            the end (the card's ``test_metrics``, keys ``test/...``).
        encoder: The symbol agent's encoder (copied, then frozen).
        normalizer: The symbol agent's normalizer.
        symbol_agent: ``name``, ``weights_sha256`` and periods of the symbol agent, for the card.
        config: The run's settings.
        log_dir: Folder for the logger's files.
        code_version: Recorded in the model card.
        progress: Show a tqdm progress bar.
        verbose: Print the logger's tables to stdout.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(split, encoder, normalizer, symbol_agent, config, log_dir=log_dir, code_version=code_version,
                      progress=progress, verbose=verbose)
    finally:
        torch.set_num_threads(threads)


def _train(split: DataSplit, encoder: FeatureEncoder, normalizer: FittedNormalizer, symbol_agent: Mapping[str, Any],
           config: MasterTrainingConfig, *, log_dir: str | Path, code_version: str, progress: bool,
           verbose: bool) -> MasterTrainingResult:
    torch.manual_seed(config.seed)
    train = split.part(split.train)
    device = resolve_device(config.device)
    if device.type == "cuda":
        # The CPU kernels used here are deterministic already; the switch (whose import alone takes
        # seconds) matters for CUDA's.
        torch.use_deterministic_algorithms(True, warn_only=True)
    sizes = master_config(config.preset, encoder.config.output_dim)
    network = MasterPolicyNetwork(encoder.config, sizes, config.init_log_std)
    network.encoder.load_state_dict(encoder.state_dict())
    network.to(device)
    env = make_training_env(train, network, normalizer, config, device)
    validate = _Validator(network, make_validation_env(split.through(split.validation), split.validation[0], network,
                                                       normalizer, config, device),
                          configure(str(log_dir), logger_formats(verbose)))
    log = validate.log
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=config.learning_rate,
                                 eps=1e-5)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    per_update = config.accounts * config.n_steps
    n_updates = math.ceil(config.timesteps / per_update)
    bar = _progress_bar(n_updates * per_update) if progress else None
    timesteps, next_validation, train_metrics = 0, config.eval_every, {}
    started = time.perf_counter()
    observation = env.reset()
    for update in range(1, n_updates + 1):
        rollout, observation, reward_means = collect_rollout(
            network, env, observation, config, generator, bar.update if bar is not None else lambda n: None)
        timesteps += per_update
        train_metrics = ppo_update(network, optimizer, rollout, config, rng)
        for key, value in {**reward_means, **train_metrics, "train/n_updates": float(update)}.items():
            log.record(key, value)
        if config.eval_every and timesteps >= next_validation:
            while next_validation <= timesteps:
                next_validation += config.eval_every
            validate(timesteps)
        log.dump(timesteps)
    if not validate.history or validate.history[-1]["timesteps"] != timesteps:
        validate(timesteps)
        log.dump(timesteps)
    elapsed = time.perf_counter() - started
    if bar is not None:
        bar.close()
    training_metrics = {**train_metrics, "train/timesteps": float(timesteps), "train/seconds": elapsed,
                        "train/validation_seconds": validate.seconds,
                        "train/steps_per_second": timesteps / max(elapsed - validate.seconds, 1e-9)}
    network.load_state_dict(validate.best_state)
    test_metrics = {}
    if split.test is not None:
        test_env = make_validation_env(split.through(split.test), split.test[0], network, normalizer, config, device)
        test_metrics = {f"test/{k.split('/', 1)[1]}": v for k, v in evaluate_validation(network, test_env).items()}
    network = network.to("cpu").eval()
    card = ModelCard(
        architecture=ARCHITECTURE,
        config={**master_card_config(config.preset, encoder.config, sizes, config.action_space(), symbol_agent,
                                     dataclasses.asdict(config)), "trained_on": device_description(device)},
        train_period=tuple(t.isoformat() for t in split.train),
        validation_period=tuple(t.isoformat() for t in split.validation),
        test_period=None if split.test is None else tuple(t.isoformat() for t in split.test),
        data_fingerprint=train.fingerprint(), seed=config.seed, code_version=code_version,
        training_metrics=training_metrics, validation_metrics=validate.best_metrics, test_metrics=test_metrics,
        observation_spec=observation_spec(include_mask=False), action_spec=weights_action_spec())
    return MasterTrainingResult(network, card, normalizer, tuple(validate.history))


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="step", desc="training master")
