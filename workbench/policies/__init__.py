"""Deciders as users name them: a baseline strategy, a shipped policy's name or a checkpoint folder.

Loading goes through the policy families of ``strategies.families`` (the card's ``architecture``
picks the family), so this package never asks what kind of network a checkpoint holds. ``export``
records observations and exports a policy to ONNX; ``explain`` rebuilds what a stored run's policy
saw at one bar.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from engine.errors import CheckpointError, InvalidParameterError
from models.layout import CARD_FILE, ONNX_FILE

if TYPE_CHECKING:
    from strategies.family import Decider, Placement

# assets/ is installed beside workbench/ (both are top-level packages of the distribution); it is
# data, not a code layer, so it is located rather than imported.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "assets" / "policies"


def shipped_policies() -> dict[str, Path]:
    """Name -> checkpoint folder of every policy shipped in ``assets/policies``."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if (p / CARD_FILE).is_file()}


def list_policies() -> list[dict[str, object]]:
    """A summary of each shipped policy's model card (read as JSON; weights are not loaded)."""
    rows = []
    for name, folder in shipped_policies().items():
        path = folder / CARD_FILE
        try:
            card = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path}: not a readable model card ({error}); restore it") from None
        if not isinstance(card, dict):
            raise CheckpointError(f"{path}: a model card is a JSON object, got {type(card).__name__}; restore it")
        # Read as plain JSON (weights are not loaded): a key of the wrong type shows as missing here,
        # and loading the policy names it.
        metrics = _typed(card, dict, "validation_metrics") or {}
        rows.append({
            "name": name,
            "architecture": _typed(card, str, "architecture"),
            "preset": _typed(card, str, "config", "preset"),
            "parameters": _typed(card, int, "parameter_counts", "total"),
            "onnx": (folder / ONNX_FILE).is_file() and bool(_typed(card, dict, "export")),
            "train_period": _typed(card, list, "train_period"),
            "validation_period": _typed(card, list, "validation_period"),
            "validation_metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))},
            "path": str(folder),
        })
    return rows


def _typed(card: dict, kind: type, *keys: str) -> Any:
    """``card[keys[0]][keys[1]]...`` when every step exists and the value is a ``kind``, else None."""
    value: Any = card
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


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


def load_policy(name_or_path: str, runtime: str = "auto", placement: Placement | None = None) -> Decider:
    """A shipped or saved trained policy of any family, verified before anything is built.

    Args:
        name_or_path: Shipped policy name or checkpoint folder.
        runtime: ``auto`` (the ONNX export when the checkpoint has one), ``onnx`` or ``torch``.
        placement: Device and precision its network decides in (default: CPU, float32).

    Raises:
        InvalidParameterError: unknown name or runtime, or a placement this machine cannot run.
        CheckpointError: a file fails verification, or ``runtime="onnx"`` without an export.
    """
    from strategies.families import load_trained  # torch: imported by the commands that load, not by listings
    from strategies.family import REFERENCE

    return load_trained(resolve_policy(name_or_path), runtime, name=name_or_path, placement=placement or REFERENCE)


def load_family_policy(name_or_path: str, family: str, runtime: str = "auto",
                       placement: Placement | None = None) -> Decider:
    """:func:`load_policy`, refusing a checkpoint of another family than ``family``.

    Raises:
        CheckpointError: the checkpoint holds another family's network.
    """
    decider = load_policy(name_or_path, runtime, placement)
    if decider.family.name != family:
        raise CheckpointError(f"{decider.folder}: holds a {decider.family.title}, not a "
                              f"{family.replace('_', ' ')}; choose a {family.replace('_', ' ')} checkpoint")
    return decider


def resolve_decider(strategy: str | None, strategy_params: Mapping[str, Any] | None = None,
                    policy: str | None = None, runtime: str = "auto", placement: Placement | None = None) -> Decider:
    """A baseline by name with its parameters, or a shipped/saved policy (verified before loading)
    deciding on ``placement`` (a baseline has no network: it ignores it)."""
    if policy is not None:
        return load_policy(policy, runtime, placement)
    from strategies.families import make_baseline

    return make_baseline(str(strategy), strategy_params)
