"""The store of imported datasets: one folder per name, written atomically, checked on load.

Layout under the store's root (``WORKBENCH_HOME/datasets`` in the app)::

    NAME/bars.parquet   long format: timestamp (UTC), symbol, open, high, low, close, volume
    NAME/meta.json      name, symbols, frequency, start, end, n_bars, n_rows, source (the imported
                        file's absolute path), source_sha256 (its sha256, since issue 16; absent in
                        older imports and uploads), imported_at, fingerprint, format_version

A save writes both files into a hidden temporary folder inside the root, fsyncs them, then renames
the folder into place, so a reader sees either the whole dataset or none of it. Hidden folders
(names starting with ``.``) are never listed. Folders and files get the ordinary permissions of
``engine.atomic_files``; a staging folder left by a killed import (its process is gone, or it is a
day old) is removed by the next save (``engine.atomic_files.sweep_stale_staging``).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow

from engine.atomic_files import fsync_path, publish_folder, staging_folder, sweep_stale_staging
from engine.data.market import FIELDS, MarketData
from engine.errors import (
    DatasetCorruptError,
    DatasetExistsError,
    InvalidParameterError,
    UnknownDatasetError,
)

logger = logging.getLogger(__name__)

BARS_FILE = "bars.parquet"
META_FILE = "meta.json"
FORMAT_VERSION = 1
MAX_META_BYTES = 16 * 1024**2  # 5,000 symbols take about 60 KB
# Text fields of meta.json that readers use (data list shows them, load needs frequency).
_META_TEXT = ("name", "frequency", "start", "end", "source", "imported_at", "fingerprint")
# One rule for every dataset name (CLI, app uploads, store): a leading letter or digit keeps a name
# from reading as a command-line option (``--data -rf``) or a hidden file.
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"


def check_dataset_name(name: object) -> None:
    """Raise :class:`InvalidParameterError` unless ``name`` follows :data:`DATASET_NAME`."""
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
        raise InvalidParameterError(f"dataset name {name!r} is not valid: use {NAME_RULE}")


def write_bars(frame: pd.DataFrame, path: Path) -> None:
    """Write the long-format bars to Parquet (a seam that tests replace to simulate a failed write)."""
    frame.to_parquet(path, index=False)


class DatasetStore:
    """Imported datasets under ``root``, one folder per name.

    Args:
        root: The store's folder (created on the first save).
        reserved: Names that may not be used, compared case-insensitively (the built-in datasets).
    """

    def __init__(self, root: Path, reserved: set[str] | frozenset[str] = frozenset()):
        self.root = Path(root)
        self.reserved = frozenset(name.lower() for name in reserved)

    def save(self, name: str, data: MarketData, source: str, overwrite: bool = False,
             source_sha256: str | None = None) -> Path:
        """Store ``data`` as dataset ``name``; return its folder.

        Args:
            name: 1 to 64 letters, digits, ``-`` and ``_``, starting with a letter or digit; not a
                reserved name.
            data: The bars to store (regimes, if any, are not stored).
            source: Where the data came from (the imported file's absolute path), kept in the metadata.
            overwrite: Replace an existing dataset of that name.
            source_sha256: The sha256 of the imported file, kept in the metadata when given.

        Raises:
            InvalidParameterError: The name is malformed or reserved.
            DatasetExistsError: The name is taken and ``overwrite`` is false.
        """
        check_dataset_name(name)
        if data.n_bars == 0:
            raise InvalidParameterError(f"dataset {name!r} has no bars; there is nothing to store")
        if name.lower() in self.reserved:
            raise InvalidParameterError(
                f"{name!r} is the name of a built-in dataset; choose another name for the import")
        target = self.root / name
        if target.exists() and not overwrite:
            raise DatasetExistsError(
                f"dataset {name!r} already exists in {self.root}; choose another name or pass "
                "overwrite=True (--overwrite) to replace it")
        self.root.mkdir(parents=True, exist_ok=True)
        sweep_stale_staging(self.root)
        staging = staging_folder(target)
        try:
            bars = data.to_long()
            write_bars(bars, staging / BARS_FILE)
            # The fingerprint is taken from what was written, read back: what load() will rebuild.
            written = pd.read_parquet(staging / BARS_FILE)
            stored = _from_long(name, written, list(data.symbols), data.frequency)
            meta = _meta(name, stored, bars, source)
            if source_sha256 is not None:
                meta["source_sha256"] = source_sha256
            (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            for file in (staging / BARS_FILE, staging / META_FILE, staging):
                fsync_path(file)
            publish_folder(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        logger.info("saved dataset %r (%d symbols, %d timestamps) to %s",
                    name, stored.n_symbols, stored.n_bars, target)
        return target

    def load(self, name: str) -> MarketData:
        """The dataset ``name``, checked against the fingerprint taken at import.

        Raises:
            UnknownDatasetError: No dataset of that name.
            DatasetCorruptError: Its files are missing, unreadable or changed since import.
        """
        meta = self._meta(name)
        folder = self.root / name
        try:
            bars = pd.read_parquet(folder / BARS_FILE)
            data = _from_long(name, bars, list(meta["symbols"]), str(meta["frequency"]))
        except (OSError, KeyError, ValueError, pyarrow.ArrowException) as exc:
            raise DatasetCorruptError(
                f"dataset {name!r}: {folder / BARS_FILE} cannot be read ({exc}); import the file again "
                "with overwrite") from None
        if data.fingerprint() != meta["fingerprint"]:
            raise DatasetCorruptError(
                f"dataset {name!r}: {folder / BARS_FILE} was changed after import (its fingerprint "
                "does not match meta.json); import the source file again with overwrite")
        return data

    def list(self) -> list[dict]:
        """The metadata of every stored dataset, sorted by name."""
        if not self.root.is_dir():
            return []
        metas = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not (folder / META_FILE).is_file():
                continue
            if not DATASET_NAME.fullmatch(folder.name):
                # Older versions stored names such as "-rf" that no command can name again.
                logger.warning("skipping dataset folder %s: its name breaks the rule (%s); rename the "
                               "folder to use it", folder, NAME_RULE)
                continue
            try:
                metas.append(self._meta(folder.name))
            except DatasetCorruptError as exc:
                logger.warning("skipping dataset folder %s: %s", folder, exc)
        return metas

    def exists(self, name: str) -> bool:
        """Whether a dataset of that name is stored (a malformed name is never stored)."""
        return bool(DATASET_NAME.fullmatch(name)) and (self.root / name / META_FILE).is_file()

    def delete(self, name: str) -> None:
        """Remove dataset ``name``; it disappears at once (renamed away, then removed).

        Raises:
            UnknownDatasetError: No dataset of that name.
        """
        check_dataset_name(name)
        folder = self.root / name
        if not folder.is_dir():
            raise UnknownDatasetError(self._unknown(name))
        trash = staging_folder(folder)
        os.rename(folder, trash / name)
        shutil.rmtree(trash)
        fsync_path(self.root)
        logger.info("deleted dataset %r", name)

    def _meta(self, name: str) -> dict:
        check_dataset_name(name)
        path = self.root / name / META_FILE
        if not path.is_file():
            raise UnknownDatasetError(self._unknown(name))
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_META_BYTES + 1)
            if len(text) > MAX_META_BYTES:
                raise ValueError(f"larger than {MAX_META_BYTES // 2**20} MiB")
            meta = json.loads(text.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetCorruptError(f"dataset {name!r}: {path} cannot be read ({exc}); import the source "
                                      "file again with overwrite") from None
        problem = _meta_problem(meta, name)
        if problem:
            raise DatasetCorruptError(f"dataset {name!r}: {path} {problem}; import the source file again "
                                      "with overwrite")
        return meta

    def _unknown(self, name: str) -> str:
        names = [m["name"] for m in self.list()]
        known = ", ".join(names) if names else "none yet"
        return f"no imported dataset named {name!r} (imported datasets: {known})"


def _meta_problem(meta: object, name: str) -> str | None:
    """What is wrong with a parsed ``meta.json`` (hand-edited, truncated, another tool's), or None."""
    if not isinstance(meta, dict):
        return f"holds {type(meta).__name__}, not an object"
    missing = [k for k in _META_TEXT + ("symbols",) if k not in meta]
    if missing:
        return f"lacks {', '.join(missing)}"
    wrong = [k for k in _META_TEXT if not isinstance(meta[k], str)]
    if wrong:
        return f"has a {wrong[0]} that is not text"
    symbols = meta["symbols"]
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) and s for s in symbols):
        return "has symbols that are not a list of names"
    if meta["name"] != name:
        return f"names the dataset {meta['name']!r}, not its folder's name"
    try:
        pd.tseries.frequencies.to_offset(meta["frequency"])
    except ValueError:
        return f"has frequency {meta['frequency']!r}, which is not a pandas frequency"
    return None


def _from_long(name: str, bars: pd.DataFrame, symbols: list[str], frequency: str) -> MarketData:
    """Rebuild :class:`MarketData` from long-format bars, symbols in the stored order."""
    stamps = pd.DatetimeIndex(bars["timestamp"]).tz_convert("UTC").as_unit("ns")
    bars = bars.assign(timestamp=stamps)
    frames = {
        symbol: bars.loc[bars["symbol"] == symbol].set_index("timestamp")[list(FIELDS)]
        for symbol in symbols
    }
    return MarketData.from_frames(name, frames, frequency)


def _meta(name: str, data: MarketData, bars: pd.DataFrame, source: str) -> dict:
    index = data.index
    daily = bool((index == index.normalize()).all())
    stamp = (lambda ts: ts.date().isoformat()) if daily else (lambda ts: ts.isoformat())
    return {
        "name": name,
        "symbols": list(data.symbols),
        "frequency": data.frequency,
        "start": stamp(index[0]),
        "end": stamp(index[-1]),
        "n_bars": data.n_bars,
        "n_rows": len(bars),
        "source": source,
        "imported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": data.fingerprint(),
        "format_version": FORMAT_VERSION,
    }

