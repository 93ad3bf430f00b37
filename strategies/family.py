"""What a policy family is: the one place that knows how a kind of decider loads, observes, explains
and exports itself.

A *decider* is what decides in a run: a baseline strategy with its parameters, or a trained policy
with its weights (:class:`Decider`). A *policy family* (:class:`PolicyFamily`) is a kind of decider:
the baselines, the symbol agent, the master agent, and later the multi-agent teams. Its entry owns

* loading and verifying a checkpoint (:meth:`PolicyFamily.load`), with a runtime (torch or ONNX) and a
  :class:`Placement` (the device and precision its network decides in);
* its batch observer for the rollout and its live observation for paper trading;
* its action names (seven discrete actions, short/hold/long, continuous weights);
* the extras of the forward pass that decides (probabilities, values, attention, ...) as tables;
* its explanation of one decision (attention maps, attribution) and its ONNX export.

The families are registered once in :mod:`strategies.families`; everything outside ``strategies/``
asks the registry (or the decider's ``family``) and never the class of a policy.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from engine.errors import InvalidParameterError
from engine.names import check_one_of
from models.devices import (  # names only: importing them does not import torch
    REFERENCE_DEVICE,
    REFERENCE_PRECISION,
    check_device_name,
    check_precision_name,
)

if TYPE_CHECKING:  # types only: importing this module stays cheap (RunSpec reads RUNTIMES from it)
    import numpy as np
    import pandas as pd

    from engine.actions import ActionSpace
    from engine.policy import Policy
    from engine.rollout import Observer, RolloutResult
    from engine.scenarios import ScenarioBatch

RUNTIMES: tuple[str, ...] = ("auto", "onnx", "torch")
"""How a trained policy runs: ``onnx`` (its verified ONNX export), ``torch``, or ``auto`` (the
export when the checkpoint has one, else torch)."""


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`.

    Raises:
        InvalidParameterError: naming the runtimes.
    """
    return check_one_of("runtime", runtime, RUNTIMES)


@dataclass(frozen=True)
class Placement:
    """Where a trained policy's network decides and in which precision.

    As asked (a run spec, a command's ``--device`` / ``--precision``) the device may be ``auto``; a
    policy's own placement names what it resolved to and ran on (``cpu`` or ``cuda``).

    Attributes:
        device: ``auto``, ``cpu`` or ``cuda`` (``models.devices.DEVICES``).
        precision: ``fp32``, ``bf16`` or ``fp16`` (``models.devices.PRECISIONS``).
    """

    device: str = REFERENCE_DEVICE
    precision: str = REFERENCE_PRECISION

    def __post_init__(self) -> None:
        check_device_name(self.device)
        check_precision_name(self.precision)

    @property
    def is_reference(self) -> bool:
        """Whether this is the reference every other placement is compared with (CPU, float32)."""
        return self.device == REFERENCE_DEVICE and self.precision == REFERENCE_PRECISION

    @property
    def key(self) -> str:
        """``""`` for the reference, else ``device/precision`` (what a run id adds for it)."""
        return "" if self.is_reference else f"{self.device}/{self.precision}"

    def to_dict(self) -> dict[str, str]:
        """Plain JSON types."""
        return {"device": self.device, "precision": self.precision}


REFERENCE = Placement()
"""CPU, float32: how every policy ran before devices were a choice, and what parity is measured against."""


class PlacedPolicy(Protocol):
    """What a trained policy that decides on a device exposes (the neural families' torch and ONNX policies).

    Attributes:
        placement: The device and precision it resolved to and decides in.
    """

    placement: Placement

    def parity_report(self) -> Mapping[str, Any] | None:
        """Its decisions so far against the reference's on a sample of the same inputs
        (``models.inference.ParityReport.to_dict()``); None when nothing was decided yet."""
        ...


@dataclass(frozen=True)
class Decider:
    """What decides in a run, ready to roll out.

    Attributes:
        name: The strategy or policy name as the user gave it.
        family: The policy family it belongs to.
        policy: The engine policy.
        normalizer: The checkpoint's frozen feature normalizer (trained policies), else None.
        model_sha: sha256 of what decides: the ONNX file or the safetensors weights ("" for a
            baseline); part of the run id.
        runtime: ``"torch"`` or ``"onnx"`` for a trained policy, ``""`` for a baseline.
        card: The model card (trained policies).
        folder: The checkpoint folder (trained policies).
        network: The torch network the family explains and exports (trained policies).
        placement: Where its network decides (trained policies: what the policy resolved to); None
            for a baseline, which has no network.
    """

    name: str
    family: PolicyFamily
    policy: Policy
    normalizer: Any = None
    model_sha: str = ""
    runtime: str = ""
    card: Any = None
    folder: Path | None = None
    network: Any = None
    placement: Placement | None = None

    @property
    def is_trained(self) -> bool:
        """Whether a network decides (a checkpoint), not a baseline rule."""
        return bool(self.model_sha)

    @property
    def placement_key(self) -> str:
        """``""`` on the reference (or without a network), else ``device/precision``: part of the run id."""
        return "" if self.placement is None else self.placement.key

    def parity_report(self) -> Mapping[str, Any] | None:
        """The policy's decisions against the reference (CPU, float32) on a sample of the inputs it met,
        when it decides anywhere else; None on the reference or without a network."""
        if self.placement is None or self.placement.is_reference:
            return None
        return self.policy.parity_report()

    def placement_summary(self) -> dict[str, Any] | None:
        """What a run records of where it decided: device, precision and, off the reference, the
        parity report; None without a network."""
        if self.placement is None:
            return None
        return {**self.placement.to_dict(), "parity": self.parity_report()}

    def observer(self, batch: ScenarioBatch) -> Observer | None:
        """The rollout's observer for ``batch`` (None for a market-scope policy)."""
        return self.family.observer(self, batch)


def checkpoint_decider(family: PolicyFamily, folder: Path, runtime: str, name: str, placement: Placement, *,
                       network: Any, card: Any, normalizer: Any, onnx: Callable[[Path, Placement], PlacedPolicy],
                       torch: Callable[[Placement], PlacedPolicy]) -> Decider:
    """The decider of a verified checkpoint on ``runtime`` and ``placement``: ``onnx(path, placement)``
    builds the policy of its verified export, ``torch(placement)`` the torch one; ``auto`` takes the
    export when the folder has one and the precision is ``fp32`` (an export is a float32 graph).

    The device is checked here, before anything is built (``cuda`` without CUDA is one line); each
    builder moves its network there once and reports what it resolved to (``policy.placement``),
    which the decider keeps. Its model sha is that of what decides: the ONNX file, or the
    safetensors weights.

    Raises:
        InvalidParameterError: an unknown runtime, ``cuda`` without CUDA, ``fp16`` on the CPU, or
            ``onnx`` with a reduced precision.
        CheckpointError: ``onnx`` (or ``auto`` with a file) and the export fails verification.
    """
    from models.checkpoint import (  # torch: only where a checkpoint loads
        ONNX_FILE,
        verified_export,
    )
    from models.devices import check_device

    check_runtime(runtime)
    check_device(placement.device)
    reduced = placement.precision != REFERENCE_PRECISION
    if runtime == "onnx" and reduced:
        raise InvalidParameterError(f"--precision {placement.precision} runs on torch; an ONNX export is a float32 "
                                    "graph. Use --runtime torch (or auto) with it")
    if runtime == "onnx" or (runtime == "auto" and not reduced and (folder / ONNX_FILE).is_file()):
        policy = onnx(verified_export(folder, card), placement)
        return Decider(name, family, policy, normalizer, card.export["sha256"], "onnx", card, folder, network,
                       policy.placement)
    policy = torch(placement)
    return Decider(name, family, policy, normalizer, card.weights_sha256, "torch", card, folder, network,
                   policy.placement)


@dataclass(frozen=True)
class ActionInfo:
    """How a family's actions read.

    Attributes:
        kind: ``"discrete"`` (an action index per symbol) or ``"weights"`` (a target weight of
            equity per symbol; NaN keeps the last target).
        names: The discrete actions' names, in index order (empty for weights).
    """

    kind: str
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, space: ActionSpace) -> ActionInfo:
        """The actions of ``space``: discrete when it names its actions, else weights."""
        names = tuple(space.action_names)
        return cls("discrete", names) if names else cls("weights")

    def to_dict(self) -> dict[str, Any]:
        """JSON types, for a run's summary."""
        return {"kind": self.kind, "names": list(self.names)}


@dataclass(frozen=True)
class Explanation:
    """What a network looked at when it decided on one bar's rows, and which inputs moved its choice.

    Attributes:
        rows: Labels of the attention maps' second axis (each symbol's own map for the symbol
            agent; ``portfolio`` for the master agent's one pooling query).
        queries: Query token names of a map.
        tokens: Key token names of a map.
        attention: ``[layers, rows, heads, queries, tokens]`` softmax weights.
        action_names: Columns of ``probabilities`` (empty for continuous actions).
        probabilities: ``[symbols, actions]`` action probabilities, or ``[symbols, 0]``.
        actions: The decision per symbol, as text.
        attribution: Rows ``symbol, block, feature, score`` (score: share of the symbol's total).
        method: One line saying how the attribution was computed.
        reading: One line saying how to read the attention maps.
        heads: Names of the maps' ``heads`` axis when they are not a layer's heads (a team's agents);
            empty for attention heads.
        members: A team's decision member by member: rows ``symbol, agent, vote`` and one
            probability column per action (None for a single network).
    """

    rows: tuple[str, ...]
    queries: tuple[str, ...]
    tokens: tuple[str, ...]
    attention: np.ndarray
    action_names: tuple[str, ...]
    probabilities: np.ndarray
    actions: tuple[str, ...]
    attribution: pd.DataFrame
    method: str = ""
    reading: str = ""
    heads: tuple[str, ...] = ()
    members: pd.DataFrame | None = None


class PolicyFamily(Protocol):
    """A kind of decider, declared once (see the module docstring).

    Attributes:
        name: The family's name (``baseline``, ``symbol_agent``, ...).
        title: How pages and reports name it.
        architecture: The model-card ``architecture`` its checkpoints carry (None: no checkpoints).
    """

    name: str
    title: str
    architecture: str | None

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        """The verified decider of checkpoint ``folder`` deciding on ``placement`` (nothing is built
        before the files check out). A trained family passes ``placement`` to
        :func:`checkpoint_decider`; a family without a network may refuse any but :data:`REFERENCE`."""
        ...

    def observer(self, decider: Decider, batch: ScenarioBatch) -> Observer | None:
        """The rollout's observer of ``batch`` (None: the policy reads the market only)."""
        ...

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> Any:
        """The bar-by-bar observation of a paper-trading account (None: market scope)."""
        ...

    def actions(self, decider: Decider) -> ActionInfo:
        """How the decider's actions read."""
        ...

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        """Every how many decision bars a stored backtest keeps the detailed extras (0: none)."""
        ...

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        """The extras of the deciding forward pass as the run store's tables."""
        ...

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray],
                symbols: tuple[str, ...]) -> Explanation:
        """Attention and attribution of the decision on one bar's observation rows.

        Raises:
            InvalidParameterError: the family has no network to explain.
        """
        ...

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        """Export the decider's network to ``out`` and return the parity report (``ExportReport.to_dict()``).

        Raises:
            InvalidParameterError: the family has no network to export.
        """
        ...
