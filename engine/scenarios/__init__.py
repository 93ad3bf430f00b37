"""Scenarios: price paths ``[S, T, N]`` plus per-scenario parameters, as one `ScenarioBatch`.

- :mod:`.params`: `ScenarioParams` (costs, limits, stops, breakers) and `parameter_grid`;
- :mod:`.path`: `PricePath`, one market path, and the relative-bar representation;
- :mod:`.batch`: `ScenarioBatch`;
- :mod:`.builders`: `from_market`, `from_paths`, `historical_windows`, `cross_params`, `combine`;
- :mod:`.shocks`: `overnight_gap`, `scale_volatility`, `trend_reversal`, `correlation_spike`,
  `liquidity_shock`;
- :mod:`.bootstrap`: `stationary_bootstrap`; :mod:`.garch`: `garch_paths`.
"""
from engine.scenarios.batch import ScenarioBatch
from engine.scenarios.bootstrap import stationary_bootstrap
from engine.scenarios.builders import combine, cross_params, from_market, from_paths, historical_windows
from engine.scenarios.garch import garch_paths
from engine.scenarios.params import PARAM_NAMES, ScenarioParams, parameter_grid, params_label
from engine.scenarios.path import PricePath
from engine.scenarios.shocks import (
    correlation_spike,
    liquidity_shock,
    overnight_gap,
    scale_volatility,
    trend_reversal,
)

__all__ = [
    "PARAM_NAMES", "PricePath", "ScenarioBatch", "ScenarioParams", "combine", "correlation_spike",
    "cross_params", "from_market", "from_paths", "garch_paths", "historical_windows",
    "liquidity_shock", "overnight_gap", "parameter_grid", "params_label", "scale_volatility",
    "stationary_bootstrap", "trend_reversal",
]
