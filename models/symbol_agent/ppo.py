"""``MaskablePPO`` with the plan's entropy schedule and a hook after every update.

stable-baselines3 schedules the learning rate itself (``learning_rate`` may be a function of the
progress) but takes the entropy coefficient as a constant; :class:`ScheduledMaskablePPO` sets it
from a :class:`~models.schedules.Schedule` before each update, logs it as ``train/ent_coef``, and
calls ``after_update`` once the update is done: the only moments the policy changes, so the
trainer validates, checks the warning signs and writes resume points there.
"""
from __future__ import annotations

from typing import Any, Callable

from sb3_contrib import MaskablePPO

from models.schedules import Schedule


class ScheduledMaskablePPO(MaskablePPO):
    """``MaskablePPO`` whose entropy coefficient follows ``ent_schedule`` over the run.

    Args:
        *args, **kwargs: As for ``MaskablePPO`` (without ``ent_coef``).
        ent_schedule: The entropy coefficient as a function of the fraction of the run done.
        after_update: Called with no arguments after every update.
    """

    def __init__(self, *args: Any, ent_schedule: Schedule, after_update: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, ent_coef=ent_schedule.value(0.0), **kwargs)
        self.ent_schedule = ent_schedule
        self.after_update = after_update

    def train(self) -> None:
        self.ent_coef = self.ent_schedule.value(1.0 - self._current_progress_remaining)
        self.logger.record("train/ent_coef", self.ent_coef)
        super().train()
        if self.after_update is not None:
            self.after_update()
