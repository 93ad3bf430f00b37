"""The symbol agent's observation of one live account, grown one bar at a time.

:class:`~engine.observation.ObservationBuilder` computes its feature blocks over a whole batch of
paths; a paper-trading loop would have to rebuild it from the whole history at every bar (O(bars)
per bar). :class:`LiveObservation` takes each bar once (:meth:`LiveObservation.append`), computes
only its rows with :class:`~engine.features.streaming.StreamingFeatures`, and keeps the last 24
normalized technical rows per symbol. Its :meth:`~LiveObservation.build` returns what
``ObservationBuilder.build`` returns for the same account at the same bar, bit for bit: the rows
are the batch rows, normalized and clipped by the same function
(``engine.feature_windows.observed_values``), and the dict is put together by the same
``engine.observation.assemble_observation``. A row before bar 0 reads as zeros, as in the batch
windows.
"""
from __future__ import annotations

import numpy as np

from engine.actions import BarContext, SymbolActions
from engine.data.market import FIELDS, bars_per_year
from engine.errors import InvalidParameterError
from engine.feature_windows import check_normalizer, observed_values
from engine.features.normalize import FittedNormalizer
from engine.features.regime_block import REGIME_COLUMNS
from engine.features.streaming import StreamingFeatures
from engine.features.technical import TECHNICAL_COLUMNS, TECHNICAL_WINDOW
from engine.observation import REGIME_CLIP, ObservationConfig, account_tracker, assemble_observation
from engine.tracking import AccountTracker


class LiveObservation:
    """Observations of one account over ``n_symbols`` symbols, fed bar by bar.

    Args:
        n_symbols: Symbols of every bar.
        frequency: Bar frequency (pandas offset alias): the regime block's and the ratios' annualization.
        normalizer: Frozen statistics of the technical block (from the checkpoint).
        config: Scales of the observation.
        action_space: When given, observations carry its ``action_mask``.
    """

    def __init__(self, n_symbols: int, frequency: str, normalizer: FittedNormalizer, *,
                 config: ObservationConfig = ObservationConfig(), action_space: SymbolActions | None = None) -> None:
        check_normalizer(normalizer, TECHNICAL_COLUMNS)
        self.n_symbols = n_symbols
        self.config = config
        self.action_space = action_space
        self.normalizer = normalizer
        self.bars_per_year = bars_per_year(frequency)
        self._features = StreamingFeatures(n_symbols, self.bars_per_year)
        self._technical = np.zeros((n_symbols, TECHNICAL_WINDOW, len(TECHNICAL_COLUMNS)), dtype=np.float32)
        self._regime = np.zeros((n_symbols, len(REGIME_COLUMNS)), dtype=np.float32)

    @property
    def n_bars(self) -> int:
        """Bars taken so far."""
        return self._features.n_bars

    def append(self, bar: dict[str, np.ndarray]) -> None:
        """Take the next bar (``{field: [N]}`` for open, high, low, close, volume)."""
        missing = [f for f in FIELDS if f not in bar]
        if missing:
            raise InvalidParameterError(f"the bar lacks field(s) {', '.join(missing)}")
        technical, regime = self._features.append(bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"])
        self._technical[:, :-1] = self._technical[:, 1:]
        self._technical[:, -1] = observed_values(technical, self.normalizer, self.config.feature_clip)
        self._regime = observed_values(regime, None, REGIME_CLIP)

    def new_tracker(self, n_accounts: int = 1) -> AccountTracker:
        """An :class:`AccountTracker` with this observation's window and annualization."""
        return account_tracker(n_accounts, self.n_symbols, self.config, self.bars_per_year)

    def build(self, context: BarContext, tracker: AccountTracker) -> dict[str, np.ndarray]:
        """The account's ``N`` rows at the newest bar (``tracker`` updated with its close)."""
        if self.n_bars == 0:
            raise InvalidParameterError("append() a bar before building its observation")
        n_accounts, n_symbols = context.state.units.shape
        if n_accounts != 1 or n_symbols != self.n_symbols:
            raise InvalidParameterError(
                f"a live observation serves one account of {self.n_symbols} symbols, got a state of "
                f"{n_accounts} x {n_symbols}")
        return assemble_observation(self._technical.copy(), self._regime, None, context, tracker,
                                    self.config, self.action_space)
