"""Exports read back exactly: full-precision floats, column names without commas, sources recorded by
absolute path and sha256 (issue 16 item 12)."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from engine.scenarios import ScenarioParams, parameter_grid, params_label
from tests.workbench.commands.test_data import write_valid_csv
from workbench.cli import main
from workbench.experiments.files import export_summary
from workbench.experiments.variants import variant_label


def test_issue16_experiment_exports_write_floats_that_read_back_exactly(tmp_path: Path) -> None:
    values = np.array([100_000.123456789123, 0.1 + 0.2, 1e-17 / 3, -2.0 / 3.0, np.nan])
    frame = pd.DataFrame({"value": values}, index=pd.date_range("2024-01-01", periods=5, name="timestamp"))
    export_summary(tmp_path, {"run_id": "x"}, {"equity": frame})
    with open(tmp_path / "equity.csv", newline="") as handle:
        cells = [row["value"] for row in csv.DictReader(handle)]
    read = np.array([float(c) if c else np.nan for c in cells])
    assert np.array_equal(read, values, equal_nan=True)


def test_issue16_scenario_and_variant_labels_hold_no_comma() -> None:
    grid = parameter_grid(fees=[0, 0.001], slippage=[0, 0.0005], stop_loss=[0.02])
    labels = [label for label, _ in grid] + [params_label(ScenarioParams(fees=0.001, slippage=0.0005)),
                                            variant_label("sma_cross", {"fast": "10", "slow": "50"})]
    assert labels[0] == "fees=0 slippage=0 stop_loss=0.02"
    assert labels[-1] == "sma_cross(fast=10 slow=50)"
    assert not any("," in label for label in labels)


def test_issue16_backtest_export_columns_and_floats_parse_with_a_plain_split(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["backtest", "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=40",
                 "--data", "sp500", "--start", "2008-01-01", "--end", "2008-12-31", "--fees", "0,0.002",
                 "--slippage", "0.0005", "--export", str(out), "--no-store"]) == 0
    lines = (out / "equity.csv").read_text().splitlines()
    assert lines[0].split(",") == ["timestamp", "fees=0 slippage=0.0005", "fees=0.002 slippage=0.0005"]
    metrics = json.loads((out / "metrics.json").read_text())
    last = lines[-1].split(",")
    assert [float(v) for v in last[1:]] == [s["final_equity"] for s in metrics["scenarios"]]  # exact


def test_issue16_sources_are_recorded_by_absolute_path_and_sha256(tmp_path: Path, monkeypatch,
                                                                  workbench_home: Path) -> None:
    write_valid_csv(tmp_path / "acme.csv", rows=80)
    digest = hashlib.sha256((tmp_path / "acme.csv").read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    assert main(["data", "import", "acme.csv", "--name", "acme"]) == 0
    meta = json.loads((workbench_home / "datasets" / "acme" / "meta.json").read_text())
    assert (meta["source"], meta["source_sha256"]) == (str(tmp_path / "acme.csv"), digest)
    assert main(["backtest", "--strategy", "buy_and_hold", "--data", "acme.csv", "--export", "out",
                 "--no-store"]) == 0
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())["data"]
    assert data["name"] == str(tmp_path / "acme.csv")
    assert data["source"] == {"path": str(tmp_path / "acme.csv"), "sha256": digest}
