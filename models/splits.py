"""Chronological train / validation / test periods of one dataset (the program plan, Task 3.1: 70/15/15).

Training fits the weights and the normalizer, validation picks among the weights a run produced
(and scores hyperparameter trials), and the test period is touched once, by the final weights, for
the model card. Periods never overlap and follow each other in time; nothing is shuffled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.data.market import MarketData
from engine.errors import InvalidParameterError

DEFAULT_SHARES = (0.70, 0.15, 0.15)
"""Shares of the bars that train, validate and test when no period is given."""

Period = tuple[pd.Timestamp, pd.Timestamp]
"""First and last bar (timestamps of real bars) of a period."""


@dataclass(frozen=True)
class DataSplit:
    """The periods of one dataset.

    Attributes:
        data: The bars from the training period's first through the last period's last.
        train: The training period.
        validation: The validation period (starts after ``train`` ends).
        test: The test period (starts after ``validation`` ends), or None.
    """

    data: MarketData
    train: Period
    validation: Period
    test: Period | None = None

    def __post_init__(self) -> None:
        periods = [("training", self.train), ("validation", self.validation)]
        periods += [("test", self.test)] if self.test is not None else []
        for name, (start, end) in periods:
            if len(self.data.slice(start, end).index) < 2:
                raise InvalidParameterError(f"the {name} period {start.date()}..{end.date()} holds fewer than 2 bars")
        for (name, (_, end)), (later, (start, _)) in zip(periods, periods[1:]):
            if start <= end:
                raise InvalidParameterError(
                    f"the {later} period ({start.date()}) must start after the {name} period ends ({end.date()}); "
                    f"otherwise {later} scores are in-sample")

    def part(self, period: Period) -> MarketData:
        """The bars of one period."""
        return self.data.slice(*period)

    def through(self, period: Period) -> MarketData:
        """The bars from the training start through ``period``'s end: a period with its warm-up."""
        return self.data.slice(self.train[0], period[1])

    def to_dict(self) -> dict[str, Any]:
        """ISO strings of every period (None for a missing test period)."""
        def iso(period: Period | None) -> list[str] | None:
            return None if period is None else [period[0].isoformat(), period[1].isoformat()]

        return {"train": iso(self.train), "validation": iso(self.validation), "test": iso(self.test)}


def split_data(data: MarketData, train: tuple[Any, Any] | None = None, validation: tuple[Any, Any] | None = None,
               test: tuple[Any, Any] | bool = True,
               shares: tuple[float, float, float] = DEFAULT_SHARES) -> DataSplit:
    """Periods from ``(start, end)`` pairs (either side None: open), each defaulting to its share of the bars.

    Args:
        data: The whole dataset.
        train, validation: ``(start, end)``, or None for the default share.
        test: ``(start, end)``, True for the default share, False for no test period.
        shares: Train, validation and test shares of the bars for the defaults.

    Raises:
        InvalidParameterError: a period with fewer than 2 bars, or periods out of order.
    """
    index = data.index
    cut1 = int(round(len(index) * shares[0]))
    cut2 = int(round(len(index) * (shares[0] + shares[1])))
    defaults = ((index[0], index[cut1 - 1]), (index[cut1], index[cut2 - 1]), (index[cut2], index[-1]))
    wanted = (train, validation, None if test is True else test)
    periods: list[Period | None] = []
    for given, default, name in zip(wanted, defaults, ("training", "validation", "test")):
        if given is False:
            periods.append(None)
            continue
        bounds = default if given is None else given
        part = data.slice(*bounds)
        if len(part.index) < 2:
            raise InvalidParameterError(
                f"the {name} period {bounds[0]}:{bounds[1]} holds {len(part.index)} bar(s) of the data "
                f"({index[0].date()}..{index[-1].date()}); choose a period inside it")
        periods.append((part.index[0], part.index[-1]))
    train_period, validation_period, test_period = periods
    last = (test_period or validation_period)[1]
    return DataSplit(data.slice(train_period[0], last), train_period, validation_period, test_period)
