"""Stationary block bootstrap (Politis & Romano, 1994) of a path's bars.

The resampled unit is a whole bar of every symbol at once: the relative bar ``(g, h, l, r)`` of each
symbol (log open, high, low, close over the previous close) and its volume. Resampling the joint
vector keeps the cross-correlation of symbols and each bar's OHLC shape; resampling in blocks keeps
short-range dependence (volatility clustering) within a block.

Index process over the ``M = T - 1`` historical relative bars: the first resampled bar starts a
block at a uniform index; each later bar starts a new block with probability ``p = 1 / mean_block``
(at a uniform index), otherwise continues the block with the next index, wrapping from ``M - 1`` to
0. Block lengths are therefore geometric with mean ``mean_block``. Output bar 0 is the base path's
bar 0; bars ``1..T-1`` are rebuilt from the resampled relative bars, so every path starts at the
same close and has the base path's length and timestamps.
"""
from __future__ import annotations

import math

import numpy as np

from engine.data.market import FIELDS
from engine.errors import InvalidParameterError
from engine.scenarios._generators import check_count, make_rng, seed_label, synthetic_batch
from engine.scenarios.batch import ScenarioBatch
from engine.scenarios.params import DEFAULT_PARAMS, ScenarioParams
from engine.scenarios.path import PricePath, rebuild_bars, relative_bars


def stationary_bootstrap_indices(n_returns: int, n_paths: int, mean_block: float,
                                 rng: np.random.Generator) -> np.ndarray:
    """``[n_paths, n_returns]`` int64 indices into ``0 .. n_returns - 1`` (see module docstring).

    Draws, in this order: ``rng.random((n_paths, n_returns))`` (block starts where ``< p``) and
    ``rng.integers(0, n_returns, (n_paths, n_returns))`` (start indices).
    """
    starts_block = rng.random((n_paths, n_returns)) < 1.0 / mean_block
    starts_block[:, 0] = True
    start_index = rng.integers(0, n_returns, size=(n_paths, n_returns))
    position = np.arange(n_returns)
    # For every output bar, the position where its block began: a running max of block starts.
    block_begin = np.maximum.accumulate(np.where(starts_block, position, 0), axis=1)
    first = np.take_along_axis(start_index, block_begin, axis=1)
    return (first + position - block_begin) % n_returns


def stationary_bootstrap(path: PricePath, n_paths: int, mean_block: float,
                         seed: int | np.random.Generator,
                         params: ScenarioParams = DEFAULT_PARAMS) -> ScenarioBatch:
    """``n_paths`` bootstrap paths of ``path``, one scenario each (distinct path ids).

    Args:
        path: Base path (``T >= 2``).
        n_paths: Number of paths, >= 1.
        mean_block: Mean block length in bars, >= 1 (1 resamples single bars independently).
        seed: An int seed (bit-identical output for equal seeds) or a Generator.
        params: Parameters of every scenario; use :func:`cross_params` for a grid.

    Returns:
        A batch labelled ``"<path label> | bootstrap i/n (mean block b, seed s)"``.
    """
    n_paths = check_count("stationary_bootstrap n_paths", n_paths)
    if isinstance(mean_block, bool) or not isinstance(mean_block, (int, float, np.number)) or not (
        math.isfinite(mean_block) and mean_block >= 1
    ):
        raise InvalidParameterError(
            f"stationary_bootstrap mean_block must be a number >= 1, got {mean_block!r}"
        )
    rng = make_rng(seed)
    offsets = relative_bars(path)
    idx = stationary_bootstrap_indices(path.n_bars - 1, n_paths, float(mean_block), rng)
    arrays = {name: np.empty((n_paths,) + path.close.shape) for name in FIELDS}
    for name in FIELDS:
        arrays[name][:, 0] = getattr(path, name)[0]
    arrays["volume"][:, 1:] = path.volume[1:][idx]
    # One path at a time keeps the temporaries of the rebuild at the size of one path.
    for p in range(n_paths):
        for name, values in rebuild_bars(path.close[0], offsets[idx[p]]).items():
            arrays[name][p, 1:] = values
    what = f"bootstrap {{i}}/{n_paths} (mean block {mean_block:g}{seed_label(seed)})"
    return synthetic_batch(path, arrays, params, what)
