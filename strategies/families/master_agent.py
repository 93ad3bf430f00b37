"""The master-agent family: a portfolio agent setting a target weight per symbol (and cash) from the
frozen symbol agent's embeddings (docs/design.md, master agent).

It runs on torch (:class:`~models.master_agent.export.DecidingMasterAgent`) or on its verified ONNX
export of the same graph; either way one forward pass per bar returns the weights with the critic's
value and the pooling query's attention over the symbols. Its explanation of a decision shows that
attention and, per symbol, the gradient x input of the symbol's target weight with respect to its
own observation row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from engine.decision_tables import decisions, long_table
from engine.errors import CheckpointError, InvalidParameterError
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from models.checkpoint import CARD_FILE, load_checkpoint
from models.master_agent.export import MASTER_AGENT_GRAPH, MASTER_INPUTS, DecidingMasterAgent
from models.master_agent.policy_network import ARCHITECTURE, build_master_network, master_action_space
from models.onnx_export import export_onnx
from models.symbol_agent.encoder import OBSERVATION_BLOCKS
from strategies.families.symbol_agent import FEATURES, shares
from strategies.family import (
    REFERENCE,
    ActionInfo,
    Decider,
    Explanation,
    Placement,
    check_runtime,
    checkpoint_decider,
)
from strategies.master import (
    GROUPING_KEYS,
    LiveMasterObservation,
    MasterObserver,
    MasterOnnxPolicy,
    MasterPolicy,
)


class MasterAgentFamily:
    """The master agent (see the module docstring)."""

    name = "master_agent"
    title = "master agent"
    architecture = ARCHITECTURE

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        """The verified master agent of ``folder`` on ``runtime`` (``auto``: its ONNX export when it has
        one) deciding on ``placement``.

        Raises:
            InvalidParameterError: an unknown runtime, or a placement this machine cannot run.
            CheckpointError: a file fails verification, or ``runtime="onnx"`` without a verified export.
        """
        check_runtime(runtime)  # before anything is read
        network, card, normalizer = load_checkpoint(folder, build_master_network)
        try:
            space = master_action_space(card.config)
        except InvalidParameterError as error:
            raise CheckpointError(f"{folder / CARD_FILE}: {error}. Fix: restore the model card or re-save the "
                                  "checkpoint") from None
        return checkpoint_decider(
            self, folder, runtime, name, placement, network=network, card=card, normalizer=normalizer,
            onnx=lambda path, where: MasterOnnxPolicy(path, name=folder.name, action_space=space, placement=where),
            torch=lambda where: MasterPolicy(network, name=folder.name, action_space=space, placement=where))

    def observer(self, decider: Decider, batch: ScenarioBatch) -> MasterObserver:
        """The symbol rows with the checkpoint's normalizer, plus the rows' grouping."""
        return MasterObserver(batch, decider.normalizer)

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> LiveMasterObservation:
        """The bar-by-bar counterpart of :meth:`observer`."""
        return LiveMasterObservation(n_symbols, frequency, decider.normalizer)

    def actions(self, decider: Decider) -> ActionInfo:
        """Its action space's actions."""
        return ActionInfo.of(decider.policy.action_space)

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        """Every decision already carries its attention (a few numbers per symbol)."""
        return 0

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        """``weights`` (the scenario's allocation: a column per symbol and cash), ``values`` and
        ``pooling_attention`` (a column per head: the pooling query's attention on the row's symbol)."""
        extras, tables = rollout.extras, {}
        if "weights" in extras:
            columns = [*rollout.symbols, "cash"]
            tables["weights"] = long_table(rollout, decisions(rollout, extras["weights"], "portfolio"), columns)
        if "values" in extras:
            tables["values"] = long_table(rollout, decisions(rollout, extras["values"], "portfolio"), "value")
        if "attention" in extras:
            heads = np.shape(extras["attention"])[-1]
            tables["pooling_attention"] = long_table(rollout, decisions(rollout, extras["attention"], "portfolio"),
                                                   [f"head_{h + 1}" for h in range(heads)])
        return tables

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray],
                symbols: tuple[str, ...]) -> Explanation:
        """The pooling attention over the symbols and each symbol weight's attribution to its own row."""
        deciding = DecidingMasterAgent(decider.network.eval())
        n = len(symbols)
        inputs = {k: torch.tensor(np.asarray(observation[k], dtype=np.float32)[:n][None]) for k in OBSERVATION_BLOCKS}
        inputs["absent"] = torch.tensor(np.asarray(observation["absent"], dtype=bool)[:n][None])
        for name in FEATURES:
            inputs[name].requires_grad_(True)
        weights, _, attention = deciding(*(inputs[k] for k in MASTER_INPUTS))
        rows = []
        for s, symbol in enumerate(symbols):
            gradients = torch.autograd.grad(weights[0, s], [inputs[k] for k in FEATURES], retain_graph=True)
            for (name, features), gradient in zip(FEATURES.items(), gradients):
                score = (gradient * inputs[name]).detach().abs()[0, s]
                if score.dim() == 2:  # technical: [steps, features] -> [features]
                    score = score.sum(dim=0)
                rows.extend((symbol, name, feature, float(score[f])) for f, feature in enumerate(features))
        chosen = weights[0].detach().numpy()
        return Explanation(
            rows=("portfolio",), queries=("pool",), tokens=tuple(symbols),
            attention=attention.detach().numpy()[None, :, :, None, :].astype(np.float32),  # [1, 1, H, 1, N]
            action_names=(), probabilities=np.empty((n, 0)),
            actions=tuple(f"weight {w:.1%}" for w in chosen[:n]),
            attribution=shares(pd.DataFrame(rows, columns=["symbol", "block", "feature", "score"])),
            method="gradient x input of the symbol's target weight, with respect to its own row",
            reading="the pooling query's attention over the symbols, one map per head")

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        """Export weights, value and attention as one graph (:data:`MASTER_AGENT_GRAPH`) on
        observation rows regrouped by scenario (``[K, N, ...]``, one row per decision)."""
        grouped = group_rows(observations)
        report = export_onnx(DecidingMasterAgent(decider.network.eval()), out, grouped, min_rows=min_rows,
                             latency_runs=latency_runs, graph=MASTER_AGENT_GRAPH)
        return report.to_dict()


def group_rows(observations: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Recorded master observations (rows ``[R * N]`` with their grouping) as the graph's ``[R, N, ...]`` inputs."""
    missing = [k for k in (*OBSERVATION_BLOCKS, *GROUPING_KEYS) if k not in observations]
    if missing:
        raise InvalidParameterError(f"recorded observations lack {', '.join(missing)}; record them with the "
                                    "master-agent family's observer")
    n_symbols = int(np.max(observations["symbol_index"])) + 1
    grouped = {k: np.ascontiguousarray(observations[k], dtype=np.float32).reshape(
        (-1, n_symbols) + np.shape(observations[k])[1:]) for k in OBSERVATION_BLOCKS}
    grouped["absent"] = np.asarray(observations["absent"], dtype=bool).reshape(-1, n_symbols)
    return grouped


MASTER_AGENT = MasterAgentFamily()
