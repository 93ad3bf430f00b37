"""Where the workbench keeps the files it writes.

Every file the workbench writes lives under ``WORKBENCH_HOME`` (default ``~/.workbench``), so a test
or a user can point the whole tool at another folder with one environment variable.
"""
from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "WORKBENCH_HOME"


def workbench_home() -> Path:
    """Return the workbench's home folder (not created here)."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".workbench"


def datasets_dir() -> Path:
    """Folder that holds imported user datasets."""
    return workbench_home() / "datasets"


def cache_dir() -> Path:
    """Folder for derived, re-computable files (feature caches)."""
    return workbench_home() / "cache"


def configure_numba_cache() -> None:
    """Point Numba's on-disk kernel cache at a stable folder unless the user chose one.

    Must run before Numba compiles anything; ``engine/__init__`` calls it on import.
    """
    os.environ.setdefault("NUMBA_CACHE_DIR", str(workbench_home() / "numba-cache"))
