"""The figure functions of engine.metrics against hand computations and QuantStats' conventions."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.data.market import bars_per_year
from engine.metrics import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    total_return,
)

RETURNS = np.array([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])
HOURLY = bars_per_year("1h")  # 252 days x 7 bars of a 390-minute session


def test_sharpe_ratio_by_hand() -> None:
    mean = sum(RETURNS) / 6
    std = math.sqrt(sum((r - mean) ** 2 for r in RETURNS) / 5)  # ddof 1
    assert sharpe_ratio(RETURNS, 1.0) == pytest.approx(mean / std, rel=1e-12)
    assert sharpe_ratio(RETURNS, 252) == pytest.approx(mean / std * math.sqrt(252), rel=1e-12)
    assert sharpe_ratio(RETURNS, HOURLY) == pytest.approx(mean / std * math.sqrt(1764), rel=1e-12)
    both = sharpe_ratio(np.column_stack([RETURNS, np.zeros(6)]), 1.0)
    assert both[0] == pytest.approx(mean / std) and both[1] == 0.0
    along_rows = sharpe_ratio(np.vstack([RETURNS, RETURNS]), 1.0, axis=-1)
    np.testing.assert_allclose(along_rows, [mean / std] * 2, rtol=1e-12)


def test_flat_runs_score_zero_and_undefined_ratios_are_nan() -> None:
    flat = np.zeros(5)
    assert sharpe_ratio(flat, 252) == sortino_ratio(flat, 252) == calmar_ratio(flat, 252) == 0.0
    assert annualized_volatility(flat, 252) == 0.0 and max_drawdown(np.ones(5)) == 0.0
    assert sharpe_ratio(np.zeros(1), 252) == 0.0  # a flat run of one bar is still flat
    assert math.isnan(sharpe_ratio(np.array([0.01]), 252))  # one return: no spread to measure
    assert math.isnan(sharpe_ratio(np.full(4, 0.01), 252))  # no spread around a non-zero mean
    assert math.isnan(annualized_volatility(np.array([0.01]), 252))
    rising = np.array([0.0, 0.01, 0.02])
    assert math.isnan(sortino_ratio(rising, 252)) and math.isnan(calmar_ratio(rising, 252))


def test_volatility_is_quantstats_convention() -> None:
    # QuantStats: volatility(returns, periods) = returns.std() * sqrt(periods), pandas' std being ddof 1.
    expected = pd.Series(RETURNS).std() * np.sqrt(HOURLY)
    assert annualized_volatility(RETURNS, HOURLY) == pytest.approx(expected, rel=1e-12)
    assert sharpe_ratio(RETURNS, HOURLY) == pytest.approx(RETURNS.mean() / expected * HOURLY, rel=1e-12)


def test_sortino_calmar_and_returns_by_hand() -> None:
    r = np.array([0.0, 0.1, -0.1, 121 / 99 - 1])  # equity 100, 100, 110, 99, 121
    downside = math.sqrt(0.01 / 4)  # every bar counts, the up bars as 0
    assert sortino_ratio(r, 4) == pytest.approx(r.mean() / downside * 2, rel=1e-12)
    assert total_return(r) == pytest.approx(0.21)
    assert annualized_return(r, 2) == pytest.approx(1.21 ** (2 / 4) - 1)
    assert max_drawdown(np.array([100.0, 100, 110, 99, 121])) == pytest.approx(0.1)
    assert calmar_ratio(r, 2) == pytest.approx((1.21 ** 0.5 - 1) / 0.1)
    assert max_drawdown(np.array([[100.0, 50], [90, 60], [np.nan, 30], [95, 60]])) == pytest.approx([0.1, 0.5])
