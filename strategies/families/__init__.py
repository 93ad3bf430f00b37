"""The policy families, declared once: each is one module here and one line in :data:`FAMILIES`.

Everything that asks "what kind of decider is this?" asks this registry: a checkpoint's model card
names its ``architecture``, and :func:`load_trained` hands the folder to the family that loads it;
a baseline is made by name (:func:`make_baseline`). A family defined elsewhere (a plug-in, a test)
joins with :func:`register_family`. See ``strategies.family.PolicyFamily`` for what a family owns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from engine.errors import CheckpointError, InvalidParameterError
from models.checkpoint import CARD_FILE, card_architecture, read_card
from strategies.families.baseline import BASELINES
from strategies.families.master_agent import MASTER_AGENT
from strategies.families.symbol_agent import SYMBOL_AGENT
from strategies.families.tactical_team import TACTICAL_TEAM
from strategies.family import REFERENCE, Decider, Placement, PolicyFamily, check_runtime

FAMILIES: dict[str, PolicyFamily] = {}
"""Family name -> family, in registration order."""


def register_family(family: PolicyFamily) -> PolicyFamily:
    """Add ``family`` to :data:`FAMILIES` (its name and architecture must be new); returns it.

    Raises:
        InvalidParameterError: the name or the architecture is taken by another family.
    """
    if family.name in FAMILIES and FAMILIES[family.name] is not family:
        raise InvalidParameterError(f"a policy family named {family.name!r} is already registered")
    taken = [f.name for f in FAMILIES.values() if f is not family and family.architecture is not None
             and f.architecture == family.architecture]
    if taken:
        raise InvalidParameterError(f"family {taken[0]!r} already loads architecture {family.architecture!r}")
    FAMILIES[family.name] = family
    return family


for _family in (BASELINES, SYMBOL_AGENT, MASTER_AGENT, TACTICAL_TEAM):
    register_family(_family)


def family_for(architecture: str | None, source: Path | str = "") -> PolicyFamily:
    """The family that loads checkpoints of ``architecture``.

    Raises:
        CheckpointError: no family loads it (the message names the ones that exist).
    """
    for family in FAMILIES.values():
        if family.architecture is not None and family.architecture == architecture:
            return family
    known = ", ".join(f.architecture for f in FAMILIES.values() if f.architecture)
    where = f"{source}: " if source else ""
    raise CheckpointError(f"{where}model card architecture {architecture!r} is not one this workbench loads "
                          f"({known}); check {CARD_FILE} or upgrade the workbench")


def load_trained(folder: str | Path, runtime: str = "auto", name: str | None = None,
                 placement: Placement = REFERENCE) -> Decider:
    """The verified decider of checkpoint ``folder``, loaded by the family its card names.

    Args:
        folder: The checkpoint folder.
        runtime: ``auto``, ``onnx`` or ``torch`` (``strategies.family.RUNTIMES``).
        name: How the run names the decider (default: the folder's name).
        placement: The device and precision its network decides in.

    Raises:
        InvalidParameterError: an unknown runtime, or a placement this machine cannot run.
        CheckpointError: the card names no known architecture, or a file fails verification.
    """
    check_runtime(runtime)
    folder = Path(folder)
    if not (folder / CARD_FILE).is_file():
        raise CheckpointError(f"{folder}: {CARD_FILE} is missing; is this a checkpoint folder?")
    architecture = card_architecture(folder)
    if architecture is None:
        read_card(folder)  # raises naming what is wrong with the card
    family = family_for(architecture, folder)
    return family.load(folder, runtime, name or folder.name, placement)


def make_baseline(strategy: str, params: Mapping[str, Any] | None = None) -> Decider:
    """The decider of baseline ``strategy`` with its ``--param`` values (a rule: no network, no placement)."""
    return BASELINES.make(strategy, params)
