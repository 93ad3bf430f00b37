"""Stress test: the decider over historical stress windows, synthetic shocks, bootstrap and GARCH paths.

Every scenario runs in one batch (:func:`engine.scenarios.combine`) under the spec's costs and risk
limits, in this order and with these families:

- ``base``: the spec's period as it happened;
- ``shock``: the base path with one shock at ``shock_at`` (default the middle bar): an overnight
  gap of ``pct``, volatility times ``k`` or a correlation spike of strength ``s`` for ``shock_bars``
  bars, a trend reversal (every later return negated), or a liquidity shock (fees, slippage and
  spread times ``k`` on the unchanged path);
- ``bootstrap``: ``n_bootstrap`` stationary block bootstrap paths (mean block ``block`` bars);
- ``garch``: ``n_garch`` GARCH(1,1) paths (``engine.scenarios.garch_paths``);
- ``historical``: each named stress period (``engine.stress_periods``) the period covers, or the
  ``periods`` given, each replayed from fresh cash over its own dates. A decider whose indicators
  need more bars than the window holds (an SMA of 50 bars in a 20-bar window) barely trades there
  and tests nothing, so the summary reports each window as it went inside the base run
  (``in_base_run``: warmed up, with its positions), the figure to read first.

Bootstrap and GARCH paths draw from two streams spawned from the spec's seed, so the same spec gives
the same paths, bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from engine.data.market import MarketData, period_mask, to_utc
from engine.errors import InvalidParameterError
from engine.metrics import gross_exposure, max_drawdown
from engine.names import did_you_mean
from engine.rollout import ProgressCallback
from engine.scenarios import (
    PricePath,
    ScenarioBatch,
    ScenarioParams,
    combine,
    correlation_spike,
    from_paths,
    garch_paths,
    historical_windows,
    liquidity_shock,
    overnight_gap,
    scale_volatility,
    stationary_bootstrap,
    trend_reversal,
)
from engine.scenarios.garch import DISTRIBUTIONS, MIN_RETURNS
from engine.stress_periods import STRESS_PERIODS, StressPeriod, periods_covered
from workbench.experiments.common import ScenarioRun, load_universe, regime_history
from workbench.experiments.executors import Executor, evaluate_with
from workbench.experiments.regimes import regime_breakdown
from workbench.runs.evaluate import decider_run_id, spec_decider
from workbench.runs.spec import RunSpec, parse_options
from workbench.store.record import RunRecord

# Shock name -> (allowed range as text, check of the magnitude); reversal takes none.
SHOCK_RANGES: dict[str, tuple[str, Any]] = {
    "gap": ("-1 < pct < 1, not 0", lambda v: -1 < v < 1 and v != 0),
    "volatility": ("0 <= k <= 100", lambda v: 0 <= v <= 100),
    "correlation": ("0 < s <= 1", lambda v: 0 < v <= 1),
    "liquidity": ("0 <= k <= 1000", lambda v: 0 <= v <= 1000),
    "reversal": ("no magnitude", None),
}
DEFAULT_SHOCKS = ("gap:-0.1", "gap:-0.2", "volatility:2", "volatility:3", "reversal",
                  "liquidity:3", "correlation:0.9")
DEFAULT_GARCH_PATHS = 20
MAX_PATHS = 10_000


@dataclass(frozen=True)
class Shock:
    """One parsed shock: ``kind`` (a key of :data:`SHOCK_RANGES`) and its magnitude (None: reversal)."""

    kind: str
    value: float | None

    @classmethod
    def parse(cls, text: str) -> "Shock":
        """``"gap:-0.1"``, ``"volatility:3"``, ``"reversal"``, ... with range checks."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidParameterError(f"stress shock {text!r} is not text like 'gap:-0.1'")
        kind, sep, raw = text.strip().partition(":")
        if kind not in SHOCK_RANGES:
            raise InvalidParameterError(
                f"stress shock {text!r}: unknown kind {kind!r}; kinds: {', '.join(SHOCK_RANGES)}."
                + did_you_mean(kind, SHOCK_RANGES))
        allowed, check = SHOCK_RANGES[kind]
        if check is None:
            if sep:
                raise InvalidParameterError(f"stress shock {text!r}: reversal takes no magnitude; write 'reversal'")
            return cls(kind, None)
        try:
            value = float(raw)
        except ValueError:
            raise InvalidParameterError(
                f"stress shock {text!r}: write {kind}:NUMBER, e.g. {kind}:{_EXAMPLES[kind]}") from None
        if not math.isfinite(value) or not check(value):
            raise InvalidParameterError(f"stress shock {text!r}: magnitude out of range; allowed {allowed}")
        return cls(kind, value)


_EXAMPLES = {"gap": "-0.1", "volatility": "3", "correlation": "0.9", "liquidity": "3"}


@dataclass(frozen=True)
class StressOptions:
    """Options of a stress run (``RunSpec.options`` of kind ``stress``).

    Attributes:
        shocks: Shocks as ``KIND:MAGNITUDE`` text: ``gap:PCT`` (-1 < PCT < 1), ``volatility:K``
            (0..100), ``correlation:S`` (0 < S <= 1), ``liquidity:K`` (cost multiplier, 0..1000),
            ``reversal``. Empty: no shocks.
        shock_at: Date of the shocks (first bar at or after it); None: the period's middle bar.
        shock_bars: Bars that a volatility or correlation shock lasts (clipped at the last bar).
        n_bootstrap: Stationary block bootstrap paths (0: none).
        block: Mean block length of the bootstrap, in bars (>= 1).
        n_garch: GARCH paths; None: 20 when the period has at least 100 returns, else none (noted).
        garch_dist: GARCH innovations, ``t`` or ``normal``.
        periods: Historical windows: stress-period keys (``engine.stress_periods``) or
            ``NAME=START:END`` (dates, inclusive); None: every catalogued period the data covers.
        worst: How many worst scenarios the summary lists.
    """

    shocks: tuple[str, ...] = DEFAULT_SHOCKS
    shock_at: str | None = None
    shock_bars: int = 21
    n_bootstrap: int = 20
    block: float = 20.0
    n_garch: int | None = None
    garch_dist: str = "t"
    periods: tuple[str, ...] | None = None
    worst: int = 5

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        set_("shocks", _text_tuple("shocks", self.shocks))
        self.parsed_shocks()  # validates every shock
        if self.shock_at is not None:
            to_utc(str(self.shock_at))
            set_("shock_at", str(self.shock_at))
        set_("shock_bars", _count("shock_bars", self.shock_bars, 1))
        set_("n_bootstrap", _count("n_bootstrap", self.n_bootstrap, 0))
        if isinstance(self.block, bool) or not isinstance(self.block, (int, float)) or not (
                math.isfinite(self.block) and self.block >= 1):
            raise InvalidParameterError(f"stress option block {self.block!r} must be a number >= 1 (bars)")
        set_("block", float(self.block))
        if self.n_garch is not None:
            set_("n_garch", _count("n_garch", self.n_garch, 0))
        if self.garch_dist not in DISTRIBUTIONS:
            raise InvalidParameterError(
                f"stress option garch_dist {self.garch_dist!r} must be one of {', '.join(DISTRIBUTIONS)}")
        if self.periods is not None:
            periods = _text_tuple("periods", self.periods)
            if not periods:
                raise InvalidParameterError(
                    "stress option periods is empty; leave it out to replay every covered period")
            set_("periods", periods)
        set_("worst", _count("worst", self.worst, 1))

    def parsed_shocks(self) -> list[Shock]:
        """The shocks, parsed and range-checked."""
        return [Shock.parse(text) for text in self.shocks]


@dataclass
class StressResult(ScenarioRun):
    """A finished stress run; :meth:`summary` is the ``--json`` object."""

    periods: tuple[dict[str, str], ...] = ()
    shock_bar: int | None = None
    shock_bars: int = 0

    def summary(self) -> dict[str, Any]:
        """``run_id, kind, decider, spec, data, scenarios, distribution, worst, regimes, notes``, and

        * ``periods``: the historical windows, each measured inside the base run (``in_base_run``, where
          the decider came in warmed up and with its positions: the headline) and replayed from cash
          (``replay``);
        * ``shock``: the shocks' date and bar and how many bars a volatility or correlation shock lasts;
        * ``worst_by_family``: per family, in the batch's order, ``{family, cases}``: its worst scenarios
          (every shock), each with its change against the base run (for a historical window: against the
          same window inside it), its trades and, for shocks and windows, the base run's gross exposure
          when it struck;
        * ``never_traded``: labels of the scenarios without a single trade.
        """
        base = self.summary_base()
        rows = base["scenarios"]
        exposure = self._base_exposure()
        replays = [r for r in rows if r["family"] == "historical"]
        periods = []
        for period, replay in zip(self.periods, replays):
            periods.append({**period, "in_base_run": self._in_base_run(period, exposure),
                            "replay": {"label": replay["label"], "total_return": replay["total_return"],
                                       "max_drawdown": replay["max_drawdown"], "n_trades": replay["n_trades"],
                                       "exposure": replay["exposure"]}})
        shock = None
        if self.shock_bar is not None:
            shock = {"at": self.data.index[self.shock_bar].isoformat(), "bar": self.shock_bar,
                     "bars": self.shock_bars}
        return {**base, "periods": periods, "shock": shock,
                "worst_by_family": self._worst_by_family(rows, periods, exposure),
                "never_traded": [r["label"] for r in rows if r.get("n_trades") == 0]}

    def _base_exposure(self) -> np.ndarray:
        """The base scenario's gross exposure at each close."""
        rollout, batch = self.evaluation.rollout, self.evaluation.batch
        records = rollout.records[rollout.records["scenario"] == 0]
        return gross_exposure(records, batch.close[[0]], rollout.equity[:, [0]])[:, 0]

    def _in_base_run(self, period: dict[str, str], exposure: np.ndarray) -> dict[str, float]:
        """The base run from the close before the window to its last close: return, max drawdown, mean
        gross exposure, exposure when the window opened, fills, and the benchmark's return."""
        rows = np.flatnonzero(period_mask(self.data.index, period["start"], period["end"]))
        first, last = max(rows[0] - 1, 0), rows[-1]
        equity = self.evaluation.rollout.equity[first:last + 1, 0]
        records = self.evaluation.rollout.records
        fills = ((records["scenario"] == 0) & (records["side"] != 0)
                 & (records["bar"] > first) & (records["bar"] <= last))
        close = np.asarray(self.evaluation.batch.close[0], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            benchmark = float(np.nanmean(close[last] / close[first]) - 1.0)
        return {"total_return": float(equity[-1] / equity[0] - 1.0),
                "max_drawdown": float(max_drawdown(equity)),
                "exposure": float(np.nanmean(exposure[first:last + 1])),
                "exposure_at_start": float(exposure[first]),
                "fills": int(np.count_nonzero(fills)),
                "benchmark_return": benchmark}

    def _worst_by_family(self, rows: list[dict[str, Any]], periods: list[dict[str, Any]],
                         exposure: np.ndarray) -> list[dict[str, Any]]:
        base = rows[0]
        windows = {p["replay"]["label"]: p["in_base_run"] for p in periods}
        out: list[dict[str, Any]] = []  # a list: the store sorts a mapping's keys, and the order matters
        for family in dict.fromkeys(r["family"] for r in rows):
            if family == "base":
                continue
            members = sorted((r for r in rows if r["family"] == family),
                             key=lambda r: (-(r["max_drawdown"] or 0.0), r["scenario"]))
            if family != "shock":  # every shock was asked for by name: all of them are listed
                members = members[: self.worst_n]
            listed = []
            for row in members:
                against = windows.get(row["label"], base)
                entry = {**self.worst_row(row),
                         "change_return": _difference(row["total_return"], against["total_return"]),
                         "change_drawdown": _difference(row["max_drawdown"], against["max_drawdown"]),
                         "never_traded": row.get("n_trades") == 0}
                if family == "shock" and self.shock_bar is not None:
                    entry["exposure_at_shock"] = float(exposure[max(self.shock_bar - 1, 0)])
                elif row["label"] in windows:
                    entry["exposure_at_shock"] = windows[row["label"]]["exposure_at_start"]
                listed.append(entry)
            out.append({"family": family, "cases": listed})
        return out

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The run for ``RunStore.save_run``."""
        return self.record(self.summary(), tags)


def _difference(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else float(value) - float(reference)


def run_stress(spec: RunSpec, progress: ProgressCallback | None = None, executor: Executor | None = None,
               n_chunks: int | None = None) -> StressResult:
    """Build every stress scenario of ``spec``, run them as one batch and measure them.

    With an ``executor`` the scenarios run in ``n_chunks`` chunks there
    (``workbench.experiments.executors.evaluate_with``), with the same results and run id.

    Raises:
        InvalidParameterError: Bad options, more than one fee or slippage value, a shock date or
            a period outside the data, too few bars for GARCH paths that were asked for.
    """
    options = parse_options(spec, StressOptions)
    if len(spec.fees) > 1 or len(spec.slippage) > 1:
        raise InvalidParameterError(
            "stress runs under one fee and one slippage value; for a grid of costs use `workbench sweep`")
    decider = spec_decider(spec)  # before the data, so a bad name fails fast
    data, notes = load_universe(spec)
    params = spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0])
    batch, families, batch_notes, periods = build_stress_batch(data, params, options, spec.seed)
    evaluation = evaluate_with(batch, decider, spec, progress, executor, n_chunks)
    regimes = regime_breakdown(evaluation, data, policy=decider.policy, history=regime_history(spec, data))
    shock_bar = _shock_bar(PricePath.from_market(data, label="base"), options.shock_at) \
        if "shock" in families else None
    return StressResult(decider_run_id(spec, data.fingerprint(), decider), spec, data, decider,
                        evaluation, tuple(families), regimes, tuple(notes + batch_notes), options.worst,
                        periods=tuple(periods), shock_bar=shock_bar, shock_bars=options.shock_bars)


def build_stress_batch(data: MarketData, params: ScenarioParams, options: StressOptions,
                       seed: int) -> tuple[ScenarioBatch, list[str], list[str], list[dict[str, str]]]:
    """The stress scenarios as one batch.

    Returns:
        ``(batch, family per scenario, notes, historical windows as {key, name, start, end})``.
    """
    path = PricePath.from_market(data, label="base")
    parts: list[tuple[str, ScenarioBatch]] = [("base", from_paths([path], params))]
    notes: list[str] = []
    shocks = _shock_batch(path, params, options, notes)
    if shocks is not None:
        parts.append(("shock", shocks))
    bootstrap_rng, garch_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    if options.n_bootstrap:
        parts.append(("bootstrap", stationary_bootstrap(path, options.n_bootstrap, options.block,
                                                        bootstrap_rng, params)))
    n_garch = options.n_garch
    if n_garch is None:
        n_garch = DEFAULT_GARCH_PATHS if path.n_bars - 1 >= MIN_RETURNS else 0
        if not n_garch:
            notes.append(f"no GARCH paths: the period has {path.n_bars - 1} returns and a GARCH fit "
                         f"needs at least {MIN_RETURNS}")
    if n_garch:
        parts.append(("garch", garch_paths(path, n_garch, garch_rng, options.garch_dist, params)))
    windows = _windows(data, options.periods, notes)
    if windows:
        parts.append(("historical", historical_windows(data, windows, params, pad_to=path.n_bars)))
    families = [family for family, part in parts for _ in range(part.n_scenarios)]
    periods = [dict(zip(("key", "name", "start", "end"), _window_fields(w))) for w in windows]
    return combine(*(part for _, part in parts)), families, notes, periods


def _shock_batch(path: PricePath, params: ScenarioParams, options: StressOptions,
                 notes: list[str]) -> ScenarioBatch | None:
    shocks = options.parsed_shocks()
    if not shocks:
        return None
    at = _shock_bar(path, options.shock_at)
    end = min(at + options.shock_bars - 1, path.n_bars - 1)
    paths, per_path, labels = [], [], []
    for shock in shocks:
        if shock.kind == "correlation" and path.n_symbols < 2:
            if options.shocks == DEFAULT_SHOCKS:
                notes.append("no correlation shock: it needs at least two symbols")
                continue
            raise InvalidParameterError(
                f"stress shock correlation:{shock.value:g} needs at least two symbols; add --symbols")
        if shock.kind == "liquidity":
            shocked_params = liquidity_shock(params, shock.value)
            if params.fees == params.slippage == params.spread == 0:
                notes.append(f"liquidity x{shock.value:g} equals the base run: the base costs are 0 "
                             "(give --fees/--slippage)")
            paths.append(path)
            per_path.append(shocked_params)
            labels.append(f"{path.label} | liquidity x{shock.value:g}")
            continue
        shocked = _shocked_path(path, shock, at, end)
        paths.append(shocked)
        per_path.append(params)
        labels.append(shocked.label)
    return from_paths(paths, per_path, labels=labels) if paths else None


def _shocked_path(path: PricePath, shock: Shock, at: int, end: int) -> PricePath:
    if shock.kind == "gap":
        return overnight_gap(path, at, shock.value)
    if shock.kind == "volatility":
        return scale_volatility(path, shock.value, at, end)
    if shock.kind == "correlation":
        return correlation_spike(path, shock.value, at, end)
    return trend_reversal(path, at)


def _shock_bar(path: PricePath, shock_at: str | None) -> int:
    """The shocks' bar: the first at or after ``shock_at``, or the middle bar; within 1..T-2."""
    if shock_at is None:
        return path.n_bars // 2
    at = to_utc(shock_at)
    first, last = path.index[0], path.index[-1]
    bar = int(np.count_nonzero(path.index < at))
    if not 1 <= bar <= path.n_bars - 2:
        raise InvalidParameterError(
            f"stress option shock_at {shock_at} must fall after the first and before the last bar of "
            f"the period ({first.date()} to {last.date()}); choose a date inside it")
    return bar


def _windows(data: MarketData, keys: tuple[str, ...] | None,
             notes: list[str]) -> list[StressPeriod | tuple[str, str, str]]:
    if keys is None:
        covered = [p for p in periods_covered(data) if _bars_in(data, p.start, p.end) >= 2]
        if not covered:
            notes.append(f"no historical windows: no catalogued stress period lies inside "
                         f"{data.index[0].date()} to {data.index[-1].date()}")
        return covered
    catalogue = {p.key: p for p in STRESS_PERIODS}
    windows: list[StressPeriod | tuple[str, str, str]] = []
    for text in keys:
        name, sep, span = text.partition("=")
        if sep:
            start, colon, end = span.partition(":")
            if not (name.strip() and colon and start.strip() and end.strip()):
                raise InvalidParameterError(
                    f"stress period {text!r} is not NAME=START:END, e.g. crash=2008-09-01:2008-11-30")
            window: StressPeriod | tuple[str, str, str] = (name.strip(), start.strip(), end.strip())
        elif text in catalogue:
            window = catalogue[text]
        else:
            raise InvalidParameterError(
                f"stress period {text!r} is unknown; give a key of {', '.join(catalogue)} "
                "or NAME=START:END." + did_you_mean(text, catalogue))
        key, _, start, end = _window_fields(window)
        if to_utc(start) < data.index[0].normalize() or to_utc(end) > data.index[-1] \
                or _bars_in(data, start, end) < 2:
            raise InvalidParameterError(
                f"stress period {key!r} ({start} to {end}) is not inside the data, which runs from "
                f"{data.index[0].date()} to {data.index[-1].date()} (a window needs 2 bars or more); "
                "choose periods inside it or widen --start/--end")
        windows.append(window)
    return windows


def _bars_in(data: MarketData, start: str, end: str) -> int:
    return int(np.count_nonzero(period_mask(data.index, start, end)))


def _window_fields(window: StressPeriod | tuple[str, str, str]) -> tuple[str, str, str, str]:
    if isinstance(window, StressPeriod):
        return window.key, window.name, window.start, window.end
    key, start, end = window
    return key, key, start, end


def _text_tuple(name: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, (list, tuple)):
        raise InvalidParameterError(f"stress option {name} must be a list of text, got {values!r}")
    return tuple(str(v).strip() for v in values if str(v).strip())


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= MAX_PATHS:
        raise InvalidParameterError(
            f"stress option {name} {value!r} must be an integer in {minimum}..{MAX_PATHS}")
    return int(value)
