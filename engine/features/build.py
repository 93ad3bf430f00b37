"""The feature matrix of one symbol: every feature family side by side, plus the regime labels.

Column order: the 23 technical columns, the 10 regime-block columns (prefixed ``regime_``, since
the block's ``momentum_20`` differs from the strategic one), the 13 strategic columns
(MLMI, NWRQK, LVN, FVG flags, momentum, MMD, volatility, profile skew), the tactical columns not
already present (FVG level, age and mitigation, then ``tactical_momentum`` and ``tactical_volume``,
renamed from the tactical matrix's ``momentum`` and ``volume`` so they cannot be mistaken for raw
bar fields), and the labels ``trend_regime`` and ``vol_regime``. docs/features.md gives every formula.
"""
from __future__ import annotations

import pandas as pd

from engine.data.market import bars_per_year
from engine.features.matrices import strategic_features, tactical_features
from engine.features.regime_block import regime_features
from engine.features.technical import technical_features
from engine.regimes import regime_labels

_TACTICAL_RENAMES = {"momentum": "tactical_momentum", "volume": "tactical_volume"}


def build_feature_matrix(bars: pd.DataFrame, frequency: str = "1D") -> pd.DataFrame:
    """All feature families of one symbol's bars, indexed like ``bars`` (NaN during warm-up).

    Args:
        bars: One symbol's bars (``MarketData.symbol_frame``).
        frequency: The bars' frequency; sets the annualization of the regime block's ``vol_level``.

    Every column at bar ``t`` depends on bars ``0..t`` only.
    """
    parts = [
        technical_features(bars),
        regime_features(bars, bars_per_year=bars_per_year(frequency)).add_prefix("regime_"),
        strategic_features(bars),
        tactical_features(bars).rename(columns=_TACTICAL_RENAMES),
        regime_labels(bars),
    ]
    # The tactical and strategic sets share the FVG columns (the same function); keep them once.
    kept: dict[str, pd.Series] = {}
    for part in parts:
        for column in part.columns:
            if column not in kept:
                kept[column] = part[column]
            elif not kept[column].equals(part[column]):
                raise RuntimeError(f"feature families disagree on column {column!r}")
    matrix = pd.DataFrame(kept)
    matrix.index.name = "timestamp"
    return matrix
