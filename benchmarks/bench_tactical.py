"""What the tactical-team specification promises, measured on a team checkpoint.

The specification claims 2.21 ms mean and 6.93 ms p99 per decision (under 10 ms), more than 100
decisions per second, and agents whose attention stays on their specialities. This prints, for the
checkpoint's torch and ONNX runtimes (and an untrained ``seed``-preset team on torch, the size the
specification measured):

* **decision latency per bar**: one call of the policy's ``act`` (every agent's forward pass, the
  softmax and the vote) on one symbol's real window (batch 1) and on one bar of every symbol of the
  dataset (batch N), p50 / p99 / mean over ``--bars`` consecutive bars of the validation period;
* **a paper-trading bar**: the live observation taking the bar and building the windows
  (``engine.tactical_observation.LiveTacticalObservation``) plus ``act``, p50 / p99;
* **throughput**: decisions (symbol rows) per second, sequential at batch 1 and batched at 256 rows
  (a stress set's bar), and the ONNX / torch ratio measured in the same run;
* **agreement**: from a backtest of the validation period (the run ``workbench backtest --policy
  ... --start VALIDATION_START`` stores): the mean share of agents voting the team's decision, how
  often all three agree, and each agent's agreement with the team;
* **attention specialisation** over those decisions (``models.tactical_team.config.specialisation``):
  the FVG agent's share on the five FVG columns, the Momentum agent's on momentum and volume, the
  Entry agent's balance (entropy / ln 7), each next to its value at initialization.

Torch runs on ``--threads`` threads (1 by default, as the policy decides); onnxruntime on one intra-op
thread. On a machine shared with other processes the p99 swings; rerun and compare p50.

Run: ``python benchmarks/bench_tactical.py [--policy tactical-compact-synthetic5m] [--bars 500]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from engine.data.market import FIELDS
from engine.rollout import run_rollout
from engine.scenarios import from_market
from engine.tactical_observation import LiveTacticalObservation, TacticalObserver
from models.tactical_team.config import initial_attention, specialisation, team_config
from models.tactical_team.network import TacticalTeam
from strategies.tactical import TacticalTeamPolicy
from workbench.policies import load_policy
from workbench.services.datasets import load_dataset

SPECIFICATION = {"mean_ms": 2.21, "p99_ms": 6.93, "limit_ms": 10.0, "decisions_per_second": 100.0}


def timed(call, runs: int) -> np.ndarray:
    """Milliseconds of each of ``runs`` calls (after two warm-up calls)."""
    call(0)
    call(0)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        call(i)
        times[i] = time.perf_counter() - start
    return times * 1e3


def describe(times: np.ndarray) -> str:
    return f"p50 {np.percentile(times, 50):7.3f}  p99 {np.percentile(times, 99):7.3f}  mean {times.mean():7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="tactical-compact-synthetic5m", help="shipped team or checkpoint folder")
    parser.add_argument("--bars", type=int, default=500, help="bars timed per figure")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch_team = load_policy(args.policy, runtime="torch")
    card = torch_team.card
    deciders = {"torch": torch_team}
    if card.export:
        deciders["onnx"] = load_policy(args.policy, runtime="onnx")
    data = load_dataset(card.dataset["name"], symbols=card.dataset.get("symbols"),
                        start=card.validation_period[0], end=card.validation_period[1])
    batch = from_market(data)
    observer = TacticalObserver(batch, torch_team.normalizer)
    first = observer.warmup
    bars = np.arange(first, min(first + args.bars, data.n_bars - 1))
    windows = [observer.windows(np.zeros(1, np.int64), np.array([b]))[0:data.n_symbols] for b in bars]
    print(f"{args.policy}: {card.config['preset']} team, vote {card.config['vote']}, "
          f"{card.parameter_counts['total']:,} parameters; {data.name} validation "
          f"{data.index[0]:%Y-%m-%d}..{data.index[-1]:%Y-%m-%d}, {len(bars)} bars x {data.n_symbols} symbols; "
          f"torch {args.threads} thread(s)")
    print(f"specification: {SPECIFICATION['mean_ms']} ms mean, {SPECIFICATION['p99_ms']} ms p99, "
          f"< {SPECIFICATION['limit_ms']} ms, > {SPECIFICATION['decisions_per_second']:.0f} decisions/s")

    seed_team = TacticalTeam(team_config("seed"))
    policies = {name: d.policy for name, d in deciders.items()}
    policies["torch, seed preset (untrained)"] = TacticalTeamPolicy(seed_team, name="seed")
    print("\ndecision latency per bar (act: forward pass, softmax, vote)")
    throughput = {}
    stacked = np.concatenate(windows)[:256]
    stacked = np.concatenate([stacked] * (256 // len(stacked) + 1))[:256]
    for name, policy in policies.items():
        one = timed(lambda i, policy=policy: policy.act({"window": windows[i % len(windows)][:1]}), len(bars))
        every = timed(lambda i, policy=policy: policy.act({"window": windows[i % len(windows)]}), len(bars))
        wide = timed(lambda i, policy=policy: policy.act({"window": stacked}), max(20, len(bars) // 20))
        throughput[name] = (1e3 / one.mean(), 256 * 1e3 / wide.mean())
        print(f"  {name:32s} 1 symbol : {describe(one)}")
        print(f"  {'':32s} {data.n_symbols} symbols: {describe(every)}")
    print("\nthroughput (symbol decisions per second)")
    for name, (sequential, batched) in throughput.items():
        print(f"  {name:32s} sequential {sequential:9,.0f}   batch 256 {batched:11,.0f}")
    if "onnx" in throughput:
        print(f"  onnx / torch: {throughput['onnx'][0] / throughput['torch'][0]:.2f}x sequential, "
              f"{throughput['onnx'][1] / throughput['torch'][1]:.2f}x at batch 256")

    print("\na paper-trading bar (live observation append + build, then act)")
    for name, policy in ((n, d.policy) for n, d in deciders.items()):
        live = LiveTacticalObservation(data.n_symbols, torch_team.normalizer)
        for t in range(first):
            live.append({f: getattr(data, f)[t] for f in FIELDS})

        def paper_bar(i: int, live=live, policy=policy) -> None:
            t = first + i % (data.n_bars - first)
            live.append({f: getattr(data, f)[t] for f in FIELDS})
            policy.act(live.build(None, None))

        print(f"  {name:32s} {describe(timed(paper_bar, len(bars)))}")

    rollout = run_rollout(batch, torch_team.policy, observer=observer)
    agents = torch_team.network.agents
    votes = rollout.extras["agent_votes"].astype(int)  # [T - 1, N, agents]
    team = np.asarray(rollout.actions)
    print(f"\nagreement over the validation period's {votes.shape[0] * votes.shape[1]:,} decisions")
    print(f"  mean share of agents voting the team's decision {rollout.extras['agreement'].mean():.3f}; "
          f"all three agree {np.mean((votes == votes[..., :1]).all(axis=-1)):.3f}")
    for a, agent in enumerate(agents):
        print(f"  {agent:9s} votes the team's decision {np.mean(votes[..., a] == team):.3f}; votes short/hold/long "
              f"{' / '.join(f'{np.mean(votes[..., a] == k):.2f}' for k in range(3))}")
    measured = specialisation(rollout.extras["attention"], agents)
    start = specialisation(np.stack([initial_attention(a, 1e-3) for a in agents])[None], agents)
    print("\nattention specialisation (trained vs at initialization)")
    for agent in agents:
        print(f"  {agent:9s} focus {measured[f'{agent}_focus']:.3f} (init {start[f'{agent}_focus']:.3f})  "
              f"balance {measured[f'{agent}_balance']:.3f} (init {start[f'{agent}_balance']:.3f})  "
              f"moved {measured[f'{agent}_prior_distance']:.3f} from its prior")
    mean = pd.DataFrame(rollout.extras["attention"].reshape(-1, len(agents), 7).mean(axis=0), index=list(agents),
                        columns=list(observer.features.columns))
    print(mean.round(3).to_string())


if __name__ == "__main__":
    main()
