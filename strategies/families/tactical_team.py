"""The tactical-team family: three agents (FVG, Momentum, Entry) voting on each symbol's position
every 5-minute bar (docs/design.md, tactical team).

It runs on torch (:class:`~strategies.tactical.TacticalTeamPolicy`) or on its verified ONNX export
of the same graph (the three actors and the critic in one file); either way one forward pass per bar
returns every agent's probabilities and attention, and the model card's vote rule joins the votes.
A stored backtest keeps, per decision, each agent's vote and the agreement for every scenario, and
each agent's probabilities and attention for the first scenario (``extras_tables``). Its
explanation of one decision shows the agents' attention over the seven columns, their votes and
probabilities, and each agent's gradient x input attribution of its chosen logit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from engine.decision_tables import decisions, long_table
from engine.errors import OnnxExportError
from engine.features.matrices import TACTICAL_COLUMNS
from engine.features.normalize import FittedNormalizer
from engine.rollout import RolloutResult
from engine.scenarios import ScenarioBatch
from engine.tactical_observation import WINDOW_KEY, LiveTacticalObservation, TacticalObserver
from engine.votes import team_decision
from models.checkpoint import load_checkpoint
from models.onnx_export import (
    MAX_LOGIT_DIFF,
    MIN_ACTION_AGREEMENT,
    export_onnx,
    onnx_outputs,
    onnx_session,
    torch_outputs,
)
from models.tactical_team.config import ACTION_NAMES
from models.tactical_team.export import TACTICAL_TEAM_GRAPH, DecidingTacticalTeam
from models.tactical_team.network import ARCHITECTURE, TacticalTeam, build_tactical_team, check_window
from strategies.families.symbol_agent import shares
from strategies.family import (
    REFERENCE,
    ActionInfo,
    Decider,
    Explanation,
    Placement,
    check_runtime,
    checkpoint_decider,
)
from strategies.tactical import TacticalTeamOnnxPolicy, TacticalTeamPolicy, softmax


class TacticalTeamFamily:
    """The tactical team (see the module docstring)."""

    name = "tactical_team"
    title = "tactical team"
    architecture = ARCHITECTURE

    def load(self, folder: Path, runtime: str, name: str, placement: Placement = REFERENCE) -> Decider:
        """The verified team of ``folder`` on ``runtime`` (``auto``: its ONNX export when it has one)
        deciding on ``placement``.

        Raises:
            InvalidParameterError: an unknown runtime or vote rule, or a placement this machine cannot run.
            CheckpointError: a file fails verification, or ``runtime="onnx"`` without a verified export.
        """
        check_runtime(runtime)  # before anything is read
        team, card, normalizer = load_checkpoint(folder, build_tactical_team)
        settings = decision_settings(card.config)
        return checkpoint_decider(
            self, folder, runtime, name, placement, network=team, card=card, normalizer=normalizer,
            onnx=lambda path, where: TacticalTeamOnnxPolicy(path, team.config, name=folder.name, placement=where,
                                                            **settings),
            torch=lambda where: TacticalTeamPolicy(team, name=folder.name, placement=where, **settings))

    def trained(self, team: TacticalTeam, normalizer: FittedNormalizer, name: str, model_sha: str,
                vote: str = "plurality", exposure: float = 1.0, placement: Placement = REFERENCE) -> Decider:
        """The torch decider of a team just trained (no checkpoint folder yet), e.g. to validate it."""
        policy = TacticalTeamPolicy(team, name=name, vote=vote, exposure=exposure, placement=placement)
        return Decider(name, self, policy, normalizer, model_sha, "torch", network=team, placement=policy.placement)

    def observer(self, decider: Decider, batch: ScenarioBatch) -> TacticalObserver:
        """The tactical windows with the checkpoint's frozen normalizer."""
        return TacticalObserver(batch, decider.normalizer)

    def live_observation(self, decider: Decider, n_symbols: int, frequency: str) -> LiveTacticalObservation:
        """The bar-by-bar counterpart of :meth:`observer` (equal bit for bit)."""
        return LiveTacticalObservation(n_symbols, decider.normalizer)

    def actions(self, decider: Decider) -> ActionInfo:
        """Short / hold / long: the team's joint decision."""
        return ActionInfo.of(decider.policy.action_space)

    def explain_every(self, decider: Decider, n_decisions: int, n_symbols: int) -> int:
        """Every decision already carries its attention (seven weights per agent)."""
        return 0

    def extras_tables(self, decider: Decider, rollout: RolloutResult) -> dict[str, pd.DataFrame]:
        """``team_votes`` (each agent's vote, the team's action and the agreement; every scenario),
        ``team_probabilities`` and ``team_attention`` (a column per agent and action or column; the
        first scenario), and ``values``."""
        extras, tables = rollout.extras, {}
        agents = decider.network.agents
        if "agent_votes" not in extras:
            return tables
        votes = decisions(rollout, extras["agent_votes"], "portfolio")
        team = decisions(rollout, np.asarray(rollout.actions, dtype=np.float32), "portfolio")
        agreement = decisions(rollout, extras["agreement"], "portfolio")
        joined = np.concatenate([votes, team[..., None], agreement[..., None]], axis=-1)
        tables["team_votes"] = long_table(rollout, joined, [*agents, "team", "agreement"])
        first = lambda key: decisions(rollout, extras[key], "portfolio")[:, :1]  # noqa: E731
        probabilities = first("agent_probabilities")
        tables["team_probabilities"] = long_table(
            rollout, probabilities.reshape(probabilities.shape[:3] + (-1,)),
            [f"{a}_{action}" for a in agents for action in ACTION_NAMES])
        attention = first("attention")
        tables["team_attention"] = long_table(rollout, attention.reshape(attention.shape[:3] + (-1,)),
                                              [f"{a}_{column}" for a in agents for column in TACTICAL_COLUMNS])
        tables["values"] = long_table(rollout, decisions(rollout, extras["values"], "portfolio"), "value")
        return tables

    def explain(self, decider: Decider, observation: Mapping[str, np.ndarray],
                symbols: tuple[str, ...]) -> Explanation:
        """Each agent's attention, vote and probabilities, the team's decision, and each agent's
        gradient x input attribution of its chosen logit, summed in absolute value over the bars."""
        team: TacticalTeam = decider.network.eval()
        window = check_window(np.asarray(observation[WINDOW_KEY]), team.config).clone().requires_grad_(True)
        out = team(window, with_values=False)
        votes = out.logits.argmax(dim=-1)  # [N, agents]
        agents = team.agents
        probabilities = softmax(out.logits.detach().numpy())
        rows = []
        for a, agent in enumerate(agents):
            (gradient,) = torch.autograd.grad(out.logits[:, a].gather(1, votes[:, a:a + 1]).sum(), window,
                                              retain_graph=True)
            score = (gradient * window).detach().abs().sum(dim=1)  # [N, 7]
            for s, symbol in enumerate(symbols):
                rows.extend((symbol, agent, column, float(score[s, c])) for c, column in enumerate(TACTICAL_COLUMNS))
        policy = decider.policy
        joint = team_decision(policy.vote, votes.numpy(), probabilities, policy.vote_weights)
        members = pd.DataFrame([(symbol, agent, ACTION_NAMES[int(votes[s, a])], *probabilities[s, a])
                                for s, symbol in enumerate(symbols) for a, agent in enumerate(agents)],
                               columns=["symbol", "agent", "vote", *ACTION_NAMES])
        return Explanation(
            rows=tuple(symbols), queries=("weights",), tokens=TACTICAL_COLUMNS,
            attention=out.attention.detach().numpy()[None, :, :, None, :].astype(np.float32),  # [1, N, agents, 1, 7]
            action_names=ACTION_NAMES, probabilities=probabilities.mean(axis=1),
            actions=tuple(ACTION_NAMES[int(j)] for j in joint),
            attribution=shares(pd.DataFrame(rows, columns=["symbol", "block", "feature", "score"])),
            method=f"gradient x input of each agent's chosen logit, summed over the bars; team vote: {policy.vote}",
            reading="each agent's attention over the seven tactical columns", heads=tuple(agents), members=members)

    def export_onnx(self, decider: Decider, out: Path, observations: Mapping[str, np.ndarray], *,
                    min_rows: int, latency_runs: int) -> Mapping[str, Any]:
        """Export the actors and the critic as one graph (:data:`TACTICAL_TEAM_GRAPH`) and report the
        parity per agent (every agent's logits within 1e-4 and votes >= 99.9% the same) and of the
        team's decisions.

        Raises:
            OnnxExportError: an agent's parity fails (the file is removed).
        """
        deciding = DecidingTacticalTeam(decider.network.eval())
        inputs = {WINDOW_KEY: np.ascontiguousarray(observations[WINDOW_KEY], dtype=np.float32)}
        report = export_onnx(deciding, out, inputs, min_rows=min_rows, latency_runs=latency_runs,
                             graph=TACTICAL_TEAM_GRAPH).to_dict()
        reference = torch_outputs(deciding, inputs, TACTICAL_TEAM_GRAPH)[0]
        exported = onnx_outputs(onnx_session(out), inputs, TACTICAL_TEAM_GRAPH)[0]
        agents = {}
        for a, agent in enumerate(decider.network.agents):
            mine, theirs = reference[:, a], exported[:, a]
            agents[agent] = {"max_abs_logit_diff": float(np.max(np.abs(mine - theirs))),
                             "action_agreement": float(np.mean(mine.argmax(-1) == theirs.argmax(-1)))}
            if not (agents[agent]["max_abs_logit_diff"] <= MAX_LOGIT_DIFF
                    and agents[agent]["action_agreement"] >= MIN_ACTION_AGREEMENT):
                Path(out).unlink(missing_ok=True)
                raise OnnxExportError(f"{out}: the {agent} agent's ONNX logits or votes differ from torch "
                                      f"({agents[agent]}); the export is not faithful, do not deploy it")
        policy = decider.policy
        joint = [team_decision(policy.vote, logits.argmax(-1), softmax(logits), policy.vote_weights)
                 for logits in (reference, exported)]
        return {**report, "agents": agents, "team_action_agreement": float(np.mean(joint[0] == joint[1]))}


def decision_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The vote rule, its weights and the exposure recorded in a team's card ``config``."""
    return {"vote": config.get("vote", "plurality"), "vote_weights": config.get("vote_weights"),
            "exposure": float(config.get("exposure", 1.0))}


TACTICAL_TEAM = TacticalTeamFamily()
