"""Trained policies as users name them: a shipped policy's name or a checkpoint folder path."""
from __future__ import annotations

import json
from pathlib import Path

from engine.actions import SymbolActions
from engine.errors import CheckpointError, InvalidParameterError
from engine.observation import ObservationBuilder
from engine.scenarios import ScenarioBatch
from models.checkpoint import ModelCard, load_checkpoint
from models.onnx_export import PositionalActor
from models.training import build_symbol_agent
from strategies.neural import TorchPolicy

# assets/ is installed beside workbench/ (both are top-level packages of the distribution); it is
# data, not a code layer, so it is located rather than imported.
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "assets" / "policies"


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


def load_symbol_policy(name_or_path: str) -> tuple[TorchPolicy, ModelCard, object]:
    """A shipped or saved symbol agent as a portfolio-scope policy, with its card and normalizer.

    The checkpoint is verified (sha256, safetensors only) before anything is built.
    """
    folder = resolve_policy(name_or_path)
    agent, card, normalizer = load_checkpoint(folder, build_symbol_agent)
    if card.architecture != "symbol_agent":
        raise CheckpointError(f"{folder}: holds a {card.architecture}, not a SymbolAgent; "
                              "--policy runs symbol agents")
    return TorchPolicy(PositionalActor(agent.eval()), name=folder.name), card, normalizer


def symbol_observer(batch: ScenarioBatch, normalizer) -> ObservationBuilder:
    """The observation builder a symbol agent reads, with its checkpoint's frozen normalizer."""
    return ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions())
