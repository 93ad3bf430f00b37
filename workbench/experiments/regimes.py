"""How a run did in each market regime: metrics and action distributions per regime label.

Labels come from :func:`engine.regimes.regime_labels` (a trend column: bull / bear / sideways, and
a volatility column: low / normal / high), computed on the *market* of the run: the symbol itself
for one symbol, else the equal-weight index of the universe (mean of the symbols' one-bar simple
returns, compounded). Bars still in a label's warm-up are grouped as ``unlabelled``, so the bars of
one column always add up to the run's bars. Pass ``history`` (the same symbols from an earlier
start) to label the first bars of a short run with the history before it.

A bar is credited with what the position chosen at its close earned: bar ``t`` carries the return
from close ``t`` to close ``t + 1``, the exposure and positions held at close ``t`` and the action
decided at close ``t``. The label at ``t`` is known at that close (the labels are causal), so each
regime is judged on decisions taken while the regime was visible, never with hindsight.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from engine import metrics
from engine.data.market import MarketData, bars_per_year
from engine.errors import InvalidParameterError
from engine.policy import Policy
from engine.records import OrderStatus
from engine.regimes import REGIME_LABELS, RegimeRule, regime_labels

UNLABELLED = "unlabelled"


def market_regimes(data: MarketData, history: MarketData | None = None,
                   rule: RegimeRule = RegimeRule()) -> pd.DataFrame:
    """Trend and volatility labels of the run's market at every bar of ``data``.

    Args:
        data: The run's bars (every symbol priced at every bar).
        history: The same symbols over a longer span that contains every bar of ``data``; the
            labels are computed on it (warm-up spent before ``data`` starts) and read at ``data``'s
            bars. None labels ``data`` on its own bars.
        rule: Windows and thresholds of the labels.

    Returns:
        Frame on ``data.index`` with the categorical columns of ``engine.regimes.REGIME_LABELS``.
    """
    source = data if history is None else history
    if history is not None:
        if tuple(history.symbols) != tuple(data.symbols):
            raise InvalidParameterError(
                f"regime history has symbols {', '.join(history.symbols)} but the run trades "
                f"{', '.join(data.symbols)}; load the history with the run's symbols")
        missing = ~data.index.isin(history.index)
        if missing.any():
            raise InvalidParameterError(
                f"regime history lacks {int(missing.sum())} bar(s) of the run, the first at "
                f"{data.index[missing][0]}; load it over a span that contains the run's period")
    labels = regime_labels(_market_bars(source), rule)
    return labels.reindex(data.index)


def regime_breakdown(evaluation, data: MarketData, *, scenario: int = 0, policy: Policy | None = None,
                     history: MarketData | None = None, rule: RegimeRule = RegimeRule()) -> list[dict]:
    """Metrics and action distributions of one scenario per regime label (module docstring).

    Args:
        evaluation: A ``workbench.runs.evaluate.Evaluation`` (batch, rollout, metrics).
        data: The bars the scenario ran on: its real timestamps must be ``data.index``.
        scenario: Which scenario of the batch (default the first, the base run of experiments).
        policy: The policy that ran; with a discrete action space its actions are counted per
            regime (``actions``), otherwise ``actions`` is None and ``positions`` tells the story.
        history: See :func:`market_regimes`.
        rule: Windows and thresholds of the labels.

    Returns:
        The rows of :func:`regime_metrics` (``column``, ``label``, ``bars``, ``share``,
        ``total_return``, ``sharpe``, ``max_drawdown``) with ``exposure`` (mean gross exposure /
        equity), ``positions`` (share of symbol-bars long / flat / short) and ``actions`` (share of
        each action name, or None); these three are None for a label without bars.
    """
    batch, rollout = evaluation.batch, evaluation.rollout
    if not 0 <= scenario < batch.n_scenarios:
        raise InvalidParameterError(
            f"scenario {scenario} is outside the batch's scenarios 0..{batch.n_scenarios - 1}")
    n_bars = int(batch.n_valid[scenario])
    if not batch.timestamps[scenario][:n_bars].equals(data.index):
        raise InvalidParameterError(
            f"scenario {scenario} ({batch.labels[scenario]}) did not run on the bars of {data.name!r}; "
            "regimes are read from the market the scenario traded")
    labels = market_regimes(data, history, rule)
    equity = rollout.equity[:n_bars, scenario]
    close = batch.close[scenario, :n_bars]
    units = _positions(rollout.records, scenario, n_bars, batch.n_symbols)
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, np.abs(units * close).sum(axis=1) / equity, np.nan)
    actions, names = _actions(rollout, batch, scenario, n_bars, policy)
    rows = regime_metrics(equity, labels, batch.frequency)
    for row, (_, _, mask) in zip(rows, _label_masks(labels)):
        row.update(_holdings(mask, exposure, units, actions, names))
    return rows


def regime_metrics(equity: np.ndarray, labels: pd.DataFrame, frequency: str) -> list[dict]:
    """Return figures of one equity curve per regime label: the per-regime table of every run.

    Bar ``t`` carries the return from close ``t`` to close ``t + 1`` (module docstring); NaN returns
    (bars the curve lacks) are left out. The figures come from ``engine.metrics`` with the bar
    frequency's annualization.

    Args:
        equity: ``[T]`` equity at the closes of ``labels``' bars.
        labels: Frame on those bars with the columns of ``engine.regimes.REGIME_LABELS``
            (:func:`market_regimes`).
        frequency: Bar frequency alias (``"1D"``, ``"1h"``, ...), for the annualization.

    Returns:
        One dict per (column, label), every label of ``REGIME_LABELS`` and ``unlabelled`` where
        bars are: ``column``, ``label``, ``bars``, ``share`` (of the run's bars), ``total_return``
        (compounded over the label's bars), ``sharpe`` (``engine.metrics.sharpe_ratio``) and
        ``max_drawdown`` (of the label's returns chained together); the figures are None for a
        label without returns.
    """
    equity = np.asarray(equity, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        next_return = equity[1:] / equity[:-1] - 1.0
    annual = bars_per_year(frequency)
    n_bars = len(equity)
    rows = []
    for column, label, mask in _label_masks(labels):
        returns = next_return[mask[:-1]]  # the last bar has no next close
        returns = returns[~np.isnan(returns)]
        rows.append({"column": column, "label": label, "bars": int(mask.sum()),
                     "share": float(mask.mean()) if n_bars else 0.0, **_return_figures(returns, annual)})
    return rows


def action_names(policy: Policy | None) -> tuple[str, ...] | None:
    """Names of a policy's discrete actions (its action space's), or None for continuous spaces."""
    if policy is None:
        return None
    return tuple(policy.action_space.action_names) or None


def _label_masks(labels: pd.DataFrame):
    """``(column, label, mask)`` for every label of ``REGIME_LABELS``, then ``unlabelled`` where bars are."""
    for column, categories in REGIME_LABELS.items():
        codes = labels[column].astype(object).where(labels[column].notna(), UNLABELLED).to_numpy()
        present = list(categories) + ([UNLABELLED] if (codes == UNLABELLED).any() else [])
        for label in present:
            yield column, label, codes == label


def _return_figures(returns: np.ndarray, annual: float) -> dict:
    if not returns.size:
        return {"total_return": None, "sharpe": None, "max_drawdown": None}
    return {
        "total_return": float(metrics.total_return(returns)),
        "sharpe": _number(metrics.sharpe_ratio(returns, annual)),
        "max_drawdown": float(metrics.max_drawdown(np.concatenate([[1.0], np.cumprod(1.0 + returns)]))),
    }


def _holdings(mask: np.ndarray, exposure: np.ndarray, units: np.ndarray, actions: np.ndarray | None,
              names: Sequence[str] | None) -> dict:
    """Exposure, positions and actions of the label's bars (None for a label without bars)."""
    if not mask.any():
        return {"exposure": None, "positions": None, "actions": None}
    held = units[mask]
    positions = {"long": float((held > 0).mean()), "flat": float((held == 0).mean()),
                 "short": float((held < 0).mean())}
    counted = None
    if actions is not None and names is not None:
        chosen = actions[mask[:-1]].reshape(-1)  # nothing is decided at the last bar
        chosen = chosen[np.isfinite(chosen)].astype(np.int64) if chosen.dtype.kind == "f" else chosen
        counted = {name: (float(np.mean(chosen == i)) if chosen.size else None) for i, name in enumerate(names)}
    finite_exposure = exposure[mask][np.isfinite(exposure[mask])]
    return {"exposure": float(finite_exposure.mean()) if finite_exposure.size else None,
            "positions": positions, "actions": counted}


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _positions(records: np.ndarray, scenario: int, n_bars: int, n_symbols: int) -> np.ndarray:
    """Units held at each close ``[T, N]``, rebuilt from the scenario's fills."""
    mine = records[(records["scenario"] == scenario) & (records["status"] <= OrderStatus.CLIPPED)]
    delta = np.zeros((n_bars, n_symbols))
    np.add.at(delta, (mine["bar"], mine["symbol"]), mine["side"] * mine["units"])
    units = np.cumsum(delta, axis=0)
    # A position closed by sells of rounded units can leave dust of ~1e-12; that is flat.
    units[np.abs(units) < 1e-9] = 0.0
    return units


def _actions(rollout, batch, scenario: int, n_bars: int,
             policy: Policy | None) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    """The scenario's discrete actions ``[T - 1, N]`` (decided at bars 0..T-2) and their names."""
    names = action_names(policy)
    if names is None or rollout.actions.size == 0:
        return None, None
    n = batch.n_symbols
    if policy.scope == "portfolio":  # [T - 1, S * N], scenario-major
        chosen = rollout.actions[:, scenario * n:(scenario + 1) * n]
    else:  # [P, T, N] per distinct path
        paths = np.unique(rollout.path_ids)
        chosen = rollout.actions[int(np.searchsorted(paths, rollout.path_ids[scenario]))]
    return np.asarray(chosen)[: n_bars - 1].reshape(n_bars - 1, n), names


def _market_bars(data: MarketData) -> pd.DataFrame:
    """One symbol's bars, or the equal-weight index of several as flat OHLC bars (close is what counts)."""
    if data.n_symbols == 1:
        return data.symbol_frame(data.symbols[0])
    complete = np.isfinite(data.close).all(axis=1)
    close = data.close[complete]
    if len(close) == 0:
        raise InvalidParameterError(
            f"dataset {data.name!r} has no bar where all of {', '.join(data.symbols)} are priced")
    level = np.concatenate([[1.0], np.cumprod(1.0 + np.mean(close[1:] / close[:-1] - 1.0, axis=1))])
    return pd.DataFrame({"open": level, "high": level, "low": level, "close": level,
                         "volume": np.zeros(len(level))}, index=data.index[complete])
