"""The symbol-agent family: a transformer encoder and a masked actor-critic choosing one of seven
actions per symbol (docs/design.md, symbol agent).

It runs on torch (:class:`~models.symbol_agent.export.DecidingSymbolAgent`) or on its verified ONNX
export of the same graph; either way one forward pass per bar returns the decision, the action
probabilities, the critic's values and, on explained bars, every layer's attention. A stored
backtest keeps the attention of the first scenario's rows every ``k``-th decision bar, ``k`` chosen
so the maps stay within :data:`ATTENTION_BUDGET` weights. Its explanation of one decision adds the
gradient x input attribution of the chosen action's logit, which needs the torch network.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from engine.actions import SymbolAction, SymbolActions
from engine.decision_tables import decisions, long_table
from engine.errors import InvalidParameterError
from engine.features.regime_block import REGIME_COLUMNS
from engine.features.technical import TECHNICAL_COLUMNS
from engine.live_observation import LiveObservation
from engine.observation import (
    PORTFOLIO_FIELDS,
    POSITION_FIELDS,
    SL_MODELS,
    ObservationBuilder,
)
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from models.checkpoint import load_checkpoint
from models.onnx_export import export_onnx
from models.spec import OBSERVATION_DTYPES, OBSERVATION_NAMES
from models.symbol_agent.export import SYMBOL_AGENT_GRAPH, DecidingSymbolAgent
from models.symbol_agent.network import ARCHITECTURE, SymbolAgent, build_symbol_agent
from strategies.family import (
    REFERENCE,
    ActionInfo,
    Decider,
    Explanation,
    Placement,
    check_runtime,
    checkpoint_decider,
)
from strategies.neural import OnnxPolicy, TorchPolicy

ATTENTION_BUDGET = 1_000_000
"""Attention weights a stored backtest keeps, at most (unless one decision alone holds more)."""
ACTION_NAMES: tuple[str, ...] = tuple(a.name.lower() for a in SymbolAction)
FEATURES: dict[str, tuple[str, ...]] = {
    "technical": TECHNICAL_COLUMNS, "sl_probs": SL_MODELS, "position": POSITION_FIELDS,
    "portfolio": PORTFOLIO_FIELDS, "regime": REGIME_COLUMNS,
}
"""The input blocks and their features, as the attribution names them."""


def token_names(steps: int) -> tuple[str, ...]:
    """Token names of an encoder with ``steps`` technical rows: ``t-23`` .. ``t``, then the
    ``sl_probs``, ``position``, ``portfolio`` and ``regime`` tokens."""
    return tuple(f"t-{steps - 1 - i}" if i < steps - 1 else "t" for i in range(steps)) + (
        "sl_probs", "position", "portfolio", "regime")


class SymbolAgentFamily:
    """The symbol agent (see the module docstring)."""

    name = "symbol_agent"
    title = "symbol agent"
    architecture = ARCHITECTURE

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        """The verified agent of ``folder`` on ``runtime`` (``auto``: its ONNX export when it has one)
        deciding on ``placement``.

        Raises:
            InvalidParameterError: an unknown runtime, or a placement this machine cannot run.
            CheckpointError: a file fails verification, or ``runtime="onnx"`` without a verified export.
        """
        check_runtime(runtime)  # before anything is read
        agent, card, normalizer = load_checkpoint(folder, build_symbol_agent)
        return checkpoint_decider(
            self, folder, runtime, name, placement, network=agent, card=card, normalizer=normalizer,
            onnx=lambda path, where: OnnxPolicy(path, name=folder.name, placement=where),
            torch=lambda where: TorchPolicy(DecidingSymbolAgent(agent.eval()), name=folder.name,
                                            outputs=SYMBOL_AGENT_GRAPH.outputs, placement=where))

    def trained(self, agent: SymbolAgent, normalizer: Any, name: str, model_sha: str,
                placement: Placement = REFERENCE) -> Decider:
        """The torch decider of an agent just trained (no checkpoint folder yet), e.g. a
        walk-forward fold's retrained agent."""
        policy = TorchPolicy(DecidingSymbolAgent(agent.eval()), name=name, outputs=SYMBOL_AGENT_GRAPH.outputs,
                             placement=placement)
        return Decider(name, self, policy, normalizer, model_sha, "torch", network=agent, placement=policy.placement)

    def observer(self, decider: Decider, batch: ScenarioBatch) -> ObservationBuilder:
        """The observation builder with the checkpoint's frozen normalizer and the action mask."""
        return ObservationBuilder(batch, normalizer=decider.normalizer, action_space=SymbolActions())

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> LiveObservation:
        """The bar-by-bar counterpart of :meth:`observer`."""
        return LiveObservation(n_symbols, frequency, decider.normalizer, action_space=SymbolActions())

    def actions(self, decider: Decider) -> ActionInfo:
        """Its action space's actions."""
        return ActionInfo.of(decider.policy.action_space)

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        """The attention sampling step that keeps the first scenario's maps within the budget."""
        encoder = decider.network.config.encoder
        per_decision = n_symbols * encoder.n_layers * encoder.n_heads * encoder.n_tokens ** 2
        samples = max(1, min(n_decisions, ATTENTION_BUDGET // per_decision))
        return max(1, math.ceil(n_decisions / samples))

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        """``probabilities`` (a column per action), ``values`` and the sampled ``attention``."""
        tables = {}
        if "probabilities" in rollout.extras:
            tables["probabilities"] = long_table(
                rollout, decisions(rollout, rollout.extras["probabilities"], "portfolio"), list(ACTION_NAMES))
        if "values" in rollout.extras:
            tables["values"] = long_table(rollout, decisions(rollout, rollout.extras["values"], "portfolio"), "value")
        if "attention" in rollout.explained:
            steps = decider.network.config.encoder.technical_steps
            tables["attention"] = attention_table(rollout, token_names(steps))
        return tables

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray],
                symbols: tuple[str, ...]) -> Explanation:
        """Attention per layer and head, probabilities and the gradient x input attribution of the
        chosen action's logit, summed in absolute value over the technical window's steps."""
        agent: SymbolAgent = decider.network
        inputs = {n: torch.from_numpy(np.ascontiguousarray(observation[n], dtype=OBSERVATION_DTYPES[n]))
                  for n in OBSERVATION_NAMES}
        for name in FEATURES:
            inputs[name].requires_grad_(True)
        logits, _, attention = agent(inputs, return_attention=True)
        chosen = logits.argmax(dim=1)
        logits.gather(1, chosen[:, None]).sum().backward()
        rows = []
        for name, features in FEATURES.items():
            score = (inputs[name].grad * inputs[name]).detach().abs()
            if score.dim() == 3:  # technical: [N, steps, features] -> [N, features]
                score = score.sum(dim=1)
            for s, symbol in enumerate(symbols):
                rows.extend((symbol, name, feature, float(score[s, f])) for f, feature in enumerate(features))
        tokens = token_names(agent.config.encoder.technical_steps)
        return Explanation(
            rows=tuple(symbols), queries=tokens, tokens=tokens,
            attention=np.stack([w.detach().numpy() for w in attention]).astype(np.float32),  # [L, N, H, Q, Q]
            action_names=ACTION_NAMES,
            probabilities=torch.softmax(logits.detach().double(), dim=1).numpy(),
            actions=tuple(ACTION_NAMES[int(a)] for a in chosen),
            attribution=shares(pd.DataFrame(rows, columns=["symbol", "block", "feature", "score"])),
            method="gradient x input of the chosen action's logit",
            reading="rows are query tokens, columns key tokens (t = the bar's own row of the technical window)")

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        """Export logits, value and attention as one graph (:data:`SYMBOL_AGENT_GRAPH`)."""
        report = export_onnx(DecidingSymbolAgent(decider.network.eval()), out, observations, min_rows=min_rows,
                             latency_runs=latency_runs, graph=SYMBOL_AGENT_GRAPH)
        return report.to_dict()


def attention_table(rollout: RolloutResult, tokens: tuple[str, ...]) -> pd.DataFrame:
    """The explained bars' attention of the first scenario's rows: one row per (bar, symbol, layer,
    head, query token), one column per key token."""
    n_symbols = len(rollout.symbols)
    weights = np.asarray(rollout.explained["attention"])[:, :n_symbols]  # [K, N, L, H, Q, Q]
    n_bars, _, n_layers, n_heads, n_tokens, _ = weights.shape
    if len(tokens) != n_tokens:
        raise InvalidParameterError(f"attention maps have {n_tokens} tokens, the encoder names {len(tokens)}")
    grid = np.indices((n_bars, n_symbols, n_layers, n_heads, n_tokens)).reshape(5, -1)
    bars = rollout.explained_bars[grid[0]]
    frame = pd.DataFrame({
        "bar": bars,
        "timestamp": rollout.index[bars],
        "scenario": np.zeros(len(bars), dtype=np.int64),
        "symbol": np.asarray(rollout.symbols, dtype=object)[grid[1]].astype(str),
        "layer": grid[2],
        "head": grid[3],
        "query": np.asarray(tokens, dtype=object)[grid[4]].astype(str),
    })
    return pd.concat([frame, pd.DataFrame(weights.reshape(-1, n_tokens), columns=list(tokens))], axis=1)


def shares(attribution: pd.DataFrame) -> pd.DataFrame:
    """``attribution`` with each symbol's scores as shares of its total (they add up to 1)."""
    totals = attribution.groupby("symbol")["score"].transform("sum")
    attribution["score"] = np.where(totals > 0, attribution["score"] / totals.where(totals > 0, 1.0), 0.0)
    return attribution


SYMBOL_AGENT = SymbolAgentFamily()
