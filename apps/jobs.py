"""Background jobs: long work (stress runs, reviews, attention replays) off the server's thread.

A :class:`Job` is a ``param.Parameterized`` whose ``status``, ``progress`` and ``message`` the
worker thread updates. Pages never let a worker thread touch their widgets: they poll their jobs
from a periodic callback, which runs on the server's own event loop, and copy what changed into
their own parameters. The server stays responsive whatever a job does, and a job outlives the page
that launched it (reloading the page finds it again in :data:`JOBS`).
"""
from __future__ import annotations

import itertools
import logging
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

import param

from workbench.services.app import WorkbenchError

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
Work = Callable[[Callable[..., None]], Any]


class Job(param.Parameterized):
    """One piece of background work and what a page shows of it."""

    id = param.Integer(default=0, doc="Job number, increasing.")
    kind = param.String(default="", doc="What kind of work (e.g. 'stress', 'review').")
    title = param.String(default="", doc="What the job does, for display.")
    status = param.Selector(default=QUEUED, objects=[QUEUED, RUNNING, DONE, FAILED])
    progress = param.Number(default=0.0, bounds=(0.0, 1.0), doc="Share done, 0..1.")
    message = param.String(default="", doc="The last progress line, or the error.")
    started = param.String(default="", doc="When the job was submitted (UTC).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.result: Any = None
        self._lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)

    def report(self, *update: Any) -> None:
        """Progress callback from the worker thread: ``(done, total)`` steps (a rollout's bars) or
        one line of text (experiments that report stages)."""
        with self._lock:
            if len(update) == 1:
                self.message = str(update[0])
            elif len(update) == 2 and update[1]:
                done, total = update
                self.progress = min(1.0, max(0.0, done / total))
                self.message = f"{done} of {total} bars"


class JobRunner:
    """A small thread pool that runs :class:`Job` work and remembers every job it ran.

    Args:
        max_workers: Jobs that run at once; more wait in the queue. Two cores serve the page and
            one job comfortably, so the default is 1.
    """

    def __init__(self, max_workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="workbench-job")
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.jobs: list[Job] = []

    def submit(self, kind: str, title: str, work: Work) -> Job:
        """Queue ``work(report)`` and return its job at once; ``report`` is :meth:`Job.report`."""
        job = Job(id=next(self._ids), kind=kind, title=title,
                  started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
        with self._lock:
            self.jobs.append(job)
        self._pool.submit(self._run, job, work)
        return job

    def latest(self, kind: str) -> Job | None:
        """The newest job of ``kind``, or None."""
        with self._lock:
            matching = [j for j in self.jobs if j.kind == kind]
        return matching[-1] if matching else None

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        job.status = RUNNING
        try:
            job.result = work(job.report)
        except WorkbenchError as error:
            job.message = str(error)
            job.status = FAILED
            return
        except Exception as error:  # a bug: the page shows one line, the log keeps the traceback
            logger.error("job %d (%s) failed:\n%s", job.id, job.title, traceback.format_exc())
            job.message = f"{type(error).__name__}: {error} (a bug; the server log has the details)"
            job.status = FAILED
            return
        job.progress = 1.0
        job.message = "finished"
        job.status = DONE


JOBS = JobRunner()
"""The jobs of this server process, shared by every page and session."""
