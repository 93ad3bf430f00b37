"""Hyperparameter search for the symbol agent: Optuna trials over the program plan's ranges.

Each trial trains a symbol agent (``train_symbol_agent``) for ``trial_timesteps`` with the values
Optuna's seeded TPE sampler proposes and is scored on the validation period; the test period is
never touched by a trial. A trial reports its validation Sharpe at every validation, and Optuna's
median pruner stops trials that fall below the median of earlier ones at the same step.

The space (the program plan, Task 3.4: learning rate, entropy, GAE lambda, clip range, reward scaling; the
issue adds the rollout length):

================  =========================================================================
learning_rate     log-uniform 1e-4 .. 1e-3: the start of the cosine schedule (its end stays)
ent_coef          log-uniform 1e-3 .. 5e-2: the start of the entropy schedule, ending at a tenth
clip_range        uniform 0.1 .. 0.3
gae_lambda        uniform 0.90 .. 0.98
n_steps           one of 512, 1024, 2048
reward_pnl        uniform 0.2 .. 0.6 (the pnl component's weight)
reward_time       uniform 0.05 .. 0.25 (the time component's weight)
reward_hold       uniform 0.0 .. 0.1 (the idle-cash penalty's weight)
================  =========================================================================

Score: the validation Sharpe of the weights the trial keeps (the trainer's own rule: active before
inactive, then Sharpe), or :data:`INACTIVE_SCORE` when those weights show the all-HOLD warning sign,
so that a search never prefers a policy that does nothing. Same seed, same data, same code: the same
trials, values and best trial (the sampler is seeded and every trial trains deterministically).

:class:`SearchResult` is what a model card records under ``search``: ``n_trials`` (every trial
looked at, pruned ones included: the count a deflated Sharpe ratio or a PBO needs), the best
trial, and each trial's parameters, score, state and intermediate values.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import optuna

from engine.errors import InvalidParameterError
from models.schedules import Schedule
from models.splits import DataSplit
from models.symbol_agent.training import TrainingConfig, train_symbol_agent

logger = logging.getLogger(__name__)

INACTIVE_SCORE = -10.0
"""The score of a trial whose kept weights do (nearly) nothing: below any Sharpe ratio a real policy shows."""

SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"low": 1e-4, "high": 1e-3, "log": True},
    "ent_coef": {"low": 1e-3, "high": 5e-2, "log": True},
    "clip_range": {"low": 0.1, "high": 0.3},
    "gae_lambda": {"low": 0.90, "high": 0.98},
    "n_steps": {"choices": [512, 1024, 2048]},
    "reward_pnl": {"low": 0.2, "high": 0.6},
    "reward_time": {"low": 0.05, "high": 0.25},
    "reward_hold": {"low": 0.0, "high": 0.1},
}
"""Each parameter's range (``suggest_float`` keywords) or choices (module docstring)."""


@dataclass(frozen=True)
class SearchResult:
    """A finished search.

    Attributes:
        n_trials: Trials run (complete and pruned): the number of configurations looked at.
        best_trial: ``{"number", "score", "params"}`` of the best complete trial.
        best_config: The base config with the best trial's values.
        trials: Per trial ``{"number", "state", "score", "params", "intermediate"}`` (intermediate:
            validation Sharpe by timesteps).
        seed: The sampler's seed.
        trial_timesteps: Timesteps each trial trained for (a trial's last rollout may take it past).
        space: The ranges searched.
    """

    n_trials: int
    best_trial: dict[str, Any]
    best_config: TrainingConfig
    trials: tuple[dict[str, Any], ...]
    seed: int
    trial_timesteps: int
    space: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: dict(SEARCH_SPACE))

    def to_dict(self) -> dict[str, Any]:
        """The model card's ``search`` field (JSON types)."""
        return {"n_trials": self.n_trials, "n_complete": sum(t["state"] == "COMPLETE" for t in self.trials),
                "n_pruned": sum(t["state"] == "PRUNED" for t in self.trials), "objective": "validation Sharpe "
                f"of the kept weights ({INACTIVE_SCORE} when they do nothing)", "direction": "maximize",
                "sampler": "TPESampler", "pruner": "MedianPruner", "seed": self.seed,
                "trial_timesteps": self.trial_timesteps, "space": dict(self.space), "best_trial": self.best_trial,
                "trials": list(self.trials)}


def apply_params(config: TrainingConfig, params: Mapping[str, Any], timesteps: int | None = None) -> TrainingConfig:
    """``config`` with a trial's values (names of :data:`SEARCH_SPACE`) and, optionally, another budget."""
    unknown = sorted(set(params) - set(SEARCH_SPACE))
    if unknown:
        raise InvalidParameterError(f"unknown search parameter(s) {', '.join(unknown)}; known: {', '.join(SEARCH_SPACE)}")
    changes: dict[str, Any] = {}
    if "learning_rate" in params:
        changes["learning_rate"] = Schedule(config.learning_rate.kind if config.learning_rate.kind != "constant"
                                            else "cosine", params["learning_rate"], config.learning_rate.end)
    if "ent_coef" in params:
        changes["ent_coef"] = Schedule("linear", params["ent_coef"], params["ent_coef"] / 10.0)
    for name in ("clip_range", "gae_lambda", "n_steps"):
        if name in params:
            changes[name] = params[name]
    weights = {name[len("reward_"):]: params[name] for name in params if name.startswith("reward_")}
    if weights:
        changes["reward_weights"] = dataclasses.replace(config.reward_weights, **weights)
    if timesteps is not None:
        changes["timesteps"] = timesteps
    return dataclasses.replace(config, **changes)


def suggest_params(trial: optuna.Trial, space: Mapping[str, Mapping[str, Any]] = SEARCH_SPACE) -> dict[str, Any]:
    """One trial's values from ``space`` (names of :data:`SEARCH_SPACE`)."""
    params = {}
    for name, spec in space.items():
        if "choices" in spec:
            params[name] = trial.suggest_categorical(name, spec["choices"])
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


def search_symbol_agent(split: DataSplit, config: TrainingConfig, n_trials: int, trial_timesteps: int, *,
                        log_dir: str | Path, code_version: str, progress: Callable[[str], None] | None = None,
                        space: Mapping[str, Mapping[str, Any]] = SEARCH_SPACE) -> SearchResult:
    """Run ``n_trials`` trials of ``trial_timesteps`` each and return the study.

    Args:
        split: The periods; trials use the training and validation periods only.
        config: The base settings (each trial changes the searched values); its seed seeds the sampler
            and every trial's training.
        n_trials: Trials to run (>= 1).
        trial_timesteps: Each trial's budget.
        log_dir: Each trial logs to ``log_dir/trial-<n>``.
        code_version: Recorded in the trials' (discarded) cards.
        progress: Called with one line per finished trial.
        space: The ranges searched (default :data:`SEARCH_SPACE`; a subset, or narrower ranges).

    Raises:
        InvalidParameterError: fewer than one trial, or no trial completed.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidParameterError(f"a search needs at least one trial, got {n_trials!r}")
    trial_split = dataclasses.replace(split, test=None)
    base = dataclasses.replace(config, checkpoint_every=0)
    log_root = Path(log_dir)

    def objective(trial: optuna.Trial) -> float:
        trial_config = apply_params(base, suggest_params(trial, space), trial_timesteps)

        def report(timesteps: int, metrics: Mapping[str, float]) -> None:
            trial.report(float(metrics["validation/sharpe"]), timesteps)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation Sharpe {metrics['validation/sharpe']:.3f} at {timesteps} steps "
                                         "is below the median of earlier trials")

        folder = log_root / f"trial-{trial.number}"
        folder.mkdir(parents=True, exist_ok=True)
        result = train_symbol_agent(trial_split, trial_config, log_dir=folder, code_version=code_version,
                                    on_validation=report)
        inactive = trial_config.warnings.inactive(
            {k[len("validation/"):]: v for k, v in result.card.validation_metrics.items()})
        trial.set_user_attr("inactive", inactive)
        return INACTIVE_SCORE if inactive else float(result.card.validation_metrics["validation/sharpe"])

    def said(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None:
            value = "pruned" if trial.value is None else f"score {trial.value:.3f}"
            progress(f"search trial {trial.number + 1}/{n_trials}: {value}")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2))
    study.optimize(objective, n_trials=n_trials, callbacks=[said])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise InvalidParameterError(f"none of the {n_trials} search trials completed; give more trials or timesteps")
    best = max(complete, key=lambda t: (t.value, -t.number))
    trials = tuple({"number": t.number, "state": t.state.name, "score": _number(t.value), "params": dict(t.params),
                    "inactive": t.user_attrs.get("inactive", ""),
                    "intermediate": {str(step): _number(v) for step, v in sorted(t.intermediate_values.items())}}
                   for t in study.trials)
    best_trial = {"number": best.number, "score": best.value, "params": dict(best.params)}
    logger.info("search: best trial %d of %d, score %.3f", best.number, len(study.trials), best.value)
    return SearchResult(len(study.trials), best_trial, apply_params(config, best.params), trials, config.seed,
                        trial_timesteps, dict(space))


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
