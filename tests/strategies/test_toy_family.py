"""A policy family defined in this one module runs through backtest, stress and paper trading.

The family is a toy: a portfolio-scope "network" that holds each symbol when its close is above the
close ``lookback`` bars earlier, scaled by a weight read from its checkpoint. It has its own
checkpoint format (a model card naming ``toy_trend`` and a ``toy.json``), its own observer and live
observation, and its own extras table. Registering it is the only step; no file of the workbench
learns its name (docs/architecture.md, "add a policy family").
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pytest

from engine.actions import BarContext, TargetWeights
from engine.decision_tables import decisions, long_table
from engine.errors import CheckpointError, InvalidParameterError
from engine.policy import PolicyOutput
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from engine.tracking import AccountTracker
from strategies import families
from strategies.family import REFERENCE, ActionInfo, Decider, Explanation, Placement
from workbench.paper import StartOptions, ledger_arrays, start_paper
from workbench.runs.backtest import run_backtest
from workbench.runs.registry import run_kind
from workbench.runs.spec import RunSpec

ARCHITECTURE = "toy_trend"


class ToyPolicy:
    """Hold ``weight`` of equity in each symbol whose close rose over ``lookback`` bars."""

    scope = "portfolio"

    def __init__(self, weight: float, name: str) -> None:
        self.weight, self.name, self.action_space = weight, name, TargetWeights()

    def act(self, observation: Mapping[str, np.ndarray], explain: bool = False) -> PolicyOutput:
        rising = observation["change"] > 0.0
        return PolicyOutput(np.where(rising, self.weight, 0.0), {"change": observation["change"].astype(np.float32)})


class ToyObserver:
    """The rollout's observer: each row's close against the close ``lookback`` bars earlier."""

    def __init__(self, batch: ScenarioBatch, lookback: int) -> None:
        self.close, self.lookback = batch.close, lookback

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        before = self.close[:, max(bar - self.lookback, 0), :]
        return {"change": (self.close[:, bar, :] / before - 1.0).reshape(-1)}


class ToyLiveObservation:
    """The same observation bar by bar for one paper-trading account."""

    def __init__(self, n_symbols: int, lookback: int) -> None:
        self.lookback, self.closes = lookback, np.empty((0, n_symbols))

    @property
    def n_bars(self) -> int:
        return len(self.closes)

    def append(self, bar: dict[str, np.ndarray]) -> None:
        self.closes = np.vstack([self.closes, bar["close"]])

    def new_tracker(self, n_accounts: int = 1) -> AccountTracker:
        return AccountTracker(n_accounts, self.closes.shape[1])

    def build(self, context: BarContext, tracker: AccountTracker) -> dict[str, np.ndarray]:
        t = self.n_bars - 1
        return {"change": self.closes[t] / self.closes[max(t - self.lookback, 0)] - 1.0}


class ToyFamily:
    name = "toy"
    title = "toy trend follower"
    architecture = ARCHITECTURE

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        if not placement.is_reference:  # a toy decides in numpy: it has nowhere else to go
            raise InvalidParameterError(f"the toy family decides on the CPU in float64, not {placement.key}")
        raw = (folder / "toy.json").read_bytes()
        settings = json.loads(raw)
        policy = ToyPolicy(float(settings["weight"]), folder.name)
        return Decider(name, self, policy, None, hashlib.sha256(raw).hexdigest(), "toy", folder=folder,
                       network=settings)

    def observer(self, decider: Decider, batch: ScenarioBatch) -> ToyObserver:
        return ToyObserver(batch, int(decider.network["lookback"]))

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> ToyLiveObservation:
        return ToyLiveObservation(n_symbols, int(decider.network["lookback"]))

    def actions(self, decider: Decider) -> ActionInfo:
        return ActionInfo.of(decider.policy.action_space)

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        return 0

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        return {"change": long_table(rollout, decisions(rollout, rollout.extras["change"], "portfolio"), "change")}

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray], symbols: tuple[str, ...]) -> Explanation:
        raise InvalidParameterError("the toy family has no network to explain")

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        raise InvalidParameterError("the toy family has no network to export")


TOY = ToyFamily()


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy family registered for one test, and a checkpoint folder of it."""
    monkeypatch.setattr(families, "FAMILIES", dict(families.FAMILIES))
    families.register_family(TOY)
    folder = tmp_path / "toy-trend"
    folder.mkdir()
    (folder / "model_card.json").write_text(json.dumps({"architecture": ARCHITECTURE}))
    (folder / "toy.json").write_text(json.dumps({"weight": 0.3, "lookback": 10}))
    return folder


SPEC = dict(data="stocks", symbols=("AAPL", "MSFT"), start="2009-01-01", end="2010-06-30")


def test_a_toy_family_backtests_and_stores_its_own_extras(toy: Path) -> None:
    result = run_backtest(RunSpec(kind="backtest", policy=str(toy), fees=(0.0, 0.001), **SPEC))
    assert result.decider.family is TOY
    assert all(s["n_trades"] > 5 for s in result.summary()["scenarios"])
    assert result.summary()["decider"] == {"family": "toy", "runtime": "toy", "actions": {"kind": "weights",
                                                                                             "names": []}}
    tables = result.to_record().tables
    assert {"equity", "orders", "actions", "rewards", "change"} <= set(tables)
    change = tables["change"]
    close = result.data.close
    row = change[(change["bar"] == 20) & (change["scenario"] == 0) & (change["symbol"] == "MSFT")].iloc[0]
    assert row["change"] == pytest.approx(close[20, 1] / close[10, 1] - 1.0, rel=1e-6)


def test_a_family_gets_the_runs_placement_and_may_refuse_it(toy: Path) -> None:
    """issue 19: the placement a run asks for reaches the family's load; a family without a device refuses."""
    assert run_backtest(RunSpec(kind="backtest", policy=str(toy), **SPEC)).summary()["placement"] is None
    with pytest.raises(InvalidParameterError, match="the toy family decides on the CPU in float64, not cpu/bf16"):
        run_backtest(RunSpec(kind="backtest", policy=str(toy), precision="bf16", **SPEC))


def test_a_toy_family_runs_a_stress_set(toy: Path) -> None:
    spec = RunSpec(kind="stress", policy=str(toy), options=(("shocks", ("gap:-0.2",)), ("n_bootstrap", 2),
                                                            ("n_garch", 0)), seed=3, **SPEC)
    record = run_kind("stress").run(spec).to_record()
    families_run = {row["family"] for row in record.summary["scenarios"]}
    assert {"base", "shock", "bootstrap"} <= families_run
    assert record.model_sha == hashlib.sha256((toy / "toy.json").read_bytes()).hexdigest()


def test_a_toy_family_paper_trades_like_its_backtest(toy: Path, tmp_path: Path) -> None:
    spec = RunSpec(kind="backtest", policy=str(toy), **{**SPEC, "symbols": ("AAPL",)})
    rollout = run_backtest(spec).rollout
    result = start_paper(StartOptions(state=tmp_path / "paper", feed="replay:stocks:AAPL", policy=str(toy),
                                      start=SPEC["start"], end=SPEC["end"]))
    assert result.status == "finished"
    records, equity = ledger_arrays(tmp_path / "paper")
    np.testing.assert_array_equal(equity, rollout.equity[:, 0])
    assert len(records) == len(rollout.records) > 0


def test_an_unregistered_architecture_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "unknown"
    folder.mkdir()
    (folder / "model_card.json").write_text(json.dumps({"architecture": ARCHITECTURE}))
    with pytest.raises(CheckpointError, match="architecture 'toy_trend' is not one this workbench loads"):
        families.load_trained(folder)
