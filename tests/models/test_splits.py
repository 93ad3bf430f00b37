"""Chronological train / validation / test periods: the 70/15/15 default, overrides, order."""
from __future__ import annotations

import pytest

from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from models.splits import split_data


def stocks():
    return load_builtin("stocks").select(["AAPL", "MSFT", "IBM"])


def test_the_default_is_70_15_15_in_time() -> None:
    data = stocks()
    split = split_data(data)
    sizes = [len(split.part(p).index) for p in (split.train, split.validation, split.test)]
    assert sum(sizes) == data.n_bars == 3270 and sizes == [2289, 491, 490]
    assert split.train[1] < split.validation[0] and split.validation[1] < split.test[0]
    assert split.to_dict()["test"] == ["2011-03-21T00:00:00+00:00", "2013-03-01T00:00:00+00:00"]
    # A period's warm-up: the bars from the training start through its end.
    assert split.through(split.test).index[0] == data.index[0] and split.through(split.test).index[-1] == data.index[-1]


def test_given_periods_and_no_test() -> None:
    split = split_data(stocks(), ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"), False)
    assert split.test is None and split.data.index[-1] == split.validation[1]
    assert str(split.validation[0].date()) == "2007-01-03"


@pytest.mark.parametrize("periods, message", [
    ((("2005-01-01", "2006-12-31"), ("2006-06-01", "2007-03-31"), False), "must start after the training period"),
    ((None, None, ("2010-01-01", "2013-03-01")), "test period (2010-01-04) must start after the validation"),
    ((("2020-01-01", "2021-01-01"), None, True), "has no bars between 2020-01-01 and 2021-01-01"),
    ((("2005-01-03", "2005-01-03"), None, True), "training period 2005-01-03:2005-01-03 holds 1 bar(s)"),
])
def test_overlapping_or_empty_periods_are_refused(periods, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        split_data(stocks(), *periods)
