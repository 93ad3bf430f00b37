"""ScenarioParams: defaults of the engine contract, domains, unknown keys, grids and labels."""
from __future__ import annotations

import pytest

from engine.errors import InvalidParameterError
from engine.scenarios import PARAM_NAMES, ScenarioParams, parameter_grid, params_label

CONTRACT_DEFAULTS = {
    "init_cash": 100_000.0, "fees": 0.0, "slippage": 0.0, "spread": 0.0, "position_limit": 1.0,
    "gross_limit": 1.0, "allow_short": False, "lot_size": 0.0, "stop_loss": 0.0,
    "trailing_stop": 0.0, "take_profit": 0.0, "max_drawdown": 0.0, "flatten_on_breaker": False,
    "daily_loss_limit": 0.0, "cooldown_bars": 0,
}


def test_defaults_are_the_engine_contract():
    assert ScenarioParams().to_dict() == CONTRACT_DEFAULTS
    assert PARAM_NAMES == tuple(CONTRACT_DEFAULTS)


def test_numbers_are_stored_as_the_field_type():
    params = ScenarioParams(fees=0, cooldown_bars=3.0, init_cash=5000)
    assert type(params.fees) is float and type(params.init_cash) is float
    assert type(params.cooldown_bars) is int and params.cooldown_bars == 3


def test_dict_round_trip():
    params = ScenarioParams(fees=0.001, allow_short=True, cooldown_bars=2, stop_loss=0.05)
    assert ScenarioParams.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("fees", -0.001, r"ScenarioParams\.fees = -0\.001 is outside its domain; allowed: \[0, 1\)"),
        ("position_limit", 0, r"ScenarioParams\.position_limit = 0 .* allowed: \(0, inf\)"),
        ("slippage", 1.0, r"ScenarioParams\.slippage = 1\.0 .* allowed: \[0, 1\)"),
        ("init_cash", float("nan"), r"init_cash = nan .* \(0, inf\)"),
        ("stop_loss", 1.5, r"stop_loss = 1\.5 .* \[0, 1\)"),
        ("cooldown_bars", -1, r"cooldown_bars = -1 .* integers in \[0, 1e\+09\]"),
        ("cooldown_bars", 2.5, r"cooldown_bars = 2\.5 is not a whole number"),
        ("allow_short", 1, r"allow_short = 1 is not a boolean; allowed: True or False"),
        ("fees", "0.001", r"fees = '0\.001' is not a number"),
        ("fees", True, r"fees = True is not a number"),
    ],
)
def test_values_outside_their_domain_name_field_value_and_range(field, value, message):
    with pytest.raises(InvalidParameterError, match=message):
        ScenarioParams(**{field: value})


def test_slippage_plus_half_spread_must_stay_below_one():
    # 0.9 + 0.3 / 2 = 1.05: a sell would fill at open * (1 - 1.05) < 0.
    with pytest.raises(InvalidParameterError, match=r"slippage \+ spread/2 = 1\.05"):
        ScenarioParams(slippage=0.9, spread=0.3)


def test_unknown_key_suggests_the_closest_name():
    with pytest.raises(InvalidParameterError, match=r"unknown scenario parameter 'fess'.*Did you mean 'fees'\?"):
        ScenarioParams.from_dict({"fess": 0.001})
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'trailing_stop'\?"):
        ScenarioParams().replace(trailing_stp=0.1)


def test_grid_is_the_cartesian_product_with_the_last_axis_fastest():
    grid = parameter_grid(fees=[0, 0.001], slippage=[0, 0.0005])
    assert [label for label, _ in grid] == [
        "fees=0 slippage=0", "fees=0 slippage=0.0005", "fees=0.001 slippage=0", "fees=0.001 slippage=0.0005",
    ]
    assert [(p.fees, p.slippage) for _, p in grid] == [(0, 0), (0, 0.0005), (0.001, 0), (0.001, 0.0005)]


def test_grid_keeps_the_base_fields_it_does_not_vary():
    base = ScenarioParams(init_cash=1_000.0, allow_short=True)
    grid = parameter_grid(base, stop_loss=[0.02, 0.05, 0.1], allow_short=[True, False])
    assert len(grid) == 6
    assert all(p.init_cash == 1_000.0 for _, p in grid)
    assert grid[1] == ("stop_loss=0.02 allow_short=False", base.replace(stop_loss=0.02, allow_short=False))
    assert parameter_grid(base) == [("base", base)]


def test_bad_grids():
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'slippage'\?"):
        parameter_grid(slipage=[0.001])
    with pytest.raises(InvalidParameterError, match="non-empty list"):
        parameter_grid(fees=[])
    with pytest.raises(InvalidParameterError, match="non-empty list"):
        parameter_grid(fees=0.001)
    with pytest.raises(InvalidParameterError, match=r"ScenarioParams\.fees = -1"):
        parameter_grid(fees=[0.0, -1])


def test_label_lists_the_fields_that_differ_from_the_defaults():
    assert params_label(ScenarioParams()) == "default"
    assert params_label(ScenarioParams(fees=0.001, allow_short=True, cooldown_bars=5)) == (
        "fees=0.001 allow_short=True cooldown_bars=5"
    )
