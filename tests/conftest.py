"""Suite-wide fixtures: every test writes under its own temporary WORKBENCH_HOME."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``cuda`` where torch sees no CUDA device (the CPU suite never needs one)."""
    cuda_tests = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda_tests:
        return
    import torch  # only when a collected test asks for CUDA

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; torch sees none on this machine")
    for item in cuda_tests:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def workbench_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point WORKBENCH_HOME at a fresh folder so no test reads or writes the user's files."""
    home = tmp_path_factory.mktemp("workbench_home")
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home
