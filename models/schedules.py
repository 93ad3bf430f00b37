"""Hyperparameter schedules over a training run: a value for each fraction of the run done.

The program plan (Phase 3) decays the learning rate along a cosine from 3e-4 to 1e-5 and
the entropy coefficient from 0.01 to 0.001 over the run. A :class:`Schedule` is a frozen description
of such a curve (recorded in model cards as ``{"kind", "start", "end"}``), with ``done`` the fraction
of the run's timesteps taken, 0 at the first update and 1 at the last:

=========  ==============================================================
constant   ``start`` throughout (``end`` must equal it)
linear     ``start + (end - start) * done``
cosine     ``end + (start - end) * (1 + cos(pi * done)) / 2``
=========  ==============================================================

stable-baselines3 calls a schedule with ``progress_remaining = 1 - done``; :meth:`Schedule.sb3` is
that callable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from engine.errors import InvalidParameterError

SCHEDULE_KINDS = ("constant", "linear", "cosine")


@dataclass(frozen=True)
class Schedule:
    """A value that moves from ``start`` to ``end`` over a run (module docstring).

    Attributes:
        kind: ``constant``, ``linear`` or ``cosine``.
        start: Value at the start of the run.
        end: Value at its end.
    """

    kind: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise InvalidParameterError(f"schedule kind {self.kind!r} is not one of {', '.join(SCHEDULE_KINDS)}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0.0:
                raise InvalidParameterError(f"schedule {name} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.kind == "constant" and self.end != self.start:
            raise InvalidParameterError(f"a constant schedule has one value; got start {self.start}, end {self.end}")

    @classmethod
    def constant(cls, value: float) -> "Schedule":
        """The same value throughout."""
        return cls("constant", value, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Schedule":
        """Inverse of ``dataclasses.asdict``: ``{"kind", "start", "end"}``."""
        unknown = sorted(set(data) - {"kind", "start", "end"})
        if unknown:
            raise InvalidParameterError(f"unknown schedule key(s) {', '.join(unknown)}; a schedule has kind, start, end")
        return cls(str(data["kind"]), data["start"], data["end"])

    def value(self, done: float) -> float:
        """The value after the fraction ``done`` (clipped to [0, 1]) of the run."""
        done = min(max(float(done), 0.0), 1.0)
        if self.kind == "linear":
            return self.start + (self.end - self.start) * done
        if self.kind == "cosine":
            return self.end + (self.start - self.end) * (1.0 + math.cos(math.pi * done)) / 2.0
        return self.start

    def sb3(self) -> Callable[[float], float]:
        """The schedule as stable-baselines3 calls it: a function of ``progress_remaining = 1 - done``."""
        return lambda progress_remaining: self.value(1.0 - progress_remaining)


def parse_schedule(option: str, text: str, kind: str) -> Schedule:
    """``"3e-4"`` (constant) or ``"3e-4:1e-5"`` (``kind`` from the first to the second) as a schedule.

    Raises:
        InvalidParameterError: not one or two numbers separated by ``:``.
    """
    parts = str(text).split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
        raise InvalidParameterError(f"{option} {text!r} is not VALUE or START:END; write e.g. 3e-4:1e-5")
    if len(values) == 1 or values[0] == values[1]:
        return Schedule.constant(values[0])
    return Schedule(kind, values[0], values[1])
