"""Trained policies as users name them: a shipped policy's name or a checkpoint folder path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from engine.actions import SymbolActions
from engine.errors import CheckpointError, InvalidParameterError
from engine.live_observation import LiveObservation
from engine.observation import ObservationBuilder
from engine.scenarios import ScenarioBatch
from models.checkpoint import CARD_FILE, ModelCard, file_sha256, load_checkpoint
from models.master_policy import ARCHITECTURE as MASTER_ARCHITECTURE
from models.master_policy import build_master_network, master_action_space
from models.onnx_export import PositionalActor
from models.training import ARCHITECTURE as SYMBOL_ARCHITECTURE
from models.training import build_symbol_agent
from strategies.master import LiveMasterObservation, MasterObserver, MasterPolicy
from strategies.neural import OnnxPolicy, TorchPolicy

# assets/ is installed beside workbench/ (both are top-level packages of the distribution); it is
# data, not a code layer, so it is located rather than imported.
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "assets" / "policies"
ONNX_FILE = "model.onnx"
RUNTIMES = ("auto", "onnx", "torch")


def shipped_policies() -> dict[str, Path]:
    """Name -> checkpoint folder of every policy shipped in ``assets/policies``."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if (p / "model_card.json").is_file()}


def list_policies() -> list[dict[str, object]]:
    """A summary of each shipped policy's model card (read as JSON; weights are not loaded)."""
    rows = []
    for name, folder in shipped_policies().items():
        card = json.loads((folder / "model_card.json").read_text())
        rows.append({
            "name": name,
            "architecture": card.get("architecture"),
            "preset": card.get("config", {}).get("preset"),
            "parameters": card.get("parameter_counts", {}).get("total"),
            "onnx": (folder / ONNX_FILE).is_file() and bool(card.get("export")),
            "train_period": card.get("train_period"),
            "validation_period": card.get("validation_period"),
            "validation_metrics": card.get("validation_metrics", {}),
            "path": str(folder),
        })
    return rows


def resolve_policy(name_or_path: str) -> Path:
    """The checkpoint folder of a shipped policy name or of a path."""
    shipped = shipped_policies()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if path.is_dir():
        return path
    raise InvalidParameterError(
        f"{name_or_path!r} is neither a shipped policy ({', '.join(shipped) or 'none'}) nor a checkpoint "
        "folder; see `workbench models list`"
    )


class LoadedPolicy(NamedTuple):
    """A verified trained policy (symbol agent or master agent) ready to run.

    Attributes:
        policy: The engine policy (a symbol agent on ONNX or torch, or a master agent on torch).
        card: Its model card.
        normalizer: The frozen normalizer of the observation's technical block.
        model_sha: sha256 of what decides: the ONNX file, or the safetensors weights.
        runtime: ``"onnx"`` or ``"torch"``.
    """

    policy: OnnxPolicy | TorchPolicy | MasterPolicy
    card: ModelCard
    normalizer: object
    model_sha: str
    runtime: str


def load_symbol_policy(name_or_path: str, runtime: str = "auto") -> LoadedPolicy:
    """A shipped or saved symbol agent as a portfolio-scope policy.

    The checkpoint is verified (sha256, safetensors only) before anything is built; an ONNX file is
    used only when its sha256 matches the card's export report.

    Args:
        name_or_path: Shipped policy name or checkpoint folder.
        runtime: ``"onnx"`` (the checkpoint's ``model.onnx``), ``"torch"``, or ``"auto"``: ONNX when
            the checkpoint has an export, torch otherwise.

    Raises:
        InvalidParameterError: unknown name or runtime.
        CheckpointError: a file fails verification, or ``runtime="onnx"`` without an export.
    """
    if runtime not in RUNTIMES:
        raise InvalidParameterError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    folder = resolve_policy(name_or_path)
    architecture = _architecture(folder)
    if architecture not in (None, SYMBOL_ARCHITECTURE):
        raise CheckpointError(f"{folder}: holds a {architecture}, not a symbol agent; load it with load_policy")
    agent, card, normalizer = load_checkpoint(folder, build_symbol_agent)
    onnx_file = folder / ONNX_FILE
    if runtime == "onnx" or (runtime == "auto" and onnx_file.is_file()):
        _check_onnx(folder, card)
        return LoadedPolicy(OnnxPolicy(onnx_file, name=folder.name), card, normalizer, card.export["sha256"], "onnx")
    return LoadedPolicy(TorchPolicy(PositionalActor(agent.eval()), name=folder.name), card, normalizer,
                        card.weights_sha256, "torch")


def load_policy(name_or_path: str, runtime: str = "auto") -> LoadedPolicy:
    """A shipped or saved trained policy of any architecture, verified before it is built.

    Symbol agents load as :func:`load_symbol_policy` does. A master agent (``master_agent`` card)
    runs on torch (it has no ONNX export): ``runtime="onnx"`` is refused, ``"auto"`` means torch.

    Raises:
        InvalidParameterError: unknown name or runtime.
        CheckpointError: a file fails verification, or ``runtime="onnx"`` for a master agent.
    """
    if runtime not in RUNTIMES:
        raise InvalidParameterError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    folder = resolve_policy(name_or_path)
    if _architecture(folder) != MASTER_ARCHITECTURE:
        return load_symbol_policy(name_or_path, runtime)
    if runtime == "onnx":
        raise CheckpointError(f"{folder}: a master agent has no ONNX export; run it with --runtime torch (or auto)")
    network, card, normalizer = load_checkpoint(folder, build_master_network)
    policy = MasterPolicy(network, name=folder.name, action_space=master_action_space(card.config))
    return LoadedPolicy(policy, card, normalizer, card.weights_sha256, "torch")


def _architecture(folder: Path) -> str | None:
    """The card's ``architecture`` read as plain JSON (None when unreadable: verification reports it)."""
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return card.get("architecture") if isinstance(card, dict) else None


def _check_onnx(folder: Path, card: ModelCard) -> None:
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


def symbol_observer(batch: ScenarioBatch, normalizer) -> ObservationBuilder:
    """The observation builder a symbol agent reads, with its checkpoint's frozen normalizer."""
    return ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions())


def policy_observer(batch: ScenarioBatch, normalizer, policy: object) -> ObservationBuilder | MasterObserver:
    """The observer ``policy`` reads: a master agent's (rows regrouped by scenario, no action mask) or
    a symbol agent's (:func:`symbol_observer`)."""
    if isinstance(policy, MasterPolicy):
        return MasterObserver(batch, normalizer)
    return symbol_observer(batch, normalizer)


def live_observation(policy: object, normalizer, n_symbols: int, frequency: str) -> LiveObservation:
    """The live observation ``policy`` reads in a paper-trading loop (the bar-by-bar counterpart of
    :func:`policy_observer`)."""
    if isinstance(policy, MasterPolicy):
        return LiveMasterObservation(n_symbols, frequency, normalizer)
    return LiveObservation(n_symbols, frequency, normalizer, action_space=SymbolActions())
