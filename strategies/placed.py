"""What every neural policy shares about where it decides: its placement and its parity with the reference.

A trained family's torch policy runs its network through ``models.inference.DeviceForward``; its ONNX
policy runs an onnxruntime session (on the CUDA provider when it has one). Off the reference (CPU,
float32) either keeps a sample of its inputs and deciding output (``models.parity.ParitySampler``)
and reports, on demand, how often it decided as the reference would. :class:`ParityReporting` holds
that state; the helpers below build the reference forward of each runtime and the session.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import onnxruntime as ort

from engine.errors import CheckpointError, InvalidParameterError
from models.inference import DeviceForward
from models.onnx_export import onnx_session, session_device
from models.parity import ParitySampler
from strategies.family import REFERENCE, Placement

Reference = Callable[[Sequence[np.ndarray]], np.ndarray]
"""Positional inputs -> the deciding output, on the CPU in float32."""


class ParityReporting:
    """A policy's placement (what it resolved to) and, off the reference, its parity sample."""

    placement: Placement = REFERENCE
    _parity: ParitySampler | None = None

    def _placed(self, placement: Placement, output: str, reference: Callable[[], Reference]) -> None:
        """Record where it decides; off the reference, start sampling ``output`` against ``reference()``."""
        self.placement = placement
        if not placement.is_reference:
            self._parity = ParitySampler(placement.device, placement.precision, output, reference)

    def _record(self, inputs: Sequence[np.ndarray], decided: np.ndarray) -> None:
        """Offer one call's inputs and deciding output to the parity sample (nothing on the reference)."""
        if self._parity is not None:
            self._parity.record(inputs, decided)

    def parity_report(self) -> Mapping[str, Any] | None:
        """Its decisions so far against the reference (CPU, float32) on a sample of the same inputs;
        None on the reference or before any decision."""
        report = None if self._parity is None else self._parity.report()
        return None if report is None else report.to_dict()


def torch_placed(forward: DeviceForward) -> Placement:
    """The placement a torch forward resolved to."""
    return Placement(forward.device.type, forward.precision)


def first_output(forward: DeviceForward) -> Reference:
    """A forward's deciding (first) output alone."""
    return lambda inputs: forward(inputs, keep=[0])[0]


def load_session(path: Path, threads: int, placement: Placement) -> ort.InferenceSession:
    """An onnxruntime session over ``path`` on ``placement``'s device.

    Raises:
        InvalidParameterError: a precision other than ``fp32`` (an export is a float32 graph).
        CheckpointError: onnxruntime cannot load the file.
    """
    if placement.precision != "fp32":
        raise InvalidParameterError(f"{path}: an ONNX export runs in fp32, not {placement.precision}; use the "
                                    "torch runtime for reduced precision")
    try:
        return onnx_session(path, threads, placement.device)
    except Exception as error:  # onnxruntime raises its own untyped errors on a bad file
        raise CheckpointError(f"{path}: onnxruntime cannot load it ({error}); re-export the network") from error


def onnx_placed(session: ort.InferenceSession) -> Placement:
    """The placement an onnxruntime session runs on (float32 always)."""
    return Placement(session_device(session), "fp32")


def onnx_reference(path: Path, threads: int, inputs: Sequence[str], output: str) -> Callable[[], Reference]:
    """Builds a CPU session's deciding output on positional inputs (the reference of an export on CUDA)."""
    def build() -> Reference:
        session = onnx_session(path, threads)
        return lambda arrays: session.run([output], dict(zip(inputs, arrays)))[0]
    return build
