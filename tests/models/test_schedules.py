"""Schedules: values at chosen points of the run, SB3's progress convention, parsing."""
from __future__ import annotations

import math

import pytest

from engine.errors import InvalidParameterError
from models.schedules import Schedule, parse_schedule


def test_the_plan_s_cosine_learning_rate_at_chosen_points() -> None:
    rate = Schedule("cosine", 3e-4, 1e-5)
    assert rate.value(0.0) == pytest.approx(3e-4, abs=1e-15)
    assert rate.value(0.25) == pytest.approx(1e-5 + 2.9e-4 * (1 + math.cos(math.pi / 4)) / 2)  # 2.5753e-4
    assert rate.value(0.25) == pytest.approx(2.575305e-4, rel=1e-6)
    assert rate.value(0.5) == pytest.approx(1.55e-4)
    assert rate.value(1.0) == pytest.approx(1e-5, abs=1e-15)
    assert rate.value(2.0) == rate.value(1.0) and rate.value(-1.0) == rate.value(0.0)  # clipped to the run


def test_the_plan_s_entropy_decay_at_chosen_points() -> None:
    entropy = Schedule("linear", 0.01, 0.001)
    assert [round(entropy.value(done), 6) for done in (0.0, 0.1, 0.5, 0.9, 1.0)] == [0.01, 0.0091, 0.0055,
                                                                                     0.0019, 0.001]
    assert Schedule.constant(0.2).value(0.7) == 0.2


def test_sb3_calls_it_with_the_progress_remaining() -> None:
    rate = Schedule("cosine", 3e-4, 1e-5).sb3()
    assert rate(1.0) == pytest.approx(3e-4) and rate(0.0) == pytest.approx(1e-5)
    assert rate(0.75) == pytest.approx(Schedule("cosine", 3e-4, 1e-5).value(0.25))


@pytest.mark.parametrize("text, expected", [
    ("3e-4:1e-5", Schedule("cosine", 3e-4, 1e-5)),
    ("0.001", Schedule.constant(0.001)),
    ("0.01:0.01", Schedule.constant(0.01)),
])
def test_parse_schedule(text: str, expected: Schedule) -> None:
    assert parse_schedule("--learning-rate", text, "cosine") == expected


@pytest.mark.parametrize("text", ["fast", "1:2:3", "nan", ":"])
def test_bad_schedules_name_the_option(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="--ent-coef"):
        parse_schedule("--ent-coef", text, "linear")


def test_bad_schedule_fields_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="not one of constant, linear, cosine"):
        Schedule("exponential", 1.0, 0.5)
    with pytest.raises(InvalidParameterError, match="finite number >= 0"):
        Schedule("linear", -1.0, 0.5)
    with pytest.raises(InvalidParameterError, match="one value"):
        Schedule("constant", 1.0, 0.5)
    assert Schedule.from_dict({"kind": "linear", "start": 0.01, "end": 0.001}) == Schedule("linear", 0.01, 0.001)
    with pytest.raises(InvalidParameterError, match="unknown schedule key"):
        Schedule.from_dict({"kind": "linear", "start": 0.01, "end": 0.001, "warmup": 3})
