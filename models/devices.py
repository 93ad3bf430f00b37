"""Where networks run and in which precision: the names users give and what they resolve to.

One definition for training and inference: ``auto`` takes CUDA when torch sees a device, else the
CPU; ``cuda`` without a device is refused with the fix. A decision can run in reduced precision
(``bf16``, ``fp16``) under ``torch.autocast``: matrix products in the low precision, softmax, norms
and the masked logits in float32. ``fp16`` is refused on the CPU, where torch has no fast half
kernels; ``bf16`` runs on both.

The names are plain tuples and torch is imported only by the functions that need it, so a run spec
or a command's parser can read :data:`DEVICES` and :data:`PRECISIONS` without importing torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import InvalidParameterError
from engine.names import check_one_of

if TYPE_CHECKING:
    import torch

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
"""The device names a command or config accepts."""
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
"""The precisions a decision can run in (``fp32``: the reference every other one is compared with)."""
REFERENCE_DEVICE = "cpu"
REFERENCE_PRECISION = "fp32"


def check_device_name(name: str) -> str:
    """``name`` if it is one of :data:`DEVICES` (whether CUDA is present is not asked here).

    Raises:
        InvalidParameterError: an unknown name.
    """
    return check_one_of("device", name, DEVICES)


def check_device(name: str) -> str:
    """``name`` if it is a usable device name.

    Raises:
        InvalidParameterError: an unknown name, or ``cuda`` on a machine where torch sees no CUDA device.
    """
    check_device_name(name)
    if name == "cuda" and not cuda_available():
        raise InvalidParameterError("device 'cuda' was asked for but torch sees no CUDA device; use --device cpu")
    return name


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names as they are."""
    import torch

    check_device(name)
    if name == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    return torch.device(name)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


def check_precision_name(name: str) -> str:
    """``name`` if it is one of :data:`PRECISIONS`.

    Raises:
        InvalidParameterError: an unknown name.
    """
    return check_one_of("precision", name, PRECISIONS)


def check_precision(name: str, device: str) -> str:
    """``name`` if it can run on the resolved ``device`` (``cpu`` or ``cuda``).

    Raises:
        InvalidParameterError: an unknown name, or ``fp16`` on the CPU.
    """
    check_precision_name(name)
    if name == "fp16" and device == "cpu":
        raise InvalidParameterError("precision 'fp16' runs on CUDA only (torch has no fast half kernels on the "
                                    "CPU); use --precision bf16 or fp32 on the CPU")
    return name


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The ``torch.autocast`` dtype of ``precision`` (None for ``fp32``: no autocast)."""
    import torch

    check_precision_name(precision)
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def device_description(device: str | torch.device) -> dict[str, str]:
    """What a model card says a network was trained on: ``{"device": "cpu"}``, or ``"cuda"`` with the
    card's name (``torch.cuda.get_device_name``)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return {"device": "cuda", "name": torch.cuda.get_device_name(device)}
    return {"device": device.type}
