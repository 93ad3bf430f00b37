"""Where a symbol agent's training shards live: this process, or one Ray actor each.

Training (``models.symbol_agent.training.train_symbol_agent``) cuts its accounts into ``env_workers`` shards
(``engine.envs.sharded``) and keeps one agent and the PPO updates here. :class:`RayShards` builds
each shard inside a Ray actor and steps them all in parallel (every step is submitted to every
actor before any answer is awaited); the actors hand back the same arrays as in-process shards, so
``--executor`` changes the speed, not the trained weights. Actors are spread over the cluster's
nodes; the cluster is the one at ``RAY_ADDRESS``, else a Ray instance started here
(``workbench.experiments.executors.connect_ray``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.envs.sharded import EnvFactory, EnvShard, ShardLayout, ShardRunnerFactory, ShardStart, ShardStep
from engine.errors import InvalidParameterError
from workbench.experiments.executors import EXECUTORS, connect_ray, import_ray


class RayShards:
    """One Ray actor per shard (an :class:`~engine.envs.sharded.EnvShard` built from its factory).

    Raises:
        InvalidParameterError: Ray is not installed.
    """

    def __init__(self, factories: Sequence[EnvFactory]) -> None:
        self._ray = connect_ray()
        actor = self._ray.remote(EnvShard).options(scheduling_strategy="SPREAD")
        self._actors = [actor.remote(make_env) for make_env in factories]

    def layouts(self) -> list[ShardLayout]:
        """Each shard's layout."""
        return self._ray.get([a.layout.remote() for a in self._actors])

    def reset(self, seeds: Sequence[int | None]) -> list[ShardStart]:
        """Reset shard ``k`` with ``seeds[k]``, all shards at once."""
        return self._ray.get([a.reset.remote(seed) for a, seed in zip(self._actors, seeds, strict=True)])

    def step(self, actions: Sequence[np.ndarray]) -> list[ShardStep]:
        """Step shard ``k`` with ``actions[k]``, all shards at once."""
        return self._ray.get([a.step.remote(x) for a, x in zip(self._actors, actions, strict=True)])

    def close(self) -> None:
        """End the actors."""
        for a in self._actors:
            self._ray.kill(a)


def training_shard_runner(executor: str) -> ShardRunnerFactory | None:
    """The shard runner for ``--executor``: None (this process) for ``local``, :class:`RayShards` for ``ray``.

    Raises:
        InvalidParameterError: an unknown executor, or ``ray`` without Ray installed (checked now,
            before any data is loaded).
    """
    if executor == "local":
        return None
    if executor == "ray":
        import_ray()
        return RayShards
    raise InvalidParameterError(f"executor {executor!r} is unknown; use one of {', '.join(EXECUTORS)}")
