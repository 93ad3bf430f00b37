"""The paper-trading loop: for each new bar, fill, mark, decide, overlay, journal.

Per bar ``t`` (``engine.live`` runs the kernels in the backtest's order):

1. apply requests made since the last bar (``kill``: cancel working orders, flatten every position
   at this bar's open, halt; ``resume``: clear the halt);
2. the broker fills the orders due at ``t``'s open (``fill_bar_nb``);
3. the account is marked at ``t``'s close and its risk state updated (``close_bar_nb``);
4. unless halted or on a feed's final bar, the policy decides; the action space turns its actions
   into intents and the risk overlay (``apply_risk_overlay_nb``) adds exits and blocks entries;
   the resulting orders go to the broker for ``t + 1``'s open;
5. everything is journaled in one transaction; the time from the bar's arrival to the commit is
   the decision latency.

Between bars the loop waits for the feed and reads requests. Python's cyclic garbage collector is
kept off the bar path (:func:`paused_collector`): a full collection over the heap of torch, pandas
and the app's modules took up to 160 ms in the benchmark, landing inside whichever bar triggers it;
the loop freezes the start-up heap and collects the few cycles it makes between bars instead.

A ``stop`` ends the loop gracefully. The stale-feed guard halts trading when the next bar is more
than ``stale_after`` seconds overdue, and a bar that does not follow the last one in time, or breaks
a price rule, is dropped and halts trading too: while halted nothing is decided, working policy
orders are cancelled at the next bar, and the risk overlay still closes positions that hit a stop.
``workbench paper resume`` clears a halt.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.live import BarHistory, LiveAccount, LiveMarketPolicy, LivePortfolioPolicy
from engine.records import KIND_NONE, REASON_POLICY
from workbench.paper.broker import SEQ_DECISION, SEQ_KILL, Broker, Order, client_order_id
from workbench.paper.chain import BarEntry
from workbench.paper.config import PaperConfig
from workbench.paper.feeds import Bar, Feed
from workbench.paper.journal import Journal

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
FAULT_ENV = "WORKBENCH_PAPER_FAULT"
PHASES = ("received", "filled", "closed", "decided", "written", "committed")


class FaultInjector:
    """Testing hook: ``WORKBENCH_PAPER_FAULT=K`` kills the process (SIGKILL) at the K-th phase
    boundary it crosses (:data:`PHASES`, six per bar; ``written`` is inside the open transaction)."""

    def __init__(self, value: str | None = None) -> None:
        text = os.environ.get(FAULT_ENV) if value is None else value
        if text is None or text == "":
            self.remaining = None
            return
        if not text.isdigit() or int(text) < 1:
            raise InvalidParameterError(f"{FAULT_ENV}={text!r} must be a positive integer (the phase boundary to die at)")
        self.remaining = int(text)

    def __call__(self, phase: str) -> None:
        if self.remaining is None:
            return
        self.remaining -= 1
        if self.remaining == 0:
            logger.warning("%s: killing the loop at phase %r", FAULT_ENV, phase)
            os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def paused_collector() -> Iterator[None]:
    """Automatic garbage collection off while the loop runs; the heap from before it is frozen.

    Reference counting still frees almost everything a bar allocates; only reference cycles wait for
    the explicit collection the loop runs between bars (with each WAL checkpoint). On exit the
    frozen objects return to the collector and automatic collection is restored as it was.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class LoopOutcome:
    """How a run of the loop ended: ``finished`` (a finite feed's final bar is journaled),
    ``stopped`` (a stop request) or ``feed ended`` (a feed ran out without a final bar)."""

    status: str
    bars: int


class PaperLoop:
    """One state folder's loop, restored from its journal and ready to :meth:`run`.

    Args:
        config: The session's configuration.
        journal: The open journal (verified).
        feed: Where bars come from (already positioned at the next bar).
        policy: The decider's policy in its live form (deciding bar by bar).
        account: The account, restored to the last journaled bar.
        broker: Where orders go (holding the restored working orders).
        history: The journaled bars.
        stale_after: Seconds a bar may be overdue before trading halts.
        faults: The fault-injection hook.
    """

    def __init__(self, *, config: PaperConfig, journal: Journal, feed: Feed,
                 policy: LiveMarketPolicy | LivePortfolioPolicy, account: LiveAccount, broker: Broker,
                 history: BarHistory, stale_after: float, faults: FaultInjector) -> None:
        self.config = config
        self.journal = journal
        self.feed = feed
        self.policy = policy
        self.account = account
        self.broker = broker
        self.history = history
        self.stale_after = stale_after
        self.faults = faults
        self.symbols = config.symbols
        self.state_id = config.state_id
        self.halt = journal.meta("halt")
        self._latencies: list[tuple[int, float]] = []

    def run(self) -> LoopOutcome:
        """Process bars until the feed's final bar, a stop request or the end of the feed."""
        with paused_collector():
            return self._run()

    def _run(self) -> LoopOutcome:
        processed = 0
        while True:
            stops = [(i, "stopped") for i, command in self.journal.pending_controls() if command == "stop"]
            if stops:
                self.journal.record_event("stop", "stop requested", consume=stops, latencies=self._flush())
                return LoopOutcome("stopped", processed)
            bar = self.feed.poll(POLL_SECONDS)
            if bar is None:
                if self.feed.finished:
                    self.journal.record_event("feed_ended", "the feed delivered no final bar",
                                              latencies=self._flush())
                    return LoopOutcome("feed ended", processed)
                self._check_stale()
                continue
            received = time.perf_counter()
            if self.step(bar, received):
                processed += 1
                if bar.final:
                    self.journal.record_event("finished", f"final bar {self.history.n_bars - 1}",
                                              latencies=self._flush())
                    return LoopOutcome("finished", processed)

    def step(self, bar: Bar, received: float) -> bool:
        """Process one bar (False when it was dropped as a feed fault)."""
        problem = bar.problem(len(self.symbols))
        last = self.history.last_timestamp
        if problem is None and last is not None:
            if pd.Timestamp(bar.timestamp) <= last:
                self._feed_fault("out_of_order", f"bar at {bar.timestamp} after the bar at {last}")
                return False
        if problem is not None:
            self._feed_fault("bad_bar", f"bar at {bar.timestamp}: {problem}")
            return False
        t = self.history.append(bar.timestamp, bar.fields())
        self.faults("received")
        controls, kill = self._apply_controls()
        orders, cancels = self._before_open(t, kill)
        executions = self.broker.execute(t, bar.timestamp, bar.open, bar.close, self.account)
        records = [(order.client_order_id, record) for order, record in executions if record is not None]
        self.faults("filled")
        self.policy.track(self.history, t, self.account.state)
        self.faults("closed")
        actions, extras = None, {}
        if not bar.final:
            actions, extras, decided, blocked = self._decide(t, bar.close)
            orders += decided
            records += blocked
        self.faults("decided")
        entry = BarEntry(
            bar=t, timestamp=bar.timestamp, final=bar.final, prices=bar.fields(), actions=actions, extras=extras,
            orders=orders, records=records, cancels=cancels, state=self.account.state, halt=self.halt,
            # "decider" holds the live policy's state; the key keeps its old name so existing journals restore.
            snapshot={"account": self.account.snapshot(), "decider": self.policy.snapshot(),
                      "working": [o.to_dict() for o in self.broker.working()]},
            controls=controls, latencies=list(self._latencies))
        self.journal.write_bar(entry, before_commit=lambda: self.faults("written"))
        self._latencies = [(t, time.perf_counter() - received)]
        self.faults("committed")
        if self.journal.checkpoint_if_due():
            gc.collect()  # the cycles of the bars since the last checkpoint, outside any bar's latency
        logger.info("bar %d (%s): equity %.2f, %d order(s), %d record(s)%s", t, bar.timestamp,
                    self.account.state.equity[0], len(orders), len(records), f", halted ({self.halt})" if self.halt else "")
        return True

    def _apply_controls(self) -> tuple[list[tuple[int, str]], bool]:
        applied, kill = [], False
        for control, command in self.journal.pending_controls():
            if command == "kill":
                kill, self.halt = True, "kill"
                applied.append((control, "flattened at the next open; halted"))
            elif command == "resume":
                applied.append((control, f"resumed from {self.halt}" if self.halt else "was not halted"))
                self.halt = ""
        return applied, kill

    def _before_open(self, t: int, kill: bool) -> tuple[list[Order], list[str]]:
        """Cancel what a kill or a halt voids and create the kill switch's flatten orders."""
        working = self.broker.working()
        if kill:
            cancelled = self.broker.cancel([o.client_order_id for o in working])
            intents = self.account.flatten_intents()
            flatten = [Order(client_order_id(self.state_id, t, self.symbols[n], SEQ_KILL), t, t, int(n), SEQ_KILL,
                             int(intents.kind[0, n]), float(intents.size[0, n]), int(intents.reason[0, n]))
                       for n in np.flatnonzero(intents.kind[0] != KIND_NONE)]
            self.broker.submit(flatten)
            # Flat now: a target policy re-sends its targets when trading resumes.
            self.account.last_target[:] = np.nan
            return flatten, [o.client_order_id for o in cancelled]
        if self.halt:
            voided = [o.client_order_id for o in working if o.reason == REASON_POLICY]
            return [], [o.client_order_id for o in self.broker.cancel(voided)]
        return [], []

    def _decide(self, t: int, close: np.ndarray) -> tuple[np.ndarray | None, dict, list[Order], list[tuple[str, np.void]]]:
        """Decide at bar ``t``'s close (nothing while halted), apply the risk overlay and submit.

        Returns the actions and extras, the orders created (submitted and blocked by the overlay)
        and the overlay's records with their order ids.
        """
        account, n_symbols = self.account, len(self.symbols)
        context = account.context(close)
        actions, extras = None, {}
        if self.halt:
            kind, size = np.zeros((1, n_symbols), dtype=np.int8), np.zeros((1, n_symbols))
        else:
            decision = self.policy.decide(self.history, context)
            kind, size = decision.kind, decision.size
            actions, extras = decision.actions, decision.extras
        proposed = (np.array(kind, dtype=np.int8), np.array(size, dtype=np.float64))
        intents, overlay = account.submit(t, close, kind, size)
        ids = [client_order_id(self.state_id, t, s, SEQ_DECISION) for s in self.symbols]
        submitted = [Order(ids[n], t, t + 1, n, SEQ_DECISION, int(intents.kind[0, n]), float(intents.size[0, n]),
                           int(intents.reason[0, n])) for n in range(n_symbols) if intents.kind[0, n] != KIND_NONE]
        self.broker.submit(submitted)
        blocked_orders, blocked_records = [], []
        for record in overlay:
            n = int(record["symbol"])
            blocked_orders.append(Order(ids[n], t, t + 1, n, SEQ_DECISION, int(proposed[0][0, n]),
                                        float(proposed[1][0, n]), REASON_POLICY))
            blocked_records.append((ids[n], record))
        return actions, extras, submitted + blocked_orders, blocked_records

    def _feed_fault(self, kind: str, detail: str) -> None:
        logger.warning("feed fault (%s): %s; trading halts until `workbench paper resume`", kind, detail)
        if not self.halt:
            self.halt = kind
        self.journal.record_event(kind, detail, halt=self.halt)

    def _check_stale(self) -> None:
        due = self.feed.next_due()
        if due is None or self.halt:
            return
        overdue = time.monotonic() - due
        if overdue > self.stale_after:
            self._feed_fault("stale_feed", f"no bar {overdue:.1f} s after the next one was due")

    def _flush(self) -> list[tuple[int, float]]:
        latencies, self._latencies = self._latencies, []
        return latencies
