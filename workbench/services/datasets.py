"""Datasets as users name them: built-in names, imported datasets under WORKBENCH_HOME, or file paths.

This is the one place that resolves a ``DATASET_OR_PATH`` argument, so every command accepts the
same three forms and reports the same errors.
"""
from __future__ import annotations

from pathlib import Path

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
        data, _ = read_ohlcv(Path(spec), tz=tz)  # read_ohlcv logs its warnings
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
