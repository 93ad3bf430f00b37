"""What the browser app asks of the workbench: stored runs as tables and curves, baselines, prices,
regimes, experiments to launch, GO/NO-GO reviews and the choices its forms offer.

The app (``apps/``) imports only this layer. Everything here reads the run store or goes through the
same functions the CLI uses (``run_backtest``, ``run_stress``, ``review.assess`` ...), so a run made
in the browser is the run the CLI would make from the same spec.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

# WorkbenchError is re-exported: the app catches user errors without importing the engine.
from engine.errors import InvalidParameterError, WorkbenchError  # noqa: F401
from engine.paths import workbench_home
from engine.stress_periods import STRESS_PERIODS
from strategies.registry import STRATEGIES
from workbench.attention import BarExplanation, explain_bar, stored_attention
from workbench.backtest import run_backtest
from workbench.datasets import list_datasets
from workbench.experiments.compare import CompareOptions, run_compare
from workbench.experiments.stress import DEFAULT_SHOCKS, StressOptions, run_stress
from workbench.experiments.sweep import SweepOptions, run_sweep
from workbench.experiments.walkforward import WalkForwardOptions, run_walkforward
from workbench.paper import ledger_arrays, nothing_requested, paper_status, request_kill, request_resume, request_stop
from workbench.paper.config import JOURNAL_FILE
from workbench.policies import shipped_policies
from workbench.review.assess import Assessment, assess
from workbench.review.gates import DECISIONS, DEFAULT_GATES, Gate
from workbench.review.report import ReviewRecord, render_report, write_report
from workbench.run_views import (  # noqa: F401 (the app reads the stored runs through this facade)
    ACTION_NAMES, BASELINES, BENCHMARK, HEADLINE, RUNS_COLUMNS, action_names, baseline_curves, close_prices,
    equity_curves, headline, main_row, regime_table, runs_frame, scenario_count, scenario_rows, worst_drawdowns,
)
from workbench.runner import spec_data, spec_decider
from workbench.spec import RunSpec, parse_options
from workbench.store import RunInfo, RunStore, StoredRun
from workbench.uploads import uploaded_policies

logger = logging.getLogger(__name__)

Progress = Callable[..., None]
"""A progress callback: ``(done, total)`` from rollouts (stress, sweep), one text line from compare and
walk-forward."""
RUNNERS = {"stress": run_stress, "sweep": run_sweep, "compare": run_compare, "walkforward": run_walkforward}
OPTIONS = {"stress": StressOptions, "sweep": SweepOptions, "compare": CompareOptions, "walkforward": WalkForwardOptions}


def open_store(home: Path | None = None) -> RunStore:
    """The run store of ``home`` (default ``WORKBENCH_HOME``)."""
    return RunStore.open(home)


# -- attention ---------------------------------------------------------------------------------------

def explain(run: StoredRun, bar: int, scenario: str | None = None) -> BarExplanation:
    """Attention and attribution of ``run``'s decision at ``bar`` (``workbench.attention``), cached."""
    return _explain(json.dumps(dict(run.spec), sort_keys=True), int(bar), scenario)


@lru_cache(maxsize=64)
def _explain(spec_json: str, bar: int, scenario: str | None) -> BarExplanation:
    return explain_bar(json.loads(spec_json), bar, scenario)


def stored_attention_at(run: StoredRun, bar: int) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """The run's stored attention maps at ``bar`` (first scenario), or None when none was sampled there."""
    if "attention" not in run.tables:
        return None
    table = run.load_table("attention")
    if not (table["bar"] == bar).any():
        return None
    symbols = tuple(run.summary.get("data", {}).get("symbols") or ())
    return stored_attention(table, bar, symbols)


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
    if spec.kind in OPTIONS:
        parse_options(spec, OPTIONS[spec.kind])


def run_and_store(store: RunStore, spec: RunSpec, progress: Progress | None = None,
                  tags: Sequence[str] = ()) -> RunInfo:
    """Run ``spec`` (any kind) as the CLI would and save it; an already stored run id is kept as is."""
    if spec.kind == "backtest":
        record = run_backtest(spec).to_record()
        record = dataclasses.replace(record, tags=tuple(tags))
    else:
        record = RUNNERS[spec.kind](spec, progress).to_record(tags)
    return store.save_run(record)


# -- GO/NO-GO reviews ------------------------------------------------------------------------------

def default_gates() -> tuple[Gate, ...]:
    """The default gates (``workbench.review.gates.DEFAULT_GATES``)."""
    return DEFAULT_GATES


def gates_with_thresholds(thresholds: Mapping[str, Any], gates: Sequence[Gate] = DEFAULT_GATES) -> tuple[Gate, ...]:
    """``gates`` with the thresholds named in ``thresholds`` changed (validated by ``Gate``).

    Raises:
        InvalidParameterError: an unknown gate name or a threshold that is not a finite number.
    """
    names = {g.name for g in gates}
    unknown = sorted(set(thresholds) - names)
    if unknown:
        raise InvalidParameterError(f"gate {unknown[0]!r} is unknown; gates: {', '.join(sorted(names))}")
    out = []
    for gate in gates:
        if gate.name in thresholds:
            value = thresholds[gate.name]
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"gate {gate.name!r}: threshold {value!r} is not a number; type e.g. {gate.threshold:g}") from None
            gate = dataclasses.replace(gate, threshold=value)
        out.append(gate)
    return tuple(out)


def assess_runs(store: RunStore, run_ids: Sequence[str], gates: Sequence[Gate], canary: bool = True) -> Assessment:
    """Collect the runs' evidence and test the gates (the look-ahead canary runs the decider)."""
    if not run_ids:
        raise InvalidParameterError("choose at least one run to review")
    runs = [store.get_run(r) for r in dict.fromkeys(run_ids)]
    return assess(runs, gates, canary=canary)


def save_review(store: RunStore, assessment: Assessment, reviewer: str, decision: str,
                notes: str = "") -> tuple[int, Path]:
    """Write the HTML report under ``WORKBENCH_HOME/reports`` and save the review in the run store.

    A decision that differs from the computed verdict needs notes saying why (as ``workbench review``).

    Returns:
        ``(review id, report path)``.
    """
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise InvalidParameterError("type the reviewer's name before saving the review")
    if decision not in DECISIONS:
        raise InvalidParameterError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if decision != assessment.verdict.decision and not notes.strip():
        raise InvalidParameterError(
            f"the decision {decision!r} overrides the computed verdict {assessment.verdict.decision!r}; "
            "say why in the notes")
    created = datetime.now(timezone.utc)
    record = ReviewRecord(reviewer, decision, notes, created.isoformat(timespec="seconds"))
    run_ids = [r.info.run_id for r in assessment.runs]
    name = f"review-{created.strftime('%Y%m%dT%H%M%S%fZ')}-{run_ids[0][:8]}.html"
    report = write_report(reports_dir() / name, render_report(assessment, record))
    review_id = store.save_review(run_ids, reviewer, decision, assessment.verdict.decision, notes,
                                  [r.to_dict() for r in assessment.results], report_path=str(report),
                                  rule=assessment.verdict.rule)
    return review_id, report


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
