"""Neural portfolio-scope policies: a torch network or its ONNX export behind the engine's Policy protocol.

Both read the observation dict of ``engine.observation.ObservationBuilder`` (with ``action_mask``),
run the network once per batch and return the argmax action of the masked logits ``[B, 7]`` (or a
sample from the softmax when ``deterministic=False``). Whatever else that same forward pass returns
comes back with the decision:

* ``extras["probabilities"]`` ``[B, 7]`` always; ``extras["values"]`` ``[B]`` when the network has a
  ``value`` output (the critic);
* ``explained["attention"]`` ``[B, layers, heads, tokens, tokens]`` when asked (``explain=True``) and
  the network has an ``attention`` output.

A network's outputs are named as in its ``models.onnx_export.OnnxGraph`` (the first is the logits).
Given the same observations, the ONNX export and the torch module choose the same actions.

Each policy decides on a device and in a precision (its ``placement``): the torch module through
``models.inference.DeviceForward`` (weights moved once, pinned buffers and non-blocking copies on
CUDA, autocast for ``bf16``/``fp16``), the ONNX export on onnxruntime's CUDA provider when it has one
(``models.onnx_export.onnx_session``). Off the reference (CPU, float32) a policy keeps a sample of
what it decided and reports its agreement with the reference (:meth:`parity_report`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import onnxruntime as ort
import torch

from engine.actions import SymbolActions
from engine.errors import CheckpointError, InvalidParameterError
from engine.policy import PolicyOutput
from models.inference import DeviceForward
from models.onnx_export import OUTPUT_NAME
from models.spec import (
    N_ACTIONS,
    OBSERVATION_DTYPES,
    OBSERVATION_NAMES,
    OBSERVATION_SHAPES,
)
from strategies.family import REFERENCE, Placement
from strategies.placed import (
    ParityReporting,
    first_output,
    load_session,
    onnx_placed,
    onnx_reference,
    torch_placed,
)

_ONNX_TYPES = {"float32": "tensor(float)", "bool": "tensor(bool)"}
EXTRA_OUTPUTS = {"value": "values"}
"""Network outputs kept with every decision, and their extras key."""
EXPLAINED_OUTPUTS = {"attention": "attention"}
"""Network outputs kept when a decision is explained, and their key."""

Forward = Callable[[Mapping[str, np.ndarray], Sequence[str]], dict[str, np.ndarray]]
"""``(inputs, output names) -> {name: array}``: one forward pass returning the outputs asked for."""


class _NeuralPolicy(ParityReporting):
    """Shared decision rule: masked logits -> probabilities -> argmax or a seeded sample."""

    scope = "portfolio"

    def __init__(self, name: str, action_space: SymbolActions, deterministic: bool, seed: int | None,
                 outputs: Sequence[str], forward: Forward) -> None:
        self.name = name
        self.action_space = action_space
        self.deterministic = deterministic
        self._rng = np.random.default_rng(seed)
        self.outputs = tuple(outputs)
        self._forward = forward

    def act(self, observation: Mapping[str, np.ndarray], explain: bool = False) -> PolicyOutput:
        """Actions ``[B]`` for a batch of observations, with the extras of the module docstring."""
        missing = [n for n in OBSERVATION_NAMES if n not in observation]
        if missing:
            raise InvalidParameterError(
                f"policy {self.name!r} needs observation entries {', '.join(missing)}; build observations with "
                "ObservationBuilder(..., action_space=SymbolActions()) so they carry the action mask")
        inputs = {n: np.ascontiguousarray(observation[n], dtype=OBSERVATION_DTYPES[n]) for n in OBSERVATION_NAMES}
        wanted = [OUTPUT_NAME, *(o for o in EXTRA_OUTPUTS if o in self.outputs)]
        if explain:
            wanted += [o for o in EXPLAINED_OUTPUTS if o in self.outputs]
        out = self._forward(inputs, wanted)
        logits = out[OUTPUT_NAME].astype(np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        if self.deterministic:
            actions = logits.argmax(axis=1)
        else:
            # Inverse-CDF sampling, one uniform per row: vectorized and reproducible from the seed.
            draws = self._rng.random((len(probabilities), 1))
            actions = np.minimum((probabilities.cumsum(axis=1) < draws).sum(axis=1), N_ACTIONS - 1)
        extras = {"probabilities": probabilities.astype(np.float32)}
        extras |= {key: np.asarray(out[name], dtype=np.float32) for name, key in EXTRA_OUTPUTS.items() if name in out}
        explained = {key: np.asarray(out[name], dtype=np.float32)
                     for name, key in EXPLAINED_OUTPUTS.items() if name in out}
        return PolicyOutput(actions.astype(np.int64), extras, explained)


class TorchPolicy(_NeuralPolicy):
    """A torch network (``forward(technical, sl_probs, position, portfolio, regime, action_mask)``) as a policy.

    Args:
        actor: The module; it is moved to ``device`` once, put in eval mode and run without gradients.
            It returns the logits, or a tuple whose items are named by ``outputs``.
        name: Policy name in run records.
        action_space: How actions become orders (the seven ``SymbolActions``).
        deterministic: Argmax (default) or sample from the probabilities.
        seed: Seed of the sampler when not deterministic.
        outputs: Names of the module's outputs, logits first (e.g. ``logits, value, attention``).
        placement: Device (``auto``, ``cpu``, ``cuda``) and precision it decides in.

    Raises:
        InvalidParameterError: ``cuda`` without CUDA, or ``fp16`` on the CPU.
    """

    def __init__(self, actor: torch.nn.Module, name: str = "torch", action_space: SymbolActions = SymbolActions(),
                 deterministic: bool = True, seed: int | None = None, outputs: Sequence[str] = (OUTPUT_NAME,),
                 placement: Placement = REFERENCE) -> None:
        super().__init__(name, action_space, deterministic, seed, outputs, self._torch_forward)
        self.forward = DeviceForward(actor, placement.device, placement.precision)
        self.actor = self.forward.module
        self._placed(torch_placed(self.forward), "logits", lambda: first_output(self.forward.reference()))

    def _torch_forward(self, inputs: Mapping[str, np.ndarray], wanted: Sequence[str]) -> dict[str, np.ndarray]:
        arrays = [inputs[n] for n in OBSERVATION_NAMES]
        out = self.forward(arrays, keep=[k for k, name in enumerate(self.outputs) if name in wanted])
        self._record(arrays, out[0])
        return {name: values for name, values in zip(self.outputs, out) if name in wanted}


class OnnxPolicy(_NeuralPolicy):
    """An ONNX network (``models.onnx_export.export_onnx``) run by onnxruntime.

    Its outputs are read from the graph: ``logits`` is required; ``value`` and ``attention`` are
    returned as extras when the graph has them.

    Args:
        path: The ``.onnx`` file; its inputs must be the six observation entries with their shapes.
        name: Policy name in run records (default: the file's stem).
        action_space: How actions become orders.
        deterministic: Argmax (default) or sample from the probabilities.
        seed: Seed of the sampler when not deterministic.
        intra_op_num_threads: onnxruntime threads.
        placement: Device it runs on: onnxruntime's CUDA provider for ``cuda`` (``auto`` on a CUDA
            machine) when onnxruntime has one, else the CPU, said in one log line. The precision
            must be ``fp32`` (the graph's).

    Raises:
        CheckpointError: the file is missing, not ONNX, or its inputs / output do not fit the observation.
    """

    def __init__(self, path: str | Path, name: str | None = None, action_space: SymbolActions = SymbolActions(),
                 deterministic: bool = True, seed: int | None = None, intra_op_num_threads: int = 2,
                 placement: Placement = REFERENCE) -> None:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file; export one with `workbench export onnx`")
        session = load_session(path, intra_op_num_threads, placement)
        _check_signature(path, session)
        super().__init__(name or path.stem, action_space, deterministic, seed,
                         [o.name for o in session.get_outputs()], self._onnx_forward)
        self.session = session
        self.path = path
        self._placed(onnx_placed(session), "logits",
                     onnx_reference(path, intra_op_num_threads, OBSERVATION_NAMES, OUTPUT_NAME))

    def _onnx_forward(self, inputs: Mapping[str, np.ndarray], wanted: Sequence[str]) -> dict[str, np.ndarray]:
        out = dict(zip(wanted, self.session.run(list(wanted), dict(inputs))))
        self._record([inputs[n] for n in OBSERVATION_NAMES], out[OUTPUT_NAME])
        return out


def _check_signature(path: Path, session: ort.InferenceSession) -> None:
    inputs = {i.name: i for i in session.get_inputs()}
    if set(inputs) != set(OBSERVATION_NAMES):
        raise CheckpointError(
            f"{path}: the graph's inputs are {', '.join(sorted(inputs))}; an actor takes "
            f"{', '.join(OBSERVATION_NAMES)}. Fix: re-export it with `workbench export onnx`")
    for name in OBSERVATION_NAMES:
        node = inputs[name]
        rows = [d if isinstance(d, int) else None for d in node.shape[1:]]
        if len(node.shape) != 1 + len(OBSERVATION_SHAPES[name]) or rows != list(OBSERVATION_SHAPES[name]) \
                or node.type != _ONNX_TYPES[OBSERVATION_DTYPES[name]]:
            raise CheckpointError(
                f"{path}: input {name!r} is {node.type}{node.shape}, the observation builds "
                f"{OBSERVATION_DTYPES[name]}[batch, {', '.join(map(str, OBSERVATION_SHAPES[name]))}]. "
                "Fix: retrain or re-export the actor on the workbench observation")
    outputs = {o.name: o for o in session.get_outputs()}
    if OUTPUT_NAME not in outputs or outputs[OUTPUT_NAME].shape[-1] != N_ACTIONS:
        raise CheckpointError(f"{path}: the graph has no output {OUTPUT_NAME!r} of {N_ACTIONS} logits per row; "
                              "re-export it with `workbench export onnx`")
