"""The observation and action a portfolio-scope neural policy consumes, as plain JSON-able specs.

Model cards, the SB3 importer, the ONNX exporter and the ONNX policy all check files against
these, so a network trained on another observation is refused at load time, not mis-read silently.
The names are also the ONNX graph's input names, in this order.
"""
from __future__ import annotations

from engine.actions import SymbolAction, TacticalActions
from engine.features.matrices import TACTICAL_COLUMNS, TACTICAL_WINDOW
from engine.features.regime_block import REGIME_COLUMNS
from engine.features.technical import TECHNICAL_COLUMNS, TECHNICAL_WINDOW
from engine.observation import PORTFOLIO_FIELDS, POSITION_FIELDS, SL_MODELS

OBSERVATION_NAMES: tuple[str, ...] = ("technical", "sl_probs", "position", "portfolio", "regime", "action_mask")
"""Inputs of an actor's ``forward``, in order."""

OBSERVATION_SHAPES: dict[str, tuple[int, ...]] = {
    "technical": (TECHNICAL_WINDOW, len(TECHNICAL_COLUMNS)),
    "sl_probs": (len(SL_MODELS),),
    "position": (len(POSITION_FIELDS),),
    "portfolio": (len(PORTFOLIO_FIELDS),),
    "regime": (len(REGIME_COLUMNS),),
    "action_mask": (len(SymbolAction),),
}
"""Per-row shape of each input (the batch axis comes first and is free)."""

OBSERVATION_DTYPES: dict[str, str] = {name: "float32" for name in OBSERVATION_NAMES} | {"action_mask": "bool"}

N_ACTIONS = len(SymbolAction)

MASKED_LOGIT = -1.0e8
"""What an actor puts in the logit of a masked action: finite, so ONNX and softmax stay NaN-free
(the value sb3-contrib's ``MaskableCategorical`` uses)."""


def observation_spec(include_mask: bool = True) -> dict[str, dict]:
    """``{name: {"shape": [...], "dtype": ...}}`` in input order (JSON types, for model cards).

    ``include_mask=False`` leaves out ``action_mask`` (the master agent reads no action mask).
    """
    return {name: {"shape": list(OBSERVATION_SHAPES[name]), "dtype": OBSERVATION_DTYPES[name]}
            for name in OBSERVATION_NAMES if include_mask or name != "action_mask"}


def action_spec() -> dict:
    """The seven discrete ``SymbolAction`` choices (JSON types, for model cards)."""
    return {"type": "discrete", "n": N_ACTIONS, "names": [a.name for a in SymbolAction]}


def weights_action_spec() -> dict:
    """Target weights of equity per symbol plus cash, summing to 1 (the master agent's action)."""
    return {"type": "target_weights", "cash": True, "long_only": True}


MASTER_ARCHITECTURE = "master_agent"
"""The model card architecture of a master policy (``models.master_agent.policy_network``)."""


TACTICAL_ARCHITECTURE = "tactical_team"
"""The model card architecture of a tactical team (``models.tactical_team.network``)."""


def tactical_observation_spec() -> dict:
    """The tactical window: ``[60, 7]`` float32, the columns of ``TACTICAL_COLUMNS`` in order."""
    return {"window": {"shape": [TACTICAL_WINDOW, len(TACTICAL_COLUMNS)], "dtype": "float32",
                       "columns": list(TACTICAL_COLUMNS)}}


def tactical_action_spec() -> dict:
    """Each agent votes short / hold / long; the team's vote rule joins the votes into one action."""
    names = [a.upper() for a in TacticalActions.action_names]
    return {"type": "discrete", "n": len(names), "names": names, "per": "agent", "joint": "vote"}


def card_specs(architecture: str) -> tuple[dict, dict]:
    """The ``(observation_spec, action_spec)`` a model card of ``architecture`` must carry."""
    if architecture == MASTER_ARCHITECTURE:
        return observation_spec(include_mask=False), weights_action_spec()
    if architecture == TACTICAL_ARCHITECTURE:
        return tactical_observation_spec(), tactical_action_spec()
    return observation_spec(), action_spec()
