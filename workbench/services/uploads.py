"""Files users upload in the browser: OHLCV data and policy checkpoints, checked like the CLI's.

An upload arrives as a name and bytes. The name is only read for its suffix and for display: the
bytes are written under a fixed name in a new private temporary folder, so no uploaded name ever
becomes a path. Data goes through ``engine.data.io.read_ohlcv`` (the rules of ``workbench data
check``) and is saved like ``workbench data import``; a policy is a ``.zip`` of a checkpoint
folder whose members are matched against the known checkpoint file names, verified by
``workbench.policies.load_policy`` (its family's checks: sha256, safetensors only, ONNX export report) and only
then installed under ``WORKBENCH_HOME/policies/NAME``.
"""
from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from engine.atomic_files import fsync_path, staging_folder
from engine.data.io import read_ohlcv
from engine.data.limits import ReadLimits
from engine.data.store import DATASET_NAME, NAME_RULE, check_dataset_name
from engine.errors import InvalidParameterError, WorkbenchError
from engine.paths import workbench_home
from models.checkpoint import CARD_FILE, NORMALIZER_FILE, ONNX_FILE, WEIGHTS_FILE
from workbench.policies import load_policy
from workbench.services.datasets import dataset_store

MAX_DATA_BYTES = 50 * 1024 * 1024
# What an uploaded data file may unpack to: a 50 MB .csv.gz is about 250 MB of CSV, and one of
# 2 MB could unpack to 2 GB. Lower environment bounds (WORKBENCH_DATA_MAX_*) win.
MAX_DATA_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_DATA_ROWS = 2_500_000
MAX_POLICY_BYTES = 50 * 1024 * 1024
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
POLICY_FILES = (WEIGHTS_FILE, CARD_FILE, NORMALIZER_FILE, ONNX_FILE)
SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


def policies_dir() -> Path:
    """``WORKBENCH_HOME/policies``: checkpoints uploaded in the app."""
    return workbench_home() / "policies"


def uploaded_policies() -> dict[str, Path]:
    """Name -> folder of every uploaded checkpoint (folders with a model card)."""
    root = policies_dir()
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / CARD_FILE).is_file()}


def data_suffix(filename: str) -> str:
    """The allowed suffix of an uploaded data file's name.

    Raises:
        InvalidParameterError: the name ends in none of :data:`DATA_SUFFIXES`.
    """
    lower = str(filename or "").lower()
    for suffix in sorted(DATA_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    raise InvalidParameterError(
        f"{_shown(filename)}: upload a {', '.join(DATA_SUFFIXES)} file of OHLCV bars")


def import_data_upload(filename: str, content: bytes, name: str, symbol: str | None = None,
                       tz: str | None = None, adjusted: bool = False) -> dict[str, object]:
    """Validate an uploaded OHLCV file and store it as dataset ``name``.

    Args:
        filename: The name the browser sent (for its suffix and messages only).
        content: The file's bytes (at most :data:`MAX_DATA_BYTES`, unpacking to at most
            :data:`MAX_DATA_UNPACKED_BYTES` and :data:`MAX_DATA_ROWS` rows).
        name: Dataset name (:data:`engine.data.store.DATASET_NAME`).
        symbol: Symbol of a file without a symbol column (default: the uploaded name's stem, uppercased).
        tz: IANA zone of naive intraday timestamps.
        adjusted: Scale open, high, low and close by the file's ``Adj Close / Close``.

    Returns:
        ``name``, ``symbols``, ``bars``, ``start``, ``end``, ``frequency``, ``warnings``.

    Raises:
        WorkbenchError: a bad name, size, suffix or file (the validation's message, naming the upload).
    """
    _check_size(filename, content, MAX_DATA_BYTES)
    suffix = data_suffix(filename)
    check_dataset_name(name)
    symbol = (symbol or "").strip() or None
    if symbol is not None and not SYMBOL.fullmatch(symbol):
        raise InvalidParameterError(f"symbol {symbol!r} must be 1-32 letters, digits, '.', '-' or '_'")
    limits = upload_limits()
    with tempfile.TemporaryDirectory(prefix="workbench-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            data, warnings = read_ohlcv(path, symbol=symbol, tz=tz or None, adjusted=adjusted, limits=limits)
            if symbol is None and data.symbols == (path.name[: -len(suffix)].upper(),):
                # No symbol column: read_ohlcv named the symbol after our fixed file name.
                data, warnings = read_ohlcv(path, symbol=_default_symbol(filename, suffix), tz=tz or None,
                                            adjusted=adjusted, limits=limits)
        except WorkbenchError as error:
            raise type(error)(*_renamed(error, str(path), _shown(filename))) from None
        dataset_store().save(name, data, source=f"upload {_shown(filename)}")
    return {"name": name, "symbols": list(data.symbols), "bars": data.n_bars,
            "start": data.index[0].isoformat(), "end": data.index[-1].isoformat(),
            "frequency": data.frequency, "warnings": len(warnings)}


def upload_limits() -> ReadLimits:
    """Bounds on an uploaded data file: the environment's, but never above the upload's own."""
    limits = ReadLimits.resolve()
    return ReadLimits(min(limits.max_bytes, MAX_DATA_UNPACKED_BYTES), min(limits.max_rows, MAX_DATA_ROWS))


def install_policy_upload(filename: str, content: bytes, name: str) -> Path:
    """Verify an uploaded checkpoint ``.zip`` and install it as ``WORKBENCH_HOME/policies/NAME``.

    The archive holds the checkpoint's files (:data:`POLICY_FILES`), at its top level or in one
    folder; anything else is refused.

    Raises:
        WorkbenchError: a bad name, size or archive, a name already taken, or a checkpoint that
            fails verification.
    """
    _check_size(filename, content, MAX_POLICY_BYTES)
    if not str(filename or "").lower().endswith(".zip"):
        raise InvalidParameterError(f"{_shown(filename)}: upload a .zip of a checkpoint folder "
                                    f"({', '.join(POLICY_FILES)})")
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):  # policies share the dataset name rule
        raise InvalidParameterError(f"policy name {name!r} is not valid: use {NAME_RULE}")
    target = policies_dir() / name
    if target.exists():
        raise InvalidParameterError(f"a policy named {name!r} is already installed; choose another name")
    members = _checkpoint_members(filename, content)
    policies_dir().mkdir(parents=True, exist_ok=True)
    staging = staging_folder(target)
    try:
        for file_name, data in members.items():
            (staging / file_name).write_bytes(data)
        load_policy(str(staging))  # verifies before anything is kept
        for path in (*(staging / file_name for file_name in members), staging):
            fsync_path(path)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _checkpoint_members(filename: str, content: bytes) -> dict[str, bytes]:
    """Known checkpoint files of the archive by their (fixed) names."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise InvalidParameterError(f"{_shown(filename)}: not a readable .zip archive") from None
    members: dict[str, bytes] = {}
    total = 0
    with archive:
        for item in archive.infolist():
            if item.is_dir():
                continue
            parts = PurePosixPath(item.filename).parts
            base = parts[-1] if parts else ""
            if len(parts) > 2 or base not in POLICY_FILES or ".." in parts:
                raise InvalidParameterError(
                    f"{_shown(filename)}: member {item.filename!r} is not a checkpoint file; the archive may "
                    f"hold only {', '.join(POLICY_FILES)} (at the top or in one folder)")
            total += item.file_size
            if total > MAX_POLICY_BYTES:
                raise InvalidParameterError(f"{_shown(filename)}: unpacks to more than "
                                            f"{MAX_POLICY_BYTES // 2**20} MB; a checkpoint is far smaller")
            if base in members:
                raise InvalidParameterError(f"{_shown(filename)}: holds {base} twice")
            members[base] = archive.read(item)
    missing = [f for f in (WEIGHTS_FILE, CARD_FILE, NORMALIZER_FILE) if f not in members]
    if missing:
        raise InvalidParameterError(f"{_shown(filename)}: lacks {', '.join(missing)}; zip the whole checkpoint folder")
    return members


def _default_symbol(filename: str, suffix: str) -> str:
    stem = _shown(filename)[: -len(suffix)].upper()
    return stem if SYMBOL.fullmatch(stem) else "UPLOAD"


def _check_size(filename: str, content: bytes, limit: int) -> None:
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise InvalidParameterError(f"{_shown(filename)}: the upload is empty")
    if len(content) > limit:
        raise InvalidParameterError(
            f"{_shown(filename)}: {len(content) / 2**20:.1f} MB is over the {limit // 2**20} MB upload limit")


def _shown(filename: str) -> str:
    """The uploaded name for messages: its last component, printable characters only, at most 80."""
    base = PurePosixPath(str(filename or "upload").replace("\\", "/")).name or "upload"
    return "".join(c for c in base if c.isprintable())[:80]


def _renamed(error: WorkbenchError, temporary: str, shown: str) -> tuple:
    """The error's arguments with the temporary path replaced by the uploaded name."""
    if hasattr(error, "rule") and hasattr(error, "fix"):  # DataValidationError(rule, detail, fix, location)
        location = error.location
        if location.path == temporary:
            location = type(location)(**{**location.__dict__, "path": shown})
        return error.rule, error.detail, error.fix, location
    return (str(error).replace(temporary, shown),)
