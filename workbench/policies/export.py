"""Export a trained policy to ONNX, checked on observations recorded from a real backtest.

The observations are those the policy itself meets: a backtest of the torch runtime on its training
dataset and symbols (from the model card, or as given), over the whole dataset, with as many cost
scenarios as it takes to reach the parity check's row count (each scenario at a higher fee, so
positions and portfolio states differ). The policy's family exports its network and measures the
parity (``PolicyFamily.export_onnx``).

Where the report goes: an export written into the checkpoint folder as its ``model.onnx`` becomes
the policy's default runtime, and its report goes into the model card. An export written anywhere
else leaves the checkpoint untouched (shipped policies are never modified by a command); its report
is written beside the file as ``<file>.report.json``.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.actions import BarContext
from engine.atomic_files import write_text_atomically
from engine.errors import InvalidParameterError
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.checkpoint import ONNX_FILE, update_card
from models.onnx_export import MIN_PARITY_ROWS
from workbench.policies import load_policy, resolve_policy
from workbench.services.datasets import load_dataset

logger = logging.getLogger(__name__)

# Fee step between recording scenarios: different costs lead to different positions and cash.
RECORDING_FEE_STEP = 0.0005
REPORT_SUFFIX = ".report.json"


@dataclass(frozen=True)
class PolicyExport:
    """An export, where its observations came from and where its report went."""

    report: Mapping[str, Any]
    checkpoint: Path
    dataset: str
    symbols: tuple[str, ...]
    n_scenarios: int
    report_path: Path


class _RecordingObserver:
    """Wraps the policy's observer and keeps a copy of every observation it builds."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.rows: dict[str, list[np.ndarray]] = {}

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        observation = self.inner.observe(bar, context)
        for name, values in observation.items():
            self.rows.setdefault(name, []).append(np.array(values))
        return observation

    def stacked(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self.rows.items()}


def export_policy(policy: str, out: str | Path, *, data: str | None = None, symbols: list[str] | None = None,
                  min_rows: int = MIN_PARITY_ROWS, latency_runs: int = 200) -> PolicyExport:
    """Export ``policy``'s network to ``out`` and record the parity report (module docstring).

    Args:
        policy: Shipped policy name or checkpoint folder.
        out: The ``.onnx`` file to write (``<checkpoint>/model.onnx`` makes it the policy's default runtime).
        data: Dataset to record observations on (default: the card's training dataset).
        symbols: Its symbols (default: the card's).
        min_rows: Decisions to check parity on.
        latency_runs: Timed onnxruntime runs per batch size.

    Raises:
        InvalidParameterError: no dataset known or given, a bad option, or a decider without a network.
        OnnxExportError: the export breaks a parity threshold (nothing is written).
    """
    folder = resolve_policy(policy)
    decider = load_policy(policy, runtime="torch")
    dataset = data or decider.card.dataset.get("name")
    if not dataset:
        raise InvalidParameterError(
            f"{folder}: the model card does not name its training dataset; pass --data (and --symbols)")
    symbols = symbols or decider.card.dataset.get("symbols") or None
    market = load_dataset(dataset, symbols=symbols)
    decision_bars = len(market.index) - 1
    if decision_bars < 1:
        raise InvalidParameterError(f"{dataset} holds too few bars to record observations")
    # Enough scenarios for min_rows decisions even for a network that decides once per scenario and
    # bar (the master agent); a per-symbol network gets N rows per decision bar.
    n_scenarios = math.ceil(min_rows / decision_bars)
    params = [ScenarioParams(fees=i * RECORDING_FEE_STEP) for i in range(n_scenarios)]
    batch = from_market(market, params)
    recorder = _RecordingObserver(decider.observer(batch))
    logger.info("recording observations on %s (%d scenarios)", dataset, n_scenarios)
    run_rollout(batch, decider.policy, observer=recorder)
    out = Path(out)
    report = dict(decider.family.export_onnx(decider, out, recorder.stacked(), min_rows=min_rows,
                                             latency_runs=latency_runs))
    if out.resolve() == (folder / ONNX_FILE).resolve():
        report["path"] = out.name  # relative: the folder can move
        update_card(folder, export=report)
        report_path = folder
    else:
        report_path = out.with_name(out.name + REPORT_SUFFIX)
        write_text_atomically(report_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return PolicyExport(report, folder, dataset, tuple(market.symbols), n_scenarios, report_path)
