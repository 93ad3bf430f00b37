"""Where networks run: the device names users give and what they resolve to.

One definition for training and inference: ``auto`` takes CUDA when torch sees a device, else the
CPU; ``cuda`` without a device is refused with the fix.
"""
from __future__ import annotations

import torch

from engine.errors import InvalidParameterError

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
"""The device names a command or config accepts."""


def check_device(name: str) -> str:
    """``name`` if it is a usable device name.

    Raises:
        InvalidParameterError: an unknown name, or ``cuda`` on a machine where torch sees no CUDA device.
    """
    if name not in DEVICES:
        raise InvalidParameterError(f"device {name!r} is not one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError("device 'cuda' was asked for but torch sees no CUDA device; use --device cpu")
    return name


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names as they are."""
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
