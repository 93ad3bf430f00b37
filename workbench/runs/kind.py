"""What a run kind is: the one place that knows how a kind of run runs, stores, reads and shows itself.

A *run kind* (:class:`RunKind`) is backtest, stress, sweep, compare, walk-forward or paper session.
Its entry owns

* running a spec (:meth:`RunKind.run`) into a result that becomes a stored record;
* what its summary's rows mean (its main row, its metrics rows);
* the evidence its runs give the GO/NO-GO gates;
* its section of the review report and the equity curves it adds to the report's chart;
* the data the app's run view needs (:class:`RunView`), the tables it adds to the Run detail page
  and the report (:class:`DetailTable`), and which of its scenarios can be replayed on the real
  market to explain a decision.

The kinds are registered once in :mod:`workbench.runs`; nothing else branches on a kind's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import pandas as pd

from engine.scenarios import ScenarioParams
from workbench.runs.spec import RunSpec
from workbench.store.record import RunRecord

Progress = Callable[..., None]
"""A progress callback: ``(done, total)`` from rollouts (stress, sweep), one text line from compare and
walk-forward."""
Evidence = tuple[str, float | None, str]
"""``(gate metric, value, where in the run)``: one observation a review's gates can test."""


class RunResult(Protocol):
    """A finished run: its JSON summary and the record the run store keeps."""

    run_id: str

    def summary(self) -> dict[str, Any]:
        ...

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        ...


class StoredRunLike(Protocol):
    """What the kinds read of a stored run: ``info`` (``run_id``, ``kind``), ``summary``, ``spec``,
    ``tables`` and ``load_table``."""

    info: Any
    summary: Mapping[str, Any]
    spec: Mapping[str, Any]
    tables: Sequence[str]

    def load_table(self, name: str) -> pd.DataFrame:
        ...


@dataclass(frozen=True)
class RunView:
    """What the app's Run detail page needs to know about a kind.

    Attributes:
        pages: Other pages that show more of such a run (e.g. ``sensitivity`` for a sweep).
        baselines: Whether baselines are drawn beside its equity (a comparison holds its own).
        price_note: A note under the price chart, or "".
        synthetic_paths: Some of its scenarios are synthetic paths without a calendar of their own
            (charts of all scenarios count bars, not dates).
        sets_defaults: Its spec (decider, data, period, costs) is what a new experiment's form should
            start from when it is the most recent run.
    """

    pages: tuple[str, ...] = ()
    baselines: bool = True
    price_note: str = ""
    synthetic_paths: bool = False
    sets_defaults: bool = True


@dataclass(frozen=True)
class DetailTable:
    """A table of a run's summary that the Run detail page and the review report show.

    Attributes:
        title: Its heading.
        rows: One mapping per row, the columns in first-seen order.
        notes: Sentences under the table (how to read it, what it assumed).
        warnings: Sentences shown as warnings (when a figure carries little information).
    """

    title: str
    rows: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class RunKind(Protocol):
    """A kind of run, declared once (see the module docstring).

    Attributes:
        name: The kind's name in specs, the store and the CLI (``backtest``, ``stress``, ...).
        title: How pages and reports name it.
        options: The dataclass its spec's ``options`` parse into (None: it takes none).
        rows_name: What its metrics rows are (``scenarios``, ``deciders``, ``folds``).
    """

    name: str
    title: str
    options: type | None
    rows_name: str

    def run(self, spec: RunSpec, progress: Progress | None = None) -> RunResult:
        """Run ``spec`` as the CLI and the app do."""
        ...

    def main_row(self, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """The metrics row of the run's main result (what the runs table headlines)."""
        ...

    def rows(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The run's metrics rows (its scenarios, deciders or folds)."""
        ...

    def count(self, summary: Mapping[str, Any]) -> int:
        """How many scenarios, deciders or folds the run holds."""
        ...

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """The observations the review's gates can test."""
        ...

    def report_curves(self, run: StoredRunLike) -> tuple[pd.DataFrame, list[str]] | None:
        """Equity curves for the report's chart and which of them are the candidate's (None: none)."""
        ...

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        """The kind's section of the review report over ``runs`` (its runs among the reviewed ones;
        possibly none), or "" when the kind has no section of its own. ``limits`` holds the gates'
        thresholds by metric, for the kind to draw."""
        ...

    def view(self) -> RunView:
        """What the Run detail page needs."""
        ...

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """Tables of the run's findings beyond its metrics rows (a comparison's statistics), for the
        Run detail page and the kind's report section; [] when it has none."""
        ...

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """``(label, params)`` of the run's scenarios on the real market (an explanation replays one)."""
        ...


class ScenarioRows:
    """What the kinds whose summary lists ``scenarios`` share: the first scenario is the main row
    (the real market under the first costs, or the base scenario) and every scenario is a row."""

    rows_name = "scenarios"

    def main_row(self, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """The first scenario."""
        rows = summary.get("scenarios") or []
        return rows[0] if rows else {}

    def rows(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every scenario."""
        return [dict(r) for r in summary.get("scenarios") or []]

    def count(self, summary: Mapping[str, Any]) -> int:
        """How many scenarios."""
        return len(summary.get("scenarios") or [])


def as_number(value: Any) -> float | None:
    """A stored summary value as a float, or None when it is not a number (or a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
