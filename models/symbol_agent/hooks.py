"""What a symbol-agent training run does besides PPO: per-rollout statistics, a progress bar, and the
after-update hook (:class:`TrainingRun`: warning signs, validation keeping the best weights, resume
points).

``models.symbol_agent.training`` builds these around its ``ScheduledMaskablePPO``; the PPO update
calls :meth:`TrainingRun.after_update` once it is done, the only moments the policy changes.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from engine.actions import SymbolAction
from engine.envs.vector_env import TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.rewards import REWARD_COMPONENTS
from models.symbol_agent.evaluation import run_episodes, summarize_episodes
from models.symbol_agent.ppo import ScheduledMaskablePPO
from models.symbol_agent.resume import latest_resume_point, restore_generators, save_resume_point
from models.training_checks import WarningMonitor

if TYPE_CHECKING:
    from models.symbol_agent.training import TrainingConfig

logger = logging.getLogger(__name__)

ValidationHook = Callable[[int, Mapping[str, float]], None]
"""Called after each validation with the timesteps and the ``validation/...`` metrics (a search
reports to its trial there, and may stop the run by raising)."""


class RolloutStatsCallback(BaseCallback):
    """Per rollout: the mean of each reward component per step (``reward/<component>``) and the share
    of each action sampled (``rollout/action_<name>``; HOLD's share feeds the all-HOLD warning sign)."""

    def __init__(self, monitor: WarningMonitor) -> None:
        super().__init__()
        self.monitor = monitor

    def _on_rollout_start(self) -> None:
        self._sums = dict.fromkeys(REWARD_COMPONENTS, 0.0)
        self._actions = np.zeros(len(SymbolAction), dtype=np.int64)
        self._count = 0

    def _on_step(self) -> bool:
        for item in self.locals["infos"]:
            for name in REWARD_COMPONENTS:
                self._sums[name] += item[f"reward_{name}"]
            self._count += 1
        self._actions += np.bincount(np.asarray(self.locals["actions"]).reshape(-1), minlength=len(SymbolAction))
        return True

    def _on_rollout_end(self) -> None:
        for name, total in self._sums.items():
            self.logger.record(f"reward/{name}", total / max(self._count, 1))
        shares = self._actions / max(self._actions.sum(), 1)
        for action in SymbolAction:
            self.logger.record(f"rollout/action_{action.name.lower()}", float(shares[action]))
        self.monitor.after_rollout(self.num_timesteps, float(shares[SymbolAction.HOLD]))


class ProgressBarCallback(BaseCallback):
    """A tqdm bar over the timesteps (SB3's own bar needs ``rich``, which is not a dependency)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.num_timesteps, unit="step", desc="training")

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def validation_rank(metrics: Mapping[str, float], inactive: bool) -> tuple[bool, float, float]:
    """How validations compare (higher is better): active before inactive, then Sharpe, then mean reward."""
    return (not inactive, metrics["validation/sharpe"], metrics["validation/mean_reward"])


@dataclass
class TrainingRun:
    """What happens after each PPO update: warning signs, validation (keeping the best weights) and
    resume points. ``model`` is set once the SB3 model exists."""

    config: TrainingConfig
    validation_env: TradingVectorEnv
    validation_starts: np.ndarray
    monitor: WarningMonitor
    checkpoints: Path | None
    log_dir: Path
    run_identity: Mapping[str, Any]
    on_validation: ValidationHook | None = None
    model: ScheduledMaskablePPO | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_metrics: dict[str, float] | None = None
    best_rank: tuple[bool, float, float] | None = None
    next_validation: int = 0
    next_checkpoint: int = 0
    validation_seconds: float = 0.0
    resumed_from: int = 0

    def __post_init__(self) -> None:
        self.next_validation = self.config.eval_every or self.config.timesteps
        self.next_checkpoint = self.config.checkpoint_every or math.inf

    def after_update(self) -> None:
        model, config = self.model, self.config
        values = model.logger.name_to_value
        self.monitor.after_update(model.num_timesteps, {
            "loss": values.get("train/loss"), "policy_loss": values.get("train/policy_gradient_loss"),
            "value_loss": values.get("train/value_loss"), "entropy": -values.get("train/entropy_loss", math.nan),
            "explained_variance": values.get("train/explained_variance")})
        done = model.num_timesteps >= config.timesteps
        if model.num_timesteps >= self.next_validation or done:
            while self.next_validation <= model.num_timesteps:
                self.next_validation += config.eval_every or config.timesteps
            self.validate()
        if self.checkpoints is not None and model.num_timesteps >= self.next_checkpoint and not done:
            while self.next_checkpoint <= model.num_timesteps:
                self.next_checkpoint += config.checkpoint_every
            self.save_resume_point()

    def validate(self) -> None:
        """Trade the validation episodes now; keep the weights if they rank best so far."""
        started = time.perf_counter()
        model = self.model
        figures = summarize_episodes(run_episodes(predictor(model), self.validation_env, self.validation_starts))
        self.validation_seconds += time.perf_counter() - started
        metrics = {f"validation/{k}": v for k, v in figures.items()}
        for key, value in metrics.items():
            model.logger.record(key, value)
        inactive = self.monitor.after_validation(model.num_timesteps, figures)
        self.history.append({"timesteps": float(model.num_timesteps), **metrics})
        rank = validation_rank(metrics, bool(inactive))
        if self.best_rank is None or rank > self.best_rank:
            self.best_rank = rank
            self.best_metrics = {**metrics, "validation/timesteps": float(model.num_timesteps)}
            self.best_state = copy.deepcopy(model.policy.state_dict())
        logger.info("validation at %d steps: sharpe %.3f, time in market %.1f%%, %.1f trades/year, mean reward %.4f%s",
                    model.num_timesteps, figures["sharpe"], 100 * figures["time_in_market"],
                    figures["trades_per_year"], figures["mean_reward"], f" ({inactive})" if inactive else "")
        if self.on_validation is not None:
            self.on_validation(model.num_timesteps, metrics)

    def save_resume_point(self) -> None:
        model = self.model
        env: TradingVectorEnv = model.env.env
        arrays = {f"env.{k}": v for k, v in env.snapshot().items()}
        arrays.update({f"obs.{k}": np.asarray(v) for k, v in model._last_obs.items()})
        arrays["episode_starts"] = np.asarray(model._last_episode_starts)
        state = {**self.run_identity, "n_updates": model._n_updates, "history": self.history,
                 "best_metrics": self.best_metrics, "best_rank": self.best_rank,
                 "next_validation": self.next_validation, "next_checkpoint": self.next_checkpoint,
                 "monitor": self.monitor.state(), "validation_seconds": self.validation_seconds,
                 "logger": {k: float(v) for k, v in model.logger.name_to_value.items()}}
        path = save_resume_point(self.checkpoints, model.num_timesteps, state=state,
                                 policy=model.policy.state_dict(), optimizer=model.policy.optimizer.state_dict(),
                                 best=self.best_state, arrays=arrays, progress_csv=self.log_dir / "progress.csv")
        logger.info("resume point %s", path)

    def resume(self) -> None:
        """Continue from the newest resume point in :attr:`checkpoints` (same settings and data)."""
        point = latest_resume_point(self.checkpoints)
        state = point.state
        differing = sorted(k for k, v in self.run_identity.items() if state.get(k) != v)
        if differing:
            raise InvalidParameterError(
                f"the resume point {point.path} was written by a run with other {', '.join(differing)}; resume with "
                "the same options and data, or start afresh without --resume")
        model = self.model
        model.policy.load_state_dict(point.policy)
        model.policy.optimizer.load_state_dict(point.optimizer)
        env: TradingVectorEnv = model.env.env
        env.restore({k[len("env."):]: v for k, v in point.arrays.items() if k.startswith("env.")})
        model._last_obs = {k[len("obs."):]: v for k, v in point.arrays.items() if k.startswith("obs.")}
        model._last_episode_starts = point.arrays["episode_starts"]
        model.num_timesteps, model._n_updates = int(state["timesteps"]), int(state["n_updates"])
        self.resumed_from = model.num_timesteps
        self.history = list(state["history"])
        self.best_metrics, self.best_state = state["best_metrics"], point.best
        self.best_rank = None if state["best_rank"] is None else tuple(state["best_rank"])
        self.next_validation, self.next_checkpoint = int(state["next_validation"]), int(state["next_checkpoint"])
        self.validation_seconds = float(state["validation_seconds"])
        self.monitor.restore(state["monitor"])
        for key, value in state["logger"].items():
            model.logger.record(key, value)
        if (point.path / "progress.csv").exists():
            (self.log_dir / "progress.before-resume.csv").write_bytes((point.path / "progress.csv").read_bytes())
        restore_generators(point)
        logger.info("resumed from %s at %d steps", point.path, model.num_timesteps)


def predictor(model: ScheduledMaskablePPO) -> Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]:
    """The deterministic masked policy of ``model`` as ``decide(observation, masks)``."""
    return lambda observation, masks: model.predict(observation, action_masks=masks, deterministic=True)[0]


