"""Paper sessions as stored runs: a session's ledger, metrics and live decision latency.

A paper session (``workbench.paper``) keeps its own journal; :func:`paper_record` turns its state
into a run of kind ``paper``, measured with the same metrics as a backtest on the bars it traded,
so the app lists it beside the backtests and a review can read its live latency. Running a paper
spec (:meth:`PaperKind.run`) replays the spec's data through a new session at full speed in
``WORKBENCH_HOME/paper/<id>`` and stores that session.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.metrics import scenario_metrics
from engine.paths import workbench_home
from engine.scenarios import ScenarioParams
from models.parity import merge_parity
from workbench.paper import StartOptions, start_paper
from workbench.paper.ledger import session_ledger
from workbench.runs import tables
from workbench.runs.evaluate import code_version
from workbench.runs.kind import DetailTable, Evidence, Progress, RunView, ScenarioRows, StoredRunLike, as_number
from workbench.runs.spec import RunSpec
from workbench.store.record import RunRecord

LABEL = "live"
"""The one scenario of a paper run."""


class PaperResult:
    """A paper session read from its state folder, ready to store."""

    def __init__(self, state: str | Path, spec: RunSpec | None = None) -> None:
        self.state = Path(state)
        self.ledger = ledger = session_ledger(self.state)
        config = ledger.config
        self.spec = spec or _spec_of(config)
        self.metrics = _metrics(ledger) if len(ledger.equity) >= 2 else {}
        text = "\n".join([json.dumps(config, sort_keys=True), str(len(ledger.equity)),
                          repr(float(ledger.equity[-1])) if len(ledger.equity) else "", code_version()])
        self.run_id = hashlib.sha256(text.encode()).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """``run_id``, ``kind``, the session's configuration, ``scenarios`` (one row, ``live``) and
        ``latency_ms`` (p50, p99, max and count of the bars' decision latency)."""
        ledger, config = self.ledger, self.ledger.config
        latency = ledger.latency_seconds * 1e3
        return {
            "run_id": self.run_id, "kind": self.spec.kind, "state": str(self.state), "feed": config["feed"],
            "finished": ledger.finished, "bars": len(ledger.equity),
            "data": {"name": self.spec.data, "symbols": list(config["symbols"]),
                     "start": ledger.index[0].isoformat() if len(ledger.index) else None,
                     "end": ledger.index[-1].isoformat() if len(ledger.index) else None,
                     "frequency": config["frequency"], "fingerprint": config["data_fingerprint"]},
            "scenarios": [{"scenario": 0, "label": LABEL, "fees": config["fees"], "slippage": config["slippage"],
                           "cash": config["cash"], **self.metrics}] if self.metrics else [],
            "placement": None if config.get("policy") is None else {
                "device": config.get("device", "cpu"), "precision": config.get("precision", "fp32"),
                "parity": merge_parity(ledger.parity)},
            "latency_ms": {"n": int(latency.size),
                           **({k: float(np.percentile(latency, q)) for k, q in (("p50", 50), ("p99", 99))}
                              if latency.size else {"p50": None, "p99": None}),
                           "max": float(latency.max()) if latency.size else None},
        }

    def to_record(self, tags: Sequence[str] = ()) -> RunRecord:
        """The session as the run store keeps it: ``equity`` and ``orders`` (the stored orders' schema)."""
        ledger, config = self.ledger, self.ledger.config
        equity = pd.DataFrame({"timestamp": ledger.index, LABEL: ledger.equity})
        orders = tables.orders_table(ledger.records, config["symbols"], ledger.index)
        start = ledger.index[0].isoformat() if len(ledger.index) else ""
        end = ledger.index[-1].isoformat() if len(ledger.index) else ""
        return RunRecord(
            run_id=self.run_id, kind=self.spec.kind, spec=self.spec.to_dict(), summary=self.summary(),
            dataset=self.spec.data, start=start, end=end, decider=self.spec.decider, model_sha=config["model_sha"],
            data_fingerprint=config["data_fingerprint"], code_version=code_version(),
            tables={"equity": equity, "orders": orders}, tags=tuple(tags))


def paper_record(state: str | Path, tags: Sequence[str] = ()) -> RunRecord:
    """The run record of the paper session in ``state`` (see the module docstring)."""
    return PaperResult(state).to_record(tags)


class PaperKind(ScenarioRows):
    """A decider trading a feed bar by bar through the backtest's kernels, journaled."""

    name = "paper"
    title = "Paper session"
    options = None

    def run(self, spec: RunSpec, progress: Progress | None = None) -> PaperResult:
        """Replay the spec's data through a new session at full speed and read it back."""
        digest = hashlib.sha256(spec.canonical().encode()).hexdigest()[:16]
        state = workbench_home() / "paper" / f"run-{digest}"
        feed = f"replay:{spec.data}" + (f":{','.join(spec.symbols)}" if spec.symbols else "")
        start_paper(StartOptions(
            state=state, feed=feed, strategy=spec.strategy, strategy_params=tuple(spec.strategy_params),
            policy=spec.policy, runtime=spec.runtime, device=spec.device, precision=spec.precision,
            start=spec.start, end=spec.end, fees=spec.fees[0],
            slippage=spec.slippage[0], cash=spec.cash))
        return PaperResult(state, spec)

    def evidence(self, run: StoredRunLike) -> list[Evidence]:
        """The live p99 decision latency (what the latency gate is about)."""
        latency = run.summary.get("latency_ms") or {}
        if not latency.get("n"):
            return []
        return [("decision_latency_p99_ms", as_number(latency.get("p99")),
                 f"paper session, live p99 over {latency['n']} bars")]

    def report_curves(self, run: StoredRunLike) -> None:
        return None

    def report_section(self, runs: Sequence[StoredRunLike], plots: dict[str, Any],
                       limits: Mapping[str, float]) -> str:
        return ""

    def view(self) -> RunView:
        return RunView(pages=("paper",), sets_defaults=False)

    def detail_tables(self, summary: Mapping[str, Any]) -> list[DetailTable]:
        """None beyond the metrics rows."""
        return []

    def replayable(self, spec: RunSpec) -> list[tuple[str, ScenarioParams]]:
        """The session's one account."""
        return [(LABEL, spec.base_params().replace(fees=spec.fees[0], slippage=spec.slippage[0]))]


def _spec_of(config: Mapping[str, Any]) -> RunSpec:
    """A paper spec describing a session's configuration (its feed's dataset for a replay)."""
    feed = str(config["feed"]).split(":")
    data = feed[1] if feed[0] == "replay" and len(feed) > 1 else str(config["feed"])
    return RunSpec(kind="paper", data=data, symbols=tuple(config["symbols"]), start=config.get("start"),
                   end=config.get("end"), strategy=config.get("strategy"),
                   strategy_params=tuple(dict(config.get("strategy_params") or {}).items()),
                   policy=config.get("policy"), runtime=config.get("runtime") or "auto",
                   device=config.get("device", "cpu"), precision=config.get("precision", "fp32"),
                   fees=(float(config["fees"]),), slippage=(float(config["slippage"]),), cash=float(config["cash"]),
                   risk=tuple(dict(config.get("risk") or {}).items()))


def _metrics(ledger) -> dict[str, Any]:
    """The backtest metrics of the session's one account on the bars it traded."""
    return scenario_metrics(ledger.equity[:, None], ledger.records, ledger.close[None], ledger.index,
                            np.array([float(ledger.config["cash"])]), ledger.config["frequency"],
                            symbols=tuple(ledger.config["symbols"]))[0]


PAPER = PaperKind()
