"""Fixtures shared by the workbench tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance on this machine for the module's tests (skipped without Ray)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
