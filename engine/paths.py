"""Where the workbench keeps the files it writes.

Every file the workbench writes lives under ``WORKBENCH_HOME`` (default ``~/.workbench``), so a test
or a user can point the whole tool at another folder with one environment variable.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

HOME_ENV = "WORKBENCH_HOME"
_BASE_ENV = "WORKBENCH_NUMBA_CACHE_BASE"  # remembers the base when the engine is imported again


def workbench_home() -> Path:
    """Return the workbench's home folder (not created here)."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".workbench"


def datasets_dir() -> Path:
    """Folder that holds imported user datasets."""
    return workbench_home() / "datasets"


def configure_numba_cache() -> None:
    """Point Numba's on-disk kernel cache at a folder keyed by the engine's source code.

    Numba checks a cached kernel against its own file only, so a kernel that inlines another
    module's kernel would keep stale code after that module changed. Keying the folder by a hash of
    every engine file that defines kernels makes any kernel change start a fresh cache. The base folder is
    ``NUMBA_CACHE_DIR`` if set, else ``WORKBENCH_HOME/numba-cache``. Must run before Numba compiles
    anything; ``engine/__init__`` calls it on import.
    """
    base = os.environ.get(_BASE_ENV) or os.environ.get("NUMBA_CACHE_DIR") or str(workbench_home() / "numba-cache")
    os.environ[_BASE_ENV] = base
    os.environ["NUMBA_CACHE_DIR"] = str(Path(base) / engine_source_hash(kernels_only=True))


def engine_source_hash(kernels_only: bool = False) -> str:
    """First 16 hex digits of the SHA-256 over the engine's source files (its code version).

    With ``kernels_only`` only files that define Numba kernels count (the Numba cache key).
    """
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if kernels_only and b"njit" not in text:
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(text)
    return digest.hexdigest()[:16]
