"""The state folder's lock (``STATE/lock``): one loop at a time, and readers that keep a loop from
starting while they read.

The running loop holds an exclusive ``flock`` on the lock file (released by the kernel when the
process dies, even by SIGKILL). A reader of a session that is not running holds it shared for the
few milliseconds of its read (:func:`holding_idle`), so it can read the journal as a file nobody
writes; a starting loop waits for it (:class:`StateLock` retries for two seconds).
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from workbench.paper.config import LOCK_FILE
from workbench.paper.journal import JournalError

START_WAIT_SECONDS = 2.0
"""How long a starting loop waits for readers that hold the lock shared."""


class StateLock:
    """The exclusive lock of a state folder's loop (``STATE/lock``, holding the loop's pid)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state / LOCK_FILE
        self.handle = None

    def __enter__(self) -> "StateLock":
        self.handle = open(self.path, "a+")
        deadline = time.monotonic() + START_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.handle.close()
                    raise JournalError(
                        f"{self.state}: a paper loop is already running (pid {lock_pid(self.state) or '?'}); "
                        f"stop it first with `workbench paper stop --state {self.state}`") from None
                time.sleep(0.05)

    def write_pid(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


@contextmanager
def holding_idle(state: Path) -> Iterator[bool]:
    """Whether no loop runs on ``state``; while it is True, none can start until the block ends.

    A folder without a lock file never had a loop (the loop creates it before its journal).
    """
    path = Path(state) / LOCK_FILE
    if not path.is_file():
        yield True
        return
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_running(state: Path) -> bool:
    """Whether a loop holds the state folder's lock."""
    with holding_idle(state) as idle:
        return not idle


def lock_pid(state: Path) -> int | None:
    """The pid the last loop wrote into the lock file."""
    try:
        return int((Path(state) / LOCK_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
