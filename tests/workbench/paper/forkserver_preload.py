"""Preloaded by the recovery tests' fork server: the clean parent their killed loops are forked from.

A forked process inherits its parent's memory with every lock as it was at the fork, but not the
threads that held them; forking the test runner itself, whose ONNX, torch and jemalloc threads may
hold a lock, can leave a child stuck forever. A fresh fork server imports this module first: it
keeps pyarrow off jemalloc (set before pandas loads it), imports the paper loop, loads the replayed
data and the kernels once, so every child starts at once with nothing half-locked.
"""
from __future__ import annotations

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from engine.live import warm_up_kernels  # noqa: E402  (after the allocator choice above)
from engine.scenarios import ScenarioParams  # noqa: E402
from tests.workbench.paper import helpers  # noqa: E402,F401  (the children's entry point)
from workbench.services.datasets import load_dataset  # noqa: E402

load_dataset("stocks")
warm_up_kernels(ScenarioParams(), 2)
