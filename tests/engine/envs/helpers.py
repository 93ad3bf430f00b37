"""Small datasets, a neutral normalizer and a replay policy for the environment tests."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from engine.actions import SymbolActions
from engine.data.market import MarketData
from engine.data.synthetic import SyntheticConfig, generate_synthetic
from engine.features.normalize import FittedNormalizer
from engine.features.technical import TECHNICAL_COLUMNS
from engine.policy import PolicyOutput
from engine.records import order_dt


def identity_normalizer() -> FittedNormalizer:
    """Center 0, scale 1: the technical block unchanged (for data too short to fit on)."""
    n = len(TECHNICAL_COLUMNS)
    return FittedNormalizer("zscore", TECHNICAL_COLUMNS, (0.0,) * n, (1.0,) * n, "", "", 1)


def hand_market(open_, close, start: str = "2024-01-02", freq: str = "1D") -> MarketData:
    """One symbol ``X`` with the given opens and closes; wicks span the body, volume 1000."""
    open_, close = np.asarray(open_, float)[:, None], np.asarray(close, float)[:, None]
    index = pd.date_range(start, periods=len(close), freq=freq, tz="UTC")
    return MarketData("hand", index, ("X",), open_.copy(), np.maximum(open_, close), np.minimum(open_, close),
                      close.copy(), np.full(close.shape, 1000.0), freq)


@lru_cache(maxsize=None)
def synthetic(n_symbols: int = 2, frequency: str = "1D", end: str = "2022-06-30", seed: int = 3) -> MarketData:
    """A seeded synthetic dataset from 2022-01-03 (about 130 daily bars by default)."""
    return generate_synthetic(SyntheticConfig(n_symbols=n_symbols, frequency=frequency, start="2022-01-03",
                                              end=end, seed=seed))


class ReplayPolicy:
    """A portfolio-scope policy that replays fixed actions ``[T - 1, S * N]`` and keeps what it saw."""

    name = "replay"
    scope = "portfolio"

    def __init__(self, actions: np.ndarray, action_space=SymbolActions()) -> None:
        self.actions = np.asarray(actions)
        self.action_space = action_space
        self.observations: list[dict[str, np.ndarray]] = []

    def act(self, observation: dict[str, np.ndarray]) -> PolicyOutput:
        self.observations.append(observation)
        return PolicyOutput(self.actions[len(self.observations) - 1])


def assert_same_records(a: np.ndarray, b: np.ndarray) -> None:
    """Field by field, floats compared bit for bit (NaN prices of rejected orders included)."""
    assert a.dtype == b.dtype == order_dt and len(a) == len(b)
    for name in order_dt.names:
        x, y = np.ascontiguousarray(a[name]), np.ascontiguousarray(b[name])
        if x.dtype.kind == "f":
            x, y = x.view(np.uint64), y.view(np.uint64)
        assert np.array_equal(x, y), name
