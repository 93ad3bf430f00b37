"""The tactical team's observation: each symbol's last 60 rows of the 7 tactical columns.

:class:`TacticalObserver` builds it for a whole batch (the rollout's observer and the training
environment): ``engine.features.matrices.tactical_features`` once per distinct path and symbol,
normalized with the checkpoint's frozen statistics, NaN (warm-up) and rows before bar 0 as 0, clipped
to ``[-clip, clip]``, float32 (``engine.feature_windows``). Rows are scenario-major, ``S * N``.

:class:`LiveTacticalObservation` builds the same window for a paper-trading account bar by bar. It
keeps the last ``TACTICAL_WINDOW + TACTICAL_LOOKBACK`` bars (112) of each symbol and runs the same
formulas on them (``tactical_values``, what ``tactical_features`` computes): a row depends on its last 53 bars only
(``engine.features.matrices``, "Memory"), so the window's 60 rows equal the batch rows bit for bit,
normalized and clipped by the same ``observed_values``. A bar costs the same however long the
session runs. ``tests/engine/test_tactical_observation.py`` compares the two on paths with gaps.
"""
from __future__ import annotations

import numpy as np

from engine.actions import BarContext
from engine.data.market import FIELDS
from engine.errors import InvalidParameterError
from engine.feature_windows import FeatureWindows, check_normalizer, compute_family, observed_values
from engine.features.matrices import (
    TACTICAL_COLUMNS,
    TACTICAL_LOOKBACK,
    TACTICAL_WINDOW,
    tactical_features,
    tactical_values,
)
from engine.features.normalize import FittedNormalizer
from engine.scenarios import ScenarioBatch
from engine.tracking import AccountTracker

TACTICAL_CLIP = 10.0
"""Bound of the normalized tactical values."""
TACTICAL_TAIL = TACTICAL_WINDOW + TACTICAL_LOOKBACK
"""Bars a live observation keeps per symbol."""
WINDOW_KEY = "window"
"""The observation's one entry: ``[rows, 60, 7]`` float32."""


class TacticalObserver:
    """The tactical windows of every scenario and symbol of ``batch``.

    Args:
        batch: The scenarios observed.
        normalizer: Frozen statistics of the tactical columns (None: raw values).
        clip: Bound of the values.
        values: Precomputed ``compute_family(batch, tactical_features)`` values (a caller that
            already has them, e.g. to fit the normalizer).
    """

    def __init__(self, batch: ScenarioBatch, normalizer: FittedNormalizer | None, clip: float = TACTICAL_CLIP,
                 values: np.ndarray | None = None) -> None:
        if values is None:
            values, _ = compute_family(batch, tactical_features)
        self.features = FeatureWindows(values, TACTICAL_COLUMNS, TACTICAL_WINDOW, normalizer, clip)
        self.path_ids = np.asarray(batch.path_ids)
        self.n_symbols = batch.n_symbols

    @property
    def warmup(self) -> int:
        """First bar whose whole window is defined on every path and symbol."""
        return self.features.warmup

    def windows(self, scenarios: np.ndarray, bars: np.ndarray) -> np.ndarray:
        """``[K * N, 60, 7]``: every symbol's window of scenario ``scenarios[k]`` at bar ``bars[k]``."""
        scenarios, bars = np.asarray(scenarios), np.asarray(bars)
        n = self.n_symbols
        return self.features.windows(np.repeat(self.path_ids[scenarios], n), np.tile(np.arange(n), len(scenarios)),
                                     np.repeat(bars, n))

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        """Every scenario's rows at ``bar`` (the rollout's observer)."""
        n_scenarios = context.state.units.shape[0]
        return {WINDOW_KEY: self.windows(np.arange(n_scenarios), np.full(n_scenarios, bar))}


class LiveTacticalObservation:
    """One paper-trading account's tactical windows, fed bar by bar (module docstring).

    Args:
        n_symbols: Symbols of every bar.
        normalizer: The checkpoint's frozen statistics of the tactical columns.
        clip: Bound of the values.
    """

    def __init__(self, n_symbols: int, normalizer: FittedNormalizer | None, clip: float = TACTICAL_CLIP) -> None:
        check_normalizer(normalizer, TACTICAL_COLUMNS)
        self.n_symbols = int(n_symbols)
        self.normalizer = normalizer
        self.clip = clip
        self._bars = {f: np.empty((0, self.n_symbols)) for f in FIELDS}
        self.n_bars = 0

    def append(self, bar: dict[str, np.ndarray]) -> None:
        """Take the next bar (``{field: [N]}`` for open, high, low, close, volume)."""
        missing = [f for f in FIELDS if f not in bar]
        if missing:
            raise InvalidParameterError(f"the bar lacks field(s) {', '.join(missing)}")
        for f in FIELDS:
            values = np.asarray(bar[f], dtype=np.float64).reshape(1, self.n_symbols)
            self._bars[f] = np.concatenate([self._bars[f], values])[-TACTICAL_TAIL:]
        self.n_bars += 1

    def new_tracker(self, n_accounts: int = 1) -> AccountTracker:
        """Statistics the live loop keeps for the account (the team reads none of them)."""
        return AccountTracker(n_accounts, self.n_symbols)

    def build(self, context: BarContext, tracker: AccountTracker) -> dict[str, np.ndarray]:
        """The account's ``N`` windows at the newest bar."""
        if self.n_bars == 0:
            raise InvalidParameterError("append() a bar before building its observation")
        rows = np.full((self.n_symbols, TACTICAL_WINDOW, len(TACTICAL_COLUMNS)), np.nan)
        kept = len(self._bars["close"])
        for n in range(self.n_symbols):
            high, low, close, volume = (np.ascontiguousarray(self._bars[f][:, n]) for f in ("high", "low", "close",
                                                                                          "volume"))
            rows[n, TACTICAL_WINDOW - min(kept, TACTICAL_WINDOW):] = tactical_values(high, low, close,
                                                                                     volume)[-TACTICAL_WINDOW:]
        return {WINDOW_KEY: observed_values(rows, self.normalizer, self.clip)}
