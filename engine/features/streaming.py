"""The technical and regime blocks of ``N`` symbols, one new row per arriving bar.

A backtest computes :func:`~engine.features.technical.technical_features` and
:func:`~engine.features.regime_block.regime_features` over a whole path; a paper-trading loop gets one
bar at a time and needs only the newest row. :class:`StreamingFeatures` keeps each block's state
record for every symbol (the last values each window needs, the running state of each smoother) and
advances it by one bar with the blocks' own steps, :func:`~engine.features.technical.technical_step_nb`
and :func:`~engine.features.regime_block.regime_step_nb`: O(window) work per bar instead of O(bars so
far).

The batch functions run the same steps over every bar of a path, so a streamed row equals the batch
row at the same bar bit for bit by construction (``tests/engine/features/test_streaming.py`` checks
it on random paths with flat stretches and zero volume).
"""
from __future__ import annotations

import numba
import numpy as np

from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS, check_bars_per_year, regime_state_dt, regime_step_nb
from engine.features.technical import TECHNICAL_COLUMNS, technical_state_dt, technical_step_nb


class StreamingFeatures:
    """Technical and regime rows of ``n_symbols`` symbols, bar by bar.

    Args:
        n_symbols: Symbols per bar (the column order of every input).
        bars_per_year: The regime block's annualization (``engine.data.market.bars_per_year``).
    """

    def __init__(self, n_symbols: int, bars_per_year: float) -> None:
        if isinstance(n_symbols, bool) or not isinstance(n_symbols, (int, np.integer)) or n_symbols < 1:
            raise InvalidParameterError(f"n_symbols must be a positive integer, got {n_symbols!r}")
        self.n_symbols = int(n_symbols)
        self.bars_per_year = check_bars_per_year(bars_per_year)
        self.n_bars = 0
        self._technical = np.zeros(self.n_symbols, technical_state_dt)
        self._regime = np.zeros(self.n_symbols, regime_state_dt)

    def append(self, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take the next bar (``[N]`` per field); returns its technical ``[N, 23]`` and regime ``[N, 10]`` rows.

        Columns follow :data:`~engine.features.technical.TECHNICAL_COLUMNS` and
        :data:`~engine.features.regime_block.REGIME_COLUMNS`; NaN during each column's warm-up.
        """
        fields = [self._field(x, name) for x, name in
                  ((open_, "open"), (high, "high"), (low, "low"), (close, "close"), (volume, "volume"))]
        technical = np.empty((self.n_symbols, len(TECHNICAL_COLUMNS)))
        regime = np.empty((self.n_symbols, len(REGIME_COLUMNS)))
        _append_nb(self._technical, self._regime, *fields, self.bars_per_year, technical, regime)
        self.n_bars += 1
        return technical, regime

    def _field(self, values: np.ndarray, name: str) -> np.ndarray:
        array = np.ascontiguousarray(values, dtype=np.float64)
        if array.shape != (self.n_symbols,):
            raise InvalidParameterError(f"bar field {name!r} has shape {array.shape}, expected ({self.n_symbols},)")
        return array


@numba.njit(cache=True, error_model="numpy")
def _append_nb(technical_state, regime_state, o, h, l, c, v, bars_per_year, technical, regime):
    for k in range(c.shape[0]):
        technical_step_nb(technical_state[k], o[k], h[k], l[k], c[k], v[k], technical[k])
        regime_step_nb(regime_state[k], h[k], l[k], c[k], v[k], bars_per_year, regime[k])
