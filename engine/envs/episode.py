"""`EpisodeConfig`: where an environment's episodes start and how long they run."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidParameterError


@dataclass(frozen=True)
class EpisodeConfig:
    """Where episodes start and how long they run.

    Attributes:
        episode_length: Decisions per episode; None runs to the scenario's last real bar.
        random_start: Draw the first bar uniformly from the bars that leave room for a whole
            episode; False starts every episode at ``min_start``.
        min_start: Earliest first bar; None is the environment's warm-up (bar 271 for the symbol
            agent's observation, the first bar with every feature defined), 0 accepts zero-filled
            warm-up features.
    """

    episode_length: int | None = None
    random_start: bool = True
    min_start: int | None = None

    def __post_init__(self) -> None:
        for name, low in (("episode_length", 1), ("min_start", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                      or value < low):
                raise InvalidParameterError(f"EpisodeConfig.{name} must be None or an integer >= {low}, got {value!r}")

    def bounds(self, last_bar: int, rng: np.random.Generator, start: int | None = None,
               warmup: int = 0) -> tuple[int, int]:
        """``(first, last)`` bar of one episode on a scenario whose last real bar is ``last_bar``.

        ``warmup`` is the environment's first fully observed bar, used when ``min_start`` is None.

        Raises:
            InvalidParameterError: the scenario is too short, or ``start`` leaves no decision.
        """
        length = self.episode_length
        first = warmup if self.min_start is None else int(self.min_start)
        if start is None:
            latest = last_bar - (length if length is not None else 1)
            if latest < first:
                raise InvalidParameterError(
                    f"the data has {last_bar + 1} bars; an episode of {length or 1} decision(s) starting at "
                    f"bar {first} or later does not fit. Use longer data, a shorter episode_length, or "
                    "a smaller EpisodeConfig.min_start (0 accepts zero-filled warm-up features)")
            start = int(rng.integers(first, latest + 1)) if self.random_start else first
        elif not 0 <= start < last_bar:
            raise InvalidParameterError(
                f"start bar {start} must lie in 0..{last_bar - 1} (the last bar decides nothing)")
        end = last_bar if length is None else min(start + length, last_bar)
        return int(start), int(end)
