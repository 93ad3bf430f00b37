"""Where an experiment's scenarios are evaluated: in this process, or spread over a Ray cluster.

The scenarios of a ``ScenarioBatch`` never interact (each has its own cash, positions and risk
state), so a batch can be cut into chunks of consecutive scenarios, each chunk rolled out on its own
(``workbench.runs.evaluate.roll_out``, the expensive part) and the pieces put back in the original order.
The merged rollout holds the same equity, actions and final state as one rolled out in a single
piece; the order records are the same records, ordered by fill bar and then scenario (each
scenario's own records keep their execution order), so the filled orders read the same. The
metrics are computed here over the merged rollout (``workbench.runs.evaluate.measure``): computed per
chunk, sums over differently shaped arrays would round differently in the last bit.

A worker rebuilds the decider from its names (:class:`DeciderSpec`): neural policies hold
onnxruntime sessions that cannot be pickled.

Ray is an optional extra (``pip install rl-trading-workbench[ray]``). :class:`RayExecutor` (and
training's ``workbench.services.ray_training``) joins the cluster at ``RAY_ADDRESS`` when that variable is
set, else starts a Ray instance on this machine (:func:`connect_ray`); every worker must have this
package installed.
"""
from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np

from engine.errors import InvalidParameterError
from engine.rollout import ProgressCallback, RolloutResult
from engine.scenarios import ScenarioBatch
from engine.state import PortfolioState
from models.parity import merge_parity
from strategies.family import Decider, Placement
from workbench.policies import resolve_decider
from workbench.runs.evaluate import Evaluation, evaluate, measure, roll_out
from workbench.runs.spec import RunSpec

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
RAY_INSTALL_HINT = "pip install rl-trading-workbench[ray]"


class Executor(Protocol):
    """Applies a function to each chunk of work and returns the results in the chunks' order."""

    def map_batches(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        ...

    def default_chunks(self) -> int:
        """How many chunks to cut a batch into when the user gives no number."""
        ...


class InProcessExecutor:
    """Runs every chunk here, one after the other."""

    def map_batches(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """``[fn(chunk) for chunk in chunks]``."""
        return [fn(chunk) for chunk in chunks]

    def default_chunks(self) -> int:
        """One: chunks here run one after the other, so more only add overhead."""
        return 1


class RayExecutor:
    """Runs each chunk as a Ray task; joins ``RAY_ADDRESS`` if set, else starts a local instance.

    Raises:
        InvalidParameterError: Ray is not installed.
    """

    def __init__(self) -> None:
        self._ray = import_ray()

    def map_batches(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """``fn`` over the chunks as parallel Ray tasks, results in the chunks' order."""
        connect_ray()
        task = self._ray.remote(fn)
        return self._ray.get([task.remote(chunk) for chunk in chunks])

    def default_chunks(self) -> int:
        """One chunk per CPU of the cluster."""
        connect_ray()
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))


def connect_ray():
    """The ``ray`` module, connected: to the cluster at ``RAY_ADDRESS`` when that is set, else to a
    Ray instance started on this machine (once; later calls reuse the connection)."""
    ray = import_ray()
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            logger.info("joining the Ray cluster at %s", address)
            ray.init(address=address)
        else:
            logger.info("starting a local Ray instance (set RAY_ADDRESS to join a cluster)")
            ray.init(include_dashboard=False)
    return ray


def import_ray():
    """The ``ray`` module, or an error that says how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise InvalidParameterError(
            f"--executor ray needs Ray, which is not installed; install it with `{RAY_INSTALL_HINT}` "
            "or use --executor local") from None


def make_executor(name: str) -> Executor:
    """``"local"``: :class:`InProcessExecutor`; ``"ray"``: :class:`RayExecutor`."""
    if name == "local":
        return InProcessExecutor()
    if name == "ray":
        return RayExecutor()
    raise InvalidParameterError(f"executor {name!r} is unknown; use one of {', '.join(EXECUTORS)}")


@dataclass(frozen=True)
class DeciderSpec:
    """The names a worker rebuilds a decider from (``workbench.policies.resolve_decider``)."""

    strategy: str | None
    strategy_params: tuple[tuple[str, str], ...] = ()
    policy: str | None = None
    runtime: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"

    @classmethod
    def from_spec(cls, spec: RunSpec) -> "DeciderSpec":
        """The decider fields of a run spec."""
        return cls(spec.strategy, tuple(spec.strategy_params), spec.policy, spec.runtime, spec.device, spec.precision)

    def resolve(self) -> Decider:
        """The decider, loaded (a policy's weights verified) in this process on the spec's placement."""
        return resolve_decider(self.strategy, dict(self.strategy_params), self.policy, self.runtime,
                               Placement(self.device, self.precision))


@dataclass(frozen=True)
class _ChunkResult:
    """What a worker sends back: the chunk's rollout, the policy's scope and, off CPU fp32, its parity report."""

    rollout: RolloutResult
    scope: str
    parity: Mapping[str, Any] | None = None


def _roll_out_chunk(job: tuple[ScenarioBatch, DeciderSpec]) -> _ChunkResult:
    """Roll one chunk out on a worker (module level, so Ray ships it by reference)."""
    chunk, decider = job
    resolved = decider.resolve()
    rollout = roll_out(chunk, resolved)
    return _ChunkResult(rollout, resolved.policy.scope, resolved.parity_report())


def evaluate_with(batch: ScenarioBatch, decider: Decider, spec: RunSpec,
                  progress: ProgressCallback | None = None, executor: Executor | None = None,
                  n_chunks: int | None = None) -> Evaluation:
    """An experiment's evaluation: in one piece here (with progress) when ``executor`` is None, else
    in ``n_chunks`` chunks (default ``executor.default_chunks()``) on ``executor``.

    ``decider`` is the one resolved from ``spec``; workers resolve their own from the spec's names.
    """
    if executor is None:
        return evaluate(batch, decider, progress)
    chunks = executor.default_chunks() if n_chunks is None else n_chunks
    return evaluate_distributed(batch, DeciderSpec.from_spec(spec), executor, chunks)


MAX_CHUNKS = 100_000
"""Chunks of a batch at most (one scenario per chunk is the finest split; batches hold far fewer)."""


def check_chunks(n_chunks: object) -> int:
    """``n_chunks`` if it is an integer from 1 to :data:`MAX_CHUNKS`, else an error."""
    if isinstance(n_chunks, bool) or not isinstance(n_chunks, int) or not 1 <= n_chunks <= MAX_CHUNKS:
        raise InvalidParameterError(
            f"chunks {n_chunks!r} must be an integer >= 1 (at most {MAX_CHUNKS:_}), e.g. --chunks 4")
    return n_chunks


def chunk_bounds(n_scenarios: int, n_chunks: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of ``min(n_chunks, n_scenarios)`` runs of consecutive scenarios, sizes within one."""
    check_chunks(n_chunks)
    edges = np.linspace(0, n_scenarios, min(n_chunks, n_scenarios) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def evaluate_distributed(batch: ScenarioBatch, decider: DeciderSpec, executor: Executor,
                         n_chunks: int) -> Evaluation:
    """Evaluate ``batch`` in ``n_chunks`` chunks of scenarios on ``executor`` and merge the pieces.

    Args:
        batch: The scenarios.
        decider: What decides, by name; each worker resolves it.
        executor: Where the chunks run.
        n_chunks: How many chunks (at most one per scenario).

    Returns:
        The same evaluation as ``workbench.runs.evaluate.evaluate(batch, decider.resolve())``, records
        ordered by fill bar and scenario (module docstring).
    """
    bounds = chunk_bounds(batch.n_scenarios, n_chunks)
    jobs = [(batch.subset(np.arange(start, stop)), decider) for start, stop in bounds]
    results = executor.map_batches(_roll_out_chunk, jobs)
    return merge_chunks(batch, [start for start, _ in bounds], results)


def merge_chunks(batch: ScenarioBatch, starts: Sequence[int], results: Sequence[_ChunkResult]) -> Evaluation:
    """Put the chunks' rollouts back together in the order of ``batch``'s scenarios and measure them."""
    rollouts = [r.rollout for r in results]
    scope = results[0].scope
    records = np.concatenate([_renumbered(r.records, start) for r, start in zip(rollouts, starts)])
    records = records[np.lexsort((records["scenario"], records["bar"]))]  # lexsort is stable
    if scope == "portfolio":  # actions and extras [T - 1, S * N, ...], scenario-major
        actions = _concat_axis([r.actions for r in rollouts], 1)
        extras = {k: _concat_axis([r.extras[k] for r in rollouts], 1) for k in rollouts[0].extras}
    else:  # market scope: [P, T, N, ...], one row per distinct path of each chunk
        actions, extras = _merge_paths(batch, starts, rollouts)
    state = PortfolioState(*(np.concatenate(parts) for parts in zip(*(r.state for r in rollouts))))
    rollout = RolloutResult(
        equity=np.concatenate([r.equity for r in rollouts], axis=1), records=records,
        actions=actions, extras=extras, state=state, path_ids=batch.path_ids, index=batch.index,
        symbols=batch.symbols, labels=batch.labels)
    return Evaluation(batch, rollout, measure(batch, rollout), merge_parity([r.parity for r in results]))


def _renumbered(records: np.ndarray, start: int) -> np.ndarray:
    out = records.copy()
    out["scenario"] += start
    return out


def _concat_axis(parts: list[np.ndarray], axis: int) -> np.ndarray:
    # A one-bar batch decides nothing: every part is run_rollout's empty 1-d array.
    if all(p.size == 0 and p.ndim == 1 for p in parts):
        return parts[0]
    return np.concatenate(parts, axis=axis)


def _merge_paths(batch: ScenarioBatch, starts: Sequence[int],
                 rollouts: list[RolloutResult]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each distinct path's actions and extras, taken from the first chunk that ran it.

    A chunk numbers its paths ``0, 1, ...`` in order of first appearance (``ScenarioBatch``), and
    its actions hold one row per such number.
    """
    where: dict[int, tuple[int, int]] = {}
    for c, (start, rollout) in enumerate(zip(starts, rollouts)):
        originals = batch.path_ids[start:start + len(rollout.path_ids)]
        for local, original in zip(rollout.path_ids, originals):
            where.setdefault(int(original), (c, int(local)))
    picks = [where[int(p)] for p in np.unique(batch.path_ids)]
    actions = np.stack([rollouts[c].actions[row] for c, row in picks])
    extras = {k: np.stack([rollouts[c].extras[k][row] for c, row in picks]) for k in rollouts[0].extras}
    return actions, extras
