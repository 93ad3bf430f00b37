"""A PettingZoo ``ParallelEnv`` for the tactical and strategic teams of docs/design.md.

Several agents decide together about one symbol's position; their joint decision becomes intents of
the engine's action spaces and is stepped through the same kernels as everything else
(:class:`~engine.envs.stepper.KernelStepper` with one account and one symbol).

Presets (:data:`PRESETS`):

* ``"tactical"`` (the tactical-team specification, the default): agents ``fvg``, ``momentum``,
  ``entry``; each observes the ``60 x 7`` tactical window of its symbol
  (``engine.features.matrices.tactical_features``; all three see every column, their specialization
  is learned). Actions ``Discrete(3)``:
  0 short, 1 hold, 2 long. **Joint rule: plurality vote** - the choice with strictly more votes
  than each other choice wins; any tie is hold (``(long, long, short)`` is long,
  ``(long, short, hold)`` is hold; ``engine.votes`` holds this and the other rules). The joint action goes through
  :class:`~engine.actions.TacticalActions`: long / short target ``+-exposure`` of equity, hold
  keeps the last target (a long-only scenario turns short into flat).
* ``"strategic"`` (the strategic-team specification): agents ``mlmi``, ``nwrqk``, ``regime``; each
  observes its columns of the ``48 x 13`` strategic window (``STRATEGIC_AGENT_COLUMNS``: 4, 4 and 3
  columns). Actions ``Box(0, 1, (3,))``: the agent's (bull, neutral, bear) weights, normalized to
  probabilities (all-zero reads as neutral) - the specification's "superposition" output. **Joint
  rule: the mean of the agents' probabilities** (equal ensemble weights), read by
  :class:`~engine.actions.StrategicExposure`: target ``max_exposure * (p_bull - p_bear)``, sent
  when it moves by more than ``threshold``. Its features need a normalizer (``mlmi_value`` spans
  +-200).

Rewards: the seven engine reward components of the account (``engine.rewards``) give the team
reward ``total``. ``reward_mode="shared"`` (default) gives every agent the team reward.
``reward_mode="vote_pnl"`` gives agent ``i`` what its own vote would have earned over the step,
``clip(d_i * exposure * (c_{t+1} / c_t - 1) / pnl_scale, -1, 1)`` with ``d_i`` = -1 / 0 / +1 for
short / hold / long (``p_bull - p_bear`` for strategic agents) - a per-agent credit signal with
no costs, for studying agents apart.

Observations are NaN-free float32 (warm-up rows read 0, see ``engine.feature_windows``); episodes
start by default at the first bar whose whole window is defined. ``state()`` is the full window
(every column) flattened, the centralized critic's input (420 values for the tactical preset, as
in the tactical-team specification). Infos carry the team's reward components, the joint action,
equity and the step's orders (one array per ``order_dt`` field).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from gymnasium import spaces
from pettingzoo import ParallelEnv

from engine.actions import StrategicExposure, TacticalActions
from engine.data.market import bars_per_year
from engine.envs.episode import EpisodeConfig
from engine.envs.sources import MarketSource, scenario_batch
from engine.envs.stepper import KernelStepper, StepResult, order_columns
from engine.errors import InvalidParameterError
from engine.feature_windows import FeatureWindows, Period, compute_family, fit_normalizer
from engine.features.matrices import (
    STRATEGIC_AGENT_COLUMNS,
    STRATEGIC_COLUMNS,
    STRATEGIC_WINDOW,
    TACTICAL_COLUMNS,
    TACTICAL_WINDOW,
    strategic_features,
    tactical_features,
)
from engine.features.normalize import FittedNormalizer
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights
from engine.scenarios import ScenarioParams
from engine.tracking import AccountTracker
from engine.votes import HOLD, LONG, SHORT, plurality_vote  # noqa: F401  (the action ids are re-exported)

REWARD_MODES: tuple[str, ...] = ("shared", "vote_pnl")


@dataclass(frozen=True)
class MarlPreset:
    """A multi-agent system: its agents, what each observes and how their actions combine.

    Attributes:
        name: Preset name.
        agents: Default agent names.
        family: The per-bar feature family the agents' windows are cut from.
        columns: The family's columns, in order.
        window: Rows per window.
        agent_columns: Column indices each agent observes (agents not listed observe all).
        decision: ``"vote"`` (Discrete(3), plurality vote) or ``"probabilities"`` (Box(3), mean).
        needs_normalizer: Whether the family must be normalized.
    """

    name: str
    agents: tuple[str, ...]
    family: Callable[[pd.DataFrame], pd.DataFrame]
    columns: tuple[str, ...]
    window: int
    agent_columns: dict[str, tuple[int, ...]]
    decision: str
    needs_normalizer: bool


PRESETS: dict[str, MarlPreset] = {
    "tactical": MarlPreset("tactical", ("fvg", "momentum", "entry"), tactical_features, TACTICAL_COLUMNS,
                           TACTICAL_WINDOW, {}, "vote", False),
    "strategic": MarlPreset("strategic", ("mlmi", "nwrqk", "regime"), strategic_features, STRATEGIC_COLUMNS,
                            STRATEGIC_WINDOW, dict(STRATEGIC_AGENT_COLUMNS), "probabilities", True),
}


def vote_probabilities(weights: np.ndarray) -> np.ndarray:
    """Per-agent (bull, neutral, bear) weights ``[..., agents, 3]`` -> their mean probabilities ``[..., 3]``."""
    weights = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = weights.sum(axis=-1, keepdims=True)
    neutral = np.zeros_like(weights)
    neutral[..., 1] = 1.0
    probabilities = np.where(total > 0.0, weights / np.where(total > 0.0, total, 1.0), neutral)
    return probabilities.mean(axis=-2)


class MarlTradingEnv(ParallelEnv):
    """Agents of a :data:`PRESETS` system trading one symbol together.

    Args:
        source: A dataset, or a batch with one scenario.
        symbol: The symbol traded; may be omitted when the source has one.
        preset: ``"tactical"`` or ``"strategic"``.
        agents: Agent names (default: the preset's); the strategic preset needs its own names, which
            select the columns each agent observes.
        params: Execution and risk parameters (datasets only).
        episode: Episode start and length; ``min_start=None`` starts at the first fully defined window.
        normalizer / fit_period: Frozen statistics of the preset's family, or the period to fit them
            on; optional for the tactical preset (raw values, clipped), required for the strategic one.
        exposure: Target exposure of a long or short decision (tactical), or ``max_exposure``
            (strategic).
        threshold: Smallest target change the strategic space sends.
        reward_mode: ``"shared"`` or ``"vote_pnl"``.
        reward_weights, reward_scales: Weights and scales of the team reward.
        feature_clip: Bound of the observation values.
    """

    metadata = {"name": "marl_trading_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, source: MarketSource, symbol: str | None = None, *, preset: str = "tactical",
                 agents: tuple[str, ...] | None = None, params: ScenarioParams | None = None,
                 episode: EpisodeConfig = EpisodeConfig(), normalizer: FittedNormalizer | None = None,
                 fit_period: Period | None = None, exposure: float = 1.0, threshold: float = 0.05,
                 reward_mode: str = "shared", reward_weights: RewardWeights = RewardWeights(),
                 reward_scales: RewardScales = RewardScales(), feature_clip: float = 10.0) -> None:
        if preset not in PRESETS:
            raise InvalidParameterError(f"unknown MARL preset {preset!r}; use one of {', '.join(PRESETS)}")
        if reward_mode not in REWARD_MODES:
            raise InvalidParameterError(f"unknown reward_mode {reward_mode!r}; use one of {', '.join(REWARD_MODES)}")
        self.preset = PRESETS[preset]
        names = tuple(self.preset.agents if agents is None else agents)
        if not names or len(set(names)) != len(names):
            raise InvalidParameterError(f"agent names must be distinct and non-empty, got {names!r}")
        unknown = [a for a in names if self.preset.agent_columns and a not in self.preset.agent_columns]
        if unknown:
            raise InvalidParameterError(
                f"the {preset} preset has no column set for agents {unknown}; its agents are "
                f"{', '.join(self.preset.agent_columns)}")
        batch = scenario_batch(source, None if symbol is None else [symbol], params)
        if batch.n_scenarios != 1 or batch.n_symbols != 1:
            raise InvalidParameterError(
                f"MarlTradingEnv trades one symbol of one scenario; the source has {batch.n_scenarios} "
                f"scenario(s) and symbols {', '.join(batch.symbols)}; pick one with symbol=")
        self.possible_agents = list(names)
        self.agents: list[str] = []
        self.render_mode = None
        self.episode = episode
        self.reward_mode = reward_mode
        self.exposure = float(exposure)
        self.features = self._features(batch, normalizer, fit_period, feature_clip)
        if self.preset.decision == "vote":
            action_space = TacticalActions(exposure=self.exposure)
        else:
            action_space = StrategicExposure(max_exposure=self.exposure, threshold=threshold)
        tracker = AccountTracker(1, 1, bars_per_year=bars_per_year(batch.frequency))
        self.stepper = KernelStepper(batch, action_space, tracker, reward_weights, reward_scales)
        self._columns = {a: np.array(self.preset.agent_columns.get(a, range(len(self.preset.columns))))
                         for a in names}
        self.state_space = spaces.Box(-feature_clip, feature_clip,
                                      (self.features.length * len(self.preset.columns),), np.float32)
        self._observation_spaces = {
            a: spaces.Box(-feature_clip, feature_clip, (self.features.length, len(self._columns[a])), np.float32)
            for a in names}
        if self.preset.decision == "vote":
            self._action_spaces = {a: spaces.Discrete(3) for a in names}
        else:
            self._action_spaces = {a: spaces.Box(0.0, 1.0, (3,), np.float32) for a in names}
        self._np_random = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    @property
    def normalizer(self) -> FittedNormalizer | None:
        """The frozen statistics of the agents' features (None: raw values)."""
        return self.features.normalizer

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode; ``options={"start": bar}`` fixes its first bar."""
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
        start = None if not options or options.get("start") is None else int(options["start"])
        first, last = self.episode.bounds(int(self.stepper.last_bars[0]), self._np_random, start,
                                          self.features.warmup)
        self.stepper.reset(np.array([0]), np.array([first]), np.array([last]))
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {"bar": first} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One joint decision; returns per-agent observations, rewards, flags and infos."""
        if not self.agents:
            raise InvalidParameterError("the episode is over (or never started); call reset() first")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise InvalidParameterError(f"no action for agents {missing}; every live agent acts each step")
        close_before = float(self.stepper.close_prices()[0, 0])
        if self.preset.decision == "vote":
            votes = np.array([int(actions[a]) for a in self.agents])
            if votes.min() < 0 or votes.max() > 2:
                raise InvalidParameterError(f"tactical actions are 0 (short), 1 (hold), 2 (long); got {votes}")
            joint = plurality_vote(votes)
            directions = votes - 1.0
            result = self.stepper.step(np.full((1, 1), joint))
        else:
            weights = np.stack([np.asarray(actions[a], dtype=np.float64).reshape(3) for a in self.agents])
            per_agent = np.stack([vote_probabilities(w[None]) for w in weights])
            joint = vote_probabilities(weights)
            directions = per_agent[:, 0] - per_agent[:, 2]
            result = self.stepper.step(joint.reshape(1, 1, 3))
        team = float(result.rewards["total"][0, 0])
        if self.reward_mode == "shared":
            rewards = {a: team for a in self.agents}
        else:
            move = float(self.stepper.close_prices()[0, 0]) / close_before - 1.0
            scale = self.stepper.scales.pnl_scale
            own = np.clip(directions * self.exposure * move / scale, -1.0, 1.0)
            rewards = {a: float(r) for a, r in zip(self.agents, own)}
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0] and not result.terminated[0])
        info = self._info(result, joint)
        agents = list(self.agents)
        observations = self._observations()
        if terminated or truncated:
            self.agents = []
        return (observations, rewards, {a: terminated for a in agents}, {a: truncated for a in agents},
                {a: dict(info) for a in agents})

    def state(self) -> np.ndarray:
        """The full feature window (every column) at the current bar, flattened."""
        return self._window().reshape(-1)

    def _features(self, batch, normalizer: FittedNormalizer | None, fit_period: Period | None,
                  clip: float) -> FeatureWindows:
        if normalizer is not None and fit_period is not None:
            raise InvalidParameterError("pass normalizer= or fit_period=, not both")
        if self.preset.needs_normalizer and normalizer is None and fit_period is None:
            raise InvalidParameterError(
                f"the {self.preset.name} features differ in scale by orders of magnitude (mlmi_value spans "
                "+-200); pass normalizer= (frozen statistics) or fit_period=(start, end)")
        values, columns = compute_family(batch, self.preset.family)
        if fit_period is not None:
            normalizer = fit_normalizer(batch, values, columns, fit_period)
        return FeatureWindows(values, columns, self.preset.window, normalizer, clip)

    def _window(self) -> np.ndarray:
        bar = self.stepper.bar[:1]
        return self.features.windows(np.zeros(1, np.int64), np.zeros(1, np.int64), bar)[0]

    def _observations(self) -> dict[str, np.ndarray]:
        window = self._window()
        return {a: np.ascontiguousarray(window[:, self._columns[a]]) for a in self.agents}

    def _info(self, result: StepResult, joint: np.ndarray) -> dict[str, Any]:
        state = self.stepper.state
        info: dict[str, Any] = {f"reward_{name}": float(result.rewards[name][0, 0]) for name in REWARD_COMPONENTS}
        info.update(team_reward=float(result.rewards["total"][0, 0]), joint_action=np.asarray(joint).copy(),
                    bar=int(self.stepper.bar[0]), equity=float(state.equity[0]),
                    units=float(state.units[0, 0]), orders=order_columns(result.records))
        return info
