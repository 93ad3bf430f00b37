"""Checkpoints: a folder of safetensors weights, a JSON model card and the frozen normalizer.

Layout of a checkpoint folder::

    weights.safetensors   the module's state dict (safetensors: tensors only, no code)
    model_card.json       ModelCard.to_dict(), including the weights' SHA-256
    normalizer.json       FittedNormalizer.to_dict() of the technical block

Safety: loading never unpickles. The weights file must start like a safetensors file (an 8-byte
header length, then a JSON header); a pickle or a ``torch.save`` zip renamed to
``weights.safetensors`` is recognized by its first bytes and refused before anything parses it.
Its SHA-256 must equal the card's. Saving writes a temporary sibling folder and renames it into
place, so a failure leaves no half-written checkpoint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import numbers
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.atomic_files import fsync_path, publish_folder, staging_folder, write_text_atomically
from engine.errors import CheckpointError, InvalidParameterError
from engine.features.normalize import FittedNormalizer
from models.layout import CARD_FILE, NORMALIZER_FILE, ONNX_FILE, WEIGHTS_FILE  # noqa: F401 (the folder's names)
from models.spec import action_spec, card_specs, observation_spec

logger = logging.getLogger(__name__)

CARD_FORMAT = 1

_CARD_TYPES: dict[str, tuple[type, ...]] = {
    "architecture": (str,), "config": (Mapping,), "train_period": (tuple,), "validation_period": (tuple,),
    "data_fingerprint": (str,), "seed": (numbers.Integral,), "code_version": (str,), "training_metrics": (Mapping,),
    "validation_metrics": (Mapping,), "observation_spec": (Mapping,), "action_spec": (Mapping,),
    "parameter_counts": (Mapping,), "weights_sha256": (str,), "export": (Mapping,), "dataset": (Mapping,),
    "test_period": (tuple, type(None)), "test_metrics": (Mapping,), "warnings": (tuple,), "search": (Mapping,),
    "baselines": (Mapping,),
}
_KIND_NAMES = {(str,): "a string", (Mapping,): "a JSON object", (tuple,): "a list", (numbers.Integral,): "an integer",
               (tuple, type(None)): "a list or null"}


@dataclass(frozen=True)
class ModelCard:
    """What a checkpoint is, where it came from and how well it did.

    Attributes:
        architecture: Name of the network (the ``build`` callable's business to interpret).
        config: Preset / constructor arguments of the network (JSON types).
        train_period: ``(start, end)`` of the training data (ISO strings).
        validation_period: ``(start, end)`` of the validation data.
        data_fingerprint: ``MarketData.fingerprint()`` of the training data.
        seed: Training seed.
        code_version: Workbench version (and commit, when known) that trained the network.
        training_metrics: Final training metrics (``train/...`` keys).
        validation_metrics: Validation metrics (``validation/...`` keys).
        observation_spec: Inputs the network reads (``models.spec.observation_spec()``).
        action_spec: Actions it chooses among (``models.spec.action_spec()``).
        parameter_counts: ``{"total": ..., "trainable": ...}``; filled in by ``save_checkpoint``.
        weights_sha256: SHA-256 of ``weights.safetensors``; filled in by ``save_checkpoint``.
        export: ``ExportReport.to_dict()`` of an ONNX export, when there is one (its ``path`` is
            relative to the checkpoint folder when the file is inside it).
        dataset: ``{"name": ..., "symbols": [...]}`` of the training data, when known.
        test_period: ``(start, end)`` of the held-out test period, when there is one.
        test_metrics: The final weights' figures on the test period (``test/...`` keys), measured
            once, after every choice was made on the training and validation periods.
        warnings: The training warning signs that fired (``models.training_checks``), each
            ``{sign, timesteps, message, count}``.
        search: The hyperparameter search that chose the settings, when there was one
            (``models.symbol_agent.search.SearchResult.to_dict()``: ``n_trials``, ``best_trial``,
            ``trials``, ...).
        baselines: The final weights against the baseline strategies on the test period
            (``workbench train`` writes it: period, protocol and one row per decider).
    """

    architecture: str
    config: Mapping[str, Any]
    train_period: tuple[str | None, str | None]
    validation_period: tuple[str | None, str | None]
    data_fingerprint: str
    seed: int
    code_version: str
    training_metrics: Mapping[str, float] = field(default_factory=dict)
    validation_metrics: Mapping[str, float] = field(default_factory=dict)
    observation_spec: Mapping[str, Any] = field(default_factory=observation_spec)
    action_spec: Mapping[str, Any] = field(default_factory=action_spec)
    parameter_counts: Mapping[str, int] = field(default_factory=dict)
    weights_sha256: str = ""
    export: Mapping[str, Any] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=dict)
    test_period: tuple[str | None, str | None] | None = None
    test_metrics: Mapping[str, float] = field(default_factory=dict)
    warnings: Sequence[Mapping[str, Any]] = ()
    search: Mapping[str, Any] = field(default_factory=dict)
    baselines: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, kinds in _CARD_TYPES.items():
            value = getattr(self, name)
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
                raise InvalidParameterError(f"model card key {name!r} must be {_KIND_NAMES[kinds]}, got {value!r}")
        for name in ("train_period", "validation_period"):
            period = getattr(self, name)
            if len(period) != 2 or not all(p is None or isinstance(p, str) for p in period):
                raise InvalidParameterError(f"model card key {name!r} must be [start, end] (dates or null), "
                                            f"got {list(period)!r}")
        for name in ("training_metrics", "validation_metrics", "test_metrics", "parameter_counts"):
            undefined_allowed = name != "parameter_counts"  # a metric can be undefined (a profit factor without losses)
            for key, value in getattr(self, name).items():
                if value is None and undefined_allowed:
                    continue
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise InvalidParameterError(f"model card {name}[{key!r}] must be a number"
                                                f"{' or null' if undefined_allowed else ''}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (tuples become lists), plus the card format number."""
        data = json.loads(json.dumps(dataclasses.asdict(self)))
        return {"format": CARD_FORMAT, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelCard":
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidParameterError: unknown or missing keys, or another card format.
        """
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"a model card is a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("format", CARD_FORMAT)
        if version != CARD_FORMAT:
            raise InvalidParameterError(f"model card format {version!r} is not {CARD_FORMAT}; re-save the checkpoint "
                                        "with this workbench version")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidParameterError(
                f"unknown model card key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise InvalidParameterError(f"model card lacks key(s) {', '.join(missing)}")
        for name in ("train_period", "validation_period"):
            if isinstance(data[name], list):
                data[name] = tuple(data[name])
        if isinstance(data.get("test_period"), list):
            data["test_period"] = tuple(data["test_period"])
        if isinstance(data.get("warnings"), list):
            data["warnings"] = tuple(data["warnings"])
        return cls(**data)


def parameter_counts(module: torch.nn.Module) -> dict[str, int]:
    """Total and trainable parameter counts of ``module``."""
    parameters = list(module.parameters())
    return {"total": sum(p.numel() for p in parameters),
            "trainable": sum(p.numel() for p in parameters if p.requires_grad)}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(folder: str | Path, module: torch.nn.Module, card: ModelCard, normalizer: FittedNormalizer,
                    *, overwrite: bool = False) -> ModelCard:
    """Write ``module``'s weights, ``card`` and ``normalizer`` as a checkpoint folder, atomically.

    Args:
        folder: The checkpoint folder to create.
        module: The network; its state dict is saved (tensors only).
        card: The model card; its ``parameter_counts`` and ``weights_sha256`` are filled in here.
        normalizer: The frozen statistics of the observation's technical block.
        overwrite: Replace an existing folder (otherwise an existing folder is an error).

    Returns:
        The card as written.

    Raises:
        CheckpointError: ``folder`` exists and ``overwrite`` is False.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise CheckpointError(f"{folder} already exists; choose another folder or pass overwrite=True")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(folder)
    try:
        # safetensors refuses shared or non-contiguous storage; clone to a plain CPU copy.
        state = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_FILE))
        card = dataclasses.replace(card, parameter_counts=parameter_counts(module),
                                   weights_sha256=file_sha256(staging / WEIGHTS_FILE))
        (staging / CARD_FILE).write_text(_json_text(card.to_dict()))
        (staging / NORMALIZER_FILE).write_text(_json_text(normalizer.to_dict()))
        for path in (staging / WEIGHTS_FILE, staging / CARD_FILE, staging / NORMALIZER_FILE, staging):
            fsync_path(path)
        publish_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("saved checkpoint %s (%s, %d parameters)", folder, card.architecture, card.parameter_counts["total"])
    return card


def load_checkpoint(folder: str | Path, build: Callable[[dict], torch.nn.Module]
                    ) -> tuple[torch.nn.Module, ModelCard, FittedNormalizer]:
    """Load a checkpoint folder written by :func:`save_checkpoint`, checking everything first.

    Args:
        folder: The checkpoint folder.
        build: Makes an untrained network from the card's ``config``; the weights are loaded into it.

    Returns:
        ``(module in eval mode, card, normalizer)``.

    Raises:
        CheckpointError: a file is missing or malformed, the weights are not safetensors, their
            SHA-256 differs from the card's, the card's observation or action spec differs from this
            workbench's, the card's config cannot be built (missing keys, wrong types, sizes out of
            range), or a tensor is missing, unexpected or of another shape than ``build`` makes; the
            shapes are compared with a network built on the meta device, before any memory is taken.
    """
    folder = Path(folder)
    for name in (WEIGHTS_FILE, CARD_FILE, NORMALIZER_FILE):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder}: {name} is missing; a checkpoint folder holds {WEIGHTS_FILE}, "
                                  f"{CARD_FILE} and {NORMALIZER_FILE} (write it with save_checkpoint)")
    card = read_card(folder)
    normalizer = _read_normalizer(folder)
    weights = folder / WEIGHTS_FILE
    check_safetensors_header(weights)
    actual = file_sha256(weights)
    if actual != card.weights_sha256:
        raise CheckpointError(
            f"{weights}: sha256 {actual} differs from the model card's {card.weights_sha256 or '(none)'}; the "
            "weights were changed or corrupted after saving. Fix: restore the checkpoint folder from its source")
    fix = f"build the {card.architecture!r} network with the card's config, or retrain"
    unreadable = f"{weights}: not a readable safetensors file ({{}}); re-save the checkpoint"
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as handle:  # the header only
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(unreadable.format(error)) from error
    # The card's config is built on the meta device first (no memory): an edited card asking for a
    # network other than the weights' is refused before anything is allocated.
    check_shapes(_build(build, card, folder, meta=True), shapes, f"{folder}: {WEIGHTS_FILE}", fix)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(unreadable.format(error)) from error
    module = _build(build, card, folder, meta=False)
    load_state_strict(module, state, f"{folder}: {WEIGHTS_FILE}", fix)
    module.eval()
    return module, card, normalizer


def _build(build: Callable[[dict], torch.nn.Module], card: ModelCard, folder: Path, meta: bool) -> torch.nn.Module:
    """``build(card.config)``; a config it cannot read (missing keys, wrong types, sizes out of range) is
    a :class:`CheckpointError` naming the card."""
    try:
        if meta:
            with torch.device("meta"):
                return build(dict(card.config))
        return build(dict(card.config))
    except (InvalidParameterError, KeyError, TypeError, ValueError) as error:
        detail = f"key {error}" if isinstance(error, KeyError) else str(error)
        raise CheckpointError(f"{folder / CARD_FILE}: its config does not describe a {card.architecture} network "
                              f"({detail}). Fix: restore the model card or re-save the checkpoint") from None


def card_architecture(folder: str | Path) -> str | None:
    """The card's ``architecture`` read as plain JSON, before anything is verified (None when the
    card is missing or unreadable: loading the checkpoint reports why)."""
    try:
        card = json.loads((Path(folder) / CARD_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    architecture = card.get("architecture") if isinstance(card, dict) else None
    return architecture if isinstance(architecture, str) else None


def verified_export(folder: str | Path, card: ModelCard) -> Path:
    """The checkpoint's :data:`ONNX_FILE`, once its sha256 equals the card's export report.

    Raises:
        CheckpointError: the file is missing, or it changed after its parity check.
    """
    folder = Path(folder)
    onnx_file = folder / ONNX_FILE
    if not onnx_file.is_file():
        raise CheckpointError(f"{folder}: has no {ONNX_FILE}; export it with `workbench export onnx {folder} "
                              f"--out {onnx_file}` or run with --runtime torch")
    expected = card.export.get("sha256")
    actual = file_sha256(onnx_file)
    if actual != expected:
        raise CheckpointError(
            f"{onnx_file}: sha256 {actual} differs from the model card's export report ({expected or 'none'}); "
            f"the file was changed after its parity check. Fix: re-export it with `workbench export onnx {folder} "
            f"--out {onnx_file}`")
    return onnx_file


def update_card(folder: str | Path, **changes: Any) -> ModelCard:
    """Rewrite a checkpoint's model card with ``changes`` (e.g. ``export=report``), atomically.

    The weights are not touched; the card is read and checked like :func:`load_checkpoint` does.

    Raises:
        CheckpointError: the card is missing or invalid, or a change names a field the card lacks.
    """
    folder = Path(folder)
    if not (folder / CARD_FILE).is_file():
        raise CheckpointError(f"{folder}: {CARD_FILE} is missing; is this a checkpoint folder?")
    card = read_card(folder)
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(ModelCard)})
    if unknown:
        raise CheckpointError(f"model card has no field {unknown[0]!r}")
    card = dataclasses.replace(card, **changes)
    write_text_atomically(folder / CARD_FILE, _json_text(card.to_dict()))
    return card


def load_state_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str, fix: str) -> None:
    """Copy ``state`` into ``module``, refusing missing, unexpected or differently shaped tensors.

    Raises:
        CheckpointError: naming ``source``, the first offending tensor and ``fix``.
    """
    check_shapes(module, {key: tuple(tensor.shape) for key, tensor in state.items()}, source, fix)
    module.load_state_dict(dict(state), strict=True)


def check_shapes(module: torch.nn.Module, shapes: Mapping[str, tuple[int, ...]], source: str, fix: str) -> None:
    """Refuse tensor ``shapes`` (name -> shape) that are not exactly ``module``'s state.

    Raises:
        CheckpointError: naming ``source``, the first missing, unexpected or differently shaped tensor and ``fix``.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    if missing:
        raise CheckpointError(
            f"{source}: tensor {missing[0]!r} is missing ({len(missing)} missing in all). Fix: {fix}")
    if unexpected:
        raise CheckpointError(f"{source}: unexpected tensor {unexpected[0]!r} ({len(unexpected)} unexpected in all). "
                              f"Fix: {fix}")
    for key, tensor in expected.items():
        if tuple(shapes[key]) != tuple(tensor.shape):
            raise CheckpointError(f"{source}: tensor {key!r} has shape {tuple(shapes[key])}, the network "
                                  f"expects {tuple(tensor.shape)}. Fix: {fix}")


def check_safetensors_header(path: Path) -> None:
    """Refuse a file whose first bytes are not a safetensors header (e.g. a pickle or a zip).

    Raises:
        CheckpointError: naming what the file looks like instead.
    """
    with open(path, "rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    if head[:2] == b"PK" or head[:1] == b"\x80":
        kind = "a zip (torch.save) archive" if head[:2] == b"PK" else "a Python pickle"
        raise CheckpointError(
            f"{path}: the file is {kind}, not safetensors; it was not opened because unpickling can run "
            "arbitrary code. Fix: convert it where you trust it (torch.load(weights_only=True), then "
            "safetensors.torch.save_file) or re-save the checkpoint with save_checkpoint")
    header_length = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else -1
    if not 0 < header_length <= size - 8 or head[8:9] != b"{":
        raise CheckpointError(f"{path}: not a safetensors file (no valid header); re-save the checkpoint "
                              "with save_checkpoint")


def read_card(folder: Path) -> ModelCard:
    """The checkpoint's model card, checked against this workbench's observation and action specs.

    Raises:
        CheckpointError: the card is unreadable, malformed, or describes another observation or action.
    """
    path = Path(folder) / CARD_FILE
    try:
        card = ModelCard.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, InvalidParameterError, TypeError) as error:
        raise CheckpointError(f"{path}: {error}. Fix: restore the model card or re-save the checkpoint") from error
    expected_observation, expected_action = card_specs(card.architecture)
    if dict(card.observation_spec) != expected_observation or dict(card.action_spec) != expected_action:
        raise CheckpointError(
            f"{path}: the network was trained on another observation or action spec than this workbench "
            f"builds ({json.dumps(card.observation_spec)}); retrain it on the current observation")
    return card


def _read_normalizer(folder: Path) -> FittedNormalizer:
    path = folder / NORMALIZER_FILE
    try:
        return FittedNormalizer.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, InvalidParameterError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: not a valid normalizer ({error}). Fix: restore it or re-save the "
                              "checkpoint") from error


def _json_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
