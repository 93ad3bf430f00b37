"""Export a network to ONNX and prove it decides like the torch module.

What is exported is declared by an :class:`OnnxGraph`: the input names in ``forward``'s order, the
output names (the first output decides) and how its decision is read (``argmax`` of logits, or a
vector of ``weights``). :data:`ACTOR_GRAPH` is an *actor*: any ``torch.nn.Module`` whose
``forward(technical, sl_probs, position, portfolio, regime, action_mask)`` returns masked logits
``[B, 7]`` (``models.spec``); :class:`PositionalActor` adapts a network that takes the observation
dict and returns ``(logits, values)``. Families declare richer graphs (the symbol agent's logits,
value and attention maps; the master agent's weights). :func:`export_onnx` writes the graph with a
free batch axis, checks it with ``onnx.checker``, then measures on the given inputs:

* ``max_abs_logit_diff``: largest ``|torch - onnxruntime|`` of the deciding output (must be <= 1e-4);
* ``action_agreement``: share of decisions that are the same: the argmax action for logits (per row,
  or per row and agent for a team's ``[B, agents, actions]``); every weight within 1e-4 for weights
  (must be >= 99.9%);
* ``output_max_abs_diff``: the same largest difference for every output;
* onnxruntime latency p50 / p99 at batch 1 and 256 (``intra_op_num_threads=2``).

The file appears at ``path`` only when every check passes.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import onnx
import onnxruntime as ort
import torch

from engine.atomic_files import atomic_path
from engine.errors import InvalidParameterError, OnnxExportError
from models.checkpoint import file_sha256
from models.spec import N_ACTIONS, OBSERVATION_DTYPES, OBSERVATION_NAMES, OBSERVATION_SHAPES

logger = logging.getLogger(__name__)

MAX_LOGIT_DIFF = 1e-4
MIN_ACTION_AGREEMENT = 0.999
MIN_PARITY_ROWS = 10_000
LATENCY_BATCHES = (1, 256)
OPSET = 17
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class OnnxGraph:
    """The inputs and outputs of an exported network.

    Attributes:
        inputs: Input names, in the order ``forward`` takes them; axis 0 of each is the free batch.
        outputs: Output names, in the order ``forward`` returns them; the first decides.
        decision: ``"argmax"`` (the first output is logits; its last axis holds the actions) or
            ``"weights"`` (a weight vector).
        batch_axes: Output name -> the axis of its batch (0 unless said).
        n_actions: Actions per decision of an ``argmax`` graph (the last axis of its logits; a team's
            logits ``[B, agents, 3]`` hold one decision per row and agent).
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    decision: str = "argmax"
    batch_axes: Mapping[str, int] = field(default_factory=dict)
    n_actions: int = N_ACTIONS


ACTOR_GRAPH = OnnxGraph(OBSERVATION_NAMES, (OUTPUT_NAME,))
"""An actor: the six observation entries in, masked logits out."""


@dataclass(frozen=True)
class ExportReport:
    """Parity and latency of an ONNX export (latencies in milliseconds)."""

    path: str
    sha256: str
    opset: int
    n_rows: int
    max_abs_logit_diff: float
    action_agreement: float
    latency_ms: Mapping[str, Mapping[str, float]]
    max_logit_diff_allowed: float = MAX_LOGIT_DIFF
    min_action_agreement: float = MIN_ACTION_AGREEMENT
    outputs: tuple[str, ...] = (OUTPUT_NAME,)
    output_max_abs_diff: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the model card's ``export`` field."""
        return dataclasses.asdict(self)


class PositionalActor(torch.nn.Module):
    """Adapts a module whose ``forward`` takes the observation dict (and may return a tuple whose first
    item is the masked logits, e.g. ``(logits, values)``) to the six positional inputs an export needs.

    Args:
        module: The wrapped network; its parameters stay its own (no copy).
    """

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, technical: torch.Tensor, sl_probs: torch.Tensor, position: torch.Tensor,
                portfolio: torch.Tensor, regime: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        output = self.module({"technical": technical, "sl_probs": sl_probs, "position": position,
                              "portfolio": portfolio, "regime": regime, "action_mask": action_mask})
        return output[0] if isinstance(output, tuple) else output


CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def onnx_providers(device: str = "cpu") -> list[str]:
    """onnxruntime's execution providers for ``device`` (``auto``, ``cpu`` or ``cuda``).

    ``cuda`` (and ``auto`` where torch sees CUDA) takes the CUDA provider when this onnxruntime has
    one (the ``onnxruntime-gpu`` package, the ``gpu`` extra); without it one log line says so and the
    CPU provider runs.
    """
    from models.devices import resolve_device

    if resolve_device(device).type != "cuda":
        return [CPU_PROVIDER]
    if CUDA_PROVIDER in ort.get_available_providers():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    logger.warning("onnxruntime has no CUDA provider (install onnxruntime-gpu: pip install -e '.[gpu]'); "
                   "the ONNX export runs on the CPU")
    return [CPU_PROVIDER]


def onnx_session(path: str | Path, intra_op_num_threads: int = 2, device: str = "cpu") -> ort.InferenceSession:
    """An onnxruntime session over ``path`` with a fixed thread count (reproducible latency), on the
    CPU unless ``device`` asks for CUDA (:func:`onnx_providers`)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=onnx_providers(device))


def session_device(session: ort.InferenceSession) -> str:
    """``cuda`` when ``session`` runs on the CUDA provider, else ``cpu``."""
    return "cuda" if session.get_providers()[0] == CUDA_PROVIDER else "cpu"


def check_parity(report: ExportReport) -> None:
    """Refuse an export whose logits or actions differ from torch beyond the thresholds.

    Raises:
        OnnxExportError: naming the measured value and the threshold.
    """
    if not report.max_abs_logit_diff <= report.max_logit_diff_allowed:
        raise OnnxExportError(
            f"{report.path}: ONNX logits differ from torch by up to {report.max_abs_logit_diff:.3g} "
            f"(allowed {report.max_logit_diff_allowed:g}) on {report.n_rows} observations; the graph uses an "
            "operator that exports differently; replace it or export at another opset")
    if not report.action_agreement >= report.min_action_agreement:
        raise OnnxExportError(
            f"{report.path}: ONNX picks the torch action on only {report.action_agreement:.4%} of "
            f"{report.n_rows} observations (required {report.min_action_agreement:.1%}); the export is not "
            "faithful, do not deploy it")


def export_onnx(actor: torch.nn.Module, path: str | Path, sample_observations: Mapping[str, np.ndarray], *,
                min_rows: int = MIN_PARITY_ROWS, latency_runs: int = 200, intra_op_num_threads: int = 2,
                graph: OnnxGraph = ACTOR_GRAPH) -> ExportReport:
    """Export ``actor`` to ONNX at ``path``, check it, and measure parity and latency.

    Args:
        actor: The module (see the module docstring); it is put in eval mode.
        path: Where the ``.onnx`` file goes; written atomically.
        sample_observations: Recorded inputs, ``{name: [R, ...]}`` for every input of ``graph``;
            parity is measured on all ``R`` rows.
        min_rows: Fewest rows accepted for the parity check.
        latency_runs: Timed runs per batch size.
        intra_op_num_threads: onnxruntime threads for the parity and latency runs.
        graph: What is exported (default: an actor).

    Returns:
        The report; parity thresholds already hold.

    Raises:
        InvalidParameterError: malformed observations or fewer than ``min_rows`` rows.
        OnnxExportError: the export breaks a parity threshold (nothing is written).
    """
    path = Path(path)
    observations = _check_inputs(sample_observations, min_rows, graph)
    actor.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as staging:
        _export(actor, staging, {k: v[:2] for k, v in observations.items()}, graph)
        onnx.checker.check_model(onnx.load(str(staging)))
        session = onnx_session(staging, intra_op_num_threads)
        reference = torch_outputs(actor, observations, graph)
        decided = reference[0]
        if graph.decision == "argmax" and (decided.ndim < 2 or decided.shape[-1] != graph.n_actions):
            raise InvalidParameterError(f"the actor returned logits of shape {list(decided.shape)}; an actor "
                                        f"returns logits [B, ..., {graph.n_actions}]")
        exported = onnx_outputs(session, observations, graph)
        differences = {name: float(np.max(np.abs(r - e))) if r.size else 0.0
                       for name, r, e in zip(graph.outputs, reference, exported)}
        report = ExportReport(
            path=str(path), sha256=file_sha256(staging), opset=OPSET, n_rows=len(decided),
            max_abs_logit_diff=differences[graph.outputs[0]],
            action_agreement=_agreement(decided, exported[0], graph.decision),
            latency_ms=_latency(session, observations, latency_runs, graph),
            outputs=tuple(graph.outputs), output_max_abs_diff=differences,
        )
        check_parity(report)
    logger.info("exported %s: max diff %.2g, agreement %.4f, p50 %.3f ms at batch 1", path,
                report.max_abs_logit_diff, report.action_agreement, report.latency_ms["1"]["p50"])
    return report


def _agreement(reference: np.ndarray, exported: np.ndarray, decision: str) -> float:
    """Share of decisions that are the same (module docstring): per row, or per row and agent."""
    if decision == "argmax":
        return float(np.mean(reference.argmax(-1) == exported.argmax(-1)))
    rows = np.abs(reference - exported).reshape(len(reference), -1).max(axis=1)
    return float(np.mean(rows <= MAX_LOGIT_DIFF))


def torch_outputs(module: torch.nn.Module, observations: Mapping[str, np.ndarray], graph: OnnxGraph,
                  chunk: int = 4096) -> list[np.ndarray]:
    """``module``'s outputs on ``observations`` (no gradients, in chunks), float32, in graph order."""
    rows = len(observations[graph.inputs[0]])
    parts: list[list[np.ndarray]] = [[] for _ in graph.outputs]
    with torch.no_grad():
        for start in range(0, rows, chunk):
            inputs = [torch.from_numpy(np.ascontiguousarray(observations[n][start:start + chunk]))
                      for n in graph.inputs]
            out = module(*inputs)
            out = out if isinstance(out, tuple) else (out,)
            for k, tensor in enumerate(out[:len(graph.outputs)]):
                parts[k].append(tensor.numpy())
    return [np.concatenate(p, axis=graph.batch_axes.get(name, 0)).astype(np.float32)
            for name, p in zip(graph.outputs, parts)]


def onnx_outputs(session: ort.InferenceSession, observations: Mapping[str, np.ndarray], graph: OnnxGraph,
                 chunk: int = 4096) -> list[np.ndarray]:
    """The session's outputs on ``observations`` in chunks, in graph order."""
    rows = len(observations[graph.inputs[0]])
    parts: list[list[np.ndarray]] = [[] for _ in graph.outputs]
    for start in range(0, rows, chunk):
        out = session.run(list(graph.outputs), {n: observations[n][start:start + chunk] for n in graph.inputs})
        for k, values in enumerate(out):
            parts[k].append(values)
    return [np.concatenate(p, axis=graph.batch_axes.get(name, 0)) for name, p in zip(graph.outputs, parts)]


def _export(actor: torch.nn.Module, path: Path, example: Mapping[str, np.ndarray], graph: OnnxGraph) -> None:
    inputs = tuple(torch.from_numpy(np.ascontiguousarray(example[n])) for n in graph.inputs)
    axes = {name: {0: "batch"} for name in graph.inputs}
    axes.update({name: {graph.batch_axes.get(name, 0): "batch"} for name in graph.outputs})
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) needs no onnxscript; torch warns it is the legacy path.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            actor, inputs, str(path), input_names=list(graph.inputs), output_names=list(graph.outputs),
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )


def _latency(session: ort.InferenceSession, observations: Mapping[str, np.ndarray],
             runs: int, graph: OnnxGraph) -> dict[str, dict[str, float]]:
    """Latency of the deciding output alone (what a decision costs)."""
    rows = len(observations[graph.inputs[0]])
    decides = [graph.outputs[0]]
    result = {}
    for batch in LATENCY_BATCHES:
        index = np.arange(batch) % rows
        feed = {n: np.ascontiguousarray(observations[n][index]) for n in graph.inputs}
        for _ in range(5):  # warm-up: first runs allocate buffers
            session.run(decides, feed)
        times = np.empty(runs)
        for i in range(runs):
            start = time.perf_counter()
            session.run(decides, feed)
            times[i] = time.perf_counter() - start
        result[str(batch)] = {"p50": float(np.percentile(times, 50) * 1e3),
                              "p99": float(np.percentile(times, 99) * 1e3)}
    return result


def _check_inputs(observations: Mapping[str, np.ndarray], min_rows: int, graph: OnnxGraph) -> dict[str, np.ndarray]:
    missing = [n for n in graph.inputs if n not in observations]
    if missing:
        raise InvalidParameterError(f"sample observations lack {', '.join(missing)}; pass all of "
                                    f"{', '.join(graph.inputs)}")
    checked = {}
    for name in graph.inputs:
        values = np.asarray(observations[name])
        if name in OBSERVATION_SHAPES and graph.inputs == ACTOR_GRAPH.inputs and (
                values.shape[1:] != OBSERVATION_SHAPES[name] or values.dtype != np.dtype(OBSERVATION_DTYPES[name])):
            raise InvalidParameterError(
                f"sample observation {name!r} is {values.dtype}{list(values.shape)}, expected "
                f"{OBSERVATION_DTYPES[name]}[R, {', '.join(map(str, OBSERVATION_SHAPES[name]))}]")
        checked[name] = np.ascontiguousarray(values)
    rows = {len(v) for v in checked.values()}
    if len(rows) != 1:
        raise InvalidParameterError(f"sample observations have different row counts {sorted(rows)}")
    if rows.pop() < min_rows:
        raise InvalidParameterError(f"parity needs at least {min_rows} sample observations, got "
                                    f"{len(checked[graph.inputs[0]])}; record more (e.g. a longer rollout)")
    if "action_mask" in checked and not checked["action_mask"].any(axis=1).all():
        raise InvalidParameterError("every sample observation's action_mask must allow an action (HOLD always is)")
    return checked
