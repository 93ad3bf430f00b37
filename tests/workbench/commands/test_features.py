"""`workbench features`: the Parquet matrix users get, normalization, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.data.registry import load_builtin
from engine.features.build import build_feature_matrix
from workbench.cli import main
from workbench.commands.features import NORMALIZER_METADATA_KEY


def test_features_for_one_symbol_equal_the_library_matrix(tmp_path: Path) -> None:
    out = tmp_path / "spx.parquet"
    assert main(["features", "sp500", "--start", "2008-01-01", "--end", "2008-12-31", "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    # Warm-up uses history before --start: the matrix equals the full-history matrix sliced.
    bars = load_builtin("sp500").slice(end="2008-12-31").symbol_frame("SPX")
    expected = build_feature_matrix(bars).loc["2008-01-01":]
    assert written.index.name == "timestamp" and str(written.index.tz) == "UTC"
    assert written.index[0] == pd.Timestamp("2008-01-02", tz="UTC")
    pd.testing.assert_frame_equal(written, expected, check_freq=False)
    assert np.isfinite(written.select_dtypes("number").to_numpy()).all()


def test_several_symbols_get_a_symbol_column_and_per_symbol_normalizers(tmp_path: Path) -> None:
    out = tmp_path / "stocks.parquet"
    args = ["features", "stocks", "--symbol", "AAPL,MSFT", "--normalize", "zscore",
            "--train", "2001-01-01:2005-12-31", "--out", str(out)]
    assert main(args) == 0
    written = pd.read_parquet(out)
    assert written["symbol"].unique().tolist() == ["AAPL", "MSFT"]
    stats = json.loads(pq.read_schema(out).metadata[NORMALIZER_METADATA_KEY])
    assert set(stats) == {"AAPL", "MSFT"} and stats["AAPL"]["method"] == "zscore"
    train = written[(written.index >= "2001-01-01") & (written.index <= "2005-12-31")]
    for _, rows in train.groupby("symbol"):
        # z-scores over the training rows have mean 0 by construction.
        assert abs(rows["log_return_1"].mean()) < 1e-9


def test_normalize_without_train_period_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["features", "sp500", "--normalize", "robust", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "--train" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_training_period_without_rows_names_the_symbol(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["features", "stocks", "--normalize", "robust", "--train", "2000-03-01:2007-12-31",
            "--out", str(tmp_path / "x.parquet")]
    assert main(args) == 2
    assert "symbol FB" in capsys.readouterr().err


def test_features_of_a_user_file(tmp_path: Path) -> None:
    bars = load_builtin("nasdaq").symbol_frame("IXIC").iloc[:300].reset_index()
    bars["timestamp"] = bars["timestamp"].dt.strftime("%Y-%m-%d")
    source = tmp_path / "ixic.csv"
    bars.to_csv(source, index=False)
    out = tmp_path / "out" / "ixic.parquet"
    assert main(["features", str(source), "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 300


def test_unknown_dataset_suggests_a_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["features", "stoks", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "Did you mean 'stocks'?" in capsys.readouterr().err
