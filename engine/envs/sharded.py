"""Training accounts cut into shards (rollout workers) that stable-baselines3 sees as one ``VecEnv``.

:func:`account_shards` cuts ``A`` accounts into ``K`` runs of consecutive accounts whose sizes
differ by at most one; each shard is a :class:`~engine.envs.vector_env.TradingVectorEnv` over its
own accounts, built by an *env factory* (a picklable zero-argument callable) wherever the shard
lives. :class:`ShardedVecEnv` concatenates the shards in order (observations, rewards, dones,
infos with ``terminal_observation`` / ``TimeLimit.truncated``, action masks), so sub-environment
``b`` of the whole is account ``b // N``'s symbol ``b % N``, as in one environment over all accounts.

Where the shards live is a :class:`ShardRunner`'s business: :class:`InProcessShards` steps them
one after the other in this process; ``workbench.services.ray_training.RayShards`` keeps each in a Ray actor
and steps them in parallel. Both hand back the same arrays, so a run depends on ``K``, not on the
runner.

Seeds: SB3's ``VecEnv.seed(seed)`` gives sub-environment ``i`` the seed ``seed + i``. Shard ``k``
draws its episode starts from the seed of its first sub-environment, ``seed + N * (accounts in
shards 0..k-1)``. Shard 0 therefore draws what one unsharded environment would, and a single shard
steps exactly like :class:`~engine.envs.vector_env.SB3VecEnv`; for ``K > 1`` the accounts of later
shards draw other episode starts than in one environment, so results depend on ``K``.

A shard answers a reset or a step together with its next action masks: the masks change only when
the shard moves, and asking for them with the step saves a round trip to a remote shard.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np
from gymnasium import spaces

from engine.envs.vector_env import MaskedVecEnv, TradingVectorEnv, sb3_step
from engine.errors import InvalidParameterError

EnvFactory = Callable[[], TradingVectorEnv]
"""Builds one shard's environment where the shard lives (a Ray actor pickles it)."""


def account_shards(n_accounts: int, n_shards: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of ``n_shards`` runs of consecutive accounts, sizes within one of each other.

    Raises:
        InvalidParameterError: ``n_shards`` is not an integer in ``1..n_accounts``.
    """
    if isinstance(n_shards, bool) or not isinstance(n_shards, int) or not 1 <= n_shards <= n_accounts:
        raise InvalidParameterError(
            f"cannot cut {n_accounts} account(s) into {n_shards!r} shards; use 1 to {n_accounts} shards "
            "(each shard steps at least one account)")
    edges = np.linspace(0, n_accounts, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


@dataclass(frozen=True)
class ShardLayout:
    """A shard's sub-environment count and its spaces (one sub-environment's)."""

    num_envs: int
    observation_space: spaces.Space
    action_space: spaces.Space


class ShardStart(NamedTuple):
    """A shard's answer to a reset: the first observations and their action masks."""

    observation: dict[str, np.ndarray]
    action_masks: np.ndarray


class ShardStep(NamedTuple):
    """A shard's answer to a step, in SB3's ``step_wait`` form, plus the next action masks."""

    observation: dict[str, np.ndarray]
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    action_masks: np.ndarray


class EnvShard:
    """One shard: the environment its factory builds, answering in SB3's form.

    The same class runs in this process (:class:`InProcessShards`) and as a Ray actor.
    """

    def __init__(self, make_env: EnvFactory) -> None:
        self.env = make_env()

    def layout(self) -> ShardLayout:
        """How many sub-environments this shard holds, and their spaces."""
        return ShardLayout(self.env.num_envs, self.env.single_observation_space, self.env.single_action_space)

    def reset(self, seed: int | None) -> ShardStart:
        """Start every account's episode, drawing episode starts from ``seed``."""
        observation, _ = self.env.reset(seed=seed)
        return ShardStart(observation, self.env.action_masks())

    def step(self, actions: np.ndarray) -> ShardStep:
        """One action per sub-environment; finished accounts reset in the same step."""
        return ShardStep(*sb3_step(self.env, actions), self.env.action_masks())

    def close(self) -> None:
        """Release the environment."""
        self.env.close()


class ShardRunner(Protocol):
    """Holds the shards and moves them all at once; answers come in the shards' order."""

    def layouts(self) -> list[ShardLayout]:
        ...

    def reset(self, seeds: Sequence[int | None]) -> list[ShardStart]:
        ...

    def step(self, actions: Sequence[np.ndarray]) -> list[ShardStep]:
        ...

    def close(self) -> None:
        ...


ShardRunnerFactory = Callable[[Sequence[EnvFactory]], ShardRunner]
"""Builds a runner over one shard per env factory (e.g. :class:`InProcessShards`)."""


class InProcessShards:
    """Every shard in this process, stepped one after the other."""

    def __init__(self, factories: Sequence[EnvFactory]) -> None:
        self.shards = [EnvShard(make_env) for make_env in factories]

    def layouts(self) -> list[ShardLayout]:
        """Each shard's layout."""
        return [shard.layout() for shard in self.shards]

    def reset(self, seeds: Sequence[int | None]) -> list[ShardStart]:
        """Reset shard ``k`` with ``seeds[k]``."""
        return [shard.reset(seed) for shard, seed in zip(self.shards, seeds, strict=True)]

    def step(self, actions: Sequence[np.ndarray]) -> list[ShardStep]:
        """Step shard ``k`` with ``actions[k]``."""
        return [shard.step(a) for shard, a in zip(self.shards, actions, strict=True)]

    def close(self) -> None:
        """Release every shard."""
        for shard in self.shards:
            shard.close()


class ShardedVecEnv(MaskedVecEnv):
    """The shards of a :class:`ShardRunner` as one stable-baselines3 ``VecEnv``, in shard order.

    ``get_attr`` / ``set_attr`` / ``env_method`` address this object
    (:class:`~engine.envs.vector_env.MaskedVecEnv`); ``env_method("action_masks")`` returns each
    sub-environment's own mask.

    Raises:
        InvalidParameterError: the shards' spaces differ.
    """

    def __init__(self, runner: ShardRunner) -> None:
        layouts = runner.layouts()
        first = layouts[0]
        if any(layout.observation_space != first.observation_space or layout.action_space != first.action_space
               for layout in layouts[1:]):
            raise InvalidParameterError("the shards' observation or action spaces differ; build every shard "
                                        "with the same observation config and action space")
        self.runner = runner
        sizes = [layout.num_envs for layout in layouts]
        self.offsets = tuple(int(o) for o in np.cumsum([0, *sizes[:-1]]))
        self.render_mode = None  # read by VecEnv.__init__
        super().__init__(sum(sizes), first.observation_space, first.action_space)
        self._masks: np.ndarray | None = None

    def reset(self) -> dict[str, np.ndarray]:
        # Shard k takes the seed of its first sub-environment (module docstring).
        starts = self.runner.reset([self._seeds[offset] for offset in self.offsets])
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._masks = np.concatenate([start.action_masks for start in starts])
        return _concatenate([start.observation for start in starts])

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        actions = self._take_actions()
        steps = self.runner.step(np.split(actions, self.offsets[1:]))
        self._masks = np.concatenate([step.action_masks for step in steps])
        return (_concatenate([step.observation for step in steps]), np.concatenate([step.rewards for step in steps]),
                np.concatenate([step.dones for step in steps]), [info for step in steps for info in step.infos])

    def action_masks(self) -> np.ndarray:
        """``[B, 7]`` bool, True where the action is allowed at each sub-environment's bar."""
        if self._masks is None:
            raise InvalidParameterError("call reset() before action_masks()")
        return self._masks

    def close(self) -> None:
        self.runner.close()

    def _target(self) -> ShardedVecEnv:
        return self


def _concatenate(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The shards' observation dicts joined along the sub-environment axis."""
    return {key: np.concatenate([o[key] for o in observations]) for key in observations[0]}
