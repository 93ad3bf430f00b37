"""The seed-size symbol agent on a GPU: decisions/s, the rollout around it, training, peak memory.

Prints, for the ``seed`` preset (3.4M parameters), measured in this one run on one CUDA device:

1. Decisions/s at batch 32, 256, 4,096 and 65,536 in fp32 and bf16, two ways:
   ``network``: ``SymbolAgent.act`` on tensors already on the GPU (what the symbol-agent
   specification's 25,761/s at batch 32 on an RTX 5070 Ti measures); ``policy``: the path a backtest
   takes (``models.inference.DeviceForward``: numpy in, pinned host buffers, non-blocking copies,
   logits and values back), with the CPU's fp32 figure at batch 256 beside them for scale.
2. A rollout over 1,024 scenarios x 3 symbols (``engine.rollout.run_rollout`` with the torch policy
   on CUDA, every bar observed, decided and booked): its decisions/s as a ratio to the policy's
   forward alone at the same batch (1.0: the rollout adds nothing).
3. Training steps/s of ``workbench train symbol-agent --preset seed --device cuda`` (MaskablePPO,
   rollouts plus updates, a short run).
4. Peak GPU memory of each part (``torch.cuda.max_memory_allocated``).

Every figure is the best of ``--repeats`` timed runs after a warm-up, each run long enough to last
about ``--seconds``. On a machine where torch sees no CUDA device it says so and exits 0.
``--device cpu`` runs the same script on the CPU (a dry run of its code; give small ``--batches``,
``--scenarios``, ``--bars`` and ``--train-steps``, the seed preset is slow there).

Run: ``python benchmarks/bench_gpu.py [--repeats 3 --seconds 0.5 --train-steps 6144]``.
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
import torch

BATCHES = (32, 256, 4_096, 65_536)
PRECISIONS = ("fp32", "bf16")
DEVICE = "cuda"
"""Where the measured parts run (``--device``)."""


def sync() -> None:
    """Wait for the GPU's queued work (nothing to wait for on the CPU)."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def timed(fn, repeats: int, seconds: float) -> float:
    """Best seconds per call of ``fn`` (synchronized), over ``repeats`` runs of about ``seconds`` each."""
    fn()
    sync()
    start = time.perf_counter()
    fn()
    sync()
    calls = max(1, math.ceil(seconds / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def observations(batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A batch with the engine's shapes and dtypes (HOLD always allowed)."""
    from models.spec import OBSERVATION_DTYPES, OBSERVATION_NAMES, OBSERVATION_SHAPES

    rng = np.random.default_rng(seed)
    out = {n: rng.standard_normal((batch, *OBSERVATION_SHAPES[n])).astype(np.float32)
           for n in OBSERVATION_NAMES if OBSERVATION_DTYPES[n] == "float32"}
    mask = rng.random((batch, 7)) < 0.5
    mask[:, 0] = True
    out["action_mask"] = mask
    return out


def peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else float("nan")


def decisions(agent_state: dict, repeats: int, seconds: float, batches: tuple[int, ...]) -> None:
    from models.inference import DeviceForward
    from models.spec import OBSERVATION_NAMES
    from models.symbol_agent.encoder import as_tensors
    from models.symbol_agent.export import DecidingSymbolAgent
    from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig

    config = SymbolAgentConfig.preset("seed")
    cpu_agent = SymbolAgent(config).eval()
    cpu_agent.load_state_dict(agent_state)
    cpu = DeviceForward(DecidingSymbolAgent(cpu_agent), "cpu")
    sample = observations(256)
    arrays = [sample[n] for n in OBSERVATION_NAMES]
    cpu_rate = 256 / timed(lambda: cpu(arrays, keep=[0, 1]), repeats, seconds)
    print(f"CPU fp32 ({torch.get_num_threads()} threads), policy path, batch 256: {cpu_rate:,.0f} decisions/s")
    print(f"{'batch':>7} {'precision':>9} {'network /s':>13} {'policy /s':>13} {'policy/network':>14} "
          f"{'vs CPU b256':>11} {'peak GiB':>9}")
    for precision in PRECISIONS:
        agent = SymbolAgent(config).eval()
        agent.load_state_dict(agent_state)
        forward = DeviceForward(DecidingSymbolAgent(agent), DEVICE, precision)
        dtype = {"fp32": None, "bf16": torch.bfloat16}[precision]
        for batch in batches:
            reset_peak()
            sample = observations(batch)
            arrays = [sample[n] for n in OBSERVATION_NAMES]
            on_device = {k: v.to(DEVICE) for k, v in as_tensors(sample).items()}

            def network(inputs=on_device):  # bound now: the loop deletes on_device before the next batch
                with torch.no_grad(), torch.autocast(DEVICE, dtype=dtype, enabled=dtype is not None):
                    agent.act(inputs, deterministic=True)

            try:
                network_rate = batch / timed(network, repeats, seconds)
                policy_rate = batch / timed(lambda: forward(arrays, keep=[0, 1]), repeats, seconds)
            except torch.cuda.OutOfMemoryError:
                print(f"{batch:>7} {precision:>9}  out of GPU memory")
                torch.cuda.empty_cache()
                continue
            print(f"{batch:>7} {precision:>9} {network_rate:>13,.0f} {policy_rate:>13,.0f} "
                  f"{policy_rate / network_rate:>14.2f} {policy_rate / cpu_rate:>10.1f}x {peak_gib():>9.2f}")
            del on_device
            if DEVICE == "cuda":
                torch.cuda.empty_cache()


def rollout(agent_state: dict, repeats: int, n_scenarios: int, n_bars: int) -> None:
    """The rollout over ``n_scenarios`` x 3 symbols against the policy's forward alone at the same batch."""
    from engine.actions import BarContext, SymbolActions
    from engine.data.registry import load_builtin
    from engine.observation import ObservationBuilder
    from engine.rollout import kernel_params, run_rollout
    from engine.scenarios import ScenarioParams, from_market
    from engine.state import initial_state
    from models.symbol_agent.export import SYMBOL_AGENT_GRAPH, DecidingSymbolAgent
    from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
    from strategies.family import Placement
    from strategies.neural import TorchPolicy
    from workbench.policies import load_policy

    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"])
    data = data.slice(data.index[-n_bars], data.index[-1])
    batch = from_market(data, [ScenarioParams(fees=0.0001 * (i % 20), slippage=0.0001 * (i // 20))
                               for i in range(n_scenarios)])
    normalizer = load_policy("symbol-agent-compact-stocks").normalizer  # fitted on 2000-2007, as in training
    builder = ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions())
    for precision in PRECISIONS:
        agent = SymbolAgent(SymbolAgentConfig.preset("seed")).eval()
        agent.load_state_dict(agent_state)
        policy = TorchPolicy(DecidingSymbolAgent(agent), outputs=SYMBOL_AGENT_GRAPH.outputs,
                             placement=Placement(DEVICE, precision))
        reset_peak()
        run_rollout(batch, policy, observer=builder)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run_rollout(batch, policy, observer=builder)
            best = min(best, time.perf_counter() - start)
        params = kernel_params(batch)
        context = BarContext(n_bars // 2, initial_state(params, 3), np.array(batch.close[:, n_bars // 2, :]), params,
                             np.full((n_scenarios, 3), np.nan))
        sample = builder.observe(n_bars // 2, context)
        steps = batch.n_bars - 1

        def forward_alone():
            for _ in range(steps):
                policy.act(sample)

        forward_s = timed(forward_alone, 1, 0.0)
        rows = steps * n_scenarios * 3
        print(f"rollout, {n_scenarios} scenarios x 3 symbols x {batch.n_bars} bars (batch {n_scenarios * 3}), "
              f"{precision}: {rows / best:,.0f} decisions/s in the rollout, {rows / forward_s:,.0f} for the "
              f"policy alone, ratio {forward_s / best:.2f}; peak {peak_gib():.2f} GiB")
        agreement = policy.parity_report()
        if agreement is not None:
            print(f"  against cpu fp32 on {agreement['rows']:,} sampled decisions: agreement "
                  f"{agreement['action_agreement']:.4%}, max logit difference {agreement['max_abs_diff']:.3g}")


def training(steps: int) -> None:
    from engine.data.registry import load_builtin
    from models.symbol_agent.training import TrainingConfig, train_symbol_agent

    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"])
    train, history = data.slice("2000-03-01", "2007-12-31"), data.slice("2000-03-01", "2008-12-31")
    config = TrainingConfig(preset="seed", timesteps=steps, seed=7, device=DEVICE, eval_every=0)
    reset_peak()
    with tempfile.TemporaryDirectory() as log_dir:
        result = train_symbol_agent(train, history, ("2008-01-01", "2008-12-31"), config, log_dir=log_dir,
                                    code_version="bench")
    metrics = result.card.training_metrics
    print(f"training, seed preset, MaskablePPO on {DEVICE}, {config.accounts} accounts x 3 symbols, "
          f"{int(metrics['train/timesteps'])} steps: {metrics['train/steps_per_second']:,.0f} steps/s "
          f"(rollouts plus updates); peak {peak_gib():.2f} GiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--scenarios", type=int, default=1_024)
    parser.add_argument("--bars", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=6_144)
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="comma-separated batch sizes")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run of the script")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA device: torch {torch.__version__} sees none, so there is no GPU to measure "
              "(run this on a GPU machine; see README, 'On a GPU machine')")
        return 0
    from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig, count_parameters

    torch.manual_seed(0)
    agent = SymbolAgent(SymbolAgentConfig.preset("seed"))
    if DEVICE == "cuda":
        properties = torch.cuda.get_device_properties(0)
        card = f"{torch.cuda.get_device_name(0)}, {properties.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    else:
        card = f"CPU dry run, {torch.get_num_threads()} threads"
    print(f"{card}, torch {torch.__version__}; seed preset, {count_parameters(agent):,} parameters")
    started = time.perf_counter()
    state = agent.state_dict()
    decisions(state, args.repeats, args.seconds, tuple(int(b) for b in args.batches.split(",")))
    rollout(state, max(1, args.repeats - 1), args.scenarios, args.bars)
    training(args.train_steps)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
