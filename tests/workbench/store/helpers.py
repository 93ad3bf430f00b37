"""Small hand-made run records for the run store's tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.store import RunRecord


def tables(seed: int = 0, rows: int = 5) -> dict[str, pd.DataFrame]:
    """An equity-like table with a tz-aware timestamp column and a long-format table with strings,
    ints, float32 and NaN."""
    rng = np.random.default_rng(seed)
    equity = pd.DataFrame({
        "timestamp": pd.date_range("2010-01-04", periods=rows, freq="B", tz="UTC"),
        "fees=0 slippage=0": 100_000.0 + rng.normal(0, 100, rows).cumsum(),
        "fees=0.001 slippage=0": np.r_[np.nan, 99_000.0 + rng.normal(0, 100, rows - 1).cumsum()],
    })
    orders = pd.DataFrame({
        "scenario": np.arange(rows, dtype=np.int64) % 2,
        "symbol": np.array(["AAPL", "MSFT"])[np.arange(rows) % 2],
        "units": rng.random(rows).astype(np.float32),
        "status": np.where(np.arange(rows) % 3 == 0, "filled", "rejected_cash"),
        "halted": np.arange(rows) % 2 == 0,
    })
    return {"equity": equity, "orders": orders}


def record(run_id: str = "0123456789abcdef", seed: int = 0, tags: tuple[str, ...] = (), kind: str = "backtest",
           decider: str = "sma_cross", dataset: str = "stocks", rows: int = 5) -> RunRecord:
    return RunRecord(
        run_id=run_id, kind=kind, spec={"data": dataset, "strategy": decider, "seed": seed},
        summary={"run_id": run_id, "scenarios": [{"label": "fees=0 slippage=0", "total_return": 0.1 * seed,
                                                  "sharpe": 1.5, "max_drawdown": 0.2, "n_trades": 3}]},
        dataset=dataset, start="2010-01-04T00:00:00+00:00", end="2010-01-08T00:00:00+00:00",
        decider=decider, model_sha="", data_fingerprint="f" * 64, code_version="0.1.0+test",
        tables=tables(seed, rows), tags=tags,
    )
