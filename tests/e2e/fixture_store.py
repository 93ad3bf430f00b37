"""A small run store for the browser tests: a few quick runs of every kind the pages show."""
from __future__ import annotations

from workbench.runs.spec import RunSpec
from workbench.services.app import run_and_store
from workbench.store import RunStore

COMMON = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2009-01-01", end="2010-06-30")


def fixture_specs() -> list[RunSpec]:
    """Baseline backtests, a stress set and a sweep (market-scope strategies run in seconds), and a
    short backtest of the shipped policy for the attention page."""
    return [
        RunSpec(kind="backtest", strategy="sma_cross", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="backtest", strategy="equal_weight", fees=(0.0, 0.001), slippage=(0.0005,), **COMMON),
        RunSpec(kind="stress", strategy="sma_cross", fees=(0.001,), slippage=(0.0005,), seed=3,
                options=(("n_bootstrap", 3), ("n_garch", 0)), **COMMON),
        RunSpec(kind="sweep", strategy="sma_cross", fees=(0.0, 0.001, 0.002, 0.004), slippage=(0.0, 0.001),
                **COMMON),
        RunSpec(kind="backtest", policy="symbol-agent-compact-stocks", fees=(0.001,), slippage=(0.0005,),
                **dict(COMMON, start="2009-06-01", end="2009-12-31")),
    ]


def fill_fixture(store: RunStore) -> list[str]:
    """Store the fixture runs (tag ``e2e``) and return their ids."""
    return [run_and_store(store, spec, tags=("e2e",)).run_id for spec in fixture_specs()]


if __name__ == "__main__":
    with RunStore.open() as opened:
        print(fill_fixture(opened))
