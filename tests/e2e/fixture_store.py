"""A small run store for the browser tests: a few quick runs of every kind the pages show."""
from __future__ import annotations

from workbench.runs.spec import RunSpec
from workbench.services.app import run_and_store
from workbench.store import RunStore

COMMON = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2009-01-01", end="2010-06-30")
TEAM_POLICY = "tactical-compact-synthetic5m"


def fixture_specs() -> list[RunSpec]:
    """Baseline backtests, a stress set and a sweep (market-scope strategies run in seconds), and
    short backtests of the shipped symbol agent and tactical team for the attention page."""
    return [
        RunSpec(kind="backtest", strategy="sma_cross", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="backtest", strategy="equal_weight", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="stress", strategy="sma_cross", fees=(0.001,), slippage=(0.0005,), seed=3,
                options=(("n_bootstrap", 3), ("n_garch", 0)), **COMMON),
        RunSpec(kind="sweep", strategy="sma_cross", fees=(0.0, 0.001, 0.002, 0.004), slippage=(0.0, 0.001),
                **COMMON),
        RunSpec(kind="backtest", policy="symbol-agent-compact-stocks", fees=(0.001,), slippage=(0.0005,),
                **dict(COMMON, start="2009-06-01", end="2009-12-31")),
        RunSpec(kind="backtest", policy=TEAM_POLICY, data="synthetic-5min", symbols=("SYN000", "SYN001"),
                start="2024-03-20", end="2024-03-28", fees=(0.0002,), slippage=(0.0001,)),
    ]


def fill_fixture(store: RunStore) -> list[str]:
    """Store the fixture runs (tag ``e2e``) and return their ids."""
    return [run_and_store(store, spec, tags=("e2e",)).run_id for spec in fixture_specs()]


if __name__ == "__main__":
    with RunStore.open() as opened:
        print(fill_fixture(opened))
