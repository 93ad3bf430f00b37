"""The run store: finished runs in SQLite (WAL) under ``WORKBENCH_HOME/runs`` with their arrays as Parquet."""
from workbench.store.info import Note, Review, RunInfo, StoredRun
from workbench.store.record import RunRecord
from workbench.store.store import RunStore

__all__ = ["Note", "Review", "RunInfo", "RunRecord", "RunStore", "StoredRun"]
