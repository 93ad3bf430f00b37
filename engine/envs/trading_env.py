"""`TradingEnvironment`: one symbol traded with the seven masked actions, as a gymnasium ``Env``.

The environment is the batched engine with one account and one symbol (``S = N = 1``): the same
observation builder, action space, kernels and reward components as the rollout and the vector
environment (:class:`~engine.envs.stepper.KernelStepper`). A decision at bar ``t`` sees bar ``t``'s
close; its order fills at ``t + 1``'s open; the reward is judged at ``t + 1``'s close.

* Observation: the symbol agent's dict (``engine.observation``; docs/design.md, symbol agent), without the mask.
* Action: ``Discrete(7)``, :class:`~engine.actions.SymbolAction`. A masked action is executed as
  HOLD and costs the failed-action penalty. :meth:`TradingEnvironment.action_masks` returns the
  mask the way sb3-contrib's ``MaskablePPO`` reads it.
* Episode: :class:`~engine.envs.stepper.EpisodeConfig`; ``reset(options={"start": bar})`` forces
  the first bar. ``truncated`` when the episode reaches its last bar, ``terminated`` when equity
  reaches 0.
* ``info``: ``reward_<component>`` for each of the seven components, ``equity``, ``cash``,
  ``units``, ``weight``, ``bar``, ``timestamp``, ``action_allowed`` and ``orders``: the step's
  ``engine.records.order_dt`` records as one array per field (``scenario`` 0, ``bar`` the fill
  bar); ``engine.envs.stepper.order_records`` turns them back into records.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from engine.actions import SymbolActions
from engine.envs.episode import EpisodeConfig
from engine.envs.sources import MarketSource, scenario_batch
from engine.envs.stepper import KernelStepper, StepResult, order_columns
from engine.errors import InvalidParameterError
from engine.feature_windows import Period
from engine.features.normalize import FittedNormalizer
from engine.observation import ObservationBuilder, ObservationConfig
from engine.records import order_dt
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights
from engine.scenarios import ScenarioParams


class TradingEnvironment(gym.Env):
    """One symbol of a dataset (or of a one-scenario batch) as a gymnasium environment.

    Args:
        source: A dataset, or a batch with exactly one scenario.
        symbol: The symbol traded; may be omitted when the source has one.
        params: Execution and risk parameters (datasets only; a batch carries its own).
        episode: Episode start and length.
        normalizer: Frozen statistics of the technical block (e.g. from a checkpoint) ...
        fit_period: ... or the ``(start, end)`` training period to fit them on.
        observation: Observation scales.
        action_space: The seven-action space (sizes, masks).
        reward_weights, reward_scales: Reward weights and scales.
        sl_probs: Optional ``[1, T, 1, 3]`` causal supervised-model probabilities.
        render_mode: None or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, source: MarketSource, symbol: str | None = None, *,
                 params: ScenarioParams | None = None, episode: EpisodeConfig = EpisodeConfig(),
                 normalizer: FittedNormalizer | None = None, fit_period: Period | None = None,
                 observation: ObservationConfig = ObservationConfig(),
                 action_space: SymbolActions = SymbolActions(),
                 reward_weights: RewardWeights = RewardWeights(),
                 reward_scales: RewardScales = RewardScales(),
                 sl_probs: np.ndarray | None = None, render_mode: str | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise InvalidParameterError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        symbols = None if symbol is None else [symbol]
        batch = scenario_batch(source, symbols, params)
        if batch.n_scenarios != 1 or batch.n_symbols != 1:
            raise InvalidParameterError(
                f"TradingEnvironment trades one symbol of one scenario; the source has {batch.n_scenarios} "
                f"scenario(s) and symbols {', '.join(batch.symbols)}. Pick one with symbol=, or use "
                "engine.envs.vector_env.TradingVectorEnv for many")
        self.render_mode = render_mode
        self.episode = episode
        self.builder = ObservationBuilder(batch, normalizer=normalizer, fit_period=fit_period,
                                          config=observation, sl_probs=sl_probs)
        self.stepper = KernelStepper(batch, action_space, self.builder.new_tracker(1),
                                     reward_weights, reward_scales)
        self.observation_space = self.builder.observation_space()
        self.action_space = spaces.Discrete(action_space.n_actions)
        self._done = True
        self._last: StepResult | None = None

    @property
    def batch(self):
        """The one-scenario, one-symbol batch traded."""
        return self.stepper.batch

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; ``options={"start": bar}`` fixes its first bar."""
        super().reset(seed=seed)
        start = None if not options or options.get("start") is None else int(options["start"])
        first, last = self.episode.bounds(int(self.stepper.last_bars[0]), self.np_random, start,
                                          self.builder.warmup)
        self.stepper.reset(np.array([0]), np.array([first]), np.array([last]))
        self._done = False
        self._last = None
        return self._observation(), self._info(None)

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Decide ``action`` at the current bar; return the observation at the next bar."""
        if self._done:
            raise InvalidParameterError("the episode is over (or never started); call reset() first")
        if not self.action_space.contains(action):
            raise InvalidParameterError(f"action {action!r} is not in {self.action_space}")
        result = self.stepper.step(np.array([[int(action)]]))
        self._last = result
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0])
        self._done = terminated or truncated
        return (self._observation(), float(result.rewards["total"][0, 0]), terminated, truncated,
                self._info(result))

    def action_masks(self) -> np.ndarray:
        """``[7]`` bool, True where the action is allowed at the current bar (sb3-contrib's hook)."""
        return self.stepper.masks()[0, 0]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        state = self.stepper.state
        bar = int(self.stepper.bar[0])
        return (f"{self.batch.timestamps[0][bar]} bar {bar}: equity {state.equity[0]:.2f} cash "
                f"{state.cash[0]:.2f} units {state.units[0, 0]:.6g}")

    def _observation(self) -> dict[str, np.ndarray]:
        rows = self.builder.build(self.stepper.bar, self.stepper.context(), self.stepper.tracker)
        return {key: value[0] for key, value in rows.items()}

    def _info(self, result: StepResult | None) -> dict[str, Any]:
        state = self.stepper.state
        bar = int(self.stepper.bar[0])
        close = float(self.stepper.close_prices()[0, 0])
        equity = float(state.equity[0])
        info: dict[str, Any] = {
            "bar": bar,
            "timestamp": self.batch.timestamps[0][bar],
            "equity": equity,
            "cash": float(state.cash[0]),
            "units": float(state.units[0, 0]),
            "weight": float(state.units[0, 0]) * close / equity if equity > 0.0 else 0.0,
            "orders": order_columns(np.empty(0, dtype=order_dt) if result is None else result.records),
        }
        if result is not None:
            info["action_allowed"] = bool(result.allowed[0, 0])
            for name in REWARD_COMPONENTS:
                info[f"reward_{name}"] = float(result.rewards[name][0, 0])
        return info
