"""Import the actor of an SB3 PPO / MaskablePPO ``.zip`` trained elsewhere, without unpickling.

An SB3 archive is a zip holding ``data`` (JSON; some values are base64 pickles, which are never
decoded here), ``policy.pth`` (the policy's state dict, read with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers) and other entries that are ignored.

From ``data`` only JSON strings are read: the observation space's ``spaces`` text (names, shapes,
dtypes of its ``Box`` entries) and the action space's ``n``, plus the activation's class name in
``policy_kwargs``. Every observation entry must be one of ``models.spec`` with the same shape and
dtype, and the action space ``Discrete(7)``.

Key mapping (SB3 ``MultiInputPolicy`` with the default ``CombinedExtractor``, which flattens and
concatenates the observation entries in sorted name order):

========================================  ==============================
SB3 ``policy.pth`` key                    :class:`Sb3MlpActor` key
========================================  ==============================
``mlp_extractor.policy_net.<i>.<param>``  ``policy_net.<i>.<param>``
``action_net.<param>``                    ``action_net.<param>``
``mlp_extractor.value_net.*``,            dropped (the critic is not part of
``value_net.*``                           a deployed policy)
========================================  ==============================

A custom actor can take the weights through its own ``key_map`` (SB3 prefix -> module prefix).
"""
from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from engine.errors import CheckpointError
from models.checkpoint import load_state_strict
from models.spec import MASKED_LOGIT, N_ACTIONS, OBSERVATION_DTYPES, OBSERVATION_SHAPES

logger = logging.getLogger(__name__)

SB3_ACTOR_KEY_MAP: dict[str, str] = {"mlp_extractor.policy_net.": "policy_net.", "action_net.": "action_net."}
"""SB3 key prefix -> :class:`Sb3MlpActor` key prefix; SB3 keys matching none are dropped."""

ACTIVATIONS: dict[str, type[nn.Module]] = {"Tanh": nn.Tanh, "ReLU": nn.ReLU, "ELU": nn.ELU, "LeakyReLU": nn.LeakyReLU,
                                           "GELU": nn.GELU, "SiLU": nn.SiLU}
MAX_ENTRY_BYTES = 1 << 30  # refuse zip bombs before inflating
_BOX = re.compile(r"'(\w+)': Box\([^()]*\(([\d,\s]*)\),\s*(\w+)\)")


@dataclass(frozen=True)
class Sb3Archive:
    """What an SB3 zip holds that the workbench uses.

    Attributes:
        path: The archive.
        observation_keys: Observation entries the policy reads, in SB3's (sorted) order.
        n_actions: Size of the discrete action space.
        activation: Activation class name of the policy MLP (``Tanh`` by SB3's default).
        state_dict: ``policy.pth`` tensors.
        sb3_version: Contents of ``_stable_baselines3_version``.
    """

    path: str
    observation_keys: tuple[str, ...]
    n_actions: int
    activation: str
    state_dict: Mapping[str, torch.Tensor]
    sb3_version: str

    def policy_layers(self) -> tuple[int, ...]:
        """Hidden widths of the policy MLP, read from the tensor shapes."""
        widths, index = [], 0
        while f"mlp_extractor.policy_net.{index}.weight" in self.state_dict:
            widths.append(int(self.state_dict[f"mlp_extractor.policy_net.{index}.weight"].shape[0]))
            index += 2  # Linear, activation, Linear, ...
        return tuple(widths)


class Sb3MlpActor(nn.Module):
    """SB3's ``MultiInputPolicy`` actor as a workbench actor: masked logits from the six inputs.

    Args:
        observation_keys: Entries the SB3 policy reads, in its order (sorted names).
        hidden: Hidden widths of the policy MLP.
        activation: Activation class name (a key of :data:`ACTIVATIONS`).
    """

    def __init__(self, observation_keys: tuple[str, ...], hidden: tuple[int, ...], activation: str = "Tanh") -> None:
        super().__init__()
        self.observation_keys = tuple(observation_keys)
        width = sum(_numel(OBSERVATION_SHAPES[k]) for k in self.observation_keys)
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        self.policy_net = nn.Sequential(*layers)
        self.action_net = nn.Linear(width, N_ACTIONS)

    def forward(self, technical: torch.Tensor, sl_probs: torch.Tensor, position: torch.Tensor,
                portfolio: torch.Tensor, regime: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        inputs = {"technical": technical, "sl_probs": sl_probs, "position": position, "portfolio": portfolio,
                  "regime": regime, "action_mask": action_mask.to(technical.dtype)}
        features = torch.cat([inputs[k].flatten(1) for k in self.observation_keys], dim=1)
        logits = self.action_net(self.policy_net(features))
        return torch.where(action_mask, logits, torch.full_like(logits, MASKED_LOGIT))


def read_sb3_zip(path: str | Path) -> Sb3Archive:
    """Read and check an SB3 archive without unpickling anything.

    Raises:
        CheckpointError: not an SB3 zip, an entry missing or oversized, ``policy.pth`` holding more than
            tensors, or an observation / action space the workbench does not build.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"{path}: not a zip archive ({error}); pass the .zip that SB3's model.save wrote") from error
    with archive:
        names = set(archive.namelist())
        for entry in ("data", "policy.pth"):
            if entry not in names:
                raise CheckpointError(f"{path}: entry {entry!r} is missing; this is not an SB3 model archive")
            if archive.getinfo(entry).file_size > MAX_ENTRY_BYTES:
                raise CheckpointError(f"{path}: entry {entry!r} is larger than {MAX_ENTRY_BYTES} bytes; refused")
        try:
            data = json.loads(archive.read("data"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(
                f"{path}: entry 'data' is not JSON ({error}); re-save the model with SB3 >= 1.0") from error
        try:
            state = torch.load(io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True)
        except Exception as error:  # weights_only raises UnpicklingError (and others) on anything but tensors
            raise CheckpointError(f"{path}: policy.pth holds more than tensors or is corrupt ({error}); it was not "
                                  "loaded. Fix: save the policy's state_dict only") from error
        version = archive.read("_stable_baselines3_version").decode(errors="replace").strip() \
            if "_stable_baselines3_version" in names else "unknown"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: policy.pth is not a state dict of tensors")
    return Sb3Archive(str(path), _observation_keys(path, data), _n_actions(path, data), _activation(path, data),
                      state, version)


def load_sb3_weights(archive: Sb3Archive, module: nn.Module,
                     key_map: Mapping[str, str] = SB3_ACTOR_KEY_MAP) -> nn.Module:
    """Copy the archive's actor weights into ``module`` through ``key_map`` (SB3 prefix -> module prefix).

    Raises:
        CheckpointError: a module tensor is missing, left over or of another shape.
    """
    state = {}
    for key, tensor in archive.state_dict.items():
        for source, target in key_map.items():
            if key.startswith(source):
                state[target + key[len(source):]] = tensor
                break
    load_state_strict(module, state, f"{archive.path}: policy.pth",
                      "build the module with the archive's layers (build_sb3_actor) or pass a matching key_map")
    module.eval()
    return module


def build_sb3_actor(archive: Sb3Archive) -> Sb3MlpActor:
    """An :class:`Sb3MlpActor` shaped like the archive's policy, with its weights loaded."""
    actor = Sb3MlpActor(archive.observation_keys, archive.policy_layers(), archive.activation)
    return load_sb3_weights(archive, actor)


def import_sb3(path: str | Path) -> Sb3MlpActor:
    """Read an SB3 ``.zip`` and return its actor, ready for ``TorchPolicy`` or ``export_onnx``."""
    archive = read_sb3_zip(path)
    actor = build_sb3_actor(archive)
    logger.info("imported SB3 %s actor from %s: inputs %s, layers %s, %s", archive.sb3_version, path,
                ", ".join(archive.observation_keys), archive.policy_layers(), archive.activation)
    return actor


def _observation_keys(path: Path, data: Mapping) -> tuple[str, ...]:
    space = data.get("observation_space")
    text = space.get("spaces") if isinstance(space, Mapping) else None
    if not isinstance(text, str) or "Dict" not in str(space.get(":type:", "")):
        raise CheckpointError(f"{path}: the model's observation space is not a gymnasium Dict; the workbench "
                              "imports MultiInputPolicy models trained on its Dict observation")
    entries = _BOX.findall(text)
    # Every entry of the Dict must be a Box we understand (an unparsed entry would shift the inputs).
    if len(entries) != text.count(":"):
        raise CheckpointError(f"{path}: observation space {text} has entries that are not Box spaces; "
                              "train on the workbench's observation")
    keys = []
    for name, shape_text, dtype in entries:
        shape = tuple(int(s) for s in shape_text.replace(" ", "").split(",") if s)
        expected = OBSERVATION_SHAPES.get(name)
        if expected is None or name == "action_mask":
            raise CheckpointError(f"{path}: observation entry {name!r} is not one the workbench builds "
                                  f"({', '.join(OBSERVATION_SHAPES)}); retrain on the workbench observation")
        if shape != expected or dtype != OBSERVATION_DTYPES[name]:
            raise CheckpointError(f"{path}: observation entry {name!r} is {dtype}{list(shape)}, the workbench "
                                  f"builds {OBSERVATION_DTYPES[name]}{list(expected)}; retrain on its observation")
        keys.append(name)
    return tuple(sorted(keys))


def _n_actions(path: Path, data: Mapping) -> int:
    space = data.get("action_space")
    kind = str(space.get(":type:", "")) if isinstance(space, Mapping) else ""
    n = space.get("n") if isinstance(space, Mapping) else None
    start = space.get("start", "0") if isinstance(space, Mapping) else None
    if "Discrete" not in kind or "Multi" in kind or str(n) != str(N_ACTIONS) or str(start) != "0":
        raise CheckpointError(f"{path}: the model's action space is {kind or 'unknown'} with n={n}; the workbench "
                              f"needs Discrete({N_ACTIONS}) (SymbolActions)")
    return N_ACTIONS


def _activation(path: Path, data: Mapping) -> str:
    kwargs = data.get("policy_kwargs")
    text = kwargs.get("activation_fn", "") if isinstance(kwargs, Mapping) else ""
    match = re.search(r"\.(\w+)'>$", str(text))
    name = match.group(1) if match else "Tanh"  # SB3's default when policy_kwargs does not set one
    if name not in ACTIVATIONS:
        raise CheckpointError(f"{path}: activation {name} is not supported; use one of {', '.join(ACTIVATIONS)}")
    return name


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total
