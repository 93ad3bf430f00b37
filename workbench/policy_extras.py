"""Keep what a symbol agent computes beside its decisions: critic values and sampled attention maps.

Neural policies return only actions and probabilities (an ONNX export holds the actor alone).
:class:`ExtrasRecorder` wraps a symbol-agent policy without changing a single decision, keeps a
copy of each observation batch, and runs the checkpoint's torch agent over them in large batches
(every :data:`FLUSH_ROWS` rows and at the end): the critic's value for every decision, and on every
``k``-th decision bar the attention weights of the first scenario's rows. ``k`` is chosen from the
run's size so the maps stay within :data:`ATTENTION_BUDGET` weights (4 MB as float32). Batching
makes the extra pass cheap next to the rollout's one small forward pass per bar.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from engine.policy import Policy, PolicyOutput
from engine.scenarios import ScenarioBatch
from models.spec import OBSERVATION_DTYPES, OBSERVATION_NAMES
from models.symbol_agent import SymbolAgent
from strategies.neural import OnnxPolicy
from workbench.policies import load_symbol_policy
from workbench.runner import Decider

ATTENTION_BUDGET = 1_000_000
"""Attention weights kept per run, at most (unless one decision alone holds more)."""
FLUSH_ROWS = 4096
"""Observation rows buffered before the agent runs over them (bounds the buffer's memory)."""


@dataclass(frozen=True)
class AttentionSamples:
    """Attention maps of the first scenario's symbols at every ``every``-th decision bar.

    Attributes:
        bars: ``[K]`` decision bars sampled (0, every, 2 every, ...).
        weights: ``[K, layers, N, heads, tokens, tokens]`` float32 softmax weights (query row, key column).
        tokens: Token names: ``t-23`` .. ``t`` for the technical window's rows, then the
            ``sl_probs``, ``position``, ``portfolio`` and ``regime`` tokens.
    """

    bars: np.ndarray
    weights: np.ndarray
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class AgentExtras:
    """What the recorder kept over a rollout.

    Attributes:
        values: ``[T - 1, S * N]`` float32 critic values per decision (the rollout's portfolio layout).
        attention: The sampled attention maps.
    """

    values: np.ndarray
    attention: AttentionSamples


class ExtrasRecorder:
    """A symbol-agent policy (torch or ONNX) whose observations are kept for the critic and attention.

    Made fresh for one rollout: it counts its calls as decision bars (the rollout calls ``act`` once
    per bar from bar 0). Call :meth:`finish` after the rollout.

    Args:
        policy: The policy; its decisions are returned unchanged.
        agent: The checkpoint's :class:`SymbolAgent`.
        n_decisions: Decision bars of the rollout (``T - 1``).
        n_symbols: Symbols per scenario; the first ``n_symbols`` rows of a batch are scenario 0's.
    """

    def __init__(self, policy: Policy, agent: SymbolAgent, n_decisions: int, n_symbols: int) -> None:
        self.policy = policy
        self.agent = agent.eval()
        self.n_symbols = n_symbols
        encoder = agent.config.encoder
        steps = encoder.technical_steps
        self.tokens = tuple(f"t-{steps - 1 - i}" if i < steps - 1 else "t" for i in range(steps)) + (
            "sl_probs", "position", "portfolio", "regime")
        per_decision = n_symbols * encoder.n_layers * encoder.n_heads * len(self.tokens) ** 2
        samples = max(1, min(n_decisions, ATTENTION_BUDGET // per_decision))
        self.every = max(1, math.ceil(n_decisions / samples))
        self._calls = 0
        self._pending: list[tuple[int, dict[str, np.ndarray]]] = []
        self._pending_rows = 0
        self._values: list[np.ndarray] = []
        self._bars: list[int] = []
        self._weights: list[np.ndarray] = []

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def scope(self) -> str:
        return self.policy.scope

    @property
    def action_space(self):
        return self.policy.action_space

    def act(self, observation: Mapping[str, np.ndarray]) -> PolicyOutput:
        """The policy's own output; the observation is kept for :meth:`finish`."""
        output = self.policy.act(observation)
        kept = {n: np.array(observation[n], dtype=OBSERVATION_DTYPES[n]) for n in OBSERVATION_NAMES}
        self._pending.append((self._calls, kept))
        self._pending_rows += len(kept[OBSERVATION_NAMES[0]])
        self._calls += 1
        if self._pending_rows >= FLUSH_ROWS:
            self._flush()
        return output

    def _flush(self) -> None:
        if not self._pending:
            return
        bars = [bar for bar, _ in self._pending]
        rows = {n: torch.from_numpy(np.concatenate([obs[n] for _, obs in self._pending])) for n in OBSERVATION_NAMES}
        sampled = [obs for bar, obs in self._pending if bar % self.every == 0]
        with torch.no_grad():
            _, values = self.agent(rows)
            self._values.extend(np.split(values.numpy().astype(np.float32), len(bars)))
            if sampled:
                first = {n: torch.from_numpy(np.concatenate([obs[n][: self.n_symbols] for obs in sampled]))
                         for n in OBSERVATION_NAMES}
                _, _, attention = self.agent(first, return_attention=True)
                # [layers, K * N, heads, Q, Q] -> [K, layers, N, heads, Q, Q]
                stacked = np.stack([w.numpy() for w in attention]).astype(np.float32)
                stacked = stacked.reshape((stacked.shape[0], len(sampled), self.n_symbols) + stacked.shape[2:])
                self._weights.append(np.moveaxis(stacked, 1, 0))
                self._bars.extend(bar for bar in bars if bar % self.every == 0)
        self._pending, self._pending_rows = [], 0

    def finish(self) -> AgentExtras:
        """Run the agent over what is still buffered and return everything kept."""
        self._flush()
        encoder = self.agent.config.encoder
        n_tokens = len(self.tokens)
        weights = np.concatenate(self._weights) if self._weights else np.empty(
            (0, encoder.n_layers, self.n_symbols, encoder.n_heads, n_tokens, n_tokens), np.float32)
        values = np.stack(self._values) if self._values else np.empty((0, 0), np.float32)
        return AgentExtras(values, AttentionSamples(np.asarray(self._bars, dtype=np.int64), weights, self.tokens))


def extras_recorder(decider: Decider, batch: ScenarioBatch) -> ExtrasRecorder | None:
    """A recorder for ``decider`` when it is a symbol agent (torch or its ONNX export), else None:
    baselines keep their own extras as they are."""
    policy = decider.policy
    if not decider.is_neural or policy.scope != "portfolio":
        return None
    agent = _torch_agent(policy)
    if agent is None and isinstance(policy, OnnxPolicy):  # other networks (a master agent) keep their own extras
        # The ONNX export holds the actor only; the checkpoint's torch agent supplies the critic.
        agent = _torch_agent(load_symbol_policy(decider.name, "torch").policy)
    if agent is None:
        return None
    return ExtrasRecorder(policy, agent, batch.n_bars - 1, batch.n_symbols)


def with_policy(decider: Decider, policy: object) -> Decider:
    """``decider`` deciding with ``policy`` instead (same normalizer, model sha and name)."""
    return dataclasses.replace(decider, policy=policy)


def _torch_agent(policy: object) -> SymbolAgent | None:
    agent = getattr(getattr(policy, "actor", None), "module", None)
    return agent if isinstance(agent, SymbolAgent) else None
