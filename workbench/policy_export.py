"""Export a checkpoint's actor to ONNX, checked on observations recorded from a real backtest.

The observations are those the policy itself meets: a backtest of the torch actor on its training
dataset and symbols (from the model card, or as given), over the whole dataset, with as many cost
scenarios as it takes to reach the parity check's row count (each scenario at a higher fee, so
positions and portfolio states differ). The export report also goes into the model card.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.actions import BarContext
from engine.errors import InvalidParameterError
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.checkpoint import update_card
from models.onnx_export import MIN_PARITY_ROWS, ExportReport, export_onnx
from models.spec import OBSERVATION_NAMES
from workbench.datasets import load_dataset
from workbench.policies import load_symbol_policy, resolve_policy, symbol_observer

logger = logging.getLogger(__name__)

# Fee step between recording scenarios: different costs lead to different positions and cash.
RECORDING_FEE_STEP = 0.0005


@dataclass(frozen=True)
class PolicyExport:
    """An export and where its observations came from."""

    report: ExportReport
    checkpoint: Path
    dataset: str
    symbols: tuple[str, ...]
    n_scenarios: int


class _RecordingObserver:
    """Wraps the policy's observer and keeps a copy of every observation it builds."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.rows: dict[str, list[np.ndarray]] = {name: [] for name in OBSERVATION_NAMES}

    def observe(self, bar: int, context: BarContext) -> dict[str, np.ndarray]:
        observation = self.inner.observe(bar, context)
        for name in OBSERVATION_NAMES:
            self.rows[name].append(np.array(observation[name]))
        return observation

    def stacked(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self.rows.items()}


def export_policy(policy: str, out: str | Path, *, data: str | None = None, symbols: list[str] | None = None,
                  min_rows: int = MIN_PARITY_ROWS, latency_runs: int = 200) -> PolicyExport:
    """Export ``policy``'s actor to ``out`` and record the report in its model card.

    Args:
        policy: Shipped policy name or checkpoint folder.
        out: The ``.onnx`` file to write (``<checkpoint>/model.onnx`` makes it the policy's default runtime).
        data: Dataset to record observations on (default: the card's training dataset).
        symbols: Its symbols (default: the card's).
        min_rows: Observations to check parity on.
        latency_runs: Timed onnxruntime runs per batch size.

    Raises:
        InvalidParameterError: no dataset known or given, or a bad option.
        OnnxExportError: the export breaks a parity threshold (nothing is written).
    """
    folder = resolve_policy(policy)
    loaded = load_symbol_policy(policy, runtime="torch")
    dataset = data or loaded.card.dataset.get("name")
    if not dataset:
        raise InvalidParameterError(
            f"{folder}: the model card does not name its training dataset; pass --data (and --symbols)")
    symbols = symbols or loaded.card.dataset.get("symbols") or None
    market = load_dataset(dataset, symbols=symbols)
    per_scenario = (len(market.index) - 1) * len(market.symbols)
    if per_scenario < 1:
        raise InvalidParameterError(f"{dataset} holds too few bars to record observations")
    n_scenarios = math.ceil(min_rows / per_scenario)
    params = [ScenarioParams(fees=i * RECORDING_FEE_STEP) for i in range(n_scenarios)]
    batch = from_market(market, params)
    recorder = _RecordingObserver(symbol_observer(batch, loaded.normalizer))
    logger.info("recording %d observations on %s (%d scenarios)", n_scenarios * per_scenario, dataset, n_scenarios)
    run_rollout(batch, loaded.policy, observer=recorder)
    out = Path(out)
    report = export_onnx(loaded.policy.actor, out, recorder.stacked(), min_rows=min_rows, latency_runs=latency_runs)
    card_report = report.to_dict()
    if out.resolve().parent == folder.resolve():
        card_report["path"] = out.name  # relative: the folder can move
    update_card(folder, export=card_report)
    return PolicyExport(report, folder, dataset, tuple(market.symbols), n_scenarios)
