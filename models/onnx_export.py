"""Export an actor to ONNX and prove it decides like the torch module.

An *actor* is any ``torch.nn.Module`` whose ``forward(technical, sl_probs, position, portfolio,
regime, action_mask)`` returns masked logits ``[B, 7]`` (``models.spec``); :class:`PositionalActor`
adapts a network that takes the observation dict and returns ``(logits, values)``. :func:`export_onnx`
writes the graph with a free batch axis and the six inputs named as in ``models.spec``, checks it
with ``onnx.checker``, then measures on the given observations:

* ``max_abs_logit_diff``: largest ``|torch - onnxruntime|`` logit (must be <= 1e-4);
* ``action_agreement``: share of rows whose argmax action is the same (must be >= 99.9%);
* onnxruntime latency p50 / p99 at batch 1 and 256 (``intra_op_num_threads=2``).

The file appears at ``path`` only when every check passes.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from dataclasses import dataclass
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


def onnx_session(path: str | Path, intra_op_num_threads: int = 2) -> ort.InferenceSession:
    """A CPU onnxruntime session over ``path`` with a fixed thread count (reproducible latency)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


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
                min_rows: int = MIN_PARITY_ROWS, latency_runs: int = 200,
                intra_op_num_threads: int = 2) -> ExportReport:
    """Export ``actor`` to ONNX at ``path``, check it, and measure parity and latency.

    Args:
        actor: The module (see the module docstring); it is put in eval mode.
        path: Where the ``.onnx`` file goes; written atomically.
        sample_observations: Recorded observations, ``{name: [R, ...]}`` for every name of
            ``models.spec.OBSERVATION_NAMES``; parity is measured on all ``R`` rows.
        min_rows: Fewest rows accepted for the parity check.
        latency_runs: Timed runs per batch size.
        intra_op_num_threads: onnxruntime threads for the parity and latency runs.

    Returns:
        The report; parity thresholds already hold.

    Raises:
        InvalidParameterError: malformed observations or fewer than ``min_rows`` rows.
        OnnxExportError: the export breaks a parity threshold (nothing is written).
    """
    path = Path(path)
    observations = _check_observations(sample_observations, min_rows)
    actor.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as staging:
        _export(actor, staging, {k: v[:2] for k, v in observations.items()})
        onnx.checker.check_model(onnx.load(str(staging)))
        session = onnx_session(staging, intra_op_num_threads)
        reference = torch_logits(actor, observations)
        if reference.shape != (len(reference), N_ACTIONS):
            raise InvalidParameterError(f"the actor returned logits of shape {list(reference.shape)}; an actor "
                                        f"returns masked logits [B, {N_ACTIONS}]")
        exported = _onnx_logits(session, observations)
        report = ExportReport(
            path=str(path), sha256=file_sha256(staging), opset=OPSET, n_rows=len(reference),
            max_abs_logit_diff=float(np.max(np.abs(reference - exported))),
            action_agreement=float(np.mean(reference.argmax(1) == exported.argmax(1))),
            latency_ms=_latency(session, observations, latency_runs),
        )
        check_parity(report)
    logger.info("exported %s: max logit diff %.2g, agreement %.4f, p50 %.3f ms at batch 1", path,
                report.max_abs_logit_diff, report.action_agreement, report.latency_ms["1"]["p50"])
    return report


def torch_logits(actor: torch.nn.Module, observations: Mapping[str, np.ndarray], chunk: int = 4096) -> np.ndarray:
    """``actor``'s logits ``[R, 7]`` on ``observations`` (no gradients, in chunks)."""
    rows = len(observations[OBSERVATION_NAMES[0]])
    out = []
    with torch.no_grad():
        for start in range(0, rows, chunk):
            inputs = [torch.from_numpy(np.ascontiguousarray(observations[n][start:start + chunk]))
                      for n in OBSERVATION_NAMES]
            out.append(actor(*inputs).numpy())
    return np.concatenate(out).astype(np.float32)


def _onnx_logits(session: ort.InferenceSession, observations: Mapping[str, np.ndarray],
                 chunk: int = 4096) -> np.ndarray:
    rows = len(observations[OBSERVATION_NAMES[0]])
    return np.concatenate([
        session.run([OUTPUT_NAME], {n: observations[n][start:start + chunk] for n in OBSERVATION_NAMES})[0]
        for start in range(0, rows, chunk)])


def _export(actor: torch.nn.Module, path: Path, example: Mapping[str, np.ndarray]) -> None:
    inputs = tuple(torch.from_numpy(np.ascontiguousarray(example[n])) for n in OBSERVATION_NAMES)
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) needs no onnxscript; torch warns it is the legacy path.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            actor, inputs, str(path), input_names=list(OBSERVATION_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes={name: {0: "batch"} for name in (*OBSERVATION_NAMES, OUTPUT_NAME)},
            opset_version=OPSET, dynamo=False,
        )


def _latency(session: ort.InferenceSession, observations: Mapping[str, np.ndarray],
             runs: int) -> dict[str, dict[str, float]]:
    rows = len(observations[OBSERVATION_NAMES[0]])
    result = {}
    for batch in LATENCY_BATCHES:
        index = np.arange(batch) % rows
        feed = {n: np.ascontiguousarray(observations[n][index]) for n in OBSERVATION_NAMES}
        for _ in range(5):  # warm-up: first runs allocate buffers
            session.run([OUTPUT_NAME], feed)
        times = np.empty(runs)
        for i in range(runs):
            start = time.perf_counter()
            session.run([OUTPUT_NAME], feed)
            times[i] = time.perf_counter() - start
        result[str(batch)] = {"p50": float(np.percentile(times, 50) * 1e3),
                              "p99": float(np.percentile(times, 99) * 1e3)}
    return result


def _check_observations(observations: Mapping[str, np.ndarray], min_rows: int) -> dict[str, np.ndarray]:
    missing = [n for n in OBSERVATION_NAMES if n not in observations]
    if missing:
        raise InvalidParameterError(f"sample observations lack {', '.join(missing)}; pass all of "
                                    f"{', '.join(OBSERVATION_NAMES)}")
    checked = {}
    for name in OBSERVATION_NAMES:
        values = np.asarray(observations[name])
        if values.shape[1:] != OBSERVATION_SHAPES[name] or values.dtype != np.dtype(OBSERVATION_DTYPES[name]):
            raise InvalidParameterError(
                f"sample observation {name!r} is {values.dtype}{list(values.shape)}, expected "
                f"{OBSERVATION_DTYPES[name]}[R, {', '.join(map(str, OBSERVATION_SHAPES[name]))}]")
        checked[name] = np.ascontiguousarray(values)
    rows = {len(v) for v in checked.values()}
    if len(rows) != 1:
        raise InvalidParameterError(f"sample observations have different row counts {sorted(rows)}")
    if rows.pop() < min_rows:
        raise InvalidParameterError(f"parity needs at least {min_rows} sample observations, got "
                                    f"{len(checked[OBSERVATION_NAMES[0]])}; record more (e.g. a longer rollout)")
    if not checked["action_mask"].any(axis=1).all():
        raise InvalidParameterError("every sample observation's action_mask must allow an action (HOLD always is)")
    return checked
