"""Resume points of a symbol-agent training run: everything needed to continue it bit for bit.

A resume point is written after a PPO update (the only moments the policy changes), into
``DIR/step-<timesteps>/``, atomically (a hidden staging folder renamed into place); the newest
:data:`KEEP` points are kept. Nothing is pickled:

==========================  ==================================================================
``policy.safetensors``      the SB3 policy's state dict
``optimizer.safetensors``   Adam's tensors (``<param id>.<name>``); the rest is in ``state.json``
``best.safetensors``        the best validated policy so far (absent before the first validation)
``rng.safetensors``         torch's CPU generator state
``arrays.npz``              the training environment's state (``env.*``), SB3's last observation
                            (``obs.*``) and episode starts, NumPy's global generator state;
                            read back with ``allow_pickle=False``
``state.json``              format, the run's settings and data fingerprint (a resume must match
                            them), counters, validation history, warning monitor, Python's
                            generator state, the optimizer's structure and the logger's values
``progress.csv``            the training log written so far
==========================  ==================================================================
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from engine.atomic_files import fsync_path, publish_folder, staging_folder
from engine.errors import InvalidParameterError
from models.checkpoint import check_safetensors_header

RESUME_FORMAT = 1
KEEP = 2
"""Resume points kept in a folder (older ones are removed once a newer one is written)."""
PREFIX = "step-"


@dataclass(frozen=True)
class ResumePoint:
    """A resume point read back.

    Attributes:
        path: Its folder.
        state: ``state.json``.
        policy: The SB3 policy's state dict.
        optimizer: The optimizer's state dict, rebuilt.
        best: The best validated policy's state dict, or None.
        arrays: ``arrays.npz``.
        torch_rng: Torch's CPU generator state.
    """

    path: Path
    state: Mapping[str, Any]
    policy: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    best: dict[str, torch.Tensor] | None
    arrays: dict[str, np.ndarray]
    torch_rng: torch.Tensor


def save_resume_point(folder: Path, timesteps: int, *, state: Mapping[str, Any], policy: Mapping[str, torch.Tensor],
                      optimizer: Mapping[str, Any], best: Mapping[str, torch.Tensor] | None,
                      arrays: Mapping[str, np.ndarray], progress_csv: Path | None) -> Path:
    """Write one resume point (module docstring) and drop all but the newest :data:`KEEP`.

    ``state`` is the caller's JSON part; the generators' states (torch, NumPy's global one,
    Python's) are taken here.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{PREFIX}{timesteps:012d}"
    staging = staging_folder(target)
    try:
        optimizer_tensors, optimizer_layout = _split_optimizer(optimizer)
        save_file(_plain(policy), str(staging / "policy.safetensors"))
        save_file(optimizer_tensors, str(staging / "optimizer.safetensors"))
        if best is not None:
            save_file(_plain(best), str(staging / "best.safetensors"))
        save_file({"cpu": torch.get_rng_state()}, str(staging / "rng.safetensors"))
        kind, keys, position, has_gauss, cached = np.random.get_state()
        np.savez(staging / "arrays.npz", **dict(arrays), **{"numpy.keys": keys})
        document = {**dict(state), "format": RESUME_FORMAT, "timesteps": int(timesteps),
                    "numpy_rng": [kind, int(position), int(has_gauss), float(cached)],
                    "python_rng": _python_rng_state(), "optimizer": optimizer_layout}
        (staging / "state.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        if progress_csv is not None and progress_csv.exists():
            shutil.copyfile(progress_csv, staging / "progress.csv")
        for path in [*staging.iterdir(), staging]:
            fsync_path(path)
        publish_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for old in resume_points(folder)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def resume_points(folder: Path) -> list[Path]:
    """The resume points in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def latest_resume_point(folder: Path) -> ResumePoint:
    """Read the newest resume point of ``folder``.

    Raises:
        InvalidParameterError: the folder holds none, or its newest one is incomplete or of another format.
    """
    points = resume_points(folder)
    if not points:
        raise InvalidParameterError(
            f"{folder} holds no resume point ({PREFIX}*); a run writes one every --checkpoint-every steps. "
            "Start the run without --resume")
    path = points[-1]
    try:
        state = json.loads((path / "state.json").read_text())
        for name in ("policy", "optimizer", "rng"):
            check_safetensors_header(path / f"{name}.safetensors")
        best = None
        if (path / "best.safetensors").exists():
            check_safetensors_header(path / "best.safetensors")
            best = load_file(str(path / "best.safetensors"))
        with np.load(path / "arrays.npz", allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, KeyError) as error:
        raise InvalidParameterError(f"the resume point {path} is unreadable ({error}); remove it to resume from "
                                    "the one before") from error
    if state.get("format") != RESUME_FORMAT:
        raise InvalidParameterError(f"the resume point {path} has format {state.get('format')!r}, not {RESUME_FORMAT}")
    optimizer = _join_optimizer(load_file(str(path / "optimizer.safetensors")), state["optimizer"])
    return ResumePoint(path, state, load_file(str(path / "policy.safetensors")), optimizer, best, arrays,
                       load_file(str(path / "rng.safetensors"))["cpu"])


def restore_generators(point: ResumePoint) -> None:
    """Set torch's, NumPy's and Python's global generators to the resume point's states."""
    torch.set_rng_state(point.torch_rng)
    kind, position, has_gauss, cached = point.state["numpy_rng"]
    np.random.set_state((kind, point.arrays["numpy.keys"], position, has_gauss, cached))
    version, internal, gauss = point.state["python_rng"]
    random.setstate((version, tuple(internal), gauss))


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _plain(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, unshared copies (what safetensors accepts)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def _split_optimizer(state_dict: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer state dict as tensors ``{"<param id>.<name>": tensor}`` plus a JSON layout."""
    tensors: dict[str, torch.Tensor] = {}
    layout: dict[str, dict[str, Any]] = {}
    for param_id, entry in state_dict["state"].items():
        layout[str(param_id)] = {}
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{name}"] = value.detach().to("cpu").contiguous().clone()
                layout[str(param_id)][name] = {"tensor": True}
            else:
                layout[str(param_id)][name] = {"value": value}
    return tensors, {"state": layout, "param_groups": json.loads(json.dumps(state_dict["param_groups"]))}


def _join_optimizer(tensors: Mapping[str, torch.Tensor], layout: Mapping[str, Any]) -> dict[str, Any]:
    state = {}
    for param_id, entry in layout["state"].items():
        state[int(param_id)] = {name: tensors[f"{param_id}.{name}"] if spec.get("tensor") else spec["value"]
                                for name, spec in entry.items()}
    groups = [{**group, "betas": tuple(group["betas"])} if "betas" in group else dict(group)
              for group in layout["param_groups"]]
    return {"state": state, "param_groups": groups}
