"""Performance figures of equity curves and per-bar returns: the one place each is computed.

Every Sharpe, Sortino, volatility, return or drawdown the workbench reports (runs, experiments,
regime tables, training validation, the app) comes from a function here. The figure functions take
per-bar returns along ``axis`` (default 0: ``[T]`` or ``[T, S]``) and return a float for 1-D input,
else an array over the other axes. :func:`scenario_metrics` assembles them per scenario, with trade
and order statistics from the Portfolio that :func:`engine.portfolio.to_vectorbt` replays, and
drawdown durations and episodes from vectorbt's drawdown records.

Conventions (written out in ``docs/metrics.md``):

* Per-bar returns: ``r[0] = equity[0] / init_cash - 1`` (0, nothing fills at bar 0) and
  ``r[t] = equity[t] / equity[t-1] - 1``, so a ``T``-bar run has ``T`` returns (vectorbt's rule).
  NaN returns are left out of means and spreads (as vectorbt's kernels do).
* Annualization factor ``A`` = ``engine.data.market.bars_per_year`` of the bar frequency (252 for
  daily bars, 252 x 7 for hourly ones, ...); ``A = 1`` gives per-bar figures. Risk-free rate 0.
* Spreads are sample standard deviations (``ddof=1``), as QuantStats and vectorbt compute them.
* A flat run (every return exactly 0) has Sharpe, Sortino and Calmar 0.0: no return, no risk.
  Otherwise a ratio is NaN where it is undefined or infinite (fewer than 2 returns, no spread, no
  losing bar, no drawdown); :func:`scenario_metrics` reports those as ``None`` (JSON-safe values).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit
from vectorbt.returns import nb as returns_nb

from engine.data.market import bars_per_year as bars_per_year_of
from engine.errors import InvalidParameterError
from engine.pairwise_nb import row_sum_nb
from engine.portfolio import to_vectorbt

METRIC_KEYS = (
    "final_equity",
    "total_return",
    "annualized_return",
    "annualized_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "win_rate",
    "profit_factor",
    "n_trades",
    "trades_per_year",
    "n_closed_trades",
    "n_orders",
    "exposure",
    "time_in_market",
    "turnover",
    "fees_paid",
    "benchmark_return",
    "benchmark_annualized_return",
    "excess_return",
)


def _json_number(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _bars_first(returns: np.ndarray, axis: int) -> np.ndarray:
    """``returns`` as float64 with the bar axis first."""
    return np.moveaxis(np.asarray(returns, dtype=np.float64), axis, 0)


def _figure(values: np.ndarray) -> np.ndarray | float:
    """A 0-d result as a plain float, else the array."""
    return float(values) if np.ndim(values) == 0 else values


def _ratio(numerator: np.ndarray, denominator: np.ndarray, r: np.ndarray) -> np.ndarray | float:
    """``numerator / denominator`` with the flat-run rule: 0 where every return is 0, NaN where the
    denominator is 0 or undefined otherwise (module docstring)."""
    flat = np.all(r == 0.0, axis=0) & (len(r) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denominator > 0.0, numerator / np.where(denominator > 0.0, denominator, 1.0), np.nan)
    return _figure(np.where(flat, 0.0, ratio))


def _over_bars(reduce, r: np.ndarray, **kwargs) -> np.ndarray:
    """``reduce`` (a numpy reduction) over the bar axis 0 of ``r``, each series' bars laid out
    contiguously first: numpy sums a contiguous run pairwise but a strided one in order, so this way a
    scenario's figure is the same bit for bit alone or in a batch of any size."""
    return reduce(np.ascontiguousarray(np.moveaxis(r, 0, -1)), axis=-1, **kwargs)


def _nan_reduce(reduce, r: np.ndarray, **kwargs) -> np.ndarray:
    """``reduce`` (a NaN-skipping numpy reduction) over bars (:func:`_over_bars`); NaN, without a
    warning, where no bar is finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _over_bars(reduce, r, **kwargs)


def _spread(r: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof 1) over bars; NaN with fewer than 2 returns."""
    if len(r) < 2:
        return np.full(r.shape[1:], np.nan)
    return _nan_reduce(np.nanstd, r, ddof=1)


def total_return(returns: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Compounded return ``prod(1 + r) - 1`` (NaN returns count as 0)."""
    return _figure(_over_bars(np.nanprod, 1.0 + _bars_first(returns, axis)) - 1.0)


def annualized_return(returns: np.ndarray, bars_per_year: float, axis: int = 0) -> np.ndarray | float:
    """Compound annual growth ``(1 + total_return) ** (A / T) - 1`` over ``T`` bars; NaN for no bar."""
    r = _bars_first(returns, axis)
    if len(r) == 0:
        return _figure(np.full(r.shape[1:], np.nan))
    return _figure((1.0 + np.asarray(total_return(r))) ** (bars_per_year / len(r)) - 1.0)


def annualized_volatility(returns: np.ndarray, bars_per_year: float, axis: int = 0) -> np.ndarray | float:
    """``std(r, ddof=1) * sqrt(A)`` (QuantStats' ``volatility``); NaN with fewer than 2 returns."""
    return _figure(_spread(_bars_first(returns, axis)) * np.sqrt(bars_per_year))


def sharpe_ratio(returns: np.ndarray, bars_per_year: float, axis: int = 0) -> np.ndarray | float:
    """``mean(r) / std(r, ddof=1) * sqrt(A)``; 0 for a flat run, NaN where undefined (module docstring)."""
    r = _bars_first(returns, axis)
    return _ratio(_nan_reduce(np.nanmean, r) * np.sqrt(bars_per_year), _spread(r), r)


def sortino_ratio(returns: np.ndarray, bars_per_year: float, axis: int = 0) -> np.ndarray | float:
    """``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(A)``: every bar counts in the downside deviation, the
    up bars as 0; 0 for a flat run, NaN with fewer than 2 returns or without a losing bar."""
    r = _bars_first(returns, axis)
    downside = np.sqrt(_nan_reduce(np.nanmean, np.minimum(r, 0.0) ** 2))
    if len(r) < 2:
        downside = np.full(r.shape[1:], np.nan)
    return _ratio(_nan_reduce(np.nanmean, r) * np.sqrt(bars_per_year), downside, r)


def max_drawdown(equity: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Largest fall ``(peak - trough) / peak`` of an equity (or growth) curve, a positive fraction.

    The peak is the running maximum from the curve's first value; NaN values are skipped; 0 for a
    curve that never falls.
    """
    curve = _bars_first(equity, axis)
    if len(curve) == 0:
        return _figure(np.zeros(curve.shape[1:]))
    peak = np.fmax.accumulate(curve, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fall = np.where(peak > 0.0, 1.0 - curve / peak, np.nan)
    return _figure(np.nan_to_num(_nan_reduce(np.nanmax, fall), nan=0.0))


def calmar_ratio(returns: np.ndarray, bars_per_year: float, axis: int = 0) -> np.ndarray | float:
    """``annualized_return / max_drawdown`` of the growth ``cumprod(1 + r)``; 0 for a flat run, NaN
    without a drawdown."""
    r = _bars_first(returns, axis)
    growth = np.nancumprod(1.0 + r, axis=0)
    return _ratio(np.asarray(annualized_return(r, bars_per_year)), np.asarray(max_drawdown(growth)), r)


def time_in_market(held: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Share of bars with any position open: ``held`` is the gross position value (or any quantity that
    is non-zero exactly when something is held) per bar along ``axis``; 0.0 for no bars."""
    held = np.asarray(held, dtype=np.float64)
    if held.shape[axis] == 0:
        return _figure(np.zeros(np.delete(held.shape, axis)))
    return _figure(np.mean(held != 0.0, axis=axis))


def equity_returns(equity: np.ndarray, init_cash: np.ndarray) -> np.ndarray:
    """Per-bar returns (T, S) of equity (T, S), the first relative to ``init_cash`` (S,)."""
    return returns_nb.returns_nb(np.asarray(equity, dtype=np.float64),
                                 np.asarray(init_cash, dtype=np.float64))


def benchmark_curve(close: np.ndarray, benchmark_close: np.ndarray | None = None) -> np.ndarray:
    """Growth of one unit of money (T, S) under buy-and-hold of the benchmark.

    Args:
        close: (S, T, N) close prices of the scenarios.
        benchmark_close: (T,) or (S, T) benchmark closes; ``None`` buys the scenario's symbols in
            equal amounts at the first close and holds them. A symbol's NaN closes carry its last
            close forward, and it counts as cash (growth 1) before its first close.

    Returns:
        (T, S) value of 1 invested at bar 0, NaN where the benchmark has no price yet.
    """
    close = np.asarray(close, dtype=np.float64)
    n_scenarios, n_bars, _ = close.shape
    if benchmark_close is not None:
        bench = np.asarray(benchmark_close, dtype=np.float64)
        if bench.shape not in ((n_bars,), (n_scenarios, n_bars)):
            raise InvalidParameterError(
                f"benchmark_close must have shape ({n_bars},) or ({n_scenarios}, {n_bars}), got {bench.shape}")
        bench = np.broadcast_to(bench, (n_scenarios, n_bars)).T
        return bench / bench[0]
    finite = np.isfinite(close)
    # Forward-fill along bars: index of the last finite close at or before each bar.
    last = np.maximum.accumulate(np.where(finite, np.arange(n_bars)[None, :, None], -1), axis=1)
    filled = np.take_along_axis(close, np.maximum(last, 0), axis=1)
    first = np.take_along_axis(close, np.argmax(finite, axis=1)[:, None, :], axis=1)
    growth = np.where(last >= 0, filled / first, 1.0)
    never_priced = ~finite.any(axis=1)
    growth = np.where(never_priced[:, None, :], np.nan, growth)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a scenario with no priced symbol stays NaN
        return np.nanmean(growth, axis=2).T


def positions(records: np.ndarray, n_bars: int, n_scenarios: int, n_symbols: int) -> np.ndarray:
    """Units held at each close ``[T, S, N]``: the filled records' signed units summed up to their fill bar
    (a fill at bar ``t``'s open is held at ``t``'s close)."""
    units = np.zeros((n_bars, n_scenarios, n_symbols))
    filled = records[records["side"] != 0]
    np.add.at(units, (filled["bar"].astype(np.int64), filled["scenario"].astype(np.int64),
                      filled["symbol"].astype(np.int64)), filled["side"] * filled["units"])
    return np.cumsum(units, axis=0)


def gross_exposure(records: np.ndarray, close: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Gross exposure ``sum_n |units * close| / equity`` at each close ``[T, S]``; NaN where equity <= 0.

    The units are :func:`positions`'; one compiled pass gives what the numpy expression
    ``where(units != 0, |units * close|, 0).sum(axis=2) / equity`` gives, bit for bit.

    Args:
        records: ``order_dt`` records of the run.
        close: (S, T, N) close prices.
        equity: (T, S) equity at each close.
    """
    close = np.ascontiguousarray(close, dtype=np.float64)
    equity = np.ascontiguousarray(equity, dtype=np.float64)
    filled = records[records["side"] != 0]
    return _gross_exposure_nb(filled["bar"].astype(np.int64), filled["scenario"].astype(np.int64),
                              filled["symbol"].astype(np.int64), filled["side"] * filled["units"], close, equity)


@njit(cache=True)
def _gross_exposure_nb(bar, scenario, symbol, signed_units, close, equity):
    """:func:`gross_exposure` of fills (``bar``, ``scenario``, ``symbol``, ``signed_units``) in record order:
    added up per bar as ``np.add.at`` does, carried over bars as ``np.cumsum`` does."""
    n_scenarios, n_bars, n_symbols = close.shape
    moved = np.zeros((n_bars, n_scenarios, n_symbols))
    for i in range(len(bar)):
        moved[bar[i], scenario[i], symbol[i]] += signed_units[i]
    units = np.zeros((n_scenarios, n_symbols))
    held = np.empty(n_symbols)
    out = np.empty((n_bars, n_scenarios))
    for t in range(n_bars):
        for s in range(n_scenarios):
            for n in range(n_symbols):
                units[s, n] = moved[t, s, n] if t == 0 else units[s, n] + moved[t, s, n]
                held[n] = np.abs(units[s, n] * close[s, t, n]) if units[s, n] != 0.0 else 0.0
            out[t, s] = row_sum_nb(held) / equity[t, s] if equity[t, s] > 0.0 else np.nan
    return out


def _drawdown_durations(equity: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    """Longest time under water, in bars, per column (vectorbt's drawdown records)."""
    drawdowns = pd.DataFrame(equity, index=index).vbt.drawdowns
    records = drawdowns.records_arr
    duration = np.zeros(equity.shape[1], dtype=np.int64)
    if len(records):
        np.maximum.at(duration, records["col"], drawdowns.duration.values.astype(np.int64))
    return duration


def scenario_metrics(
    equity: np.ndarray,
    records: np.ndarray,
    close: np.ndarray,
    index: pd.DatetimeIndex,
    init_cash: np.ndarray,
    frequency: str,
    *,
    symbols: Sequence[str] | None = None,
    benchmark_close: np.ndarray | None = None,
    bars_per_year: float | None = None,
    portfolio: vbt.Portfolio | None = None,
    paths: np.ndarray | None = None,
) -> list[dict[str, float | int | None]]:
    """Metrics of each scenario (keys: ``METRIC_KEYS``).

    Args:
        equity: (T, S) engine equity at each close.
        records: ``order_dt`` records of the run.
        close: (S, T, N) close prices the run was simulated on.
        index: (T,) bar timestamps.
        init_cash: (S,) initial cash.
        frequency: Bar frequency alias (``"1D"``, ``"1h"``, ...).
        symbols: (N,) names for the Portfolio's columns (defaults to ``"0"``, ``"1"``, ...).
        benchmark_close: (T,) or (S, T) benchmark closes; ``None`` is an equal-weight buy-and-hold
            of the scenario's symbols (see :func:`benchmark_curve`).
        bars_per_year: Annualization factor; defaults to ``bars_per_year(frequency)``.
        portfolio: The run's Portfolio from ``to_vectorbt``, to avoid replaying it twice.
        paths: (S,) the price path of each scenario (``ScenarioBatch.path_ids``): scenarios of one path
            share their close, so the default benchmark is computed once per path (the same figures).

    Returns:
        One dict per scenario, in scenario order.
    """
    equity = np.asarray(equity, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    init_cash = np.asarray(init_cash, dtype=np.float64).reshape(-1)
    if equity.ndim != 2 or close.ndim != 3 or close.shape[:2] != equity.shape[::-1] \
            or len(init_cash) != equity.shape[1] or len(index) != equity.shape[0]:
        raise InvalidParameterError(
            f"equity must be (bars, scenarios) matching close (scenarios, bars, symbols), init_cash "
            f"(scenarios,) and index (bars,); got equity {equity.shape}, close {close.shape}, "
            f"init_cash {init_cash.shape}, index of {len(index)}")
    n_bars, n_scenarios = equity.shape
    n_symbols = close.shape[2]
    ann = float(bars_per_year) if bars_per_year is not None else bars_per_year_of(frequency)
    if not np.isfinite(ann) or ann <= 0:
        raise InvalidParameterError(f"bars_per_year must be a positive number, got {bars_per_year}")
    if portfolio is None:
        names = [str(n) for n in range(n_symbols)] if symbols is None else symbols
        portfolio = to_vectorbt(records, close, index, names, init_cash, frequency)

    rets = equity_returns(equity, init_cash)
    figures = {
        "total_return": total_return(rets),
        "annualized_return": annualized_return(rets, ann),
        "annualized_volatility": annualized_volatility(rets, ann),
        "sharpe": sharpe_ratio(rets, ann),
        "sortino": sortino_ratio(rets, ann),
        "calmar": calmar_ratio(rets, ann),
        "max_drawdown": max_drawdown(equity),
    }
    figures = {key: np.atleast_1d(values) for key, values in figures.items()}
    dd_duration = _drawdown_durations(equity, index)

    # vectorbt reduces a single group to a scalar; reshape(-1) keeps one value per scenario.
    trades = portfolio.exit_trades
    closed = trades.closed
    win_rate = np.asarray(closed.win_rate(), dtype=np.float64).reshape(-1)
    profit_factor = np.asarray(closed.profit_factor(), dtype=np.float64).reshape(-1)
    n_trades = np.asarray(trades.count(), dtype=np.int64).reshape(-1)
    n_closed = np.asarray(closed.count(), dtype=np.int64).reshape(-1)

    orders = portfolio.orders.records_arr
    group = orders["col"] // n_symbols
    notional = np.bincount(group, orders["size"] * orders["price"], minlength=n_scenarios)
    fees_paid = np.bincount(group, orders["fees"], minlength=n_scenarios)
    n_orders = np.bincount(group, minlength=n_scenarios)

    per_bar = gross_exposure(records, close, equity)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a scenario with no positive equity stays NaN
        exposure = _over_bars(np.nanmean, per_bar)
        turnover = notional / _over_bars(np.mean, equity)
    in_market = np.atleast_1d(time_in_market(per_bar > 0.0))  # a bar with equity <= 0 (NaN) holds nothing

    if paths is None or benchmark_close is not None:
        bench = benchmark_curve(close, benchmark_close)
    else:
        _, first, position = np.unique(np.asarray(paths), return_index=True, return_inverse=True)
        bench = benchmark_curve(close[first])[:, position.reshape(-1)]
    bench_total = bench[-1] - 1.0
    bench_annualized = np.atleast_1d(annualized_return(equity_returns(bench, np.ones(n_scenarios)), ann))
    annualized = figures["annualized_return"]

    out = []
    for s in range(n_scenarios):
        row: dict[str, float | int | None] = {
            "final_equity": _json_number(equity[-1, s]),
            "max_drawdown_duration": int(dd_duration[s]),
            "win_rate": _json_number(win_rate[s]),
            "profit_factor": _json_number(profit_factor[s]),
            "n_trades": int(n_trades[s]),
            "trades_per_year": _json_number(n_trades[s] / (n_bars / ann)),
            "n_closed_trades": int(n_closed[s]),
            "n_orders": int(n_orders[s]),
            "exposure": _json_number(exposure[s]),
            "time_in_market": _json_number(in_market[s]),
            "turnover": _json_number(turnover[s]),
            "fees_paid": _json_number(fees_paid[s]),
            "benchmark_return": _json_number(bench_total[s]),
            "benchmark_annualized_return": _json_number(bench_annualized[s]),
            "excess_return": _json_number(annualized[s] - bench_annualized[s]),
        }
        for key, values in figures.items():
            row[key] = _json_number(values[s])
        out.append({key: row[key] for key in METRIC_KEYS})
    return out


def drawdown_episodes(equity: np.ndarray, index: pd.DatetimeIndex, top: int | None = 5) -> list[dict]:
    """The deepest drawdowns of one equity curve, deepest first.

    Args:
        equity: (T,) equity at each close.
        index: (T,) bar timestamps.
        top: How many episodes to return (``None``: all).

    Returns:
        Dicts with ``peak_date``, ``trough_date``, ``recovery_date`` (ISO-8601 strings; recovery
        is ``None`` while under water at the last bar), the matching ``*_bar`` positions, ``depth``
        (positive fraction of the peak) and ``duration`` (bars under water: from the first bar
        below the peak up to, not including, the recovery bar; through the last bar if not
        recovered).
    """
    equity = np.asarray(equity, dtype=np.float64)
    if equity.ndim != 1 or len(equity) != len(index):
        raise InvalidParameterError(f"equity must be (bars,) matching index of {len(index)}, got {equity.shape}")
    if top is not None and top < 0:
        raise InvalidParameterError(f"top must be a non-negative count or None, got {top}")
    drawdowns = pd.Series(equity, index=index).vbt.drawdowns
    rec = drawdowns.records_arr
    duration = drawdowns.duration.values
    depth = (rec["peak_val"] - rec["valley_val"]) / rec["peak_val"]
    recovered = rec["status"] == vbt.generic.enums.DrawdownStatus.Recovered
    order = np.lexsort((rec["peak_idx"], -depth))
    if top is not None:
        order = order[:top]
    return [
        {
            "peak_date": index[rec["peak_idx"][i]].isoformat(),
            "trough_date": index[rec["valley_idx"][i]].isoformat(),
            "recovery_date": index[rec["end_idx"][i]].isoformat() if recovered[i] else None,
            "peak_bar": int(rec["peak_idx"][i]),
            "trough_bar": int(rec["valley_idx"][i]),
            "recovery_bar": int(rec["end_idx"][i]) if recovered[i] else None,
            "depth": float(depth[i]),
            "duration": int(duration[i]),
        }
        for i in order
    ]
