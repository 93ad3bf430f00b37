"""Sweeps: break-even interpolation by hand, surfaces over the axes, fees paid, bad grids."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from workbench.experiments.sweep import SweepOptions, break_even, run_sweep
from workbench.runs.spec import RunSpec

CASH = 100_000.0


def sweep_spec(**changes) -> RunSpec:
    values = dict(kind="sweep", data="stocks", strategy="buy_and_hold", symbols=("AAPL", "MSFT"),
                  start="2005-01-01", end="2005-12-31", fees=(0.0, 0.001, 0.002),
                  options={"grid": {"position_limit": [0.25, 1.0]}})
    values.update(changes)
    return RunSpec(**values)


@pytest.fixture(scope="module")
def swept():
    result = run_sweep(sweep_spec())
    return result, result.summary()


def test_break_even_interpolates_between_the_grid_values_around_zero() -> None:
    # Excess 0.02, 0.01, -0.01 at fees 0, 0.001, 0.002: zero at 0.001 + 0.01 / 0.02 * 0.001.
    assert break_even([0.0, 0.001, 0.002], [0.02, 0.01, -0.01]) == (pytest.approx(0.0015), None)
    assert break_even([0.002, 0.0, 0.001], [-0.01, 0.02, 0.01]) == (pytest.approx(0.0015), None)
    assert break_even([0.0, 0.001], [0.0, -0.01]) == (0.0, None)
    assert break_even([0.0, 0.001, 0.002], [0.01, 0.0, -0.01]) == (pytest.approx(0.001), None)


@pytest.mark.parametrize(("excess", "reason"), [
    ([-0.01, -0.02, -0.03], "already negative (-1.00%) at the lowest cost 0 (0 bp)"),
    ([0.03, 0.02, 0.01], "stays positive up to the highest cost 0.002 (20 bp)"),
    ([0.03, None, 0.01], "undefined"),
])
def test_break_even_outside_the_grid_is_none_with_a_reason(excess, reason) -> None:
    value, why = break_even([0.0, 0.001, 0.002], excess)
    assert value is None and reason in why


@given(st.lists(st.integers(0, 500), min_size=2, max_size=8, unique=True),
       st.floats(0.01, 10.0), st.integers(-10, 510))
def test_break_even_of_a_linear_excess_is_its_root(basis_points, slope, root_bp) -> None:
    costs = [b / 10_000 for b in basis_points]
    root = (root_bp + 0.5) / 10_000  # never on a grid value
    excess = [slope * (root - c) for c in costs]
    value, reason = break_even(costs, excess)
    if min(costs) <= root <= max(costs):
        assert value == pytest.approx(root, abs=1e-9)
    else:
        assert value is None and reason


def test_surfaces_follow_the_axes(swept) -> None:
    _, summary = swept
    assert summary["axes"] == {"fees": [0.0, 0.001, 0.002], "slippage": [0.0], "position_limit": [0.25, 1.0]}
    rows = summary["scenarios"]
    assert len(rows) == 6 and all(r["family"] == "grid" for r in rows)
    for metric in ("sharpe", "total_return", "max_drawdown"):
        surface = np.array(summary["surfaces"][metric], dtype=float)
        assert surface.shape == (3, 1, 2)
        # The last axis varies fastest: row 1 is fees=0, position_limit=1.
        assert surface[0, 0, 1] == rows[1][metric] and (rows[1]["fees"], rows[1]["position_limit"]) == (0.0, 1.0)
        assert surface[2, 0, 0] == rows[4][metric]


def test_fees_paid_by_an_all_in_buy(swept) -> None:
    _, summary = swept
    unclipped = [r for r in summary["scenarios"] if r["position_limit"] == 1.0]
    for row in unclipped:
        f = row["fees"]
        # Two buys of value C/2 each pay (C/2) f / (1 + f): C f / (1 + f) together.
        assert row["fees_paid"] == pytest.approx(CASH * f / (1 + f), rel=1e-12)


def test_break_even_is_read_from_the_rows(swept) -> None:
    _, summary = swept
    even = summary["break_even"]
    assert even["axis"] == "fees" and len(even["points"]) == 2
    for point in even["points"]:
        rows = [r for r in summary["scenarios"] if r["position_limit"] == point["at"]["position_limit"]]
        assert (point["value"], point["reason"]) == break_even([r["fees"] for r in rows],
                                                               [r["excess_return"] for r in rows])
    assert (even["value"], even["reason"]) == (even["points"][0]["value"], even["points"][0]["reason"])


def test_one_cost_value_has_no_break_even_axis() -> None:
    summary = run_sweep(sweep_spec(fees=(0.001,), options={"grid": {"stop_loss": [0.0, 0.1]}})).summary()
    assert summary["break_even"]["axis"] is None and "--fees" in summary["break_even"]["reason"]
    assert np.array(summary["surfaces"]["sharpe"], dtype=float).shape == (1, 1, 2)


def test_same_spec_same_summary(swept) -> None:
    _, summary = swept
    assert run_sweep(sweep_spec()).summary() == summary


@pytest.mark.parametrize(("grid", "message"), [
    ({"position_limt": [0.5]}, "Did you mean 'position_limit'"),
    ({"stop_loss": []}, "empty list"),
    ({"fees": [0.1]}, "own lists"),
    ({"stop_loss": [0.1, 0.1]}, "twice"),
    ({"stop_loss": ["a"]}, "not a finite number"),
    ({"position_limit": [0.0]}, "position_limit"),
    ({"allow_short": [1.0]}, "unknown"),
])
def test_bad_grids_are_typed_errors(grid, message) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        run_sweep(sweep_spec(options={"grid": grid}))


def test_repeated_fee_and_a_bad_grid_are_errors() -> None:
    with pytest.raises(InvalidParameterError, match="fees lists 0.001 twice"):
        run_sweep(sweep_spec(fees=(0.001, 0.001)))
    with pytest.raises(InvalidParameterError, match="map parameter names"):
        SweepOptions(grid=3)
