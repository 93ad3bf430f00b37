"""The master agent as an engine policy: portfolio scope, a target weight of equity per symbol.

:class:`MasterPolicy` (torch) and :class:`MasterOnnxPolicy` (its ONNX export) read the symbol agents'
observation rows ``[S * N]`` (scenario-major, as
``engine.observation.ObservationBuilder`` builds them) plus two entries that
:class:`MasterObserver` adds so the rows can be regrouped into accounts: ``symbol_index`` (the row's
symbol, ``0..N-1``) and ``absent`` (True where the symbol has no price at the bar). It returns each
row's target weight (``TargetWeights``: what is not invested stays in cash), deterministically:
the master agent's own weights, no exploration noise.

Extras, one row per (scenario, symbol) like the actions: ``weights`` ``[S * N, N + 1]`` (the
scenario's whole allocation, symbols then cash, repeated on its rows), ``values`` ``[S * N]`` (the
critic's value of the scenario) and ``attention`` ``[S * N, heads]`` (the pooling query's attention on
the row's symbol, per head).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from engine.actions import BarContext, TargetWeights
from engine.errors import CheckpointError, InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.live_observation import LiveObservation
from engine.observation import ObservationBuilder
from engine.policy import PolicyOutput
from engine.scenarios import ScenarioBatch
from engine.tracking import AccountTracker
from models.inference import DeviceForward
from models.master_agent.export import (
    MASTER_AGENT_GRAPH,
    MASTER_INPUTS,
    DecidingMasterAgent,
)
from models.master_agent.policy_network import MasterPolicyNetwork
from models.symbol_agent.encoder import OBSERVATION_BLOCKS
from strategies.family import REFERENCE, Placement
from strategies.placed import (
    ParityReporting,
    first_output,
    load_session,
    onnx_placed,
    onnx_reference,
    torch_placed,
)

GROUPING_KEYS: tuple[str, ...] = ("symbol_index", "absent")
"""Observation entries the master needs beside the symbol agents' blocks."""


class MasterObserver:
    """The rollout's observer for a master policy: ``ObservationBuilder`` rows plus :data:`GROUPING_KEYS`.

    Args:
        batch: The scenarios observed.
        normalizer: The checkpoint's frozen normalizer of the technical block.
    """

    def __init__(self, batch: ScenarioBatch, normalizer: FittedNormalizer) -> None:
        self.builder = ObservationBuilder(batch, normalizer=normalizer)

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        """Every scenario's rows at ``bar`` (bars in order, like ``ObservationBuilder.observe``)."""
        return with_grouping(self.builder.observe(bar, context), context)


class LiveMasterObservation(LiveObservation):
    """A paper-trading account's observation for a master policy: the live rows plus
    :data:`GROUPING_KEYS` (built without an action space: the master reads no action mask)."""

    def build(self, context: BarContext, tracker: AccountTracker) -> dict[str, np.ndarray]:
        """The account's rows at the newest bar, with the grouping entries."""
        return with_grouping(super().build(context, tracker), context)


def with_grouping(observation: dict[str, np.ndarray], context: BarContext) -> dict[str, np.ndarray]:
    """``observation`` plus ``symbol_index`` (each row's symbol) and ``absent`` (no price at the bar)."""
    n_scenarios, n_symbols = context.state.units.shape
    observation["symbol_index"] = np.tile(np.arange(n_symbols), n_scenarios)
    observation["absent"] = ~np.isfinite(np.asarray(context.close)).reshape(-1)
    return observation


class _MasterDecision(ParityReporting):
    """Shared rule: regroup the rows by scenario, run the network once, read its weights."""

    scope = "portfolio"

    def __init__(self, name: str, action_space: TargetWeights,
                 forward: Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self.name = name
        self.action_space = action_space
        self._forward = forward

    def act(self, observation: Mapping[str, np.ndarray], explain: bool = False) -> PolicyOutput:
        """Target weights ``[S * N]`` for the rows of ``S`` scenarios, with the extras of the module
        docstring (the master's extras come with every decision; ``explain`` adds nothing)."""
        missing = [k for k in (*OBSERVATION_BLOCKS, *GROUPING_KEYS) if k not in observation]
        if missing:
            raise InvalidParameterError(
                f"policy {self.name!r} needs observation entries {', '.join(missing)}; observe with "
                "strategies.master.MasterObserver (the master-agent family's observer)")
        n_scenarios, n_symbols = self._grouping(np.asarray(observation["symbol_index"]))
        inputs = {k: np.ascontiguousarray(observation[k], dtype=np.float32).reshape(
            (n_scenarios, n_symbols) + np.shape(observation[k])[1:]) for k in OBSERVATION_BLOCKS}
        inputs["absent"] = np.asarray(observation["absent"], dtype=bool).reshape(n_scenarios, n_symbols)
        weights, value, attention = self._forward(inputs)
        weights = np.asarray(weights, dtype=np.float64)
        heads = attention.shape[1]
        extras = {
            "weights": np.repeat(weights, n_symbols, axis=0).astype(np.float32),
            "values": np.repeat(np.asarray(value), n_symbols).astype(np.float32),
            "attention": np.asarray(attention).transpose(0, 2, 1).reshape(n_scenarios * n_symbols, heads)
            .astype(np.float32),
        }
        return PolicyOutput(weights[:, :n_symbols].reshape(-1), extras)

    def _grouping(self, symbol_index: np.ndarray) -> tuple[int, int]:
        """``(S, N)`` from the rows' symbol indices, which must be ``0..N-1`` repeated per scenario."""
        n_symbols = int(symbol_index.max()) + 1 if symbol_index.size else 0
        if n_symbols < 1 or symbol_index.size % n_symbols or not np.array_equal(
                symbol_index, np.tile(np.arange(n_symbols), symbol_index.size // n_symbols)):
            raise InvalidParameterError(
                f"policy {self.name!r}: observation['symbol_index'] must be 0..N-1 repeated per scenario "
                "(scenario-major rows, as MasterObserver builds them)")
        return symbol_index.size // n_symbols, n_symbols


class MasterPolicy(_MasterDecision):
    """A trained :class:`MasterPolicyNetwork` on torch behind the engine's portfolio-scope ``Policy`` protocol.

    Args:
        network: The network (frozen encoder + master agent); run in eval mode without gradients.
        name: Policy name in run records.
        action_space: The target-weight space it was trained with (``models.master_agent.policy_network.master_action_space``).
        placement: Device (``auto``, ``cpu``, ``cuda``) and precision it decides in; the network is
            moved there once (``models.inference.DeviceForward``).
        threads: Torch CPU threads while it decides (set for each call, then restored); None leaves
            torch's setting. One by default: a bar's batch is small, and on a busy machine more
            threads spin more than they compute (a 3-year backtest took 2x longer with 2).

    Raises:
        InvalidParameterError: ``cuda`` without CUDA, or ``fp16`` on the CPU.
    """

    def __init__(self, network: MasterPolicyNetwork, name: str = "master",
                 action_space: TargetWeights = TargetWeights(), placement: Placement = REFERENCE,
                 threads: int | None = 1) -> None:
        super().__init__(name, action_space, self._torch_forward)
        self.forward = DeviceForward(DecidingMasterAgent(network), placement.device, placement.precision, threads)
        self.deciding = self.forward.module
        self.network = self.deciding.network
        self.device = self.forward.device
        self.threads = threads
        self._placed(torch_placed(self.forward), "weights", lambda: first_output(self.forward.reference()))

    def _torch_forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = [inputs[k] for k in MASTER_INPUTS]
        out = self.forward(arrays)
        self._record(arrays, out[0])
        return tuple(out)


class MasterOnnxPolicy(_MasterDecision):
    """A master agent's ONNX export (:data:`MASTER_AGENT_GRAPH`) run by onnxruntime (on its CUDA
    provider for a CUDA ``placement`` when it has one, else on the CPU; see ``strategies.neural.OnnxPolicy``).

    Raises:
        CheckpointError: the file is missing, not ONNX, or not a master agent's graph.
        InvalidParameterError: a precision other than ``fp32``.
    """

    def __init__(self, path: str | Path, name: str | None = None, action_space: TargetWeights = TargetWeights(),
                 intra_op_num_threads: int = 1, placement: Placement = REFERENCE) -> None:
        path = Path(path)
        super().__init__(name or path.stem, action_space, self._onnx_forward)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file; export one with `workbench export onnx`")
        self.session = load_session(path, intra_op_num_threads, placement)
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if names != (list(MASTER_AGENT_GRAPH.inputs), list(MASTER_AGENT_GRAPH.outputs)):
            raise CheckpointError(
                f"{path}: the graph reads {', '.join(names[0])} and returns {', '.join(names[1])}; a master agent's "
                f"export reads {', '.join(MASTER_AGENT_GRAPH.inputs)}. Fix: re-export it with `workbench export onnx`")
        self.path = path
        self._placed(onnx_placed(self.session), "weights", onnx_reference(
            path, intra_op_num_threads, MASTER_AGENT_GRAPH.inputs, MASTER_AGENT_GRAPH.outputs[0]))

    def _onnx_forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = tuple(self.session.run(list(MASTER_AGENT_GRAPH.outputs), inputs))
        self._record([inputs[k] for k in MASTER_INPUTS], out[0])
        return out

