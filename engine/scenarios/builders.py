"""Builders of :class:`ScenarioBatch`: a dataset under many parameter sets, a list of paths,
historical stress windows, parameter crossings and concatenation."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import pandas as pd

from engine.data.market import FIELDS, MarketData, to_utc
from engine.errors import InvalidParameterError
from engine.scenarios.batch import ScenarioBatch
from engine.scenarios.params import DEFAULT_PARAMS, ScenarioParams, params_label
from engine.scenarios.path import PricePath
from engine.stress_periods import StressPeriod

ParamsLike = Union[None, ScenarioParams, Sequence[ScenarioParams], Sequence[tuple[str, ScenarioParams]]]
Window = Union[StressPeriod, tuple[str, str, str]]


def param_entries(params: ParamsLike) -> list[tuple[str, ScenarioParams]]:
    """``(label, params)`` pairs from None (the defaults), one ScenarioParams, a list of them
    (labelled by :func:`params_label`) or a :func:`parameter_grid` list."""
    if params is None:
        return [("default", DEFAULT_PARAMS)]
    if isinstance(params, ScenarioParams):
        return [(params_label(params), params)]
    entries = []
    for item in params:
        if isinstance(item, ScenarioParams):
            entries.append((params_label(item), item))
        elif (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
              and isinstance(item[1], ScenarioParams)):
            entries.append(item)
        else:
            raise InvalidParameterError(
                f"scenario parameters must be ScenarioParams or (label, ScenarioParams) pairs, "
                f"got {item!r}"
            )
    if not entries:
        raise InvalidParameterError("an empty list of scenario parameters gives no scenarios")
    return entries


def from_market(data: MarketData, params: ParamsLike = None,
                labels: Sequence[str] | None = None) -> ScenarioBatch:
    """The dataset as one path, run once per parameter set; every scenario has path id 0.

    Every symbol must have a bar at every timestamp of ``data`` (see
    :meth:`PricePath.from_market`); select the period and symbols first.

    Args:
        data: The bars to replay.
        params: None (defaults), one ScenarioParams, a list of them, or a :func:`parameter_grid`.
        labels: Scenario names; by default the grid labels, or the parameters that differ from
            the defaults (``"fees=0.001"``, ``"default"``).
    """
    return cross_params(from_paths([PricePath.from_market(data)]), params, labels=labels,
                        keep_path_label=False)


def from_paths(paths: Sequence[PricePath],
               params: ScenarioParams | Sequence[ScenarioParams] = DEFAULT_PARAMS,
               labels: Sequence[str] | None = None, pad_to: int | None = None) -> ScenarioBatch:
    """One scenario per path; the paths get distinct path ids (the same object twice shares one).

    Paths of different lengths are padded to ``pad_to`` bars (default: the longest) as the module
    :mod:`engine.scenarios.batch` describes.

    Args:
        paths: Paths with the same symbols (same order) and frequency.
        params: One ScenarioParams for all, or one per path.
        labels: Scenario names; default the path labels.
        pad_to: Bars per scenario; must be at least the longest path.
    """
    paths = list(paths)
    if not paths:
        raise InvalidParameterError("from_paths needs at least one path")
    for path in paths[1:]:
        if path.symbols != paths[0].symbols or path.frequency != paths[0].frequency:
            raise InvalidParameterError(
                f"paths {paths[0].label!r} and {path.label!r} differ in symbols or frequency "
                f"({paths[0].symbols}, {paths[0].frequency} vs {path.symbols}, {path.frequency})"
            )
    per_path = [params] * len(paths) if isinstance(params, ScenarioParams) else list(params)
    if len(per_path) != len(paths):
        raise InvalidParameterError(f"{len(per_path)} parameter sets for {len(paths)} paths")
    names = [p.label for p in paths] if labels is None else list(labels)
    if len(names) != len(paths):
        raise InvalidParameterError(f"{len(names)} labels for {len(paths)} paths")
    longest = max(p.n_bars for p in paths)
    n_bars = longest if pad_to is None else int(pad_to)
    if n_bars < longest:
        raise InvalidParameterError(f"pad_to={pad_to} is shorter than the longest path ({longest} bars)")
    stacked = {f: np.empty((len(paths), n_bars, paths[0].n_symbols)) for f in FIELDS}
    timestamps = []
    for s, path in enumerate(paths):
        for f, values in _padded(path, n_bars).items():
            stacked[f][s] = values
        timestamps.append(_padded_index(path, n_bars))
    first_seen: dict[int, int] = {}
    path_ids = [first_seen.setdefault(id(p), len(first_seen)) for p in paths]
    return ScenarioBatch(symbols=paths[0].symbols, timestamps=tuple(timestamps), params=tuple(per_path),
                         labels=tuple(names), path_labels=tuple(p.label for p in paths),
                         path_ids=np.array(path_ids, np.int64),
                         n_valid=np.array([p.n_bars for p in paths], np.int64),
                         frequency=paths[0].frequency, **stacked)


def historical_windows(data: MarketData, periods: Sequence[Window],
                       params: ScenarioParams = DEFAULT_PARAMS,
                       pad_to: int | None = None) -> ScenarioBatch:
    """One scenario per historical window of ``data``, each its own path, padded to one length.

    Windows keep their real timestamps (``batch.timestamps[s]``) and are labelled
    ``"Lehman weeks (2008-09-12 to 2008-10-10)"`` (a StressPeriod) or ``"key (start to end)"``
    (a ``(key, start, end)`` tuple; dates inclusive). To run each window under a cost grid, pass
    the result to :func:`cross_params`.

    Raises:
        InvalidParameterError: A window that ``data`` does not cover entirely, or in which a
            symbol lacks bars.
    """
    if not periods:
        raise InvalidParameterError("historical_windows needs at least one window")
    paths = []
    for period in periods:
        key, start, end, name = _window_fields(period)
        first, last = data.index[0], data.index[-1]
        if to_utc(start) < first.normalize() or to_utc(end) > last:
            raise InvalidParameterError(
                f"window {key!r} ({start} to {end}) is not covered by dataset {data.name!r}, which "
                f"runs from {first.date()} to {last.date()}; choose windows inside it"
            )
        paths.append(PricePath.from_market(data.slice(start, end), label=f"{name} ({start} to {end})"))
    return from_paths(paths, params, pad_to=pad_to)


def cross_params(batch: ScenarioBatch, params: ParamsLike, labels: Sequence[str] | None = None,
                 keep_path_label: bool = True) -> ScenarioBatch:
    """Every scenario of ``batch`` under every parameter set: ``S * G`` scenarios, scenario-major
    (all parameter sets of scenario 0 first). Path ids carry over; each scenario's own
    parameters are replaced.

    Args:
        batch: The scenarios whose paths to reuse.
        params: As for :func:`from_market`.
        labels: ``S * G`` names; default ``"<scenario label> | <parameter label>"`` (only the
            parameter label when ``keep_path_label`` is False).
    """
    entries = param_entries(params)
    g = len(entries)
    take = np.repeat(np.arange(batch.n_scenarios), g)
    if labels is None:
        labels = [f"{batch.labels[s]} | {name}" if keep_path_label else name
                  for s in range(batch.n_scenarios) for name, _ in entries]
    elif len(labels) != len(take):
        raise InvalidParameterError(f"{len(labels)} labels for {len(take)} scenarios")
    return ScenarioBatch(
        symbols=batch.symbols, timestamps=tuple(batch.timestamps[s] for s in take),
        params=tuple(p for _ in range(batch.n_scenarios) for _, p in entries),
        labels=tuple(labels), path_labels=tuple(batch.path_labels[s] for s in take),
        path_ids=batch.path_ids[take], n_valid=batch.n_valid[take],
        frequency=batch.frequency, **{f: np.repeat(getattr(batch, f), g, axis=0) for f in FIELDS},
    )


def combine(*batches: ScenarioBatch) -> ScenarioBatch:
    """Concatenate batches with equal bars, symbols and frequency, in order.

    Path ids are reassigned by content: scenarios of different batches share an id exactly when
    their timestamps, OHLCV and padding are identical.
    """
    if not batches:
        raise InvalidParameterError("combine needs at least one batch")
    head = batches[0]
    for b in batches[1:]:
        if (b.n_bars, b.symbols, b.frequency) != (head.n_bars, head.symbols, head.frequency):
            raise InvalidParameterError(
                f"cannot combine batches of {head.n_bars} bars x {head.symbols} ({head.frequency}) and "
                f"{b.n_bars} bars x {b.symbols} ({b.frequency}); batches must match in all three"
            )
    ids_by_digest: dict[str, int] = {}
    path_ids = []
    for b in batches:
        first = np.unique(b.path_ids, return_index=True)[1]
        local = [ids_by_digest.setdefault(b.path_digest(int(s)), len(ids_by_digest)) for s in first]
        path_ids.extend(local[i] for i in b.path_ids)
    return ScenarioBatch(
        symbols=head.symbols, timestamps=tuple(ts for b in batches for ts in b.timestamps),
        params=tuple(p for b in batches for p in b.params),
        labels=tuple(x for b in batches for x in b.labels),
        path_labels=tuple(x for b in batches for x in b.path_labels),
        path_ids=np.array(path_ids, np.int64),
        n_valid=np.concatenate([b.n_valid for b in batches]), frequency=head.frequency,
        **{f: np.concatenate([getattr(b, f) for b in batches]) for f in FIELDS},
    )


def _window_fields(period: Window) -> tuple[str, str, str, str]:
    """``(key, start, end, display name)`` of a StressPeriod or ``(key, start, end)`` tuple."""
    if isinstance(period, StressPeriod):
        return period.key, period.start, period.end, period.name
    if isinstance(period, tuple) and len(period) == 3:
        key, start, end = (str(x) for x in period)
        return key, start, end, key
    raise InvalidParameterError(
        f"a window is a StressPeriod or a (key, start, end) tuple, got {period!r}"
    )


def _padded(path: PricePath, n_bars: int) -> dict[str, np.ndarray]:
    """The path's arrays extended to ``n_bars`` with flat zero-volume bars at the last close."""
    extra = n_bars - path.n_bars
    out = {}
    for f in FIELDS:
        if f == "volume":
            fill = np.zeros((extra, path.n_symbols))
        else:
            fill = np.repeat(path.close[-1:], extra, axis=0)
        out[f] = np.concatenate([getattr(path, f), fill])
    return out


def _padded_index(path: PricePath, n_bars: int) -> pd.DatetimeIndex:
    """The path's timestamps continued at its frequency to ``n_bars`` (nominal, for padding)."""
    extra = n_bars - path.n_bars
    if extra == 0:
        return path.index
    more = pd.date_range(path.index[-1], periods=extra + 1, freq=path.frequency)[1:]
    return path.index.append(more)
