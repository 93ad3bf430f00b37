"""What the browser app asks of the workbench: stored runs as tables and curves, baselines, prices,
regimes, experiments to launch, GO/NO-GO reviews and the choices its forms offer.

The app (``apps/``) imports only this layer. Everything here reads the run store or goes through the
same functions the CLI uses (the run kinds of ``workbench.runs``, ``review.assess`` ...), so a run made
in the browser is the run the CLI would make from the same spec.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

# WorkbenchError is re-exported: the app catches user errors without importing the engine.
from engine.errors import InvalidParameterError, WorkbenchError  # noqa: F401
from engine.paths import workbench_home
from engine.stress_periods import STRESS_PERIODS
from strategies.families.baseline import STRATEGIES
from workbench.experiments.stress import DEFAULT_SHOCKS
from workbench.paper import (  # noqa: F401 (nothing_requested: the paper page reads it here)
    ledger_arrays,
    nothing_requested,
    paper_status,
    request_kill,
    request_resume,
    request_stop,
)
from workbench.paper.config import JOURNAL_FILE
from workbench.policies import shipped_policies
from workbench.policies.explain import BarExplanation, explain_bar, stored_attention
from workbench.review.assess import Assessment, assess
from workbench.review.decide import save_decision
from workbench.review.gates import DEFAULT_GATES, Gate
from workbench.review.gates import with_thresholds as gates_with_thresholds  # noqa: F401 (the review page's)
from workbench.runs.evaluate import spec_data, spec_decider
from workbench.runs.kind import Progress, RunView
from workbench.runs.registry import run_kind, run_spec
from workbench.runs.spec import RunSpec, parse_options
from workbench.runs.views import (  # noqa: F401 (the app reads the stored runs through this facade)
    BASELINES,
    BENCHMARK,
    HEADLINE,
    RUNS_COLUMNS,
    action_names,
    baseline_curves,
    close_prices,
    detail_tables,
    equity_curves,
    headline,
    main_row,
    regime_table,
    runs_frame,
    scenario_count,
    scenario_rows,
    worst_drawdowns,
)
from workbench.services.datasets import list_datasets
from workbench.services.uploads import uploaded_policies
from workbench.store import RunInfo, RunStore, StoredRun

logger = logging.getLogger(__name__)

def open_store(home: Path | None = None) -> RunStore:
    """The run store of ``home`` (default ``WORKBENCH_HOME``)."""
    return RunStore.open(home)


# -- attention ---------------------------------------------------------------------------------------

def explain(run: StoredRun, bar: int, scenario: str | None = None) -> BarExplanation:
    """Attention and attribution of ``run``'s decision at ``bar`` (``workbench.policies.explain``), cached."""
    return _explain(json.dumps(dict(run.spec), sort_keys=True), int(bar), scenario)


@lru_cache(maxsize=64)
def _explain(spec_json: str, bar: int, scenario: str | None) -> BarExplanation:
    return explain_bar(json.loads(spec_json), bar, scenario)


def replayable_scenarios(run: StoredRun) -> list[str]:
    """Labels of the run's scenarios an explanation can replay (its kind says which)."""
    spec = RunSpec.from_dict(run.spec, source="stored run spec")
    return [label for label, _ in run_kind(spec.kind).replayable(spec)]


def run_view(run: StoredRun) -> RunView:
    """What the Run detail page shows for the run's kind (linked pages, baselines, notes)."""
    return run_kind(run.info.kind).view()


def stored_attention_at(run: StoredRun, bar: int) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """The run's stored attention maps at ``bar`` (first scenario), or None when none was sampled there."""
    if "attention" not in run.tables:
        return None
    table = run.load_table("attention")
    if not (table["bar"] == bar).any():
        return None
    symbols = tuple(run.summary.get("data", {}).get("symbols") or ())
    return stored_attention(table, bar, symbols)


TEAM_BUCKETS = 300
"""Time buckets of the team history's curves (a long run still draws readable lines)."""


@dataclass(frozen=True)
class TeamHistory:
    """A team run's decisions for one symbol over time (first scenario), bucketed by time.

    Attributes:
        agents: The agents, in order.
        attention: Agent -> its attention over the seven columns, a row per bucket (mean).
        agreement: Share of agents voting the team's decision (bucket mean).
        rewards: Reward components per bucket (sum), or None when the run has none.
    """

    agents: tuple[str, ...]
    attention: dict[str, pd.DataFrame]
    agreement: pd.Series
    rewards: pd.DataFrame | None


def team_history(run: StoredRun, symbol: str) -> TeamHistory | None:
    """The team's attention, agreement and reward components for ``symbol`` over the run (None for a
    run without a team's stored votes)."""
    if "team_votes" not in run.tables or "team_attention" not in run.tables:
        return None
    votes = run.load_table("team_votes")
    votes = votes[(votes["scenario"] == 0) & (votes["symbol"] == symbol)].set_index("timestamp").sort_index()
    attention = run.load_table("team_attention")
    attention = attention[attention["symbol"] == symbol].set_index("timestamp").sort_index()
    agents = tuple(c for c in votes.columns if c not in ("bar", "scenario", "symbol", "team", "agreement"))
    per_agent = {}
    for agent in agents:
        columns = [c for c in attention.columns if c.startswith(f"{agent}_")]
        per_agent[agent] = _bucketed(attention[columns].rename(columns=lambda c: c[len(agent) + 1:]), "mean")
    rewards = None
    if "rewards" in run.tables:
        table = run.load_table("rewards")
        table = table[(table["scenario"] == 0) & (table["symbol"] == symbol)].set_index("timestamp").sort_index()
        rewards = _bucketed(table[["pnl", "cost", "time", "sharpe", "drawdown", "sizing", "hold"]], "sum")
    return TeamHistory(agents, per_agent, _bucketed(votes[["agreement"]], "mean")["agreement"], rewards)


def _bucketed(frame: pd.DataFrame, how: str) -> pd.DataFrame:
    """``frame`` reduced to at most :data:`TEAM_BUCKETS` consecutive buckets (first timestamp as index)."""
    if len(frame) <= TEAM_BUCKETS:
        return frame
    bucket = np.arange(len(frame)) * TEAM_BUCKETS // len(frame)
    reduced = frame.groupby(bucket).agg(how)
    reduced.index = frame.index[np.searchsorted(bucket, np.arange(TEAM_BUCKETS))]
    return reduced


# -- choices the forms offer -----------------------------------------------------------------------

def policy_choices() -> list[str]:
    """Shipped policy names, then uploaded policies' folders."""
    return list(shipped_policies()) + [str(p) for p in uploaded_policies().values()]


def strategy_choices() -> list[str]:
    """Baseline strategy names."""
    return sorted(STRATEGIES)


def dataset_choices() -> list[dict[str, Any]]:
    """Every dataset (built-in and imported) with its symbols and period."""
    return list_datasets()


def stress_periods() -> list[dict[str, str]]:
    """The stress-period catalogue: key, name, start, end."""
    return [{"key": p.key, "name": p.name, "start": p.start, "end": p.end} for p in STRESS_PERIODS]


def default_shocks() -> tuple[str, ...]:
    """The shocks a stress run applies by default."""
    return DEFAULT_SHOCKS


# -- running experiments ---------------------------------------------------------------------------

def check_spec(spec: RunSpec) -> None:
    """Fail fast on what a run would fail on later: the decider, the data (symbols, period) and the
    experiment's options (the checks the CLI makes when it starts the run).

    Raises:
        WorkbenchError: the message names the key and the fix.
    """
    spec_decider(spec)
    data = spec_data(spec)
    if data.n_bars < 2:
        raise InvalidParameterError(f"{spec.data} has {data.n_bars} bar(s) from {spec.start} to {spec.end}; "
                                    "choose a longer period")
    options = run_kind(spec.kind).options
    if options is not None:
        parse_options(spec, options)


def run_and_store(store: RunStore, spec: RunSpec, progress: Progress | None = None,
                  tags: Sequence[str] = ()) -> RunInfo:
    """Run ``spec`` (any kind) as the CLI would and save it; an already stored run id is kept as is."""
    return store.save_run(run_spec(spec, progress, tags))


# -- GO/NO-GO reviews ------------------------------------------------------------------------------

def default_gates() -> tuple[Gate, ...]:
    """The default gates (``workbench.review.gates.DEFAULT_GATES``)."""
    return DEFAULT_GATES


def assess_runs(store: RunStore, run_ids: Sequence[str], gates: Sequence[Gate], canary: bool = True) -> Assessment:
    """Collect the runs' evidence and test the gates (the look-ahead canary runs the decider)."""
    if not run_ids:
        raise InvalidParameterError("choose at least one run to review")
    runs = [store.get_run(r) for r in dict.fromkeys(run_ids)]
    return assess(runs, gates, canary=canary)


def save_review(store: RunStore, assessment: Assessment, reviewer: str, decision: str,
                notes: str = "") -> tuple[int, Path]:
    """Write the HTML report under ``WORKBENCH_HOME/reports`` and save the review in the run store
    (``workbench.review.decide.save_decision``, as ``workbench review`` does).

    Returns:
        ``(review id, report path)``.
    """
    created = datetime.now(timezone.utc)
    name = f"review-{created.strftime('%Y%m%dT%H%M%S%fZ')}-{assessment.runs[0].info.run_id[:8]}.html"
    reports_dir().mkdir(parents=True, exist_ok=True)
    outcome = save_decision(store, assessment, reports_dir() / name, reviewer=reviewer, decision=decision,
                            notes=notes)
    return outcome.review_id, outcome.report


def reports_dir() -> Path:
    """``WORKBENCH_HOME/reports``: the review reports the app writes."""
    return workbench_home() / "reports"


def report_file(report_path: str | None) -> Path | None:
    """A stored review's HTML report if the file still exists, else None.

    Only paths read from the run store get here, never a path typed in the browser.
    """
    if not report_path:
        return None
    path = Path(report_path)
    return path if path.suffix == ".html" and path.is_file() else None




# -- paper trading ---------------------------------------------------------------------------------

def paper_root() -> Path:
    """``WORKBENCH_HOME/paper``: where the app looks for paper-trading sessions."""
    return workbench_home() / "paper"


def paper_sessions() -> list[Path]:
    """State folders under :func:`paper_root` that hold a paper-trading journal."""
    root = paper_root()
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir()) if (p / JOURNAL_FILE).is_file()]


def paper_state(state: str | Path) -> dict[str, Any]:
    """A session's status (``workbench.paper.paper_status``) plus its equity at every journaled bar.

    Raises:
        WorkbenchError: no session in ``state``.
    """
    state = Path(state)
    if not (state / JOURNAL_FILE).is_file():
        raise InvalidParameterError(f"{state}: no paper-trading session here (no {JOURNAL_FILE}); "
                                    "start one with `workbench paper start --state DIR`")
    status = paper_status(state)
    _, equity = ledger_arrays(state)
    return {**status, "equity_curve": equity.tolist()}


def paper_control(state: str | Path, command: str) -> dict[str, Any]:
    """Send ``kill``, ``resume`` or ``stop`` to the session in ``state``; a reply with ``id`` None wrote
    nothing (``nothing_requested(reply)`` says why)."""
    actions = {"kill": request_kill, "resume": request_resume, "stop": request_stop}
    if command not in actions:
        raise InvalidParameterError(f"paper command {command!r} is not one of {', '.join(actions)}")
    return actions[command](Path(state))
