"""Every figure reads by its kind (issue 17): percentages, money, counts, ratios, costs in basis points,
drawdowns negative, tiny values in scientific notation, and colour scales that state their range."""
from __future__ import annotations

import math

import numpy as np

import pytest

from workbench.runs.formats import colour_scale, column_format, format_gate_value, format_number, format_value


@pytest.mark.parametrize(("name", "value", "text"), [
    ("total_return", 0.1234, "12.3%"),
    ("exposure", 0.0348, "3.48%"),
    ("time_in_market", 0.0004, "0.040%"),
    ("max_drawdown", 0.1234, "-12.3%"),  # a loss reads negative
    ("max_drawdown", 0.0, "0.00%"),  # no loss: not -0.00%
    ("change_drawdown", 0.0, "0.00%"),
    ("worst_max_drawdown", 0.05, "-5.00%"),  # a model card's figures read by kind too
    ("hold_share", 0.98, "98.0%"),
    ("timesteps", 204_800.0, "204,800"),
    ("change_drawdown", 0.05, "-5.00%"),  # a deeper drawdown reads as a loss
    ("change_drawdown", -0.02, "+2.00%"),
    ("final_equity", 102_345.678, "102,346"),
    ("fees_paid", 12.3456, "12.35"),
    ("n_trades", 55.0, "55"),  # not 55.0000
    ("sharpe", 0.8049, "0.80"),
    ("fees", 0.001, "10 bp"),
    ("fees", 1.931e-05, "0.19 bp"),  # not 1.931e-05
    ("slippage", 0.0005, "5.0 bp"),
    ("reality_check_pvalue", 0.0004, "< 0.001"),
    ("onnx_max_abs_logit_diff", 2.98e-07, "2.98e-07"),  # not 0.0000
    ("decision_latency_p99_ms", 3.456, "3.46 ms"),
    ("sharpe", None, "n/a"),
    ("sharpe", math.nan, "n/a"),
])
def test_format_value_by_kind(name: str, value, text: str) -> None:
    assert format_value(name, value) == text


def test_numpy_numbers_format_as_pythons() -> None:
    # Run tables hand numpy scalars to the app and the command line: same text as the Python number.
    assert format_value("n_trades", np.int64(1234)) == format_value("n_trades", 1234) == "1,234"
    assert format_value("sharpe", np.float32(0.5)) == "0.50" and format_value("sharpe", np.float64(np.nan)) == "n/a"
    assert format_value("total_return", np.int32(0)) == "0.00%" and format_value("label", np.bool_(True)) == "True"


def test_unknown_numbers_keep_their_digits() -> None:
    assert format_number(2.98e-07) == "2.98e-07" and format_number(0.0) == "0"
    assert format_number(12345.6) == "12,346" and format_number(1.23456) == "1.235" and format_number(7) == "7"


def test_column_formats_sort_as_numbers() -> None:
    drawdown = column_format("max_drawdown")
    assert (drawdown.title, drawdown.factor, drawdown.pattern) == ("max drawdown", -1.0, "0.0%")
    fees = column_format("fees")
    assert (fees.title, fees.factor) == ("fees (bp)", 1e4)
    assert column_format("label") is None


def test_gate_values_keep_the_sign_the_gate_compares() -> None:
    assert format_gate_value("max_drawdown", 0.3) == "30.0%" and format_gate_value("sharpe", 1.0) == "1.00"


def test_colour_scale_never_stretches_over_noise() -> None:
    # Issue 17: Sharpe 0.80 to 1.01 over a grid painted the whole palette; the scale spans at least 0.5.
    scale = colour_scale("sharpe", [0.80, 0.9, 1.01])
    assert scale.high - scale.low == pytest.approx(0.5) and scale.low < 0.80 and scale.high > 1.01
    assert not scale.diverging and "0.80 to 1.01" in scale.text
    wide = colour_scale("sharpe", [-1.0, 2.0])
    assert (wide.low, wide.high) == (-1.0, 2.0)


def test_excess_return_diverges_at_zero() -> None:
    scale = colour_scale("excess_return", [-0.02, 0.01])
    assert scale.diverging and scale.low == -scale.high and scale.high == pytest.approx(0.05)
    assert colour_scale("excess_return", [-0.2, 0.1]).high == pytest.approx(0.2)
