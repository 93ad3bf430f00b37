"""Datasets as users name them: built-in names, imported datasets under WORKBENCH_HOME, or file paths.

This is the one place that resolves a ``DATASET_OR_PATH`` argument, so every command accepts the
same three forms and reports the same errors.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from engine.data.io import read_ohlcv
from engine.data.market import MarketData
from engine.data.registry import builtin_info, builtin_names, is_builtin, load_builtin
from engine.data.store import DatasetStore
from engine.errors import UnknownDatasetError
from engine.names import did_you_mean
from engine.paths import datasets_dir


def dataset_store() -> DatasetStore:
    """The store of imported datasets under ``WORKBENCH_HOME/datasets``."""
    return DatasetStore(datasets_dir(), reserved=set(builtin_names()))


def list_datasets() -> list[dict[str, object]]:
    """One entry per dataset (built-in first, then imported) with name, symbols, frequency, dates, source."""
    entries = [builtin_info(name).to_dict() for name in builtin_names()]
    for meta in dataset_store().list():
        entries.append(
            {
                "name": meta["name"],
                "kind": "imported",
                "symbols": list(meta["symbols"]),
                "frequency": meta["frequency"],
                "start": meta["start"],
                "end": meta["end"],
                "source": meta["source"],
                "licence": "as the user's source file",
                "notes": f"imported {meta['imported_at']}",
            }
        )
    return entries


def load_dataset(
    spec: str,
    symbols: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    tz: str | None = None,
) -> MarketData:
    """Load ``spec`` (built-in name, imported name, or CSV/Parquet path), then select and slice it.

    Raises:
        UnknownDatasetError: ``spec`` is neither a dataset name nor an existing file.
        DataValidationError: ``spec`` is a file that breaks a validation rule.
    """
    if is_builtin(spec):
        data = load_builtin(spec)
    elif dataset_store().exists(spec):
        data = dataset_store().load(spec)
    elif spec.strip() and Path(spec).exists():  # a folder or a FIFO too: read_ohlcv says what it is
        # Read by its absolute path: the data's name, which summaries and exports record, must still
        # find the file from another working folder.
        data, _ = read_ohlcv(Path(spec).absolute(), tz=tz)  # read_ohlcv logs its warnings
    else:
        names = list(builtin_names()) + [m["name"] for m in dataset_store().list()]
        raise UnknownDatasetError(
            f"{spec!r} is neither a dataset name nor an existing file; datasets are "
            f"{', '.join(names)} (see `workbench data list`)." + did_you_mean(spec, names)
        )
    if symbols:
        data = data.select(symbols)
    if start is not None or end is not None:
        data = data.slice(start, end)
    return data


def describe_data(data: MarketData) -> dict[str, Any]:
    """The data as summaries and exports record it: name, symbols, first and last bar, frequency,
    fingerprint, and for data read from a file its absolute path and sha256 (``source``)."""
    described: dict[str, Any] = {
        "name": data.name, "symbols": list(data.symbols), "start": data.index[0].isoformat(),
        "end": data.index[-1].isoformat(), "frequency": data.frequency, "fingerprint": data.fingerprint()}
    path = Path(data.name)
    if path.is_absolute() and path.is_file():
        described["source"] = file_source(path)
    return described


def file_source(path: str | Path) -> dict[str, str]:
    """``{"path": absolute path, "sha256": hex digest}`` of a source file."""
    path = Path(path).absolute()
    stat = path.stat()
    return {"path": str(path), "sha256": _sha256(str(path), stat.st_size, stat.st_mtime_ns)}


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # a summary is built several times per run
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
