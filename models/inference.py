"""A network deciding on a device: weights moved once, one batched forward per call, numpy in and out.

:class:`DeviceForward` is what every neural family's torch runtime runs. On the CPU in float32 (the
reference) it is the plain path: the numpy inputs are wrapped without a copy (``torch.from_numpy``)
and the outputs read back the same way. On CUDA it stages: each input is written into a
preallocated pinned host buffer, copied to a preallocated device buffer with a non-blocking copy,
the forward runs, and the outputs come back through pinned host buffers with non-blocking copies and
one stream synchronization. Buffers grow (to the next power of two of rows) only when a larger
batch arrives, so a rollout allocates them once. Reduced precision runs the forward under
``torch.autocast`` (``models.devices.autocast_dtype``); outputs are returned as float32.

What a run decided off the reference is measured against it by ``models.parity``.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np
import torch

from models.devices import REFERENCE_DEVICE, REFERENCE_PRECISION, autocast_dtype, check_precision, resolve_device


class PinnedBuffers:
    """Reusable host (or device) tensors keyed by name, each grown along its first axis on demand.

    Args:
        device: Where the buffers live.
        pin: Page-lock host buffers (only meaningful for host buffers of a CUDA run).
    """

    def __init__(self, device: torch.device, pin: bool = False) -> None:
        self.device = device
        self.pin = pin
        self._buffers: dict[Any, torch.Tensor] = {}
        self.allocations = 0

    def view(self, key: Any, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        """A ``shape`` view of buffer ``key``; the buffer is reallocated only when it is too small or
        its trailing shape or dtype changes."""
        rows, tail = int(shape[0]), tuple(int(s) for s in shape[1:])
        buffer = self._buffers.get(key)
        if buffer is None or buffer.dtype != dtype or tuple(buffer.shape[1:]) != tail or buffer.shape[0] < rows:
            capacity = 1 << max(0, rows - 1).bit_length()  # next power of two >= rows
            buffer = torch.empty((capacity, *tail), dtype=dtype, device=self.device,
                                 pin_memory=self.pin and self.device.type == "cpu")
            self._buffers[key] = buffer
            self.allocations += 1
        return buffer[:rows]


class DeviceForward:
    """``module``'s forward on ``device`` in ``precision``, from numpy inputs to float32 numpy outputs.

    Args:
        module: The network (its weights are moved to the device once, here); put in eval mode.
        device: ``auto``, ``cpu``, ``cuda`` or a torch device.
        precision: ``fp32``, ``bf16`` or ``fp16`` (``models.devices.PRECISIONS``).
        threads: Torch CPU threads while it decides (set for each call, then restored); None leaves
            torch's setting.
        staged: Stage inputs and outputs through buffers (default: only on CUDA). On the CPU this is
            the same code path as on CUDA without pinning, which is how the tests exercise it.

    Raises:
        InvalidParameterError: an unknown device or precision, ``cuda`` without CUDA, ``fp16`` on the CPU.
    """

    def __init__(self, module: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "fp32",
                 threads: int | None = None, staged: bool | None = None) -> None:
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.precision = check_precision(precision, self.device.type)
        self.module = module.to(self.device).eval()
        self.threads = threads
        self.staged = self.device.type == "cuda" if staged is None else staged
        self._autocast = autocast_dtype(self.precision)
        cuda = self.device.type == "cuda"
        self._host = PinnedBuffers(torch.device("cpu"), pin=cuda)
        self._on_device = PinnedBuffers(self.device)

    @property
    def is_reference(self) -> bool:
        """Whether it runs where and as the reference does (CPU, float32)."""
        return self.device.type == REFERENCE_DEVICE and self.precision == REFERENCE_PRECISION

    def __call__(self, inputs: Sequence[np.ndarray], keep: Sequence[int] | None = None) -> list[np.ndarray | None]:
        """The module's outputs (a tuple, or one tensor) on ``inputs``, as float32 numpy arrays.

        ``keep`` names the outputs (by position) to read back; the others are None. On CUDA an output
        not read back is not copied (a symbol agent's attention maps are read only on explained bars).
        """
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                out = self._forward(self._direct_inputs(inputs) if not self.staged else self._staged_inputs(inputs))
                kept = range(len(out)) if keep is None else keep
                if not self.staged:
                    return [_as_float32(t.cpu()) if k in kept else None for k, t in enumerate(out)]
                return self._staged_outputs(out, kept)
        finally:
            torch.set_num_threads(previous)

    def _direct_inputs(self, inputs: Sequence[np.ndarray]) -> list[torch.Tensor]:
        return [torch.from_numpy(np.ascontiguousarray(x)).to(self.device) for x in inputs]

    def _staged_inputs(self, inputs: Sequence[np.ndarray]) -> list[torch.Tensor]:
        blocking = self.device.type != "cuda"
        tensors = []
        for i, x in enumerate(inputs):
            source = torch.from_numpy(np.ascontiguousarray(x))
            host = self._host.view(("in", i), source.shape, source.dtype)
            host.copy_(source)
            staged = self._on_device.view(("in", i), source.shape, source.dtype)
            staged.copy_(host, non_blocking=not blocking)
            tensors.append(staged)
        return tensors

    def _staged_outputs(self, out: tuple[torch.Tensor, ...], kept: Sequence[int]) -> list[np.ndarray | None]:
        blocking = self.device.type != "cuda"
        hosts: list[torch.Tensor | None] = []
        for k, tensor in enumerate(out):
            if k not in kept:
                hosts.append(None)
                continue
            dtype = torch.float32 if tensor.is_floating_point() else tensor.dtype
            host = self._host.view(("out", k), tensor.shape, dtype)
            host.copy_(tensor.to(dtype), non_blocking=not blocking)
            hosts.append(host)
        if not blocking:
            torch.cuda.current_stream(self.device).synchronize()
        # The buffers are reused by the next call; the caller keeps its arrays.
        return [None if h is None else h.numpy().copy() for h in hosts]

    def _forward(self, tensors: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if self._autocast is None:
            out = self.module(*tensors)
        else:
            with torch.autocast(self.device.type, dtype=self._autocast):
                out = self.module(*tensors)
        return out if isinstance(out, tuple) else (out,)

    def reference(self) -> "DeviceForward":
        """This forward on the CPU in float32 (the module itself when it already runs there, else a copy)."""
        if self.is_reference:
            return self
        module = self.module if self.device.type == "cpu" else copy.deepcopy(self.module).cpu()
        return DeviceForward(module, "cpu", "fp32", threads=self.threads, staged=False)


def _as_float32(tensor: torch.Tensor) -> np.ndarray:
    """A CPU tensor as numpy, float32 when it is a reduced-precision float (numpy has no bfloat16)."""
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()
