"""A natively batched vector environment: ``B = S * N`` (scenario, symbol) environments, one kernel call per step.

:class:`TradingVectorEnv` is a ``gymnasium.vector.VectorEnv`` whose sub-environment ``b = s * N + n``
trades symbol ``n`` with the seven masked actions in the account of scenario ``s`` (the rollout's
scenario-major row order). The ``N`` symbols of a scenario share its cash, limits and risk state,
exactly as in the batched rollout; every step runs the kernels once for all ``S`` accounts
(:class:`~engine.envs.stepper.KernelStepper`), never a loop of single environments. For ``B``
independent single-symbol accounts, build the batch with one symbol and ``S`` scenarios (a
parameter list in ``engine.scenarios.from_market`` gives copies of one path; features are computed
once per path).

Episodes: each scenario draws its own start (``EpisodeConfig``) and its ``N`` sub-environments end
together. Autoreset is ``SAME_STEP``: the step that ends an episode returns the first observation
of the next one, and ``infos["final_obs"]`` (object array, one observation dict per finished
sub-environment, None elsewhere) and ``infos["final_info"]`` carry the last observation and info of
the finished one, with the boolean masks ``infos["_final_obs"]`` and ``infos["_final_info"]``.
Rewards, ``reward_<component>`` and ``orders`` belong to the step taken; ``bar``, ``equity``,
``cash`` and ``units`` describe the observation returned (the new episode's first bar after a
reset).

:class:`SB3VecEnv` adapts it to stable-baselines3's ``VecEnv`` (``terminal_observation`` and
``TimeLimit.truncated`` in the per-environment info dicts) and answers
``env_method("action_masks")`` with one mask per sub-environment, which is what sb3-contrib's
``MaskablePPO`` calls (``sb3_contrib.common.maskable.utils.get_action_masks``). :func:`sb3_step` is
its step, shared with the shards of ``engine.envs.sharded``.
"""
from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any, Iterable, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from stable_baselines3.common.vec_env import VecEnv

from engine.actions import SymbolActions
from engine.envs.episode import EpisodeConfig
from engine.envs.sources import MarketSource, scenario_batch
from engine.envs.stepper import KernelStepper, StepResult, order_columns
from engine.errors import InvalidParameterError
from engine.feature_windows import Period
from engine.features.normalize import FittedNormalizer
from engine.observation import ObservationBuilder, ObservationConfig
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights
from engine.scenarios import ScenarioParams


class TradingVectorEnv(VectorEnv):
    """``S * N`` trading sub-environments stepped together through the engine kernels.

    Args:
        source: A dataset (run under ``params``) or a batch of scenarios.
        symbols: Symbols traded (default all).
        params: Parameters for a dataset source: one set, or a list (one scenario each).
        episode, normalizer, fit_period, observation, action_space, reward_weights, reward_scales,
        sl_probs: As for :class:`~engine.envs.trading_env.TradingEnvironment`.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, source: MarketSource, symbols: Sequence[str] | None = None, *,
                 params: ScenarioParams | Sequence[ScenarioParams] | None = None,
                 episode: EpisodeConfig = EpisodeConfig(),
                 normalizer: FittedNormalizer | None = None, fit_period: Period | None = None,
                 observation: ObservationConfig = ObservationConfig(),
                 action_space: SymbolActions = SymbolActions(),
                 reward_weights: RewardWeights = RewardWeights(),
                 reward_scales: RewardScales = RewardScales(),
                 sl_probs: np.ndarray | None = None) -> None:
        batch = scenario_batch(source, symbols, params)
        self.episode = episode
        self.builder = ObservationBuilder(batch, normalizer=normalizer, fit_period=fit_period,
                                          config=observation, sl_probs=sl_probs)
        self.stepper = KernelStepper(batch, action_space, self.builder.new_tracker(batch.n_scenarios),
                                     reward_weights, reward_scales)
        self.n_scenarios, self.n_symbols = batch.n_scenarios, batch.n_symbols
        self.num_envs = batch.n_scenarios * batch.n_symbols
        self.single_observation_space = self.builder.observation_space()
        self.single_action_space = spaces.Discrete(action_space.n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._started = False

    @property
    def batch(self):
        """The scenarios traded."""
        return self.stepper.batch

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start every scenario's episode; ``options={"start": bar}`` fixes all first bars, and
        ``options={"start": [bar per scenario]}`` each scenario's own."""
        super().reset(seed=seed)
        start = None if not options or options.get("start") is None else options["start"]
        if start is not None:
            start = np.asarray(start, dtype=np.int64)
            if start.ndim > 1 or (start.ndim == 1 and len(start) != self.n_scenarios):
                raise InvalidParameterError(
                    f"reset option 'start' is one bar or one bar per scenario ({self.n_scenarios}); got shape "
                    f"{start.shape}")
            start = np.broadcast_to(start, (self.n_scenarios,))
        self._reset_accounts(np.arange(self.n_scenarios), start)
        self._started = True
        return self._observation(), self._info(None)

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """One action per sub-environment ``[B]``; finished scenarios reset in the same step."""
        if not self._started:
            raise InvalidParameterError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise InvalidParameterError(f"expected {self.num_envs} actions, got shape {actions.shape}")
        result = self.stepper.step(actions.reshape(self.n_scenarios, self.n_symbols))
        rewards = result.rewards["total"].reshape(-1)
        terminated = np.repeat(result.terminated, self.n_symbols)
        truncated = np.repeat(result.truncated & ~result.terminated, self.n_symbols)
        observation = self._observation()
        info = self._info(result)
        done = result.terminated | result.truncated
        if done.any():
            finished = np.repeat(done, self.n_symbols)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for b in np.flatnonzero(finished):
                final_obs[b] = {key: value[b] for key, value in observation.items()}
            final_info = dict(info)
            self._reset_accounts(np.flatnonzero(done), None)
            observation = self._observation()
            info.update(self._info(None))  # state keys describe the observation returned
            info["final_obs"], info["_final_obs"] = final_obs, finished
            info["final_info"], info["_final_info"] = final_info, finished
        return observation, rewards, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """``[B, 7]`` bool, True where the action is allowed at each sub-environment's bar."""
        return self.stepper.masks().reshape(self.num_envs, -1)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Everything that changes as the environment steps, as arrays (numbers, and one text array
        for the random generator's state), so that :meth:`restore` on an environment built the same
        way continues bit for bit; ``np.savez`` writes it without pickling."""
        arrays = self.stepper.snapshot()
        arrays.update({f"tracker.{k}": v for k, v in self.stepper.tracker.snapshot().items()})
        arrays["env.started"] = np.array(self._started)
        arrays["env.rng"] = np.array(json.dumps(self.np_random.bit_generator.state))
        return arrays

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        """Return to the state of :meth:`snapshot` (taken from an environment over the same scenarios).

        Raises:
            InvalidParameterError: the snapshot lacks an entry or holds arrays of other shapes.
        """
        prefix = "tracker."
        self.stepper.restore({k: v for k, v in snapshot.items() if k.startswith("stepper.")})
        self.stepper.tracker.restore({k[len(prefix):]: v for k, v in snapshot.items() if k.startswith(prefix)})
        for key in ("env.started", "env.rng"):
            if key not in snapshot:
                raise InvalidParameterError(f"the environment snapshot lacks {key!r}; take it with snapshot()")
        self._started = bool(snapshot["env.started"])
        self.np_random.bit_generator.state = json.loads(str(snapshot["env.rng"]))

    def _reset_accounts(self, accounts: np.ndarray, start: np.ndarray | None) -> None:
        starts = [None] * len(accounts) if start is None else [int(start[k]) for k in accounts]
        bounds = [self.episode.bounds(int(self.stepper.last_bars[k]), self.np_random, first, self.builder.warmup)
                  for k, first in zip(accounts, starts)]
        starts, ends = (np.array(b, dtype=np.int64) for b in zip(*bounds))
        self.stepper.reset(accounts, starts, ends)

    def _observation(self) -> dict[str, np.ndarray]:
        return self.builder.build(self.stepper.bar, self.stepper.context(), self.stepper.tracker)

    def _info(self, result: StepResult | None) -> dict[str, Any]:
        """Per sub-environment arrays ``[B]`` (account-level values repeated for its symbols)."""
        state = self.stepper.state
        repeat = lambda x: np.repeat(x, self.n_symbols)  # noqa: E731
        info: dict[str, Any] = {
            "bar": repeat(self.stepper.bar),
            "equity": repeat(state.equity),
            "cash": repeat(state.cash),
            "units": state.units.reshape(-1).copy(),
        }
        if result is not None:
            info["action_allowed"] = result.allowed.reshape(-1)
            for name in REWARD_COMPONENTS:
                info[f"reward_{name}"] = result.rewards[name].reshape(-1)
            info["orders"] = order_columns(result.records)
        return info


def sb3_step(env: TradingVectorEnv, actions: np.ndarray
             ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Step ``env`` and answer as SB3's ``VecEnv.step_wait``: observation, float32 rewards, dones, infos.

    Each info holds the step's ``reward_<component>`` and ``equity``; a finished sub-environment's
    also holds ``terminal_observation`` and ``TimeLimit.truncated``.
    """
    observation, rewards, terminated, truncated, info = env.step(actions)
    infos: list[dict[str, Any]] = []
    for b in range(env.num_envs):
        item = {f"reward_{name}": float(info[f"reward_{name}"][b]) for name in REWARD_COMPONENTS}
        item["equity"] = float(info["equity"][b])
        if terminated[b] or truncated[b]:
            item["terminal_observation"] = info["final_obs"][b]
            item["TimeLimit.truncated"] = bool(truncated[b] and not terminated[b])
        infos.append(item)
    return observation, rewards.astype(np.float32), terminated | truncated, infos


class MaskedVecEnv(VecEnv):
    """stable-baselines3 ``VecEnv`` plumbing shared by :class:`SB3VecEnv` and
    ``engine.envs.sharded.ShardedVecEnv``: actions are held between ``step_async`` and
    ``step_wait``, and ``get_attr`` / ``set_attr`` / ``env_method`` address :meth:`_target`; the answer
    is repeated for each requested index, except ``env_method("action_masks")``, which returns each
    sub-environment's own mask (what sb3-contrib's ``MaskablePPO`` asks for).
    """

    _actions: np.ndarray | None = None

    @abstractmethod
    def _target(self) -> Any:
        """The object whose attributes and methods the ``VecEnv`` calls reach."""

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def _take_actions(self) -> np.ndarray:
        """The actions of the pending ``step_async``."""
        if self._actions is None:
            raise InvalidParameterError("call step_async() before step_wait()")
        actions, self._actions = self._actions, None
        return actions

    def get_attr(self, attr_name: str, indices: Iterable[int] | int | None = None) -> list[Any]:
        value = getattr(self._target(), attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Iterable[int] | int | None = None) -> None:
        setattr(self._target(), attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: Iterable[int] | int | None = None,
                   **method_kwargs) -> list[Any]:
        result = getattr(self._target(), method_name)(*method_args, **method_kwargs)
        if method_name == "action_masks":
            return [result[i] for i in self._get_indices(indices)]
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Iterable[int] | int | None = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


class SB3VecEnv(MaskedVecEnv):
    """A :class:`TradingVectorEnv` as a stable-baselines3 ``VecEnv`` (no subprocesses); attribute and
    method calls reach the vector environment (:class:`MaskedVecEnv`).
    """

    def __init__(self, env: TradingVectorEnv) -> None:
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    def _target(self) -> TradingVectorEnv:
        return self.env

    def reset(self) -> dict[str, np.ndarray]:
        seed = self._seeds[0]
        observation, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return observation

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        return sb3_step(self.env, self._take_actions())

    def close(self) -> None:
        self.env.close()
