"""MAPPO: multi-agent PPO with decentralised actors and a centralised critic (Yu et al. 2022).

The shared trainer of the teams (tactical now; the strategic team and the shared policy later).
It reads top to bottom in the CleanRL manner: :class:`MappoArgs` (every knob, documented), the two
small protocols a team and its environment implement, the rollout with GAE, the clipped update,
the checkpoint files, then :func:`train_mappo`, the loop.

**What a team provides** (:class:`TeamNetwork`, a ``torch.nn.Module``): ``logits(observation)``
``[B, agents, actions]`` (each agent's categorical policy on its own view of the observation) and
``values(state)`` ``[B, agents]`` (the centralised critic on the joint state). **What its
environment provides** (:class:`TeamEnv`): ``B = n_envs`` team instances stepped together (here:
accounts x symbols on the engine's kernels), ``reset(seed)`` and ``step(actions, probabilities)``
returning per-agent rewards and the next observation and state (:class:`TeamStep`). Episodes that
end are reset inside ``step``; ``final_state`` keeps the state they ended on, so a time limit is
bootstrapped with its value (a ruin is not).

**One update** (``n_steps`` steps of every instance, then ``n_epochs`` passes of ``n_minibatches``):

* actions are sampled from each agent's softmax with a seeded generator;
* advantages by GAE per agent (``gamma``, ``gae_lambda``), normalized per minibatch over all agents;
* the clipped surrogate ``max(-A r, -A clip(r, 1 - c, 1 + c))`` averaged over agents and samples;
* the value loss ``0.5 (V - R)^2``, with value clipping (the new value kept within ``c`` of the
  rollout's, the larger loss taken, as in MAPPO's and CleanRL's implementations);
* an entropy bonus whose coefficient decays linearly from ``ent_start`` to ``ent_end`` over the
  updates (or stays ``ent_coef``);
* gradient-norm clipping, Adam, and a stop of the epochs once the mean approximate KL of an epoch
  passes ``target_kl``.

Dropout: the actors are evaluated in eval mode both when they act and when their loss is computed,
so the probability ratio compares the same function of the parameters (dropout noise in only one of
the two would make the ratio differ from 1 before any update and fire the clip on noise); the
critic's value loss is computed in train mode (dropout regularizes the regression, no ratio there).

**Seeds.** Every update draws its own seeds from ``SeedSequence([seed, update])``: the environment's
episode starts, the action sampler, dropout and the minibatch order. The same seed and initial
weights give the same weights, bit for bit on the CPU; and a run resumed from its last checkpoint
continues exactly as the run that was not interrupted (each update starts its episodes afresh, so
no environment state needs saving).

**Devices.** ``device`` (``auto``: CUDA when torch sees one, else the CPU) is where the network
trains: it is moved there once; each step's observation and state are copied to it (non-blocking
from the host on CUDA) and the sampled actions and their probabilities come back to numpy for the
environment; GAE and the update run there too. The action sampler is a generator on that device,
so a CUDA run draws other actions than a CPU run of the same seed (and its float arithmetic differs
in the last bits): the bit-for-bit guarantees above are the CPU's. The validation (``evaluate``)
always sees a CPU copy of the network in eval mode, so its metrics, and hence the choice of the
best weights, are what a CPU backtest of those weights gives (the reference); the copy is only made
off the CPU, where the network itself is passed as before. Checkpoint files hold CPU tensors
whatever the device, and a run resumes on another device than it started on (``device`` is not one
of the settings a resume must repeat). The returned network is on the CPU.

**Files** (under ``run_dir``): the logger's ``progress.csv`` and TensorBoard events (``train/...``,
``reward/...``, ``validation/...``); ``checkpoints/last/`` every ``checkpoint_every`` updates
(network and Adam state as safetensors, the trainer's counters and history as JSON: what
``resume=True`` continues from); ``checkpoints/best/`` the weights with the best validation Sharpe
so far (the later of equal scores) and their metrics. Loading never unpickles.

Prioritized replay, which the tactical-team specification lists, is not used: see docs/models.md
(MAPPO trainer).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from stable_baselines3.common.logger import Logger, configure

from engine.atomic_files import fsync_path, publish_folder, staging_folder
from engine.errors import CheckpointError, InvalidParameterError
from models.checkpoint import check_safetensors_header, load_state_strict
from models.devices import check_device, resolve_device
from models.training_log import logger_formats

logger = logging.getLogger(__name__)

ENTROPY_SCHEDULES: tuple[str, ...] = ("decay", "constant")
SCORE_KEY = "validation/sharpe"
"""The validation metric that picks the best weights (higher is better)."""
RUN_ONLY_ARGS: tuple[str, ...] = ("total_timesteps", "device")
"""Settings a resumed run may change: a longer budget, another device."""


# -- 1. Arguments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappoArgs:
    """What a MAPPO run does; the defaults are the tactical-team specification's tuned values.

    Attributes:
        seed: Seeds every update's episodes, sampler, dropout and minibatches (module docstring).
        total_timesteps: Team decisions to train for, counted over every instance (``n_envs`` per step).
        n_steps: Steps of every instance per update.
        n_epochs: Passes over a rollout per update (fewer when the KL stop fires).
        n_minibatches: Minibatches per pass.
        learning_rate: Adam's step size (the specification: 1.85e-4).
        anneal_lr: Decay the learning rate linearly to 0 over the updates.
        gamma: Discount (0.9728).
        gae_lambda: GAE lambda (0.9047).
        clip_coef: Clip range of the probability ratio and of the value change (0.2328).
        clip_value_loss: Clip the value loss as well (the specification: enabled).
        entropy_schedule: ``decay`` (linear from ``ent_start`` to ``ent_end``) or ``constant`` (``ent_coef``).
        ent_start: Entropy coefficient of the first update under ``decay`` (0.01).
        ent_end: Entropy coefficient of the last update under ``decay`` (0.001).
        ent_coef: The coefficient under ``constant`` (the specification's tuned 0.0012).
        vf_coef: Weight of the value loss (0.7181).
        max_grad_norm: Gradient-norm clip.
        target_kl: Stop an update's epochs once an epoch's mean approximate KL exceeds it (None: never).
        eval_every: Validate every this many updates (0: only after the last); needs an ``evaluate``.
        checkpoint_every: Write ``checkpoints/last`` every this many updates (0: only after the last).
        threads: Torch CPU threads while training (restored afterwards); a fixed count keeps CPU
            results independent of the machine.
        device: Where the network trains: ``auto`` (CUDA when torch sees a device, else the CPU),
            ``cpu`` or ``cuda`` (``models.devices``; ``cuda`` without a device is refused).
    """

    seed: int = 0
    total_timesteps: int = 100_000
    n_steps: int = 128
    n_epochs: int = 4
    n_minibatches: int = 4
    learning_rate: float = 1.85e-4
    anneal_lr: bool = False
    gamma: float = 0.9728
    gae_lambda: float = 0.9047
    clip_coef: float = 0.2328
    clip_value_loss: bool = True
    entropy_schedule: str = "decay"
    ent_start: float = 0.01
    ent_end: float = 0.001
    ent_coef: float = 0.0012
    vf_coef: float = 0.7181
    max_grad_norm: float = 0.5
    target_kl: float | None = 0.02
    eval_every: int = 0
    checkpoint_every: int = 0
    threads: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        check_device(self.device)
        for name in ("total_timesteps", "n_steps", "n_epochs", "n_minibatches", "threads"):
            _check_int(name, getattr(self, name), 1)
        for name in ("seed", "eval_every", "checkpoint_every"):
            _check_int(name, getattr(self, name), 0)
        for name, low, high in (("learning_rate", 0.0, math.inf), ("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0),
                                ("clip_coef", 0.0, math.inf), ("max_grad_norm", 0.0, math.inf)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
                raise InvalidParameterError(f"MappoArgs.{name} must be in ({low}, {high}], got {value!r}")
        for name in ("ent_start", "ent_end", "ent_coef", "vf_coef"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < math.inf:
                raise InvalidParameterError(f"MappoArgs.{name} must be a finite number >= 0, got {value!r}")
        if self.entropy_schedule not in ENTROPY_SCHEDULES:
            raise InvalidParameterError(f"MappoArgs.entropy_schedule {self.entropy_schedule!r} is not one of "
                                        f"{', '.join(ENTROPY_SCHEDULES)}")
        if self.target_kl is not None and not (isinstance(self.target_kl, (int, float)) and self.target_kl > 0):
            raise InvalidParameterError(f"MappoArgs.target_kl must be None or > 0, got {self.target_kl!r}")

    def n_updates(self, n_envs: int) -> int:
        """Updates that cover ``total_timesteps`` with ``n_envs`` instances."""
        return math.ceil(self.total_timesteps / (self.n_steps * n_envs))

    def entropy_coefficient(self, update: int, n_updates: int) -> float:
        """The entropy bonus of update ``update`` (1-based) of ``n_updates``."""
        if self.entropy_schedule == "constant":
            return self.ent_coef
        progress = 0.0 if n_updates <= 1 else (update - 1) / (n_updates - 1)
        return self.ent_start + progress * (self.ent_end - self.ent_start)

    def to_dict(self) -> dict[str, Any]:
        """JSON types (model cards, checkpoints)."""
        return dataclasses.asdict(self)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidParameterError(f"MappoArgs.{name} must be an integer >= {low}, got {value!r}")


# -- 2. What a team and its environment provide ------------------------------------------------------


class TeamStep(NamedTuple):
    """One step of every instance of a :class:`TeamEnv`.

    Attributes:
        observation: ``[B, ...]`` float32, the next observation (a new episode's first where one ended).
        state: ``[B, D]`` float32, the next joint state (likewise).
        rewards: ``[B, agents]`` each agent's reward for the step.
        terminated: ``[B]`` the episode ended in a way that has no future (ruin).
        truncated: ``[B]`` the episode hit its time limit.
        final_state: ``[B, D]`` the state the ended episodes ended on (None when none ended).
        info: ``{name: [B]}`` what the step measured (reward components, agreement, ...), for the logs.
    """

    observation: np.ndarray
    state: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_state: np.ndarray | None
    info: Mapping[str, np.ndarray]


class TeamEnv(Protocol):
    """``n_envs`` team instances stepped together."""

    agents: tuple[str, ...]
    n_envs: int

    def reset(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Start every instance's episode (the episode starts drawn from ``seed``); ``(observation, state)``."""
        ...

    def step(self, actions: np.ndarray, probabilities: np.ndarray) -> TeamStep:
        """Act: ``actions [B, agents]`` sampled from ``probabilities [B, agents, n_actions]``."""
        ...


class TeamNetwork(Protocol):
    """A team's actors and centralised critic (a ``torch.nn.Module``)."""

    def logits(self, observation: torch.Tensor) -> torch.Tensor:
        """``[B, agents, n_actions]``."""
        ...

    def values(self, state: torch.Tensor) -> torch.Tensor:
        """``[B, agents]``."""
        ...


Evaluate = Callable[[torch.nn.Module], Mapping[str, float]]
"""Scores the network on held-out data; returns ``validation/...`` metrics including :data:`SCORE_KEY`."""


# -- 3. Rollout with GAE ---------------------------------------------------------------------------


class Rollout(NamedTuple):
    """``n_steps x n_envs`` decisions, flattened step-major for the update."""

    observations: torch.Tensor  # [N, ...]
    states: torch.Tensor  # [N, D]
    actions: torch.Tensor  # [N, agents]
    log_probs: torch.Tensor  # [N, agents]
    values: torch.Tensor  # [N, agents]
    advantages: torch.Tensor  # [N, agents]
    returns: torch.Tensor  # [N, agents]


def generalized_advantages(rewards: torch.Tensor, dones: torch.Tensor, values: torch.Tensor,
                           next_value: torch.Tensor, gamma: float, gae_lambda: float) -> torch.Tensor:
    """GAE advantages ``[T, B, agents]`` (Schulman et al. 2016).

    Args:
        rewards: ``[T, B, agents]`` (time-limit bootstraps already added).
        dones: ``[T, B]`` 1.0 where the step ended an episode (nothing flows back across it).
        values: ``[T, B, agents]`` the critic's values of the states acted on.
        next_value: ``[B, agents]`` the value of the state after the last step.
    """
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(next_value)
    for t in reversed(range(len(values))):
        following = next_value if t == len(values) - 1 else values[t + 1]
        alive = (1.0 - dones[t])[:, None]
        delta = rewards[t] + gamma * following * alive - values[t]
        last = delta + gamma * gae_lambda * alive * last
        advantages[t] = last
    return advantages


def collect_rollout(env: TeamEnv, network: torch.nn.Module, args: MappoArgs, env_seed: int,
                    generator: torch.Generator, device: torch.device | None = None
                    ) -> tuple[Rollout, dict[str, float]]:
    """``n_steps`` steps of every instance from fresh episodes; the rollout and the step infos' means.

    The network and ``generator`` are on ``device`` (default: the CPU); the rollout's tensors are put there."""
    device = torch.device("cpu") if device is None else device
    on_device = _to_device(device)
    observation, state = env.reset(env_seed)
    steps: list[tuple[torch.Tensor, ...]] = []
    rewards, dones = [], []
    sums: dict[str, float] = {}
    network.eval()
    with torch.no_grad():
        for _ in range(args.n_steps):
            obs_t, state_t = on_device(observation), on_device(state)
            log_p = torch.log_softmax(network.logits(obs_t), dim=-1)  # [B, agents, actions]
            probabilities = log_p.exp()
            actions = torch.multinomial(probabilities.reshape(-1, probabilities.shape[-1]), 1,
                                        generator=generator).reshape(probabilities.shape[:2])
            value = network.values(state_t)
            steps.append((obs_t, state_t, actions, log_p.gather(-1, actions[..., None])[..., 0], value))
            step = env.step(actions.cpu().numpy(), probabilities.double().cpu().numpy())
            reward = on_device(np.asarray(step.rewards, dtype=np.float32))
            if step.final_state is not None and step.truncated.any():
                bootstrap = args.gamma * network.values(on_device(step.final_state))
                reward = torch.where(on_device(step.truncated)[:, None], reward + bootstrap, reward)
            rewards.append(reward)
            dones.append(on_device((step.terminated | step.truncated).astype(np.float32)))
            for name, values in step.info.items():
                sums[name] = sums.get(name, 0.0) + float(np.mean(values))
            sums["reward/team"] = sums.get("reward/team", 0.0) + float(np.mean(step.rewards))
            observation, state = step.observation, step.state
        next_value = network.values(on_device(state))
    values = torch.stack([s[4] for s in steps])
    advantages = generalized_advantages(torch.stack(rewards), torch.stack(dones), values, next_value,
                                        args.gamma, args.gae_lambda)
    flat = lambda k: torch.cat([s[k] for s in steps])  # noqa: E731  step-major [T * B, ...]
    rollout = Rollout(flat(0), flat(1), flat(2), flat(3), values.flatten(0, 1), advantages.flatten(0, 1),
                      (advantages + values).flatten(0, 1))
    return rollout, {k: v / args.n_steps for k, v in sums.items()}


def _to_device(device: torch.device) -> Callable[[np.ndarray], torch.Tensor]:
    """numpy -> a tensor on ``device``: shared with the array on the CPU (as ``torch.from_numpy``), a
    non-blocking copy from pinned memory on CUDA."""
    if device.type == "cpu":
        return torch.from_numpy

    def copy(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).pin_memory().to(device, non_blocking=True)

    return copy


# -- 4. The clipped update -------------------------------------------------------------------------


def update_network(network: torch.nn.Module, optimizer: torch.optim.Optimizer, rollout: Rollout,
                   args: MappoArgs, ent_coef: float, rng: np.random.Generator) -> dict[str, float]:
    """Up to ``n_epochs`` passes of clipped MAPPO over shuffled minibatches; ``train/...`` diagnostics."""
    size = len(rollout.actions)
    bounds = np.linspace(0, size, args.n_minibatches + 1).astype(int)
    stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                                     "clip_fraction")}
    epochs = 0
    for _ in range(args.n_epochs):
        epochs += 1
        order = torch.as_tensor(rng.permutation(size)).to(rollout.actions.device)
        epoch_kl = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            index = order[lo:hi]
            network.eval()  # actors: no dropout, the ratio compares what acted (module docstring)
            log_p = torch.log_softmax(network.logits(rollout.observations[index]), dim=-1)
            new_log_prob = log_p.gather(-1, rollout.actions[index][..., None])[..., 0]
            entropy = -(log_p.exp() * log_p).sum(dim=-1).mean()
            network.train()  # critic: dropout regularizes the value regression
            new_value = network.values(rollout.states[index])

            log_ratio = new_log_prob - rollout.log_probs[index]
            ratio = log_ratio.exp()
            advantages = rollout.advantages[index]
            if advantages.numel() > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            policy_loss = torch.max(-advantages * ratio,
                                    -advantages * ratio.clamp(1.0 - args.clip_coef, 1.0 + args.clip_coef)).mean()
            returns, old_value = rollout.returns[index], rollout.values[index]
            value_loss = (new_value - returns).pow(2)
            if args.clip_value_loss:
                clipped = old_value + (new_value - old_value).clamp(-args.clip_coef, args.clip_coef)
                value_loss = torch.max(value_loss, (clipped - returns).pow(2))
            value_loss = 0.5 * value_loss.mean()
            loss = policy_loss - ent_coef * entropy + args.vf_coef * value_loss

            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), args.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                approx_kl = float(((ratio - 1.0) - log_ratio).mean())
                epoch_kl.append(approx_kl)
                stats["policy_loss"].append(float(policy_loss))
                stats["value_loss"].append(float(value_loss))
                stats["entropy"].append(float(entropy))
                stats["approx_kl"].append(approx_kl)
                stats["clip_fraction"].append(float(((ratio - 1.0).abs() > args.clip_coef).float().mean()))
        if args.target_kl is not None and float(np.mean(epoch_kl)) > args.target_kl:
            break
    network.eval()
    variance = float(rollout.returns.var())
    explained = math.nan if variance == 0.0 else 1.0 - float((rollout.returns - rollout.values).var()) / variance
    return {**{f"train/{k}": float(np.mean(v)) for k, v in stats.items()},
            "train/explained_variance": explained, "train/epochs": float(epochs),
            "train/entropy_coef": ent_coef, "train/learning_rate": optimizer.param_groups[0]["lr"]}


# -- 5. Checkpoint files ----------------------------------------------------------------------------

NETWORK_FILE = "network.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_FILE = "trainer.json"
METRICS_FILE = "metrics.json"


@dataclass
class TrainerState:
    """Where a run stands: what ``checkpoints/last`` records besides the tensors."""

    update: int = 0
    timesteps: int = 0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    best_metrics: dict[str, float] | None = None
    train_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0


def save_training_checkpoint(folder: Path, network: torch.nn.Module, optimizer: torch.optim.Optimizer,
                             state: TrainerState, args: MappoArgs) -> None:
    """Write ``folder`` (network, Adam state, counters) atomically, replacing an older one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(folder)
    try:
        save_file(_tensors(network.state_dict()), str(staging / NETWORK_FILE))
        tensors, groups = _optimizer_tensors(optimizer)
        save_file(tensors, str(staging / OPTIMIZER_FILE))
        (staging / TRAINER_FILE).write_text(json.dumps(
            {"args": args.to_dict(), "param_groups": groups, **dataclasses.asdict(state)}, indent=1))
        for name in (NETWORK_FILE, OPTIMIZER_FILE, TRAINER_FILE):
            fsync_path(staging / name)
        publish_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_training_checkpoint(folder: Path, network: torch.nn.Module, optimizer: torch.optim.Optimizer,
                             args: MappoArgs) -> TrainerState:
    """Load ``folder`` into ``network`` and ``optimizer``; returns the counters to continue from.

    Raises:
        CheckpointError: a file is missing or not safetensors, or the run's arguments differ from
            ``args`` in anything but ``total_timesteps`` and ``device`` (a resumed run may train for
            longer, and on another device: the files hold CPU tensors, copied into ``network`` wherever
            it is and moved by ``optimizer.load_state_dict`` to its parameters' device).
    """
    for name in (NETWORK_FILE, OPTIMIZER_FILE, TRAINER_FILE):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder}: {name} is missing; it is not a MAPPO training checkpoint")
    saved = json.loads((folder / TRAINER_FILE).read_text())
    ours = {k: v for k, v in args.to_dict().items() if k not in RUN_ONLY_ARGS}
    theirs = {k: v for k, v in saved["args"].items() if k not in RUN_ONLY_ARGS}
    if ours != theirs:
        changed = sorted(k for k in ours if ours[k] != theirs.get(k))
        raise CheckpointError(f"{folder}: the run was trained with other settings ({', '.join(changed)}); "
                              "resume it with the same settings or start a new run folder")
    load_state_strict(network, _read_tensors(folder / NETWORK_FILE), f"{folder}: {NETWORK_FILE}",
                      "resume with the network the run was started with")
    tensors = _read_tensors(folder / OPTIMIZER_FILE)
    optimizer.load_state_dict(_optimizer_state(tensors, saved["param_groups"]))
    fields = {f.name for f in dataclasses.fields(TrainerState)}
    return TrainerState(**{k: v for k, v in saved.items() if k in fields})


def save_best(folder: Path, network: torch.nn.Module, metrics: Mapping[str, float]) -> None:
    """Write the best weights so far and their validation metrics to ``folder``, atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(folder)
    try:
        save_file(_tensors(network.state_dict()), str(staging / NETWORK_FILE))
        (staging / METRICS_FILE).write_text(json.dumps(dict(metrics), indent=1))
        publish_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _tensors(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared or non-contiguous storage; clone to plain CPU copies.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    check_safetensors_header(path)
    return load_file(str(path), device="cpu")


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The optimizer's per-parameter state as named tensors, and its parameter groups as JSON."""
    state = optimizer.state_dict()
    tensors = {f"{index}.{name}": torch.as_tensor(value).detach().to("cpu").clone().contiguous()
               for index, entries in state["state"].items() for name, value in entries.items()}
    return tensors, json.loads(json.dumps(state["param_groups"]))


def _optimizer_state(tensors: Mapping[str, torch.Tensor], groups: list[dict]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": groups}


# -- 6. The loop ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappoResult:
    """A finished run.

    Attributes:
        network: The network, with the best validated weights when there was a validation (else the
            last), on the CPU whatever device it trained on.
        history: ``validation/...`` metrics of every validation, with ``timesteps`` and ``update``.
        best_metrics: The chosen weights' validation metrics (None without validation).
        train_metrics: The last update's ``train/...`` and ``reward/...`` means.
        timesteps: Team decisions trained on.
        updates: Updates run.
        seconds: Wall time of all updates (the resumed part included).
        device: The device it trained on (``MappoArgs.device`` resolved: ``cpu`` or ``cuda``).
    """

    network: torch.nn.Module
    history: tuple[dict[str, float], ...]
    best_metrics: dict[str, float] | None
    train_metrics: dict[str, float]
    timesteps: int
    updates: int
    seconds: float
    device: torch.device = torch.device("cpu")


def _comparable(score: float) -> float:
    """A validation score to compare (NaN, e.g. a flat validation, ranks last)."""
    return score if math.isfinite(score) else -math.inf


def update_seeds(seed: int, update: int) -> tuple[int, int, int, int]:
    """``(environment, sampler, dropout, minibatch)`` seeds of one update."""
    return tuple(int(s) for s in np.random.SeedSequence([seed, update]).generate_state(4))


def train_mappo(env: TeamEnv, network: torch.nn.Module, args: MappoArgs, run_dir: str | Path, *,
                evaluate: Evaluate | None = None, resume: bool = False,
                progress: Callable[[int, int], None] | None = None, verbose: bool = False) -> MappoResult:
    """Train ``network`` on ``env`` with MAPPO (module docstring).

    Args:
        env: The team instances.
        network: The team's actors and critic (trained in place, on ``args.device``; moved back to the
            CPU at the end).
        args: The run's settings.
        run_dir: Where logs and training checkpoints go.
        evaluate: Validation, every ``eval_every`` updates and after the last; picks the best weights.
            It is given the network on the CPU (a copy when training elsewhere; module docstring).
        resume: Continue from ``run_dir/checkpoints/last`` when it exists.
        progress: Called with ``(timesteps done, total)`` after each update.
        verbose: Print the logger's tables.

    Raises:
        CheckpointError: ``resume`` with a checkpoint of other settings or another network.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(args.threads)
    if device.type == "cuda":
        # As the master agent's trainer: CUDA's nondeterministic kernels are swapped for deterministic
        # ones where torch has them (the CPU kernels used here are deterministic already).
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _train(env, network.to(device), args, device, run_dir, evaluate, resume, progress, verbose)
    finally:
        network.to("cpu")
        torch.set_num_threads(threads)
        if device.type == "cuda":
            torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])


def _cpu_copy(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` on the CPU: itself when it is there, else a copy (the training network stays put)."""
    if all(p.device.type == "cpu" for p in network.parameters()):
        return network
    return copy.deepcopy(network).to("cpu").eval()


def _train(env: TeamEnv, network: torch.nn.Module, args: MappoArgs, device: torch.device, run_dir: Path,
           evaluate: Evaluate | None, resume: bool, progress: Callable[[int, int], None] | None,
           verbose: bool) -> MappoResult:
    optimizer = torch.optim.Adam(network.parameters(), lr=args.learning_rate, eps=1e-5)
    last_dir, best_dir = run_dir / "checkpoints" / "last", run_dir / "checkpoints" / "best"
    state = TrainerState()
    best_state: dict[str, torch.Tensor] | None = None
    if resume and last_dir.is_dir():
        state = load_training_checkpoint(last_dir, network, optimizer, args)
        if (best_dir / NETWORK_FILE).is_file():
            best_state = _read_tensors(best_dir / NETWORK_FILE)
        logger.info("resuming %s at update %d on %s", run_dir, state.update, device)
    log: Logger = configure(str(run_dir), logger_formats(verbose))
    per_update = args.n_steps * env.n_envs
    n_updates = args.n_updates(env.n_envs)
    total = n_updates * per_update

    def validate(update: int) -> None:
        nonlocal best_state
        metrics = {k: float(v) for k, v in evaluate(_cpu_copy(network)).items()}
        network.eval()
        if SCORE_KEY not in metrics:
            raise InvalidParameterError(f"evaluate() must return {SCORE_KEY!r}; it returned {', '.join(metrics)}")
        for key, value in metrics.items():
            log.record(key, value)
        state.history.append({"update": float(update), "timesteps": float(state.timesteps), **metrics})
        score = metrics[SCORE_KEY]
        # A later validation that scores as well replaces the earlier one: more training at no cost.
        if state.best_metrics is None or _comparable(score) >= _comparable(state.best_metrics[SCORE_KEY]):
            state.best_metrics = {**metrics, "validation/update": float(update),
                                  "validation/timesteps": float(state.timesteps)}
            best_state = copy.deepcopy(network.state_dict())
            save_best(best_dir, network, state.best_metrics)
        logger.info("validation at update %d: sharpe %.3f", update, score)

    for update in range(state.update + 1, n_updates + 1):
        started = time.perf_counter()
        env_seed, sample_seed, dropout_seed, minibatch_seed = update_seeds(args.seed, update)
        torch.manual_seed(dropout_seed)
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - (update - 1) / n_updates)
        rollout, step_means = collect_rollout(env, network, args, env_seed,
                                              torch.Generator(device=device).manual_seed(sample_seed), device)
        ent_coef = args.entropy_coefficient(update, n_updates)
        state.train_metrics = {**step_means, **update_network(network, optimizer, rollout, args, ent_coef,
                                                              np.random.default_rng(minibatch_seed))}
        state.update, state.timesteps = update, state.timesteps + per_update
        state.seconds += time.perf_counter() - started
        for key, value in {**state.train_metrics, "train/update": float(update)}.items():
            log.record(key, value)
        last = update == n_updates
        if evaluate is not None and ((args.eval_every and update % args.eval_every == 0) or last):
            validate(update)
        log.dump(state.timesteps)
        if (args.checkpoint_every and update % args.checkpoint_every == 0) or last:
            save_training_checkpoint(last_dir, network, optimizer, state, args)
        if progress is not None:
            progress(state.timesteps, total)
    log.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.to("cpu").eval()
    return MappoResult(network, tuple(state.history), state.best_metrics, dict(state.train_metrics),
                       state.timesteps, state.update, state.seconds, device)
