"""A stored symbol-agent backtest: one pass today against the three passes it used to take.

Before issue 13 a stored backtest of the shipped symbol agent ran
1. the rollout on the ONNX export (actions and probabilities only),
2. the checkpoint's torch agent a second time over every recorded observation, in large batches,
   for the critic's values and the sampled attention maps, and
3. a replay of the recorded actions through the training environments' stepper for the reward
   components (checked bar by bar against the rollout's equity).
Today one rollout returns the values and sampled attention from the forward pass that decides and
measures the reward components as it steps (``workbench.runs.backtest.run_backtest``).

This script times both on the same spec in one process: the former pipeline is rebuilt from the
same primitives (the rollout, the agent's own forward, ``engine.envs.stepper.KernelStepper``), so
the ratio is what removing the two extra passes saves. It also checks that both give the same
rewards and values. Prints the best of ``--repeats`` runs of each after a warm-up and the ratio
former / one-pass (> 1: today is faster).

Run: ``python benchmarks/bench_backtest.py [--symbols AAPL,MSFT,IBM --start 2005-01-01 --fees 0,0.001]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def best_of(repeats: int, fn) -> tuple[float, object]:
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="AAPL,MSFT,IBM")
    parser.add_argument("--start", default="2005-01-01")
    parser.add_argument("--end", default="2013-03-01")
    parser.add_argument("--fees", default="0,0.001")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from engine.data.market import bars_per_year
    from engine.envs.stepper import KernelStepper
    from engine.reward_meter import RewardSettings
    from engine.rewards import REWARD_COMPONENTS
    from engine.rollout import run_rollout
    from engine.scenarios import from_market
    from engine.tracking import AccountTracker
    from models.spec import OBSERVATION_NAMES
    from workbench.runs.backtest import run_backtest
    from workbench.runs.evaluate import cost_grid, spec_data, spec_decider
    from workbench.runs.spec import RunSpec

    torch.set_num_threads(1)
    spec = RunSpec(kind="backtest", data="stocks", policy="symbol-agent-compact-stocks",
                   symbols=tuple(args.symbols.split(",")), start=args.start, end=args.end,
                   fees=tuple(float(f) for f in args.fees.split(",")))
    decider = spec_decider(spec)
    data = spec_data(spec)
    grid = cost_grid(spec)
    names = [*REWARD_COMPONENTS, "total"]

    def one_pass():
        result = run_backtest(spec)
        return result.rollout

    def three_passes():
        batch = from_market(data, [p for _, p in grid], labels=[label for label, _ in grid])
        kept = []

        class Recording:
            def __init__(self, inner):
                self.inner = inner

            def observe(self, bar, context):
                observation = self.inner.observe(bar, context)
                kept.append({n: np.array(observation[n]) for n in OBSERVATION_NAMES})
                return observation

        rollout = run_rollout(batch, decider.policy, observer=Recording(decider.observer(batch)))
        agent, every = decider.network, decider.family.explain_every(decider, batch.n_bars - 1, batch.n_symbols)
        values, attention = [], []
        per_flush = max(1, 4096 // (batch.n_scenarios * batch.n_symbols))  # it flushed every 4,096 rows
        with torch.no_grad():
            for start in range(0, len(kept), per_flush):
                chunk = kept[start:start + per_flush]
                rows = {n: torch.from_numpy(np.concatenate([o[n] for o in chunk])) for n in OBSERVATION_NAMES}
                values.append(agent(rows)[1].numpy())
                sampled = [o for k, o in enumerate(chunk, start) if k % every == 0]
                if sampled:
                    first = {n: torch.from_numpy(np.concatenate([o[n][:batch.n_symbols] for o in sampled]))
                             for n in OBSERVATION_NAMES}
                    attention.append(agent(first, return_attention=True)[2])
        settings = RewardSettings()
        tracker = AccountTracker(batch.n_scenarios, batch.n_symbols, settings.stats_window,
                                 bars_per_year(batch.frequency), settings.ratio_clip)
        stepper = KernelStepper(batch, decider.policy.action_space, tracker, settings.weights, settings.scales)
        stepper.reset(np.arange(batch.n_scenarios), np.zeros(batch.n_scenarios, dtype=np.int64), batch.n_valid - 1)
        actions = rollout.actions.reshape(batch.n_bars - 1, batch.n_scenarios, batch.n_symbols)
        rewards = {n: np.empty((batch.n_bars - 1, batch.n_scenarios, batch.n_symbols)) for n in names}
        for t in range(batch.n_bars - 1):
            step = stepper.step(actions[t])
            if not np.array_equal(stepper.state.equity, rollout.equity[t + 1]):
                raise RuntimeError(f"the replay diverged at bar {t + 1}")
            for n in names:
                rewards[n][t] = np.broadcast_to(step.rewards[n], rewards[n][t].shape)
        return rollout, np.concatenate(values), rewards

    now, rollout = best_of(args.repeats, one_pass)
    before, (old_rollout, old_values, old_rewards) = best_of(args.repeats, three_passes)
    same_rewards = all(np.array_equal(rollout.rewards[n], old_rewards[n]) for n in names)
    value_gap = float(np.max(np.abs(rollout.extras["values"].reshape(-1) - old_values.reshape(-1))))
    n_decisions = (len(data.index) - 1) * len(grid) * len(data.symbols)
    print(f"symbol-agent backtest, {len(data.symbols)} symbols x {len(data.index)} bars x {len(grid)} cost scenarios "
          f"({n_decisions} decisions), runtime {decider.runtime}, best of {args.repeats}")
    print(f"  former three passes (rollout, agent over recorded observations, reward replay): {before:.2f} s")
    print(f"  one pass (values, sampled attention and rewards from the rollout itself):        {now:.2f} s")
    print(f"  ratio former / one pass: {before / now:.2f}x")
    print(f"  same actions: {np.array_equal(rollout.actions, old_rollout.actions)}; same rewards: {same_rewards}; "
          f"largest value difference (ONNX vs torch): {value_gap:.2g}")


if __name__ == "__main__":
    main()
