"""The assembled feature matrix: documented columns, finite after warm-up, causal as a whole."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.registry import load_builtin
from engine.features.build import build_feature_matrix
from engine.features.matrices import STRATEGIC_COLUMNS
from engine.features.regime_block import REGIME_COLUMNS, REGIME_WARMUP
from engine.features.technical import TECHNICAL_COLUMNS
from tests.engine.features.strategies import assert_causal, ohlcv_bars

EXPECTED_COLUMNS = (
    list(TECHNICAL_COLUMNS) + [f"regime_{c}" for c in REGIME_COLUMNS] + list(STRATEGIC_COLUMNS)
    + ["fvg_level", "fvg_age", "fvg_mitigation", "tactical_momentum", "tactical_volume",
       "trend_regime", "vol_regime"]
)


def test_columns_are_every_family_once_in_documented_order() -> None:
    bars = load_builtin("sp500").symbol_frame("SPX").iloc[:400]
    matrix = build_feature_matrix(bars)
    assert list(matrix.columns) == EXPECTED_COLUMNS
    assert len(matrix.columns) == 23 + 10 + 13 + 5 + 2
    assert matrix.index.equals(bars.index) and matrix.index.name == "timestamp"


def test_every_value_is_finite_and_labelled_after_warm_up_on_real_data() -> None:
    matrix = build_feature_matrix(load_builtin("stocks").symbol_frame("AAPL"))
    after = matrix.iloc[REGIME_WARMUP:]
    numeric = after.drop(columns=["trend_regime", "vol_regime"]).to_numpy(dtype=np.float64)
    assert np.isfinite(numeric).all()
    assert after["trend_regime"].notna().all() and after["vol_regime"].notna().all()
    # AAPL 2000-2013 spent time in each trend state.
    assert set(after["trend_regime"].unique()) == {"bull", "bear", "sideways"}


def test_intraday_frequency_changes_only_the_annualized_column() -> None:
    bars = load_builtin("synthetic-5min").symbol_frame("SYN000").iloc[:600]
    daily, intraday = build_feature_matrix(bars, "1D"), build_feature_matrix(bars, "5min")
    differs = [c for c in daily.columns if not daily[c].equals(intraday[c])]
    assert differs == ["regime_vol_level"]


def _numeric(matrix: pd.DataFrame) -> pd.DataFrame:
    labels = {c: matrix[c].cat.codes.where(matrix[c].notna()).astype(float)
              for c in ("trend_regime", "vol_regime")}
    return matrix.assign(**labels)


@settings(max_examples=10)
@given(data=st.data())
def test_no_column_of_the_matrix_looks_ahead(data: st.DataObject) -> None:
    bars = data.draw(ohlcv_bars(min_size=280, max_size=320))
    other = data.draw(ohlcv_bars(min_size=len(bars), max_size=len(bars)))
    other.index = bars.index
    cut = data.draw(st.integers(min_value=0, max_value=len(bars) - 2))
    assert_causal(lambda b: _numeric(build_feature_matrix(b)), bars, other, cut)
