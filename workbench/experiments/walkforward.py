"""Walk-forward: rolling or expanding folds, a frozen or retrained decider per fold, one stitched
out-of-sample curve and the stability of the folds.

Folds follow :mod:`workbench.experiments.folds` (train/test/step in bars or durations, purge,
embargo). Every decider runs from the data's first bar under the spec's first cost point
(:mod:`workbench.experiments.single_path`), so its decisions in a test block have their history
behind them; decisions are causal, so running past a block changes nothing inside it. A fold's
out-of-sample piece is its test block's bar returns (:mod:`workbench.experiments.segments`).

Per fold the decider is

- frozen (default): the spec's strategy with its parameters, or the policy's checkpoint as is;
- retrained (``retrain``): a strategy's parameters are chosen on the fold's training bars (the
  window minus embargoed bars) from a grid (``grid``, else :data:`DEFAULT_GRIDS` less the
  parameters fixed by ``--param``) by the highest Sharpe ratio, first in grid order on ties; a
  policy is trained anew with ``models.symbol_agent.training.train_symbol_agent`` from its checkpoint's training
  config with the spec's seed and ``timesteps`` steps (its rollout capped to fit that budget, no
  resume points), on the latest contiguous run of training bars: its first 80% train, the last 20%
  validate (the trainer's rule picks the best weights).

Stitching: fold ``k``'s curve starts from fold ``k-1``'s final equity (fold 0 from the spec's cash).
Stability: mean and standard deviation (ddof 1; 0 for one fold) of the fold Sharpe ratios, the share
of folds with a positive Sharpe ratio, and the worst fold by Sharpe.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from engine.errors import InvalidParameterError
from engine.metrics import sharpe_ratio
from engine.scenarios import from_market
from models.splits import split_data
from models.symbol_agent.training import TrainingConfig, train_symbol_agent
from strategies.families import make_baseline
from strategies.families.symbol_agent import SYMBOL_AGENT
from strategies.family import Decider
from workbench.experiments.folds import SCHEMES, Fold, fold_layout, to_bars
from workbench.experiments.segments import Segment, rollout_segment
from workbench.experiments.single_path import SinglePath, load_single_path
from workbench.experiments.variants import check_value_lists, expand_variants, value_lists, variant_label
from workbench.policies import load_family_policy
from workbench.runs.evaluate import code_version, decider_run_id, evaluate, spec_decider, spec_placement
from workbench.runs.spec import RunSpec, parse_options
from workbench.store.record import RunRecord

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]

DEFAULT_GRIDS: dict[str, dict[str, tuple[str, ...]]] = {
    "buy_and_hold": {},
    "equal_weight": {"rebalance": ("5", "21", "63")},
    "sma_cross": {"fast": ("10", "20", "50"), "slow": ("50", "100", "200")},
    "momentum": {"lookback": ("20", "60", "120"), "rebalance": ("5", "21")},
    "random": {"switch_probability": ("0.01", "0.05", "0.2")},
}
"""Walk-forward optimization grids per baseline (combinations a strategy rejects are skipped)."""
VALIDATION_SHARE = 0.2
"""Share of a retrained policy's training run (its last bars) that validates."""


@dataclass(frozen=True)
class WalkForwardOptions:
    """Options of a walk-forward run (spec ``options``; the CLI flag in brackets).

    Attributes:
        train: Training window, bars or a duration [--train] (default ``3Y``).
        test: Test block [--test] (default ``6M``).
        step: Bars between test starts [--step]; None: the test length.
        scheme: ``rolling`` or ``expanding`` [--scheme] (default rolling).
        purge: Bars between each training window and its test block [--purge] (default 0).
        embargo: Bars after each test block kept out of later training [--embargo] (default 0).
        retrain: Choose parameters / retrain the policy per fold [--retrain]; else frozen.
        grid: ``{parameter: [values]}`` searched when retraining a strategy [--grid KEY=LIST].
        timesteps: Training steps per fold when retraining a policy [--timesteps] (default 2048).
    """

    train: int | str = "3Y"
    test: int | str = "6M"
    step: int | str | None = None
    scheme: str = "rolling"
    purge: int = 0
    embargo: int = 0
    retrain: bool = False
    grid: Any = None
    timesteps: int = 2048

    def __post_init__(self) -> None:
        grid = dict(self.grid) if isinstance(self.grid, tuple) else self.grid
        object.__setattr__(self, "grid", value_lists("grid", grid) if grid is not None else None)
        if self.scheme not in SCHEMES:
            raise InvalidParameterError(
                f"walkforward option scheme (--scheme) {self.scheme!r} must be one of {', '.join(SCHEMES)}")
        for name in ("purge", "embargo"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(
                    f"walkforward option {name} (--{name}) {value!r} must be an integer >= 0 bars")
        if not isinstance(self.retrain, bool):
            raise InvalidParameterError(f"walkforward option retrain {self.retrain!r} must be true or false")
        if isinstance(self.timesteps, bool) or not isinstance(self.timesteps, int) \
                or not 1 <= self.timesteps <= 10**9:
            raise InvalidParameterError(
                f"walkforward option timesteps (--timesteps) {self.timesteps!r} must be an integer from 1 to "
                "1_000_000_000")

    def bars(self, bars_per_year: float) -> tuple[int, int, int]:
        """``(train, test, step)`` in bars."""
        train = to_bars("walkforward option train (--train)", self.train, bars_per_year)
        test = to_bars("walkforward option test (--test)", self.test, bars_per_year)
        step = test if self.step is None else to_bars("walkforward option step (--step)", self.step, bars_per_year)
        return train, test, step

    def to_spec_options(self) -> dict[str, Any]:
        out = asdict(self)
        out["grid"] = None if self.grid is None else {k: list(v) for k, v in self.grid}
        return out


@dataclass
class FoldResult:
    """One fold: its bars, what decided in it and its out-of-sample piece."""

    fold: Fold
    segment: Segment
    start_equity: float
    metrics: dict[str, Any]
    choice: dict[str, Any] = field(default_factory=dict)


@dataclass
class WalkForwardResult:
    """A finished walk-forward; :meth:`summary` is what ``workbench walkforward --json`` prints."""

    run_id: str
    spec: RunSpec
    options: WalkForwardOptions
    path: SinglePath
    decider: Decider
    layout: dict[str, Any]
    folds: list[FoldResult]
    oos: Segment
    oos_metrics: dict[str, Any]
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The run as one JSON object (keys in ``docs/experiments.md``)."""
        index = self.path.data.index
        rows = []
        for f in self.folds:
            rows.append({"fold": f.fold.fold,
                         "train_start": index[f.fold.train_start].isoformat(),
                         "train_end": index[f.fold.train_end].isoformat(),
                         "test_start": index[f.fold.test_start].isoformat(),
                         "test_end": index[f.fold.test_end].isoformat(),
                         "train_bars": int(sum(b - a + 1 for a, b in f.fold.train_ranges)),
                         "test_bars": int(f.fold.test_end - f.fold.test_start + 1),
                         **f.choice, "start_equity": f.start_equity, **f.metrics})
        return {
            "run_id": self.run_id,
            "kind": self.spec.kind,
            "decider": self.decider.name,
            "placement": self.decider.placement_summary(),
            "spec": self.spec.to_dict(),
            "data": self.path.describe(),
            "costs": self.path.costs(),
            "layout": self.layout,
            "folds": rows,
            "oos": {"start": self.oos.index[0].isoformat(), "end": self.oos.index[-1].isoformat(),
                    "bars": len(self.oos), **self.oos_metrics},
            "stability": stability([f.metrics["sharpe"] for f in self.folds]),
            "notes": list(self.notes),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """``equity`` (the stitched curve: timestamp index, ``equity``, ``fold``) and ``fold_metrics``."""
        equity = pd.DataFrame({
            "equity": self.oos.equity(self.path.params.init_cash),
            "fold": np.concatenate([np.full(len(f.segment), f.fold.fold) for f in self.folds]),
        }, index=self.oos.index)
        equity.index.name = "timestamp"
        rows = []
        for row in self.summary()["folds"]:
            rows.append({k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in row.items()})
        return {"equity": equity, "fold_metrics": pd.DataFrame(rows)}

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The run as the run store keeps it."""
        data = self.path.data
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=self.summary(),
            dataset=data.name, start=data.index[0].isoformat(), end=data.index[-1].isoformat(),
            decider=self.decider.name, model_sha=self.decider.model_sha, data_fingerprint=data.fingerprint(),
            code_version=code_version(), tables=self.tables(), tags=tuple(tags))


def stability(sharpes: Sequence[float | None]) -> dict[str, Any]:
    """``n_folds``, ``sharpe_mean``, ``sharpe_std`` (ddof 1; 0 for one fold), ``positive_fraction``
    (Sharpe > 0) and ``worst_fold`` (lowest Sharpe, first on ties) of per-fold Sharpe ratios
    (None counts as 0: the metrics' value for a curve that never moves is 0 already)."""
    values = np.array([0.0 if s is None else float(s) for s in sharpes])
    worst = int(np.argmin(values))
    return {"n_folds": len(values), "sharpe_mean": float(values.mean()),
            "sharpe_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "positive_fraction": float((values > 0).mean()),
            "worst_fold": {"fold": worst, "sharpe": float(values[worst])}}


def run_walkforward(spec: RunSpec, progress: Progress | None = None) -> WalkForwardResult:
    """Run the walk-forward ``spec`` (kind ``walkforward``) describes."""
    options = parse_options(spec, WalkForwardOptions)
    spec = spec.replace(options=tuple(options.to_spec_options().items()))
    decider = spec_decider(spec)  # a bad name fails before any data is loaded
    if options.grid is not None and spec.strategy is None:
        raise InvalidParameterError("walkforward option grid (--grid) searches a strategy's parameters; "
                                    "a policy is retrained instead (--retrain, --timesteps)")
    path = load_single_path(spec)
    train, test, step = options.bars(path.periods_per_year)
    folds = fold_layout(path.data.n_bars, train, test, step, options.scheme, options.purge, options.embargo)
    notes = list(path.notes)
    if not options.retrain:
        pieces = _frozen(path, decider, folds, progress)
    elif spec.strategy is not None:
        pieces = _optimized(spec, options, path, folds, notes, progress)
    else:
        pieces = _retrained(spec, options, path, folds, notes, progress)
    results, value = [], path.params.init_cash
    for fold, (segment, choice) in zip(folds, pieces):
        metrics = segment.metrics(value, path.data.frequency)
        results.append(FoldResult(fold, segment, value, metrics, choice))
        value = float(segment.equity(value)[-1])
    oos = Segment.concat([r.segment for r in results])
    layout = {"scheme": options.scheme, "train_bars": train, "test_bars": test, "step_bars": step,
              "purge": options.purge, "embargo": options.embargo, "retrain": options.retrain,
              "n_folds": len(folds), "unused_bars": int(path.data.n_bars - 1 - folds[-1].test_end)}
    identity = decider_run_id(spec, path.data.fingerprint(), decider)
    return WalkForwardResult(identity, spec, options, path, decider, layout, results, oos,
                             oos.metrics(path.params.init_cash, path.data.frequency), tuple(notes))


def _frozen(path: SinglePath, decider: Decider, folds: list[Fold],
            progress: Progress | None) -> list[tuple[Segment, dict]]:
    if progress is not None:
        progress(f"walkforward: running {decider.name} over {path.data.n_bars} bars")
    whole = rollout_segment(path.run(decider))
    return [(whole.take(f.test_bars()), {}) for f in folds]


def _optimized(spec: RunSpec, options: WalkForwardOptions, path: SinglePath, folds: list[Fold],
               notes: list[str], progress: Progress | None) -> list[tuple[Segment, dict]]:
    fixed = dict(spec.strategy_params)
    if options.grid is not None:
        lists = options.grid
        check_value_lists("--grid", spec.strategy, lists)
    else:
        lists = tuple((k, v) for k, v in sorted(DEFAULT_GRIDS[spec.strategy].items()) if k not in fixed)
    candidates, rejected = expand_variants(spec.strategy, fixed, lists)
    if rejected:
        notes.append(f"{len(rejected)} grid point(s) left out because {spec.strategy} rejects them: "
                     + "; ".join(variant_label(spec.strategy, p) for p in rejected))
    if not candidates:
        raise InvalidParameterError(f"every point of the walk-forward grid is rejected by {spec.strategy}; "
                                    "give valid values with --grid KEY=LIST")
    if len(candidates) == 1:
        notes.append(f"nothing to optimize for {variant_label(spec.strategy, candidates[0])}: the grid has one point")
    segments = []
    for i, params in enumerate(candidates):
        if progress is not None:
            progress(f"walkforward: grid point {i + 1}/{len(candidates)} {variant_label(spec.strategy, params)}")
        decider = make_baseline(spec.strategy, params)
        segments.append(rollout_segment(path.run(decider)))
    returns = np.column_stack([s.returns for s in segments])
    out = []
    for fold in folds:
        scores = sharpe_ratio(returns[fold.train_bars()], path.periods_per_year, axis=0)
        best = int(np.argmax(scores))
        out.append((segments[best].take(fold.test_bars()),
                    {"params": candidates[best], "train_sharpe": float(scores[best])}))
    return out


def _retrained(spec: RunSpec, options: WalkForwardOptions, path: SinglePath, folds: list[Fold],
               notes: list[str], progress: Progress | None) -> list[tuple[Segment, dict]]:
    card = load_family_policy(spec.policy, SYMBOL_AGENT.name, "torch").card
    data, index = path.data, path.data.index
    config = TrainingConfig.from_dict({**dict(card.config["training"]), "timesteps": options.timesteps,
                                       "seed": spec.seed, "checkpoint_every": 0,
                                       "device": spec.device})
    # A rollout longer than the budget would train past it: cap the rollout at the fold's budget.
    n_steps = max(1, min(config.n_steps, options.timesteps // (config.accounts * data.n_symbols)))
    config = dataclasses.replace(config, n_steps=n_steps, batch_size=min(config.batch_size, n_steps * config.accounts
                                                                         * data.n_symbols))
    if any(len(f.train_ranges) > 1 for f in folds):
        notes.append("the embargo splits some training windows; a retrained policy trains on the latest "
                     "contiguous run of training bars")
    out = []
    for fold in folds:
        if progress is not None:
            progress(f"walkforward: retraining {spec.policy} for fold {fold.fold + 1}/{len(folds)}")
        first, last = fold.latest_train_run()
        split = first + int(round((last - first + 1) * (1.0 - VALIDATION_SHARE)))
        if split - first < 2 or last - split + 1 < 2:
            raise InvalidParameterError(
                f"fold {fold.fold}'s training run of {last - first + 1} bars is too short to split into training "
                "and validation; lengthen --train or lower --embargo")
        try:
            with tempfile.TemporaryDirectory(prefix="workbench-walkforward-") as log_dir:
                periods = split_data(data.slice(index[first], index[last]), (index[first], index[split - 1]),
                                     (index[split], index[last]), False)
                trained = train_symbol_agent(periods, config, log_dir=log_dir, code_version=code_version())
        except InvalidParameterError as error:
            raise InvalidParameterError(
                f"retraining {spec.policy} for fold {fold.fold} on {index[first].date()} to {index[last].date()} "
                f"failed: {error}. Lengthen the training window (--train)") from None
        decider = SYMBOL_AGENT.trained(trained.agent, trained.normalizer, spec.policy, _weights_sha(trained.agent),
                                       spec_placement(spec))
        batch = from_market(data.slice(index[0], index[fold.test_end]), [("base", path.params)])
        segment = rollout_segment(evaluate(batch, decider))
        validation = trained.card.validation_metrics or {}
        out.append((segment.take(fold.test_bars()),
                    {"training": {"train_start": index[first].isoformat(), "train_end": index[split - 1].isoformat(),
                                  "validation_start": index[split].isoformat(), "validation_end": index[last].isoformat(),
                                  "validation_sharpe": validation.get("validation/sharpe"),
                                  "timesteps": options.timesteps, "weights_sha256": decider.model_sha}}))
    return out


def _weights_sha(module) -> str:
    """sha256 over the module's tensors in name order (identifies a retrained fold's weights)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
