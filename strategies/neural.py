"""Neural portfolio-scope policies: a torch actor or its ONNX export behind the engine's Policy protocol.

Both read the observation dict of ``engine.observation.ObservationBuilder`` (with ``action_mask``),
ask the actor for masked logits ``[B, 7]`` and return the argmax action (or a sample from the
softmax when ``deterministic=False``), with ``extras["probabilities"]`` ``[B, 7]``. Given the same
observations, the ONNX export of an actor and the actor itself choose the same actions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import onnxruntime as ort
import torch

from engine.actions import SymbolActions
from engine.errors import CheckpointError, InvalidParameterError
from engine.policy import PolicyOutput
from models.onnx_export import OUTPUT_NAME, onnx_session
from models.spec import N_ACTIONS, OBSERVATION_DTYPES, OBSERVATION_NAMES, OBSERVATION_SHAPES

_ONNX_TYPES = {"float32": "tensor(float)", "bool": "tensor(bool)"}


class _NeuralPolicy:
    """Shared decision rule: masked logits -> probabilities -> argmax or a seeded sample."""

    scope = "portfolio"

    def __init__(self, name: str, action_space: SymbolActions, deterministic: bool, seed: int | None,
                 logits: Callable[[Mapping[str, np.ndarray]], np.ndarray]) -> None:
        self.name = name
        self.action_space = action_space
        self.deterministic = deterministic
        self._rng = np.random.default_rng(seed)
        self._logits = logits

    def act(self, observation: Mapping[str, np.ndarray]) -> PolicyOutput:
        """Actions ``[B]`` for a batch of observations, with their probabilities ``[B, 7]``."""
        missing = [n for n in OBSERVATION_NAMES if n not in observation]
        if missing:
            raise InvalidParameterError(
                f"policy {self.name!r} needs observation entries {', '.join(missing)}; build observations with "
                "ObservationBuilder(..., action_space=SymbolActions()) so they carry the action mask")
        inputs = {n: np.ascontiguousarray(observation[n], dtype=OBSERVATION_DTYPES[n]) for n in OBSERVATION_NAMES}
        logits = self._logits(inputs).astype(np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        if self.deterministic:
            actions = logits.argmax(axis=1)
        else:
            # Inverse-CDF sampling, one uniform per row: vectorized and reproducible from the seed.
            draws = self._rng.random((len(probabilities), 1))
            actions = np.minimum((probabilities.cumsum(axis=1) < draws).sum(axis=1), N_ACTIONS - 1)
        return PolicyOutput(actions.astype(np.int64), {"probabilities": probabilities.astype(np.float32)})


class TorchPolicy(_NeuralPolicy):
    """A torch actor (``forward(technical, sl_probs, position, portfolio, regime, action_mask)``) as a policy.

    Args:
        actor: The module; it is put in eval mode and run without gradients on the CPU.
        name: Policy name in run records.
        action_space: How actions become orders (the seven ``SymbolActions``).
        deterministic: Argmax (default) or sample from the probabilities.
        seed: Seed of the sampler when not deterministic.
    """

    def __init__(self, actor: torch.nn.Module, name: str = "torch", action_space: SymbolActions = SymbolActions(),
                 deterministic: bool = True, seed: int | None = None) -> None:
        super().__init__(name, action_space, deterministic, seed, self._torch_logits)
        self.actor = actor.eval()

    def _torch_logits(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return self.actor(*(torch.from_numpy(inputs[n]) for n in OBSERVATION_NAMES)).numpy()


class OnnxPolicy(_NeuralPolicy):
    """An ONNX actor (``models.onnx_export.export_onnx``) run by onnxruntime on the CPU.

    Args:
        path: The ``.onnx`` file; its inputs must be the six observation entries with their shapes.
        name: Policy name in run records (default: the file's stem).
        action_space: How actions become orders.
        deterministic: Argmax (default) or sample from the probabilities.
        seed: Seed of the sampler when not deterministic.
        intra_op_num_threads: onnxruntime threads.

    Raises:
        CheckpointError: the file is missing, not ONNX, or its inputs / output do not fit the observation.
    """

    def __init__(self, path: str | Path, name: str | None = None, action_space: SymbolActions = SymbolActions(),
                 deterministic: bool = True, seed: int | None = None, intra_op_num_threads: int = 2) -> None:
        path = Path(path)
        super().__init__(name or path.stem, action_space, deterministic, seed, self._onnx_logits)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file; export one with models.onnx_export.export_onnx")
        try:
            self.session = onnx_session(path, intra_op_num_threads)
        except Exception as error:  # onnxruntime raises its own untyped errors on a bad file
            raise CheckpointError(f"{path}: onnxruntime cannot load it ({error}); re-export the actor") from error
        self.path = path
        _check_signature(path, self.session)

    def _onnx_logits(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], dict(inputs))[0]


def _check_signature(path: Path, session: ort.InferenceSession) -> None:
    inputs = {i.name: i for i in session.get_inputs()}
    if set(inputs) != set(OBSERVATION_NAMES):
        raise CheckpointError(
            f"{path}: the graph's inputs are {', '.join(sorted(inputs))}; an actor takes "
            f"{', '.join(OBSERVATION_NAMES)}. Fix: re-export it with models.onnx_export.export_onnx")
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
                              "re-export it with models.onnx_export.export_onnx")
