"""The tactical team as an engine policy: portfolio scope, one team decision per symbol and bar.

:class:`TacticalTeamPolicy` (torch) and :class:`TacticalTeamOnnxPolicy` (its ONNX export,
``models.tactical_team.export.TACTICAL_TEAM_GRAPH``) read the tactical windows ``{"window":
[S * N, 60, 7]}`` (``engine.tactical_observation``), run the three actors in one forward pass, take
each agent's most probable action as its vote (deterministic: no exploration outside training) and
join the votes with the team's vote rule (``engine.votes``: ``plurality``, ``unanimous`` or
``weighted``). The joint action goes through :class:`~engine.actions.TacticalActions` with the
exposure split across the symbols: long / short target ``+-exposure / N`` of equity, hold keeps the
last target (a long-only scenario, the workbench's default, turns short into flat).

Extras, one row per (scenario, symbol) like the actions:

* ``agent_probabilities`` ``[S * N, agents, 3]``: each agent's softmax (after its temperature);
* ``agent_votes`` ``[S * N, agents]``: each agent's vote (0 short, 1 hold, 2 long);
* ``attention`` ``[S * N, agents, 7]``: each agent's attention over the seven tactical columns;
* ``agreement`` ``[S * N]``: the share of agents whose vote is the team's decision;
* ``values`` ``[S * N]``: the centralised critic's value (its mean over the agents' heads).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from engine.actions import TacticalActions
from engine.data.market import MarketData
from engine.errors import CheckpointError, InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.metrics import scenario_metrics
from engine.policy import PolicyOutput
from engine.rollout import RolloutResult, run_rollout
from engine.scenarios import ScenarioParams, from_market
from engine.tactical_observation import WINDOW_KEY, TacticalObserver
from engine.votes import HOLD, LONG, SHORT, agreement, check_vote_rule, team_decision
from models.inference import DeviceForward
from models.tactical_team.config import TacticalTeamConfig, specialisation
from models.tactical_team.export import TACTICAL_TEAM_GRAPH, DecidingTacticalTeam
from models.tactical_team.network import TacticalTeam, check_window
from strategies.family import REFERENCE, Placement
from strategies.placed import (
    ParityReporting,
    first_output,
    load_session,
    onnx_placed,
    onnx_reference,
    torch_placed,
)

Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``window -> (logits [B, agents, 3], attention [B, agents, 7], values [B, agents])``."""


def team_action_space(exposure: float = 1.0) -> TacticalActions:
    """The action space of a team's decisions: short / hold / long, the exposure split across symbols."""
    return TacticalActions(exposure=exposure, split_across_symbols=True)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class _TeamDecision(ParityReporting):
    """Shared rule: check the windows, run the graph once, vote, join the votes."""

    scope = "portfolio"

    def __init__(self, name: str, config: TacticalTeamConfig, vote: str, vote_weights: Sequence[float] | None,
                 exposure: float, forward: Forward) -> None:
        self.name = name
        self.config = config
        self.agents = config.agents
        self.vote = check_vote_rule(vote)
        self.vote_weights = None if vote_weights is None else tuple(float(w) for w in vote_weights)
        self.action_space = team_action_space(exposure)
        self._forward = forward

    def act(self, observation: Mapping[str, np.ndarray], explain: bool = False) -> PolicyOutput:
        """Team decisions ``[S * N]`` with the extras of the module docstring (every decision carries
        them; ``explain`` adds nothing).

        Raises:
            InvalidParameterError: the observation has no ``window`` entry.
            ObservationError: the windows are not ``[rows, 60, 7]`` finite float32 values.
        """
        if WINDOW_KEY not in observation:
            raise InvalidParameterError(
                f"policy {self.name!r} reads the tactical window (observation[{WINDOW_KEY!r}]); observe with "
                "engine.tactical_observation.TacticalObserver (the tactical team family's observer)")
        window = check_window(np.asarray(observation[WINDOW_KEY]), self.config).numpy()
        logits, attention, values = self._forward(window)
        probabilities = softmax(logits)
        votes = np.asarray(logits).argmax(axis=-1)
        joint = team_decision(self.vote, votes, probabilities, self.vote_weights)
        extras = {
            "agent_probabilities": probabilities.astype(np.float32),
            "agent_votes": votes.astype(np.float32),
            "attention": np.asarray(attention, dtype=np.float32),
            "agreement": agreement(votes, joint).astype(np.float32),
            "values": np.asarray(values, dtype=np.float32).mean(axis=-1),
        }
        return PolicyOutput(joint.astype(np.int64), extras)


class TacticalTeamPolicy(_TeamDecision):
    """A :class:`TacticalTeam` on torch behind the engine's portfolio-scope ``Policy`` protocol.

    Args:
        team: The network; run in eval mode without gradients.
        name: Policy name in run records.
        vote: The vote rule (``engine.votes.VOTE_RULES``).
        vote_weights: The agents' weights under the ``weighted`` rule (None: equal).
        exposure: Exposure of a book whose every symbol is long.
        threads: Torch CPU threads while it decides (set for each call, then restored); one by
            default: a bar's batch is small.
        placement: Device (``auto``, ``cpu``, ``cuda``) and precision it decides in; the network is
            moved there once (``models.inference.DeviceForward``). Off the reference the agents' logits
            are sampled for the parity report (a row agrees when every agent votes as on the reference).

    Raises:
        InvalidParameterError: ``cuda`` without CUDA, or ``fp16`` on the CPU.
    """

    def __init__(self, team: TacticalTeam, name: str = "tactical-team", vote: str = "plurality",
                 vote_weights: Sequence[float] | None = None, exposure: float = 1.0, threads: int | None = 1,
                 placement: Placement = REFERENCE) -> None:
        super().__init__(name, team.config, vote, vote_weights, exposure, self._torch_forward)
        self.forward = DeviceForward(DecidingTacticalTeam(team), placement.device, placement.precision, threads)
        self.deciding = self.forward.module
        self.team = self.deciding.team
        self.threads = threads
        self._placed(torch_placed(self.forward), "logits", lambda: first_output(self.forward.reference()))

    def _torch_forward(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self.forward([window])
        self._record([window], out[0])
        return tuple(out)


class TacticalTeamOnnxPolicy(_TeamDecision):
    """A tactical team's ONNX export (:data:`TACTICAL_TEAM_GRAPH`) run by onnxruntime (on its CUDA
    provider for a CUDA ``placement`` when it has one, else on the CPU).

    Args:
        path: The ``.onnx`` file.
        config: The team's sizes (from its model card).
        name, vote, vote_weights, exposure: As :class:`TacticalTeamPolicy`.
        intra_op_num_threads: onnxruntime threads.
        placement: Device it runs on; the precision must be ``fp32`` (the graph's).

    Raises:
        CheckpointError: the file is missing, not ONNX, or not a tactical team's graph.
        InvalidParameterError: a precision other than ``fp32``.
    """

    def __init__(self, path: str | Path, config: TacticalTeamConfig, name: str | None = None,
                 vote: str = "plurality", vote_weights: Sequence[float] | None = None, exposure: float = 1.0,
                 intra_op_num_threads: int = 1, placement: Placement = REFERENCE) -> None:
        path = Path(path)
        super().__init__(name or path.stem, config, vote, vote_weights, exposure, self._onnx_forward)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file; export one with `workbench export onnx`")
        self.session = load_session(path, intra_op_num_threads, placement)
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if names != (list(TACTICAL_TEAM_GRAPH.inputs), list(TACTICAL_TEAM_GRAPH.outputs)):
            raise CheckpointError(
                f"{path}: the graph reads {', '.join(names[0])} and returns {', '.join(names[1])}; a tactical team's "
                f"export reads {', '.join(TACTICAL_TEAM_GRAPH.inputs)}. Fix: re-export it with `workbench export onnx`")
        self.path = path
        self._placed(onnx_placed(self.session), "logits", onnx_reference(
            path, intra_op_num_threads, TACTICAL_TEAM_GRAPH.inputs, TACTICAL_TEAM_GRAPH.outputs[0]))

    def _onnx_forward(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = tuple(self.session.run(list(TACTICAL_TEAM_GRAPH.outputs), {TACTICAL_TEAM_GRAPH.inputs[0]: window}))
        self._record([window], out[0])
        return out


def time_in_market(actions: np.ndarray, allow_short: bool) -> float:
    """Share of decisions ``[T, N]`` after which a symbol's standing target is a position: long, or
    short where shorting is allowed (hold keeps the last target; nothing before the first target)."""
    actions = np.asarray(actions)
    index = np.where(actions != HOLD, np.arange(len(actions))[:, None], -1)
    np.maximum.accumulate(index, axis=0, out=index)
    standing = np.where(index >= 0, np.take_along_axis(actions, np.maximum(index, 0), axis=0), HOLD)
    return float(np.mean((standing == LONG) | ((standing == SHORT) & allow_short)))


def validation_backtest(team: TacticalTeam, normalizer: FittedNormalizer, data: MarketData, *,
                        vote: str = "plurality", exposure: float = 1.0,
                        params: ScenarioParams = ScenarioParams()) -> dict[str, float]:
    """Backtest ``team`` on ``data`` as ``workbench backtest --policy`` does (one scenario, ``params``);
    ``validation/...`` metrics: the backtest's (``engine.metrics.scenario_metrics``), the
    ``time_in_market``, the mean ``agreement`` and the agents' attention :func:`specialisation`."""
    policy = TacticalTeamPolicy(team, name="validation", vote=vote, exposure=exposure)
    batch = from_market(data, [params])
    rollout = run_rollout(batch, policy, observer=TacticalObserver(batch, normalizer))
    return {f"validation/{k}": float(v) for k, v in team_measures(rollout, team.config.agents,
                                                                    params.allow_short, batch).items()}


def team_measures(rollout: RolloutResult, agents: tuple[str, ...], allow_short: bool, batch) -> dict[str, float]:
    """The first scenario's backtest metrics, time in market, agreement and attention specialisation."""
    metrics = scenario_metrics(rollout.equity[:, :1], rollout.records[rollout.records["scenario"] == 0],
                               batch.close[:1], batch.index, batch.param_array("init_cash")[:1], batch.frequency,
                               symbols=batch.symbols)[0]
    n = len(batch.symbols)
    out = {k: (np.nan if v is None else v) for k, v in metrics.items()}
    out["time_in_market"] = time_in_market(np.asarray(rollout.actions)[:, :n], allow_short)
    out["agreement"] = float(np.mean(rollout.extras["agreement"][:, :n]))
    out["bars"] = float(len(rollout.index))
    out.update(specialisation(rollout.extras["attention"][:, :n], agents))
    return out
