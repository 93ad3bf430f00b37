"""What the browser app asks of the workbench: stored runs as tables and curves, baselines, prices,
regimes, experiments to launch, GO/NO-GO reviews and the choices its forms offer.

The app (``apps/``) imports only this layer. Everything here reads the run store or goes through the
same functions the CLI uses (the run kinds of ``workbench.runs``, ``review.assess`` ...), so a run made
in the browser is the run the CLI would make from the same spec.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from engine.data.market import to_utc

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
    session_series,
)
from workbench.paper.config import JOURNAL_FILE
from workbench.policies import shipped_policies
from workbench.policies.explain import BarExplanation, explain_bar, stored_attention
from workbench.review.assess import Assessment, assess
from workbench.review.decide import save_decision
from workbench.review.gates import DEFAULT_GATES, Gate
from workbench.review.gates import with_thresholds as gates_with_thresholds  # noqa: F401 (the review page's)
from workbench.runs.baselines import BASELINES, BENCHMARK  # noqa: F401
from workbench.runs.evaluate import spec_data, spec_decider
from workbench.runs.formats import (  # noqa: F401
    colour_scale,
    column_format,
    format_gate_value,
    format_value,
    metric_title,
)
from workbench.runs.kind import Progress, RunView
from workbench.runs.registry import run_kind, run_spec
from workbench.runs.spec import RunSpec, parse_options
from workbench.runs.summary_block import (  # noqa: F401
    REWARD_COMPONENTS,
    SummaryBlock,
    component_totals,
    dominant_component,
    step_components,
)
from workbench.runs.sweep import against_intuition, break_even_rows  # noqa: F401 (the sensitivity page's)
from workbench.runs.views import (  # noqa: F401 (the app reads the stored runs through this facade)
    HEADLINE,
    RUN_METRICS,
    RUNS_COLUMNS,
    action_names,
    baselines,
    baselines_at_hand,
    close_prices,
    detail_tables,
    equity_curves,
    headline,
    main_label,
    main_row,
    regime_table,
    run_summary_block,
    runs_frame,
    scenario_count,
    scenario_row,
    scenario_rows,
    worst_drawdowns,
)
from workbench.services.datasets import list_datasets
from workbench.services.uploads import uploaded_policies
from workbench.store import Review, RunInfo, RunStore, StoredRun

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


def form_defaults(store: RunStore, run_id: str = "") -> RunInfo | None:
    """The run a new experiment's form starts from: the run ``run_id`` names (an id or a prefix) when its
    kind's spec makes a sensible default, else the newest run of its decider (of any decider when none
    is named) whose kind's does (``RunView.sets_defaults``: a paper session's replay window does not)."""
    infos = store.list_runs()
    named = next((i for i in infos if run_id and i.run_id.startswith(run_id)), None)
    usable = [i for i in infos if run_kind(i.kind).view().sets_defaults]
    if named is not None and named in usable:
        return named
    same = [i for i in usable if named is None or i.decider == named.decider]
    return (same or usable or [None])[0]


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


def covered_stress_periods(data: str, start: str | None = None, end: str | None = None) -> list[dict[str, str]]:
    """The catalogued stress periods that lie inside ``data`` between ``start`` and ``end`` (both
    optional): the ones a stress run over that span can replay.

    Raises:
        WorkbenchError: an unknown dataset or a malformed date.
    """
    entry = next((d for d in list_datasets() if d["name"] == data), None)
    if entry is None:
        raise InvalidParameterError(f"unknown dataset {data!r}")
    first = max(to_utc(str(entry["start"])), to_utc(start)) if start else to_utc(str(entry["start"]))
    last = min(to_utc(str(entry["end"])), to_utc(end)) if end else to_utc(str(entry["end"]))
    return [p for p in stress_periods() if to_utc(p["start"]) >= first.normalize() and to_utc(p["end"]) <= last
            and to_utc(p["end"]) > to_utc(p["start"])]


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
    """A session's status (``workbench.paper.paper_status``) plus ``series``: its equity and decision
    latency at every journaled bar, on their timestamps (``workbench.paper.session_series``).

    Raises:
        WorkbenchError: no session in ``state``.
    """
    state = Path(state)
    if not (state / JOURNAL_FILE).is_file():
        raise InvalidParameterError(f"{state}: no paper-trading session here (no {JOURNAL_FILE}); "
                                    "start one from the form above or with `workbench paper start --state DIR`")
    status = paper_status(state)
    series = session_series(state)
    return {**status, "series": series, "equity_curve": series["equity"].tolist()}


def paper_control(state: str | Path, command: str) -> dict[str, Any]:
    """Send ``kill``, ``resume`` or ``stop`` to the session in ``state``; a reply with ``id`` None wrote
    nothing (``nothing_requested(reply)`` says why)."""
    actions = {"kill": request_kill, "resume": request_resume, "stop": request_stop}
    if command not in actions:
        raise InvalidParameterError(f"paper command {command!r} is not one of {', '.join(actions)}")
    return actions[command](Path(state))


def latency_gate() -> float | None:
    """The threshold of the decision-latency gate (ms), None when no default gate tests latency."""
    return next((g.threshold for g in DEFAULT_GATES if g.metric == "decision_latency_p99_ms"), None)


def latest_review_of(store: RunStore, decider: str) -> Review | None:
    """The newest review of any stored run of ``decider`` (a policy or strategy name), or None."""
    newest = None
    for info in store.list_runs():
        if info.decider != decider:
            continue
        review = store.latest_review(info.run_id)
        if review is not None and (newest is None or review.id > newest.id):
            newest = review
    return newest


@dataclass(frozen=True)
class PaperSessionSpec:
    """A paper-trading session the app starts: what ``workbench paper start`` is given.

    Attributes:
        name: The state folder's name under :func:`paper_root` (letters, digits, ``-`` and ``_``).
        policy, strategy: Exactly one: who decides.
        data: A dataset the replay feed reads; ``symbols`` of it (None: all).
        start, end: The replayed period (YYYY-MM-DD).
        fees, slippage: Costs as fractions.
        days_per_second: Pace of the replay in days of data per second (0: as fast as it goes).
    """

    name: str
    data: str
    policy: str | None = None
    strategy: str | None = None
    symbols: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    fees: float = 0.0
    slippage: float = 0.0
    days_per_second: float = 0.0

    def command(self, python: str = sys.executable) -> list[str]:
        """The ``workbench paper start`` command line (run with this interpreter's ``-m workbench.cli``)."""
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise InvalidParameterError(f"session name {self.name!r}: use letters, digits, '-' and '_' only")
        if (self.policy is None) == (self.strategy is None):
            raise InvalidParameterError("give exactly one of a policy and a strategy")
        feed = f"replay:{self.data}" + (f":{','.join(self.symbols)}" if self.symbols else "")
        who = ["--policy", self.policy] if self.policy else ["--strategy", str(self.strategy)]
        speed = "max" if not self.days_per_second else repr(float(self.days_per_second) * 86_400)
        line = [python, "-m", "workbench.cli", "paper", "start", *who, "--feed", feed, "--state",
                str(paper_root() / self.name), "--fees", repr(float(self.fees)), "--slippage",
                repr(float(self.slippage)), "--speed", speed]
        for flag, value in (("--start", self.start), ("--end", self.end)):
            if value:
                line += [flag, value]
        return line


_PAPER_PROCESSES: list[subprocess.Popen] = []


def start_paper_session(session: PaperSessionSpec) -> Path:
    """Start ``workbench paper start`` for ``session`` in its own process (so the session outlives a page
    and the kill switch reaches it through its journal) and return its state folder. The process
    stores the session as a run of kind ``paper`` when it ends.

    Raises:
        WorkbenchError: a bad name, no decider, or a state folder that already holds a session.
    """
    state = paper_root() / session.name
    command = session.command()
    if (state / JOURNAL_FILE).exists():
        raise InvalidParameterError(f"{state} already holds a session; choose another name")
    state.parent.mkdir(parents=True, exist_ok=True)
    log = open(state.parent / f"{session.name}.log", "w")
    _PAPER_PROCESSES[:] = [p for p in _PAPER_PROCESSES if p.poll() is None]  # reap the finished ones
    _PAPER_PROCESSES.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             env={**os.environ, "WORKBENCH_HOME": str(workbench_home())}))
    log.close()
    return state
