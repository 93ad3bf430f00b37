"""``workbench demo``: fill the run store with a small, complete set of runs of the shipped policy.

The set covers every page of the app: backtests of the shipped compact symbol agent and of two
baselines on three stocks, a stress set (shocks, bootstrap and GARCH paths, the historical windows
the period covers), a sensitivity grid over fees and slippage, a frozen walk-forward, a GO/NO-GO
review of the policy's runs, and a short paper-trading session that replays the first half of 2012
(``WORKBENCH_HOME/paper/demo``). Every run covers the policy's test period (:data:`PERIOD`), which
neither its training nor the choice of its weights saw. Periods are short and path counts small so the whole set takes a few
minutes on two CPU cores. Runs already stored are skipped (their run id is computed first), so the
command can be repeated safely.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from engine.errors import UnknownRunError
from workbench.experiments.walkforward import WalkForwardOptions
from workbench.paper import StartOptions, start_paper
from workbench.runs.evaluate import decider_run_id, spec_data, spec_decider
from workbench.runs.paper import paper_record
from workbench.runs.spec import RunSpec
from workbench.services.app import assess_runs, default_gates, paper_root, run_and_store, save_review
from workbench.store import RunStore

logger = logging.getLogger(__name__)

POLICY = "symbol-agent-compact-stocks"
SYMBOLS = ("AAPL", "MSFT", "IBM")
PERIOD = ("2011-03-21", "2013-03-01")
"""The shipped policy's test period (its model card's ``test_period``; a test keeps them equal)."""
TAG = "demo"
REVIEWER = "workbench demo"


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo set: a short name for messages and its spec."""

    name: str
    spec: RunSpec


def demo_runs() -> list[DemoRun]:
    """The demo's runs, in the order they are made."""
    common = dict(data="stocks", symbols=SYMBOLS, start=PERIOD[0], end=PERIOD[1])
    policy = dict(common, policy=POLICY)
    return [
        DemoRun("policy backtest", RunSpec(kind="backtest", fees=(0.0, 0.001), slippage=(0.0005,), **policy)),
        DemoRun("sma_cross backtest", RunSpec(kind="backtest", strategy="sma_cross", fees=(0.0, 0.001),
                                              slippage=(0.0005,), **common)),
        DemoRun("equal_weight backtest", RunSpec(kind="backtest", strategy="equal_weight", fees=(0.0, 0.001),
                                                 slippage=(0.0005,), **common)),
        DemoRun("policy stress set", RunSpec(kind="stress", fees=(0.001,), slippage=(0.0005,), seed=7,
                                             options=(("n_bootstrap", 5), ("n_garch", 5)), **policy)),
        DemoRun("policy sensitivity grid", RunSpec(kind="sweep", fees=(0.0, 0.0005, 0.001, 0.002, 0.004),
                                                   slippage=(0.0, 0.001), **policy)),
        # Every walk-forward option spelled out, as run_walkforward stores them, so the run id can be
        # computed before running (stored_id).
        DemoRun("policy walk-forward", RunSpec(kind="walkforward", fees=(0.001,), slippage=(0.0005,),
                                               options=tuple(WalkForwardOptions(train="1Y", test="6M")
                                                             .to_spec_options().items()),
                                               **policy)),
    ]


def stored_id(store: RunStore, spec: RunSpec) -> str | None:
    """The run id ``spec`` would get, if that run is already stored, else None."""
    identity = decider_run_id(spec, spec_data(spec).fingerprint(), spec_decider(spec))
    try:
        return store.resolve(identity)
    except UnknownRunError:
        return None


def fill_demo(store: RunStore, say: Callable[[str], None] = logger.info) -> list[str]:
    """Make every demo run that is not stored yet, review the policy's runs once, then replay the
    paper session and store it.

    Returns:
        The run ids of the demo set, in :func:`demo_runs` order, then the paper session's run.
    """
    ids = []
    for item in demo_runs():
        existing = stored_id(store, item.spec)
        if existing is not None:
            say(f"{item.name}: already stored as {existing}")
            ids.append(existing)
            continue
        say(f"{item.name}: running ...")
        info = run_and_store(store, item.spec, tags=(TAG,))
        say(f"{item.name}: stored as {info.run_id}")
        ids.append(info.run_id)
    reviewed = [run_id for run_id, item in zip(ids, demo_runs()) if item.spec.policy]
    if store.latest_review(reviewed[0]) is None:
        say("GO/NO-GO review of the policy's runs: running the gates and the look-ahead canary ...")
        assessment = assess_runs(store, reviewed, default_gates())
        review_id, report = save_review(store, assessment, REVIEWER, assessment.verdict.decision,
                                        "Automatic review made by `workbench demo`.")
        say(f"review {review_id}: {assessment.verdict.decision}; report {report}")
    else:
        say("GO/NO-GO review: already stored")
    result = start_paper(paper_options())
    equity = "-" if result.equity is None else f"{result.equity:.2f}"
    say(f"paper session {result.state}: {result.status}, last bar {result.timestamp}, equity {equity}")
    info = store.save_run(paper_record(result.state, tags=(TAG,)))
    say(f"paper session stored as run {info.run_id}")
    return ids + [info.run_id]


def paper_options() -> StartOptions:
    """The demo's paper-trading session: the policy on a replay of January to June 2012."""
    return StartOptions(state=paper_root() / "demo", feed="replay:stocks:" + ",".join(SYMBOLS), policy=POLICY,
                        start="2012-01-01", end="2012-06-30", fees=0.001, slippage=0.0005)
