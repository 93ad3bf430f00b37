"""The stress-period catalogue: dates that the embedded data covers and that really were stressful."""
from __future__ import annotations

import pandas as pd
import pytest

from engine.data.registry import load_builtin
from engine.stress_periods import STRESS_PERIODS, periods_covered


def test_sp500_covers_every_catalogued_period() -> None:
    assert [p.key for p in periods_covered(load_builtin("sp500"))] == [p.key for p in STRESS_PERIODS]


def test_stocks_cover_only_periods_up_to_2013() -> None:
    keys = {p.key for p in periods_covered(load_builtin("stocks"))}
    assert {"dotcom_bust", "gfc_2007_09", "lehman_weeks", "aug_2011"} <= keys
    assert not keys & {"selloff_2015_16", "feb_2018", "q4_2018"}


@pytest.mark.parametrize("period", STRESS_PERIODS, ids=lambda p: p.key)
def test_the_market_fell_over_each_period(period) -> None:
    dataset, symbol = ("nasdaq", "IXIC") if period.key == "dotcom_bust" else ("sp500", "SPX")
    bars = load_builtin(dataset).symbol_frame(symbol).loc[period.start:period.end]
    assert bars.index[0] == pd.Timestamp(period.start, tz="UTC")
    assert bars["close"].iloc[-1] < 0.97 * bars["close"].iloc[0]
    # Peak-to-trough of at least 5%, intraday lows included (the 2010 flash crash was intraday).
    assert bars["low"].min() < 0.95 * bars["high"].max()
