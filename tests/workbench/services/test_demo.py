"""The demo set: every experiment kind, valid specs, and runs already stored are skipped."""
from __future__ import annotations

from workbench.runs.spec import RunSpec
from workbench.services import demo
from workbench.services.app import run_and_store
from workbench.store import RunStore


def test_demo_set_covers_every_page() -> None:
    runs = demo.demo_runs()
    assert {r.spec.kind for r in runs} == {"backtest", "stress", "sweep", "walkforward"}
    assert sum(r.spec.policy == demo.POLICY for r in runs) == 4
    assert demo.paper_options().policy == demo.POLICY


def test_stored_id_finds_a_stored_spec(workbench_home) -> None:
    spec = RunSpec(kind="backtest", data="stocks", strategy="equal_weight", symbols=("AAPL",),
                   start="2009-01-01", end="2009-03-31")
    with RunStore.open(workbench_home) as store:
        assert demo.stored_id(store, spec) is None
        info = run_and_store(store, spec)
        assert demo.stored_id(store, spec) == info.run_id
        assert demo.stored_id(store, spec.replace(fees=(0.001,))) is None


def test_walkforward_spec_is_stored_as_written() -> None:
    # run_walkforward stores its options spelled out; the demo's spec already is, so its run id can be
    # computed before the run (a regression: the demo re-ran the walk-forward every time).
    from workbench.experiments.walkforward import WalkForwardOptions
    from workbench.runs.spec import parse_options

    spec = next(r.spec for r in demo.demo_runs() if r.spec.kind == "walkforward")
    normalized = spec.replace(options=tuple(parse_options(spec, WalkForwardOptions).to_spec_options().items()))
    assert normalized == spec


def test_issue15_the_demo_runs_on_the_shipped_policy_s_test_period() -> None:
    import json

    from workbench.policies import shipped_policies

    card = json.loads((shipped_policies()[demo.POLICY] / "model_card.json").read_text())
    assert tuple(t[:10] for t in card["test_period"]) == demo.PERIOD
    assert all((r.spec.start, r.spec.end) == demo.PERIOD for r in demo.demo_runs())
    assert demo.PERIOD[0] <= demo.paper_options().start and demo.paper_options().end <= demo.PERIOD[1]
