"""Executors: chunked evaluation equals the one-piece evaluation, in process and on a local Ray instance."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from workbench.cli import main
from workbench.experiments.common import load_universe
from workbench.experiments.executors import (
    DeciderSpec,
    InProcessExecutor,
    RayExecutor,
    chunk_bounds,
    evaluate_distributed,
    make_executor,
)
from workbench.experiments.stress import StressOptions, build_stress_batch, run_stress
from workbench.runs.evaluate import evaluate, spec_decider
from workbench.runs.spec import RunSpec, parse_options

STOCKS = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2008-01-01", end="2008-12-31", fees=(0.001,))
# Base, a gap and a liquidity shock (same path as the base, so chunks share a path), bootstrap paths
# and the 2008 crisis windows.
STRESS_OPTIONS = (("n_bootstrap", 4), ("n_garch", 0), ("shocks", ("gap:-0.1", "liquidity:2")))


def stress_spec(strategy: str | None, policy: str | None = None, **fields) -> RunSpec:
    return RunSpec(kind="stress", strategy=strategy, policy=policy,
                   **{**STOCKS, "options": STRESS_OPTIONS, **fields})


def stress_batch(spec: RunSpec):
    data, _ = load_universe(spec)
    params = spec.base_params().replace(fees=spec.fees[0])
    return build_stress_batch(data, params, parse_options(spec, StressOptions), spec.seed)[0]


def assert_same_evaluation(one, chunked) -> None:
    a, b = one.rollout, chunked.rollout
    np.testing.assert_array_equal(a.equity, b.equity)
    np.testing.assert_array_equal(a.records, b.records)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert sorted(a.extras) == sorted(b.extras)
    for key in a.extras:
        np.testing.assert_array_equal(a.extras[key], b.extras[key])
    for x, y in zip(a.state, b.state):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.path_ids, b.path_ids)
    pd.testing.assert_frame_equal(pd.DataFrame(one.metrics), pd.DataFrame(chunked.metrics))


@pytest.mark.parametrize("n_chunks", [1, 3, 100])
def test_chunked_market_scope_equals_one_piece(n_chunks: int) -> None:
    spec = stress_spec("sma_cross", strategy_params=(("fast", "5"), ("slow", "20")))
    batch = stress_batch(spec)
    assert batch.n_scenarios == 8 and batch.n_paths < batch.n_scenarios  # the liquidity shock shares a path
    one = evaluate(batch, spec_decider(spec))
    chunked = evaluate_distributed(batch, DeciderSpec.from_spec(spec), InProcessExecutor(), n_chunks)
    assert chunked.batch is batch
    assert len(np.unique(one.rollout.records["scenario"])) >= 5  # orders in scenarios of several chunks
    assert_same_evaluation(one, chunked)


@pytest.mark.slow
def test_chunked_portfolio_scope_policy_equals_one_piece() -> None:
    spec = stress_spec(None, "symbol-agent-compact-stocks", start="2008-09-01", end="2008-12-31",
                       options=(("n_bootstrap", 3), ("n_garch", 0), ("shocks", ("gap:-0.1",))))
    batch = stress_batch(spec)
    one = evaluate(batch, spec_decider(spec))
    chunked = evaluate_distributed(batch, DeciderSpec.from_spec(spec), InProcessExecutor(), 2)
    assert one.rollout.actions.shape[1] == batch.n_scenarios * batch.n_symbols  # scenario-major rows
    assert_same_evaluation(one, chunked)


def test_chunk_bounds_by_hand() -> None:
    assert chunk_bounds(7, 3) == [(0, 2), (2, 5), (5, 7)]
    assert chunk_bounds(2, 5) == [(0, 1), (1, 2)]
    assert chunk_bounds(4, 1) == [(0, 4)]


@given(st.integers(1, 200), st.integers(1, 50))
def test_chunk_bounds_cover_every_scenario_once_in_even_chunks(n_scenarios: int, n_chunks: int) -> None:
    bounds = chunk_bounds(n_scenarios, n_chunks)
    assert len(bounds) == min(n_scenarios, n_chunks)
    assert bounds[0][0] == 0 and bounds[-1][1] == n_scenarios
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", [0, -2, True, 1.5, "3"])
def test_bad_chunk_counts_are_refused(bad) -> None:
    with pytest.raises(InvalidParameterError, match="chunks .* must be an integer >= 1"):
        chunk_bounds(10, bad)


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="executor 'spark' is unknown; use one of local, ray"):
        make_executor("spark")


def test_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(InvalidParameterError, match=r"pip install rl-trading-workbench\[ray\]"):
        make_executor("ray")
    argv = ["stress", "--strategy", "buy_and_hold", "--data", "stocks", "--symbols", "AAPL",
            "--executor", "ray", "--json"]
    assert main(argv) == 2
    assert "rl-trading-workbench[ray]" in capsys.readouterr().err


class FakeRay(types.ModuleType):
    """Records how the executor connects, without starting Ray."""

    def __init__(self) -> None:
        super().__init__("ray")
        self.init_calls: list[dict] = []

    def is_initialized(self) -> bool:
        return bool(self.init_calls)

    def init(self, **kwargs) -> None:
        self.init_calls.append(kwargs)

    def cluster_resources(self) -> dict:
        return {"CPU": 6.0}


@pytest.mark.parametrize("address, expected", [("ray://head:10001", {"address": "ray://head:10001"}),
                                               (None, {"include_dashboard": False})])
def test_ray_executor_joins_ray_address_else_starts_locally(monkeypatch: pytest.MonkeyPatch, address,
                                                            expected) -> None:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    if address is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", address)
    executor = RayExecutor()
    assert executor.default_chunks() == 6 and executor.default_chunks() == 6
    assert fake.init_calls == [expected]  # connected once


def test_cli_rejects_zero_chunks(capsys) -> None:
    assert main(["sweep", "--strategy", "buy_and_hold", "--data", "stocks", "--chunks", "0", "--json"]) == 2
    assert "chunks 0 must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["buy_and_hold", "sma_cross"])
def test_ray_stress_equals_in_process(local_ray, strategy: str) -> None:
    spec = stress_spec(strategy)
    here = run_stress(spec)
    on_ray = run_stress(spec, executor=RayExecutor(), n_chunks=3)
    assert on_ray.run_id == here.run_id
    assert json.dumps(on_ray.summary(), sort_keys=True) == json.dumps(here.summary(), sort_keys=True)
    here_tables, ray_tables = here.to_record().tables, on_ray.to_record().tables
    for name in ("scenario_metrics", "equity", "orders"):
        pd.testing.assert_frame_equal(ray_tables[name], here_tables[name])
    assert len(here_tables["orders"]) > 0


@pytest.mark.slow
def test_cli_sweep_on_ray_prints_the_local_summary(local_ray, capsys) -> None:
    argv = ["sweep", "--strategy", "buy_and_hold", "--data", "stocks", "--symbols", "AAPL,MSFT",
            "--start", "2008-01-01", "--end", "2008-06-30", "--fees", "0,0.001", "--grid",
            "stop_loss=0,0.05", "--json"]
    assert main(argv) == 0
    here = json.loads(capsys.readouterr().out)
    assert main([*argv, "--executor", "ray", "--chunks", "3"]) == 0
    assert json.loads(capsys.readouterr().out) == here
