"""The run kinds, declared once: each is one module of ``workbench.runs`` and one line in :data:`RUN_KINDS`."""
from __future__ import annotations

from typing import Any, Sequence

from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from workbench.runs.backtest import BACKTEST
from workbench.runs.compare import COMPARE
from workbench.runs.kind import Progress, RunKind
from workbench.runs.paper import PAPER
from workbench.runs.stress import STRESS
from workbench.runs.sweep import SWEEP
from workbench.runs.walkforward import WALKFORWARD

RUN_KINDS: dict[str, RunKind] = {kind.name: kind for kind in (BACKTEST, STRESS, SWEEP, COMPARE, WALKFORWARD, PAPER)}
"""Kind name -> kind, in the order pages and reports list them."""


def run_kind(name: str) -> RunKind:
    """The kind named ``name``.

    Raises:
        InvalidParameterError: no such kind (with a suggestion).
    """
    try:
        return RUN_KINDS[name]
    except KeyError:
        raise InvalidParameterError(
            f"unknown run kind {name!r}; kinds are {', '.join(RUN_KINDS)}.{did_you_mean(name, RUN_KINDS)}") from None


def run_spec(spec, progress: Progress | None = None, tags: Sequence[str] = ()) -> Any:
    """Run ``spec`` by its kind and return the record the run store keeps."""
    return run_kind(spec.kind).run(spec, progress).to_record(tags)
