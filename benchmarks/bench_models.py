"""Speed of the symbol agent's batched decisions (``SymbolAgent.act``) per preset and batch size.

Prints decisions per second (rows decided per second of wall time) for the ``seed`` and ``compact``
presets at batch 1 and 256, in eval mode without gradients, on ``--threads`` CPU threads. Each
figure is the best of ``--repeats`` timed runs after one warm-up call; a run repeats the call for
about ``--seconds`` (at least once). On a machine shared with other processes, numbers swing widely
with more than one thread (OpenMP workers spin); compare ``--threads 1``.

Run: ``python benchmarks/bench_models.py [--threads 2 --repeats 3 --seconds 0.5]``.
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig, count_parameters


def random_observation(batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A batch of observations with the engine's shapes (values ~ N(0, 1); HOLD always allowed)."""
    mask = torch.rand(batch, 7, generator=generator) < 0.5
    mask[:, 0] = True
    return {
        "technical": torch.randn(batch, 24, 23, generator=generator),
        "sl_probs": torch.rand(batch, 3, generator=generator),
        "position": torch.randn(batch, 5, generator=generator),
        "portfolio": torch.randn(batch, 8, generator=generator),
        "regime": torch.randn(batch, 10, generator=generator),
        "action_mask": mask,
    }


def decisions_per_second(agent: SymbolAgent, batch: int, repeats: int, seconds: float) -> float:
    """Best rows-per-second of ``agent.act`` over ``repeats`` runs of about ``seconds`` each."""
    generator = torch.Generator().manual_seed(0)
    obs = random_observation(batch, generator)
    start = time.perf_counter()
    agent.act(obs, generator=generator)
    calls = max(1, math.ceil(seconds / (time.perf_counter() - start)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            agent.act(obs, generator=generator)
        best = min(best, time.perf_counter() - start)
    return batch * calls / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads")
    for preset in ("seed", "compact"):
        agent = SymbolAgent(SymbolAgentConfig.preset(preset)).eval()
        for batch in (1, 256):
            rate = decisions_per_second(agent, batch, args.repeats, args.seconds)
            print(f"{preset:>8} ({count_parameters(agent):>9,} params)  batch {batch:>4}: {rate:>10,.0f} decisions/s")


if __name__ == "__main__":
    main()
