"""A loop killed with SIGKILL at any moment resumes to exactly the ledger of an uninterrupted run.

Kills come three ways: the fault hook (``WORKBENCH_PAPER_FAULT=K``: the process SIGKILLs itself at
its K-th phase boundary, six per bar, one of them inside the open transaction) at a seeded list of
points; SIGKILL from outside at seeded moments (start-up and journal checks included),
both on processes forked from a clean server (``forkserver_preload``); and a real ``workbench paper
start`` killed from outside while it trades. Every run is then finished and its export compared
byte for byte with an uninterrupted run's.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.workbench.paper.helpers import options, run_session
from workbench.paper import export_ledger, start_paper
from workbench.paper.config import JOURNAL_FILE
from workbench.paper.loop import FAULT_ENV, PHASES

PERIOD = {"start": "2010-01-01", "end": "2010-06-30"}  # 124 bars, 744 phase boundaries


def kill_options(tmp_path: Path, state: Path):
    risk = tmp_path / "risk.yaml"
    if not risk.exists():
        risk.write_text(yaml.safe_dump({"stop_loss": 0.05, "max_drawdown": 0.08, "cooldown_bars": 3}))
    return options(state, risk_file=risk, **PERIOD)


def exported(state: Path, out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in export_ledger(state, out)}


def run_forked(opts, fault: int | None, kill_at_bar: int | None = None, jitter: float = 0.0) -> int:
    """Run the loop in a process forked from a clean server (``forkserver_preload``). With ``kill_at_bar``,
    SIGKILL it from outside ``jitter`` seconds after its journal reaches that bar (-1: after start).
    Returns its exit code (``-SIGKILL`` when killed)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.workbench.paper.forkserver_preload"])
    process = context.Process(target=run_session, args=(opts, fault, os.environ["WORKBENCH_HOME"]))
    process.start()
    if kill_at_bar is not None:
        while process.exitcode is None and last_bar(opts.state) < kill_at_bar:
            time.sleep(0.0005)
        time.sleep(jitter)
        if process.exitcode is None:
            os.kill(process.pid, signal.SIGKILL)
    process.join(120)
    assert process.exitcode is not None, "the loop hung"
    return process.exitcode


def last_bar(state: Path) -> int:
    path = state / JOURNAL_FILE
    if not path.exists():
        return -1
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
        try:
            return conn.execute("SELECT COALESCE(MAX(bar), -1) FROM bars").fetchone()[0]
        except sqlite3.OperationalError:  # the journal is being created
            return -1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The export of an uninterrupted run."""
    tmp = tmp_path_factory.mktemp("reference")
    assert start_paper(kill_options(tmp, tmp / "state")).status == "finished"
    return exported(tmp / "state", tmp / "export")


def test_sigkill_at_every_phase_and_seeded_random_points_resumes_exactly(tmp_path: Path, reference) -> None:
    state = tmp_path / "state"
    opts = kill_options(tmp_path, state)
    # Boundaries 1..6 kill a fresh process at each phase of its first bar; then a seeded random walk.
    faults = [1, 2, 3, 4, 5, 6] + np.random.default_rng(7).integers(1, 60, size=400).tolist()
    killed_at, progress = [], []
    for fault in faults:
        before = last_bar(state)
        code = run_forked(opts, fault)
        if code == 0:
            break
        assert code == -signal.SIGKILL, f"the loop exited with {code}, not by the fault hook"
        killed_at.append(PHASES[(fault - 1) % len(PHASES)])
        progress.append(last_bar(state) - before)
    else:
        assert run_forked(opts, None) == 0
    assert set(killed_at) == set(PHASES) and len(killed_at) >= 20
    # A kill inside the transaction ("written") loses that bar; the next start redoes it.
    assert min(progress) == 0
    assert exported(state, tmp_path / "export") == reference


def test_sigkill_from_outside_at_seeded_moments_resumes_exactly(tmp_path: Path, reference) -> None:
    state = tmp_path / "state"
    opts = kill_options(tmp_path, state)
    rng = np.random.default_rng(11)
    # Two kills during start-up (journal creation and checks), then at seeded bars plus a seeded
    # jitter, so the signal lands at an arbitrary point of a bar's work or its commit.
    moments = [(-1, 0.0), (-1, 0.02)] + [(int(b), float(j)) for b, j in
                                         zip(np.sort(rng.choice(np.arange(5, 120), 8, replace=False)),
                                             rng.uniform(0.0, 0.004, 8))]
    codes, reached = [], []
    for bar, jitter in moments:
        codes.append(run_forked(opts, None, kill_at_bar=bar, jitter=jitter))
        reached.append(last_bar(state))
    assert codes.count(-signal.SIGKILL) >= 8 and len(set(reached)) >= 6
    assert run_forked(opts, None) == 0
    assert exported(state, tmp_path / "export") == reference


def test_a_finished_replay_restarted_changes_nothing(tmp_path: Path, reference) -> None:
    state = tmp_path / "state"
    opts = kill_options(tmp_path, state)
    assert run_forked(opts, 200) == -signal.SIGKILL
    assert run_forked(opts, None) == 0
    files = {p.name: p.read_bytes() for p in state.iterdir()}
    result = start_paper(opts)
    assert result.status == "already finished" and result.bars == 0 and result.last_bar == 123
    assert {p.name: p.read_bytes() for p in state.iterdir()} == files
    assert exported(state, tmp_path / "export") == reference


@pytest.mark.slow
def test_cli_processes_killed_from_outside_resume_exactly(tmp_path: Path, reference) -> None:
    state = tmp_path / "state"
    opts = kill_options(tmp_path, state)
    command = [sys.executable, "-m", "workbench.cli", "paper", "start", "--strategy", "sma_cross",
               "--param", "fast=5", "--param", "slow=20", "--feed", opts.feed, "--start", PERIOD["start"],
               "--end", PERIOD["end"], "--fees", "0.001", "--slippage", "0.0005", "--risk", str(opts.risk_file),
               "--speed", "max", "--state", str(state)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    env.pop(FAULT_ENV, None)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while last_bar(state) < 40 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL and 40 <= last_bar(state) < 123
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "finished" in finished.stdout
    assert exported(state, tmp_path / "export") == reference
