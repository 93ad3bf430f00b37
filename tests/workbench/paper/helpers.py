"""Helpers of the paper-trading tests: default start options and a scripted feed adapter."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable

from workbench.paper import StartOptions, start_paper
from workbench.paper.feeds import Bar, ReplayFeed, open_feed
from workbench.paper.loop import FAULT_ENV

FEED = "replay:stocks:AAPL,MSFT"


def options(state: Path, **changes) -> StartOptions:
    """sma_cross 5/20 on AAPL and MSFT over 2010-Q1 (61 bars) with costs, unless ``changes`` say otherwise."""
    values = dict(state=state, feed=FEED, strategy="sma_cross", strategy_params=(("fast", "5"), ("slow", "20")),
                  start="2010-01-01", end="2010-03-31", fees=0.001, slippage=0.0005)
    values.update(changes)
    return StartOptions(**values)


class ScriptedFeed:
    """A replay adapter that runs ``hooks[k]()`` before it delivers bar ``k``, can stall before a bar
    (``stall_before``: seconds during which nothing arrives although the bar is due) and can replace a
    bar (``replace[k]``: a function of the recorded bar)."""

    def __init__(self, inner: ReplayFeed, hooks: dict[int, Callable[[], None]] | None = None,
                 stall_before: dict[int, float] | None = None,
                 replace: dict[int, Callable[[Bar], Bar]] | None = None) -> None:
        self.inner = inner
        self.name, self.symbols, self.frequency, self.fingerprint = inner.name, inner.symbols, inner.frequency, inner.fingerprint
        self.hooks = dict(hooks or {})
        self.stall_before = dict(stall_before or {})
        self.replace = dict(replace or {})
        self._stall_until: float | None = None
        self._stalled_since: float | None = None
        self._next = 0

    def start(self, next_bar: int) -> None:
        self.inner.start(next_bar)
        self._next = next_bar

    @property
    def finished(self) -> bool:
        return self.inner.finished

    def next_due(self):
        if self._stalled_since is not None:
            return self._stalled_since
        return self.inner.next_due()

    def poll(self, timeout: float):
        k = self._next
        if k in self.stall_before:
            if self._stall_until is None:
                self._stalled_since = time.monotonic()
                self._stall_until = self._stalled_since + self.stall_before[k]
            if time.monotonic() < self._stall_until:
                time.sleep(min(timeout, 0.02))
                return None
            del self.stall_before[k]
            self._stall_until = self._stalled_since = None
        if k in self.hooks:
            self.hooks.pop(k)()
        bar = self.inner.poll(timeout)
        if bar is not None:
            self._next += 1
            if k in self.replace:
                bar = self.replace.pop(k)(bar)
        return bar

    def recorded(self, bar: int):
        return self.inner.recorded(bar)


def scripted(end: str = "2010-03-31", **kwargs) -> ScriptedFeed:
    """A :class:`ScriptedFeed` over the default options' replay (to ``end``)."""
    return ScriptedFeed(open_feed(FEED, start="2010-01-01", end=end, speed=math.inf), **kwargs)


def run_session(opts: StartOptions, fault: int | None, home: str) -> None:
    """A forked recovery-test process: run the loop, dying at phase boundary ``fault`` (the fault
    hook); exit 0 once the replay has finished."""
    os.environ["WORKBENCH_HOME"] = home
    if fault is None:
        os.environ.pop(FAULT_ENV, None)
    else:
        os.environ[FAULT_ENV] = str(fault)
    result = start_paper(opts)
    os._exit(0 if result.status in ("finished", "already finished") else 3)
