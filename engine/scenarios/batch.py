"""`ScenarioBatch`: S scenarios of T bars over N symbols, each with its own path and parameters.

The batch is what the rollout steps through: prices ``[S, T, N]``, per-scenario parameter columns
``[S]``, and ``path_ids`` saying which scenarios share one market path (a cost grid on one dataset is
many scenarios and one path), so a policy whose observation depends on the market only is evaluated
once per distinct path.

Scenarios of one batch have the same number of bars ``T``. Shorter paths (historical windows of
different lengths) are padded after their last real bar with flat bars (open = high = low = close =
last close, volume 0) on nominal timestamps; ``n_valid[s]`` is the number of real bars of scenario
``s``. Consumers must treat bar ``n_valid[s] - 1`` as the scenario's last bar: no order decided on or
after it fills, and metrics read bars ``0 .. n_valid[s] - 1`` only (:meth:`ScenarioBatch.valid_mask`).
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from engine.data.market import FIELDS
from engine.errors import InvalidParameterError
from engine.names import did_you_mean
from engine.scenarios.params import PARAM_NAMES, ScenarioParams
from engine.scenarios.path import PricePath, check_bars, when


@dataclass(frozen=True, eq=False)
class ScenarioBatch:
    """S scenarios: price paths ``[S, T, N]`` and one :class:`ScenarioParams` per scenario.

    Build batches with :func:`from_market`, :func:`from_paths`, :func:`historical_windows`, the
    resamplers and :func:`combine` rather than by hand.

    Attributes:
        symbols: Symbol names, length ``N`` (the same for every scenario).
        timestamps: Per scenario the real timestamps of its bars (length ``T`` each); scenarios built
            from one dataset share them, historical windows do not. Padded bars carry nominal
            timestamps continuing at ``frequency``.
        open, high, low, close, volume: ``[S, T, N]`` float64, C-contiguous (scenario-major, so
            ``close[s]`` is one contiguous ``[T, N]`` path) and read-only; finite, prices > 0,
            ``high >= max(open, close)``, ``low <= min(open, close)``, volume >= 0.
        params: Parameters per scenario, length ``S``.
        labels: Human-readable scenario names, length ``S``.
        path_ids: ``[S]`` int64; scenarios with equal ids have identical timestamps and OHLCV.
            Renumbered on construction to ``0 .. P-1`` in order of first appearance.
        n_valid: ``[S]`` int64, real bars per scenario (``T`` unless padded); None means all ``T``.
        frequency: Bar frequency (pandas offset alias) of every scenario.
        path_labels: Per scenario the name of its market path alone (``"sp500"``, ``"Lehman weeks
            (2008-09-12 to 2008-10-10)"``), without the parameters; None copies ``labels``.
    """

    symbols: tuple[str, ...]
    timestamps: tuple[pd.DatetimeIndex, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    params: tuple[ScenarioParams, ...]
    labels: tuple[str, ...]
    path_ids: np.ndarray
    n_valid: np.ndarray | None = field(default=None)
    frequency: str = field(default="1D")
    path_labels: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)  # the dataclass is frozen
        set_("symbols", tuple(self.symbols))
        set_("timestamps", tuple(self.timestamps))
        set_("params", tuple(self.params))
        set_("labels", tuple(str(label) for label in self.labels))
        path_labels = self.labels if self.path_labels is None else tuple(map(str, self.path_labels))
        set_("path_labels", path_labels)
        shape = np.shape(self.close)
        if len(shape) != 3 or shape[0] < 1 or shape[1] < 2 or shape[2] != len(self.symbols):
            raise InvalidParameterError(
                f"ScenarioBatch.close has shape {shape}; expected [S >= 1, T >= 2, N = "
                f"{len(self.symbols)}]"
            )
        s, t, _ = shape
        for name in FIELDS:
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != shape:
                raise InvalidParameterError(
                    f"ScenarioBatch.{name} has shape {arr.shape}, expected {shape}"
                )
            arr.setflags(write=False)
            set_(name, arr)
        for name in ("timestamps", "params", "labels", "path_labels"):
            if len(getattr(self, name)) != s:
                raise InvalidParameterError(
                    f"ScenarioBatch.{name} has {len(getattr(self, name))} entries for {s} scenarios"
                )
        if any(len(ts) != t or str(getattr(ts, "tz", None)) != "UTC" for ts in self.timestamps):
            raise InvalidParameterError(f"ScenarioBatch.timestamps must be {s} UTC indexes of {t} bars")
        if not all(isinstance(p, ScenarioParams) for p in self.params):
            raise InvalidParameterError("ScenarioBatch.params must hold ScenarioParams")
        n_valid = np.full(s, t, np.int64) if self.n_valid is None else np.asarray(self.n_valid, np.int64)
        if n_valid.shape != (s,) or (n_valid < 2).any() or (n_valid > t).any():
            raise InvalidParameterError(f"ScenarioBatch.n_valid must be {s} integers in [2, {t}]")
        n_valid.setflags(write=False)
        set_("n_valid", n_valid)
        set_("path_ids", _first_appearance_ids(self.path_ids, s))
        # Check the bars of one scenario per path; the others are checked equal to it.
        first = np.unique(self.path_ids, return_index=True)[1]
        check_bars("batch", *(getattr(self, f)[first] for f in FIELDS),
                   lambda i, k, j: f"scenario {first[i]} ({self.labels[first[i]]}), "
                                   f"{self.symbols[j]} at {when(self.timestamps[first[i]][k])}")
        self._check_shared_paths(first)

    @property
    def n_scenarios(self) -> int:
        return self.close.shape[0]

    @property
    def n_bars(self) -> int:
        return self.close.shape[1]

    @property
    def n_symbols(self) -> int:
        return self.close.shape[2]

    @property
    def n_paths(self) -> int:
        """Number of distinct market paths (``path_ids`` run over ``0 .. n_paths - 1``)."""
        return int(self.path_ids.max()) + 1

    @property
    def index(self) -> pd.DatetimeIndex:
        """Scenario 0's timestamps: the batch's dates when :attr:`same_dates`, else a bar axis only."""
        return self.timestamps[0]

    @property
    def same_dates(self) -> bool:
        """Whether every scenario runs on the same timestamps (not so for historical windows)."""
        return all(ts.equals(self.timestamps[0]) for ts in self.timestamps[1:])

    def param_array(self, name: str) -> np.ndarray:
        """One parameter across scenarios as a float64 ``[S]`` array (booleans as 0.0/1.0)."""
        if name not in PARAM_NAMES:
            raise InvalidParameterError(f"unknown scenario parameter {name!r}.{did_you_mean(name, PARAM_NAMES)}")
        return np.array([float(getattr(p, name)) for p in self.params], dtype=np.float64)

    def param_arrays(self) -> dict[str, np.ndarray]:
        """Every parameter as :meth:`param_array` gives it, in ``PARAM_NAMES`` order."""
        return {name: self.param_array(name) for name in PARAM_NAMES}

    def valid_mask(self) -> np.ndarray:
        """``[S, T]`` bool, True on real bars and False on padding."""
        return np.arange(self.n_bars)[None, :] < self.n_valid[:, None]

    def day_starts(self) -> np.ndarray:
        """``[S, T]`` bool, True on each scenario's first bar of a UTC calendar day (and bar 0).

        US sessions lie within one UTC date, so this marks trading-day boundaries for intraday bars;
        on daily bars every bar starts a day.
        """
        out = np.empty((self.n_scenarios, self.n_bars), dtype=bool)
        first = {}  # scenarios of one path share its timestamps: each path is normalized once
        for s, ts in enumerate(self.timestamps):
            done = first.setdefault(int(self.path_ids[s]), s)
            if done != s:
                out[s] = out[done]
                continue
            days = ts.normalize().as_unit("ns").asi8
            out[s, 0] = True
            out[s, 1:] = days[1:] != days[:-1]
        return out

    def path(self, s: int) -> PricePath:
        """Scenario ``s``'s market as a :class:`PricePath`, padding dropped."""
        n = int(self.n_valid[s])
        arrays = {f: getattr(self, f)[s, :n] for f in FIELDS}
        return PricePath(self.path_labels[s], self.timestamps[s][:n], self.symbols,
                         frequency=self.frequency, **arrays)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "ScenarioBatch":
        """The scenarios at ``indices`` (ints, or a bool mask of length S), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (self.n_scenarios,):
                raise InvalidParameterError(
                    f"subset mask has shape {idx.shape}, expected ({self.n_scenarios},)"
                )
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise InvalidParameterError(
                f"subset needs a non-empty list of scenario numbers, got {indices!r}"
            )
        if (idx < 0).any() or (idx >= self.n_scenarios).any():
            raise InvalidParameterError(
                f"subset indices must lie in [0, {self.n_scenarios - 1}], got {idx.tolist()}"
            )
        return ScenarioBatch(
            symbols=self.symbols,
            timestamps=tuple(self.timestamps[i] for i in idx),
            params=tuple(self.params[i] for i in idx),
            labels=tuple(self.labels[i] for i in idx),
            path_labels=tuple(self.path_labels[i] for i in idx),
            path_ids=self.path_ids[idx], n_valid=self.n_valid[idx], frequency=self.frequency,
            **{f: getattr(self, f)[idx] for f in FIELDS},
        )

    def describe(self) -> pd.DataFrame:
        """One row per scenario: labels, path id, first and last real bar, real bars, parameters."""
        rows = []
        for s in range(self.n_scenarios):
            ts = self.timestamps[s]
            rows.append({"label": self.labels[s], "path_label": self.path_labels[s],
                         "path_id": int(self.path_ids[s]),
                         "start": ts[0], "end": ts[int(self.n_valid[s]) - 1],
                         "n_valid": int(self.n_valid[s]), **self.params[s].to_dict()})
        return pd.DataFrame(rows)

    def fingerprint(self) -> str:
        """SHA-256 of symbols, timestamps, prices, parameters, labels, path ids and padding."""
        digest = hashlib.sha256()
        digest.update(json.dumps([self.symbols, self.frequency, self.labels, self.path_labels]).encode())
        digest.update(json.dumps([p.to_dict() for p in self.params], sort_keys=True).encode())
        for ts in self.timestamps:
            digest.update(ts.as_unit("ns").asi8.tobytes())
        for f in FIELDS:
            digest.update(getattr(self, f).tobytes())
        digest.update(self.path_ids.tobytes())
        digest.update(self.n_valid.tobytes())
        return digest.hexdigest()

    def path_digest(self, s: int) -> str:
        """SHA-256 of scenario ``s``'s market (timestamps, OHLCV, real bars), parameters excluded."""
        digest = hashlib.sha256(self.timestamps[s].as_unit("ns").asi8.tobytes())
        for f in FIELDS:
            digest.update(getattr(self, f)[s].tobytes())
        digest.update(self.n_valid[s:s + 1].tobytes())
        return digest.hexdigest()

    def _check_shared_paths(self, first: np.ndarray) -> None:
        # The rollout evaluates market-only policies once per path id: a wrong id would silently
        # feed one scenario another scenario's observations.
        for s in range(self.n_scenarios):
            r = int(first[self.path_ids[s]])
            if r == s:
                continue
            same = self.timestamps[s].equals(self.timestamps[r]) and self.n_valid[s] == self.n_valid[r]
            same = same and all(np.array_equal(getattr(self, f)[s], getattr(self, f)[r]) for f in FIELDS)
            if not same:
                raise InvalidParameterError(
                    f"scenarios {r} ({self.labels[r]}) and {s} ({self.labels[s]}) share path id "
                    f"{int(self.path_ids[s])} but not their market data"
                )


def _first_appearance_ids(path_ids: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    """``path_ids`` renumbered ``0, 1, ...`` in order of first appearance (read-only int64)."""
    ids = np.asarray(path_ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise InvalidParameterError(f"ScenarioBatch.path_ids must be {n} integers, got {ids!r}")
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    out = rank[inverse.reshape(-1)]
    out.setflags(write=False)
    return out
