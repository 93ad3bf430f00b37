"""The one "did you mean" rule: a prefix first, then the closest spelling."""
from __future__ import annotations

import pytest

from engine.errors import InvalidParameterError
from engine.names import check_one_of, closest_name, did_you_mean, unknown_name

STRATEGIES = ("buy_and_hold", "equal_weight", "sma_cross", "momentum")


def test_a_prefix_wins_over_a_closer_spelling() -> None:
    assert closest_name("sma", STRATEGIES) == "sma_cross"
    assert closest_name("SMA", STRATEGIES) == "sma_cross"  # case does not matter for the prefix
    assert closest_name("s", ("sb", "sa")) == "sb"  # the first prefix match in the choices' order


def test_otherwise_the_closest_spelling_or_nothing() -> None:
    assert closest_name("momentun", STRATEGIES) == "momentum"
    assert closest_name("zzz", STRATEGIES) is None
    assert closest_name("", STRATEGIES) is None  # an empty name is no slip of a known one


def test_hint_and_message_shapes() -> None:
    assert did_you_mean("fsat", {"fast": 1, "slow": 2}) == " Did you mean 'fast'?"
    assert did_you_mean("zzz", STRATEGIES) == ""
    assert unknown_name("key", "treshold", ["metric", "threshold"]) == (
        "key 'treshold' is unknown; allowed: metric, threshold. Did you mean 'threshold'?")
    assert unknown_name("key", "zzz", ["metric"]) == "key 'zzz' is unknown; allowed: metric."


def test_one_of_returns_the_value_or_names_every_choice() -> None:
    assert check_one_of("device", "cpu", ("auto", "cpu", "cuda")) == "cpu"
    with pytest.raises(InvalidParameterError, match="^device 'gpu' is not one of auto, cpu, cuda$"):
        check_one_of("device", "gpu", ("auto", "cpu", "cuda"))
