"""``paper start``: resolve the session's configuration, take the state folder's lock, create or
verify the journal, restore the loop from it and run.

A state folder is driven by one loop at a time: the loop holds an exclusive ``flock`` on
``STATE/lock`` (``workbench.paper.lock``). A start on a journal whose replay has finished changes
nothing and reports it. A start that finds committed bars lost with a deleted WAL says so (a warning
and a ``wal_lost`` event) and continues from the bars the database kept.
"""
from __future__ import annotations

import json
import logging
import math
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic_files import check_output_folder, output_errors
from engine.errors import InvalidParameterError
from engine.live import BarHistory, LiveAccount, live_policy, warm_up_kernels
from strategies.family import Decider, Placement
from workbench.paper.broker import Order, SimulatedBroker
from workbench.paper.config import (
    CONFIG_FILE,
    JOURNAL_FILE,
    LOCK_FILE,
    PARITY_EVENT,
    PaperConfig,
    config_difference,
    load_risk_file,
    read_config,
    write_config,
)
from workbench.paper.feeds import Feed, open_feed
from workbench.paper.journal import Journal, JournalError, lost_commits, missing_journal, reading, shm_path, wal_path
from workbench.paper.lock import StateLock
from workbench.paper.loop import FaultInjector, PaperLoop
from workbench.policies import resolve_decider, shipped_policies

logger = logging.getLogger(__name__)

DEFAULT_STALE_AFTER = 30.0


@dataclass(frozen=True)
class StartOptions:
    """What ``workbench paper start`` was given (see its ``--help``)."""

    state: Path
    feed: str
    strategy: str | None = None
    strategy_params: tuple[tuple[str, str], ...] = ()
    policy: str | None = None
    runtime: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"
    symbols: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    fees: float = 0.0
    slippage: float = 0.0
    cash: float = 100_000.0
    risk_file: Path | None = None
    speed: float = math.inf
    stale_after: float = DEFAULT_STALE_AFTER


@dataclass(frozen=True)
class StartResult:
    """How a start ended: ``finished``, ``stopped``, ``feed ended`` or ``already finished``."""

    status: str
    state: Path
    bars: int
    last_bar: int
    timestamp: str | None
    equity: float | None


def start_paper(options: StartOptions, feed: Feed | None = None) -> StartResult:
    """Start or resume the session in ``options.state`` and run it until it finishes or stops.

    ``feed`` plugs in a :class:`~workbench.paper.feeds.Feed` adapter instead of the one
    ``options.feed`` names (the config then records the adapter's ``name``).

    Raises:
        InvalidParameterError: bad options, or a configuration that differs from the state's.
        JournalError: the journal fails its checks, or another loop runs on the state folder.
    """
    state = Path(options.state)
    check_state_folder(state)
    if not options.stale_after > 0:
        raise InvalidParameterError(f"--stale-after must be > 0 seconds, got {options.stale_after}")
    faults = FaultInjector()
    if feed is None:
        feed = open_feed(options.feed, list(options.symbols) if options.symbols else None, options.start,
                         options.end, options.speed)
    decider = resolve_decider(options.strategy, dict(options.strategy_params), options.policy, options.runtime,
                              Placement(options.device, options.precision))
    config = PaperConfig(
        feed=feed.name, symbols=feed.symbols, frequency=feed.frequency, start=options.start, end=options.end,
        data_fingerprint=feed.fingerprint, strategy=options.strategy, strategy_params=options.strategy_params,
        policy=_policy_key(options.policy), runtime=decider.runtime or None,
        model_sha=decider.model_sha, fees=options.fees, slippage=options.slippage, cash=options.cash,
        risk=load_risk_file(options.risk_file) if options.risk_file else (), device=options.device,
        precision=options.precision)
    journal_path = state / JOURNAL_FILE
    stored = read_config(state) if state.is_dir() else None
    if stored is not None:
        difference = config_difference(stored, config)
        if difference is not None:
            raise InvalidParameterError(
                f"{state} holds a session of another configuration ({difference}); start it with the same "
                "options, or use a new --state folder")
    elif journal_path.exists():
        raise JournalError(f"{state}: journal.sqlite exists without config.json; the state folder is damaged")
    if not journal_path.exists() and (wal_path(journal_path).exists() or shm_path(journal_path).exists()):
        raise missing_journal(journal_path)
    with output_errors("--state", state):
        state.mkdir(parents=True, exist_ok=True)
    with StateLock(state) as lock:
        lost = lost_commits(journal_path)  # before any connection rebuilds the WAL's index
        if journal_path.exists():
            finished = finished_replay(journal_path)
            if finished is not None:
                return StartResult("already finished", state, 0, *finished)
        lock.write_pid()
        if stored is None:
            write_config(state, config)
        exists = journal_path.exists()
        journal = Journal.open(journal_path, config) if exists else Journal.create(journal_path, config)
        with closing(journal):
            loop = _restore(journal, config, feed, decider, options.stale_after, faults)
            superseded = [(i, "superseded by a new start") for i, c in journal.pending_controls() if c == "stop"]
            if lost:
                _report_lost_commits(journal, lost)
            detail = f"resumed after bar {journal.last_bar()}" if exists else "new session"
            journal.record_event("start", detail, consume=superseded)
            outcome = loop.run()
            parity = decider.parity_report()
            if parity is not None:  # what this start decided off CPU fp32, against CPU fp32
                journal.record_event(PARITY_EVENT, json.dumps(parity, sort_keys=True))
            last = journal.last_bar()
            equity = float(loop.account.state.equity[0]) if last >= 0 else None
            stamp = loop.history.last_timestamp
            return StartResult(outcome.status, state, outcome.bars, last,
                               None if stamp is None else stamp.isoformat(), equity)


def check_state_folder(state: Path) -> None:
    """Refuse a ``--state`` that cannot hold a session, before anything is read or created: a file, a
    folder holding other things than a session's files, or a place that cannot be written into.

    Raises:
        InvalidParameterError: naming the folder and the fix.
    """
    if state.exists() and state.is_dir():
        names = {p.name for p in state.iterdir()}
        session = {CONFIG_FILE, JOURNAL_FILE, LOCK_FILE, wal_path(Path(JOURNAL_FILE)).name,
                   shm_path(Path(JOURNAL_FILE)).name}
        others = sorted(n for n in names - session if not n.startswith("."))
        if others and not names & {CONFIG_FILE, JOURNAL_FILE}:
            raise InvalidParameterError(
                f"--state {state}: holds {others[0]!r} and no paper session; give a new or empty folder, or the "
                "state folder of a session")
    check_output_folder(state, "--state")


def _report_lost_commits(journal: Journal, frames: int) -> None:
    last = journal.last_bar()
    detail = (f"{journal.path.name}-wal was deleted or cut short before {frames} committed WAL frame(s) were copied "
              f"into {journal.path.name}: the bars journaled after bar {last} are lost; the session continues "
              f"from bar {last + 1} (a replay recomputes them, a live feed cannot)")
    logger.warning("%s: %s", journal.path, detail)
    journal.record_event("wal_lost", detail)


def _restore(journal: Journal, config: PaperConfig, feed: Feed, decider: Decider, stale_after: float,
             faults: FaultInjector) -> PaperLoop:
    """The loop as the journal left it: bars, account, the live policy's state, working orders, feed position."""
    params = config.params()
    observation = decider.family.live_observation(decider, len(config.symbols), config.frequency)
    live = live_policy(decider.policy, observation)
    warm_up_kernels(params, len(config.symbols))
    account = LiveAccount(params, len(config.symbols))
    history = BarHistory(config.symbols, config.frequency, label=config.feed)
    for timestamp, prices in journal.bars():
        history.append(timestamp, prices)
    broker = SimulatedBroker(len(config.symbols))
    snapshot = journal.snapshot()
    if snapshot:
        account.restore(snapshot["account"])
        live.restore(snapshot["decider"])
        broker.submit([Order(**o) for o in snapshot["working"]])
    last = journal.last_bar()
    if last >= 0:
        _check_feed(journal, feed, history, last)
    feed.start(last + 1)
    return PaperLoop(config=config, journal=journal, feed=feed, policy=live, account=account, broker=broker,
                     history=history, stale_after=stale_after, faults=faults)


def _check_feed(journal: Journal, feed: Feed, history: BarHistory, last: int) -> None:
    """Refuse to continue when a replay's bar ``last`` is not the journal's."""
    recorded = feed.recorded(last)
    if recorded is None:
        return
    path = history.path()
    same = recorded.timestamp == path.index[last] and all(
        np.array_equal(getattr(recorded, f), getattr(path, f)[last]) for f in ("open", "high", "low", "close", "volume"))
    if not same:
        raise JournalError(
            f"{journal.path}: the feed's bar {last} ({recorded.timestamp}) differs from the journal's "
            f"({path.index[last]}); the replayed data changed; start a new session in another --state folder")


def finished_replay(path: Path) -> tuple[int, str | None, float | None] | None:
    """``(last bar, timestamp, equity)`` when the journal's replay has finished, else None.

    Call it only when no loop runs (holding the state's lock): it reads the committed state, the WAL
    included, and touches no file unless the WAL holds commits (``journal.reading`` with ``idle``).
    """
    with reading(path, idle=True) as conn:
        finished = conn.execute("SELECT value FROM meta WHERE key = 'finished'").fetchone()
        if finished is None or finished[0] == "":
            return None
        bar = int(finished[0])
        stamp = conn.execute("SELECT timestamp FROM bars WHERE bar = ?", (bar,)).fetchone()
        equity = conn.execute("SELECT equity FROM equity WHERE bar = ?", (bar,)).fetchone()
    return bar, stamp[0] if stamp else None, equity[0] if equity else None


def _policy_key(policy: str | None) -> str | None:
    """A shipped name as given; a checkpoint folder as its absolute path (restarts from anywhere)."""
    if policy is None or policy in shipped_policies():
        return policy
    return str(Path(policy).resolve())

