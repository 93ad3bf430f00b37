"""Validation and test episodes of a symbol agent, measured as a backtest measures a run.

The deterministic masked policy trades a held-out period in ``n_episodes`` accounts at once
(one :class:`~engine.envs.vector_env.TradingVectorEnv`, every account trading every symbol). The
accounts start at staggered bars over the first half of the period and trade to its last bar
(:func:`episode_starts`: episode 0 is the whole period), so the episodes differ in where they
enter and what they hold. Each episode is measured by ``engine.metrics.scenario_metrics`` on its
equity and fills, the function behind every backtest's figures, so "time in market" and "trades"
mean the same here as in ``workbench backtest``.

:func:`summarize_episodes` averages the episodes into the figures a model card reports (keys
without a prefix; the trainer files them under ``validation/`` or ``test/``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.actions import SymbolAction
from engine.data.market import MarketData, bars_per_year
from engine.envs.episode import EpisodeConfig
from engine.envs.stepper import order_records
from engine.envs.vector_env import TradingVectorEnv
from engine.errors import InvalidParameterError
from engine.features.normalize import FittedNormalizer
from engine.metrics import scenario_metrics
from engine.rewards import RewardWeights
from engine.scenarios import ScenarioParams

Decide = Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]
"""``decide(observation, masks) -> actions [B]``: the policy under evaluation (deterministic)."""

EPISODE_FIGURES = ("sharpe", "total_return", "max_drawdown", "win_rate", "n_trades", "time_in_market",
                   "exposure")
"""Per-episode ``scenario_metrics`` keys that the summary averages."""


def episode_starts(first: int, last: int, n_episodes: int) -> np.ndarray:
    """``n_episodes`` first bars spread evenly over the first half of bars ``first .. last``.

    Episode ``i`` starts at ``first + floor(i * (last - first) / (2 * n_episodes))``; every episode
    runs to ``last``, so the shortest covers more than half of the period.
    """
    if last <= first:
        raise InvalidParameterError(f"an evaluation period needs at least 2 bars, got bars {first}..{last}")
    return first + (np.arange(n_episodes) * (last - first)) // (2 * n_episodes)


def make_evaluation_env(history: MarketData, period_start: Any, normalizer: FittedNormalizer,
                        params: ScenarioParams, n_episodes: int,
                        reward_weights: RewardWeights = RewardWeights()) -> tuple[TradingVectorEnv, np.ndarray]:
    """``n_episodes`` accounts over ``history`` and their first bars inside the period starting at
    ``period_start`` (the period ends with ``history``).

    ``history`` includes the bars before the period so that its first decisions read warm features;
    every feature is causal, and ``normalizer`` is the training period's.
    """
    first = int(np.searchsorted(history.index, period_start))
    if first >= len(history.index) - 1:
        raise InvalidParameterError(f"the evaluation period starting {period_start} holds fewer than 2 bars")
    env = TradingVectorEnv(history, params=[params] * n_episodes, normalizer=normalizer,
                           episode=EpisodeConfig(episode_length=None, random_start=False, min_start=first),
                           reward_weights=reward_weights)
    return env, episode_starts(first, len(history.index) - 1, n_episodes)


def run_episodes(decide: Decide, env: TradingVectorEnv, starts: np.ndarray) -> list[dict[str, Any]]:
    """Trade one episode per account from ``starts`` to the last bar; the metrics of each.

    Each result holds ``scenario_metrics``' keys plus ``bars`` (decisions), ``mean_reward`` (mean
    total reward per symbol and step), ``hold_share`` (share of decisions that were HOLD) and
    ``years`` (the episode's length in years of bars).
    """
    observation, info = env.reset(seed=0, options={"start": starts})
    n_accounts, n_symbols = env.n_scenarios, env.n_symbols
    equity = [[float(e)] for e in info["equity"][::n_symbols]]
    rewards = [[] for _ in range(n_accounts)]
    holds = np.zeros(n_accounts)
    records: list[np.ndarray] = []
    active = np.ones(n_accounts, dtype=bool)
    while active.any():
        actions = np.asarray(decide(observation, env.action_masks())).reshape(n_accounts, n_symbols)
        holds += np.where(active, (actions == SymbolAction.HOLD).sum(axis=1), 0)
        observation, reward, terminated, truncated, info = env.step(actions.reshape(-1))
        step = order_records(info["orders"])
        records.append(step[active[step["scenario"].astype(np.int64)]])
        done = (terminated | truncated).reshape(n_accounts, n_symbols)[:, 0]
        after = info["final_info"]["equity"] if done.any() else info["equity"]
        for k in np.flatnonzero(active):
            equity[k].append(float(after[k * n_symbols]))
            rewards[k].append(float(reward[k * n_symbols:(k + 1) * n_symbols].mean()))
        active &= ~done
    return [_episode_metrics(env, k, int(starts[k]), np.asarray(equity[k]), np.concatenate(records), rewards[k],
                             holds[k]) for k in range(n_accounts)]


def _episode_metrics(env: TradingVectorEnv, account: int, start: int, equity: np.ndarray, records: np.ndarray,
                     rewards: list[float], holds: float) -> dict[str, Any]:
    batch = env.batch
    end = start + len(equity) - 1
    mine = records[records["scenario"] == account].copy()
    mine["scenario"] = 0
    mine["bar"] -= start
    init_cash = np.array([float(batch.params[account].init_cash)])
    metrics = scenario_metrics(equity[:, None], mine, batch.close[account:account + 1, start:end + 1],
                               batch.timestamps[account][start:end + 1], init_cash, batch.frequency,
                               symbols=batch.symbols)[0]
    decisions = len(rewards) * batch.n_symbols
    return {**metrics, "bars": float(len(rewards)), "mean_reward": float(np.mean(rewards)),
            "hold_share": float(holds / max(decisions, 1)),
            "years": len(rewards) / bars_per_year(batch.frequency)}


def summarize_episodes(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """The figures a model card reports, averaged over the episodes.

    Keys: the means of :data:`EPISODE_FIGURES` (``win_rate`` over the episodes where it is defined,
    NaN when none is; ``n_trades`` becomes ``trades``), ``trades_per_year`` (all trades over all
    episode-years), ``mean_reward``, ``hold_share`` (over all decisions), ``worst_max_drawdown``,
    ``episodes`` and ``bars`` (decisions of episode 0, the whole period).
    """
    def mean(key: str) -> float:
        values = [float(e[key]) for e in episodes if e.get(key) is not None]
        return float(np.mean(values)) if values else float("nan")

    decisions = np.array([e["bars"] for e in episodes])
    out = {("trades" if key == "n_trades" else key): mean(key) for key in EPISODE_FIGURES}
    out.update({
        "trades_per_year": float(sum(e["n_trades"] for e in episodes) / max(sum(e["years"] for e in episodes), 1e-12)),
        "mean_reward": mean("mean_reward"),
        "hold_share": float(np.dot([e["hold_share"] for e in episodes], decisions) / decisions.sum()),
        "worst_max_drawdown": float(max(e["max_drawdown"] or 0.0 for e in episodes)),
        "episodes": float(len(episodes)),
        "bars": float(episodes[0]["bars"]),
    })
    return out
