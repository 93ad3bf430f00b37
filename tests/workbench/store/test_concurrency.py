"""One writer saving many runs while readers (threads and other processes) list and load them."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd

from tests.workbench.store.helpers import record, tables
from workbench.store import RunStore

N_RUNS = 30

# A reader process: lists and loads runs until the writer's last run appears; every listed run must
# load completely and hold exactly the tables its seed gives.
READER = """
import sys
import pandas as pd
from tests.workbench.store.helpers import tables
from workbench.store import RunStore
last, checked = sys.argv[1], 0
with RunStore.open() as store:
    while True:
        runs = store.list_runs()
        for info in runs:
            run = store.get_run(info.run_id)
            seed = run.spec["seed"]
            for name, frame in tables(seed).items():
                pd.testing.assert_frame_equal(run.load_table(name), frame, check_exact=True)
            checked += 1
        if any(info.run_id == last for info in runs):
            break
print(checked)
"""


def check_listing(store: RunStore) -> int:
    checked = 0
    runs = store.list_runs()
    seeds = [info.spec["seed"] for info in runs]
    assert seeds == sorted(seeds, reverse=True)  # newest first, and no gaps from the newest down
    for info in runs:
        run = store.get_run(info.run_id)
        for name, frame in tables(info.spec["seed"]).items():
            pd.testing.assert_frame_equal(run.load_table(name), frame, check_exact=True)
        checked += 1
    return checked


def test_readers_in_threads_and_processes_see_only_complete_runs(workbench_home: Path) -> None:
    RunStore.open().close()  # create the database before anyone races for it
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    last = f"run{N_RUNS - 1:03d}"
    readers = [subprocess.Popen([sys.executable, "-c", READER, last], env=env, cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors: list[BaseException] = []
    counts: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            with RunStore.open() as store:
                while not done.is_set():
                    counts.append(check_listing(store))
                counts.append(check_listing(store))
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    with RunStore.open() as writer:
        for i in range(N_RUNS):
            writer.save_run(record(f"run{i:03d}", seed=i))
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    outputs = [reader.communicate(timeout=120) for reader in readers]
    assert errors == []
    assert counts[-1] == N_RUNS and max(counts) == N_RUNS
    for reader, (out, err) in zip(readers, outputs):
        assert reader.returncode == 0, err
        assert int(out.strip()) >= N_RUNS  # it saw the final listing at least, every run loaded exactly
