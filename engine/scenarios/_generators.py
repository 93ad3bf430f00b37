"""Plumbing shared by the path generators (bootstrap, GARCH): seeds, counts, the batch they return."""
from __future__ import annotations

import numpy as np

from engine.errors import InvalidParameterError
from engine.scenarios.batch import ScenarioBatch
from engine.scenarios.params import ScenarioParams
from engine.scenarios.path import PricePath


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A Generator from an int seed >= 0 (``np.random.default_rng``) or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidParameterError(f"seed must be an integer >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def seed_label(seed: int | np.random.Generator) -> str:
    """``", seed 7"`` for an int seed; nothing for a Generator (its state has no short name)."""
    return "" if isinstance(seed, np.random.Generator) else f", seed {int(seed)}"


def check_count(name: str, value: int) -> int:
    """``value`` as int if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def synthetic_batch(base: PricePath, arrays: dict[str, np.ndarray], params: ScenarioParams,
                    what: str) -> ScenarioBatch:
    """A batch of generated ``[P, T, N]`` paths on ``base``'s timestamps, one path id each.

    ``what`` is the label suffix with ``{i}`` for the 1-based path number.
    """
    n = arrays["close"].shape[0]
    return ScenarioBatch(
        symbols=base.symbols, timestamps=(base.index,) * n, params=(params,) * n,
        labels=tuple(f"{base.label} | {what.format(i=i + 1)}" for i in range(n)),
        path_ids=np.arange(n, dtype=np.int64), frequency=base.frequency,
        **{name: np.ascontiguousarray(values) for name, values in arrays.items()},
    )
