"""Writing a file so that a failure never leaves half of one: the one writer of every layer.

The rule for every file written atomically (exports, reports, configs, model cards, ONNX files,
feature matrices):

1. The content goes to a temporary sibling ``.<name>.<random>.tmp`` in the target's folder (one
   file system, so the rename below is atomic).
2. The temporary file is created with mode ``0o666`` and the process umask applied by the system:
   ``0o666 & ~umask``, the permissions any tool gives a new file (``0o644`` under the usual umask
   ``022``). The umask is never changed, so other threads are unaffected.
3. It is flushed and fsync'd, then ``os.replace`` puts it in place of the target, and the folder is
   fsync'd so that the rename survives a power cut.
4. On any failure the temporary file is removed and the target is left as it was.

A folder published by a rename (an imported dataset, a checkpoint, an uploaded policy) is staged in
:func:`staging_folder`, made with mode ``0o777`` less the umask (``0o755`` under umask ``022``): the
ordinary permissions of a new folder, like its files'. Its owner writes the files, flushes them and
the folder with :func:`fsync_path`, and :func:`publish_folder` renames it into place. A staging
folder carries its process id (``.<name>.<pid>-<random>.tmp``), so one left behind by a killed
process can be told from one in use: :func:`sweep_stale_staging` removes those whose process is gone
from this machine, or that are older than :data:`STALE_STAGING_SECONDS`.

Where an output goes is the user's choice (``--export DIR``, ``--out FILE``): :func:`check_output_folder`
and :func:`check_output_file` refuse an unusable place before any work is done (a file where a folder
is expected, a folder where a file is, a parent that is a file or cannot be written into), and
:func:`output_errors` turns a failure while writing into a one-line error naming the option.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import InvalidParameterError

FILE_MODE = 0o666
"""Mode requested for a new file; the umask takes its bits away (``0o644`` under umask ``022``)."""
FOLDER_MODE = 0o777
"""Mode requested for a new folder; the umask takes its bits away (``0o755`` under umask ``022``)."""
STALE_STAGING_SECONDS = 24 * 3600
"""Age after which a staging folder is a leftover even if its process id was reused since (a save
takes seconds to minutes)."""

logger = logging.getLogger(__name__)
_STAGING = re.compile(r"\..*\.(?P<pid>[0-9]+)-[0-9a-f]+\.tmp")
_LEGACY_STAGING = ".tmp-"  # folders of versions that named staging folders .tmp-NAME-RANDOM


def fsync_path(path: Path) -> None:
    """Flush a file or a folder to disk (a folder's entry list is what a rename changes).

    Platforms that cannot open a folder (Windows) skip folders; their files were flushed.
    """
    path = Path(path)
    if path.is_dir():
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
    else:
        fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_folder(target: str | Path) -> Path:
    """A new empty folder ``.<name>.<pid>-<random>.tmp`` beside ``target`` (whose parent must exist),
    with the ordinary permissions ``0o777 & ~umask``; hidden, so listings skip it."""
    target = Path(target)
    folder = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    folder.mkdir(mode=FOLDER_MODE)
    return folder


def sweep_stale_staging(root: str | Path, max_age: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove the staging folders in ``root`` that a killed process left behind; returns them.

    A folder whose process is gone from this machine goes, and any older than ``max_age`` (its
    process id may have been reused). A folder of a process still running stays: a concurrent save
    is not broken. Two machines sharing ``root`` see each other's processes as gone; ``max_age``
    alone would keep their folders.
    """
    now, removed = time.time(), []
    for folder in Path(root).iterdir():
        match = _STAGING.fullmatch(folder.name)
        if not folder.is_dir() or (match is None and not folder.name.startswith(_LEGACY_STAGING)):
            continue
        try:
            age = now - folder.stat().st_mtime
        except OSError:
            continue  # its owner finished and removed it meanwhile
        if (match is not None and not _process_alive(int(match["pid"]))) or age > max_age:
            logger.warning("removing %s, left by an interrupted save", folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (on Windows: assumed; only the age decides)."""
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send CTRL_C_EVENT there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False  # not a pid at all
    return True


def publish_folder(staging: str | Path, target: str | Path) -> None:
    """Rename the staged folder ``staging`` to ``target`` and fsync their parent.

    A folder cannot be renamed over a non-empty one, so an existing ``target`` first steps aside
    into a hidden folder, is removed once the new one is in place, and is put back if that rename
    fails: a reader sees the old folder or the new one, never a mix.
    """
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.replace(staging, target)
        fsync_path(target.parent)
        return
    aside = staging_folder(target)
    os.replace(target, aside / target.name)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(aside / target.name, target)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    fsync_path(target.parent)
    shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write to; on a clean exit it replaces ``path`` (module rules).

    For writers that want a file name (Parquet, ONNX); the temporary file already exists, empty,
    with the ordinary permissions, and the writer overwrites it. An exception inside the block
    removes it and leaves ``path`` untouched.

    Args:
        path: The file to write; its folder must exist.

    Yields:
        The temporary file's path.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (module rules); returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return path


def write_text_atomically(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (module rules), encoded as ``encoding``; returns ``path``."""
    return write_bytes_atomically(path, text.encode(encoding))


def check_output_folder(path: str | Path, option: str, *, empty: bool = False) -> Path:
    """Refuse a folder an output cannot be written into, before any work is done; returns ``path``.

    ``path`` may be missing (it and its missing parents are created when the output is written); it
    must not be a file, nor (``empty``) a folder holding anything, and the nearest folder that exists
    on its way must be one this process can write into.

    Raises:
        InvalidParameterError: one line naming ``option``, the path and the fix.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InvalidParameterError(f"{option} {path}: exists and is not a folder; give a folder")
        if empty and any(path.iterdir()):
            raise InvalidParameterError(f"{option} {path}: already exists and is not empty; give a new or empty "
                                        "folder")
        _check_writable(path, option, path)
    else:
        _check_writable(_nearest_existing(path.parent), option, path)
    return path


def check_output_file(path: str | Path, option: str, *, parents: bool = False) -> Path:
    """Refuse a file an output cannot be written to, before any work is done; returns ``path``.

    ``path`` must not be a folder; its folder must exist unless ``parents`` (then the missing folders
    are created when it is written), and be one this process can write into.

    Raises:
        InvalidParameterError: one line naming ``option``, the path and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(f"{option} {path}: is a folder; give a file name inside it")
    folder = path.parent
    if not folder.exists():
        if not parents:
            raise InvalidParameterError(f"{option} {path}: the folder {folder} does not exist; create it first "
                                        "or give a path in an existing folder")
        folder = _nearest_existing(folder)
    _check_writable(folder, option, path)
    return path


@contextmanager
def output_errors(option: str, path: str | Path) -> Iterator[None]:
    """Turn an ``OSError`` raised while an output is written into a one-line InvalidParameterError."""
    try:
        yield
    except OSError as error:
        raise InvalidParameterError(f"{option} {path}: cannot write it ({error.strerror or error}); "
                                    "give a place you can write to") from None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(folder: Path, option: str, path: Path) -> None:
    if not folder.is_dir():
        raise InvalidParameterError(f"{option} {path}: {folder} is not a folder; give a path inside a folder")
    # Permission bits do not tell (root passes them; /proc and read-only mounts refuse anyway): an
    # empty file created and removed at once does.
    try:
        handle, probe = tempfile.mkstemp(prefix=".workbench-probe-", dir=folder)
    except OSError as error:
        raise InvalidParameterError(f"{option} {path}: cannot write it ({folder}: {error.strerror or error}); "
                                    "give a place you can write to") from None
    os.close(handle)
    os.unlink(probe)
