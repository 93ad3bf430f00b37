"""CPU speed as four ratios measured side by side in one run, each printed with its target.

1. Rollout over forward: the compact symbol agent (torch) deciding for 32 scenarios x 8 symbols bar
   by bar through ``engine.rollout`` (observe, decide, book), in decisions/s, over the same
   policy's batched forward alone on one bar's observations, repeated as often (target >= 0.85).
2. Against what a user does without this workbench: load the shipped compact symbol agent into
   sb3-contrib's ``MaskablePPO`` and step the gymnasium ``TradingEnvironment`` one scenario and one
   step at a time with ``predict(obs, action_masks=..., deterministic=True)``, for a 64-scenario cost
   grid (8 fees x 8 slippages) on AAPL 2008-2013; against ``workbench backtest`` of the same grid
   in one batch (``run_backtest``, rewards and extras included, as stored). The actions must be the
   same; the ratio is the user's time over the workbench's (target >= 30). The user's loop is
   timed on ``--sb3-scenarios`` of the 64 (it is one scenario after another, so its time per
   scenario does not depend on how many run) and scaled to 64; ``--sb3-scenarios 64`` runs all.
3. A baseline's whole stored backtest against the accounting kernel alone: sma_cross on AAPL, MSFT,
   IBM (every bar, 2000-2013) over a 100-scenario cost grid. Whole: ``run_backtest`` (decide once per
   distinct path; simulate with the reward components measured in the same compiled loop; metrics;
   the baselines at the grid's first cost point, as a stored backtest keeps them: equal_weight and
   momentum simulated and measured there, the run itself as its own sma_cross baseline, the costless
   benchmark), the run record's tables and
   ``RunStore.save_run``; kernel: ``engine.simulate.simulate_intents`` of the same intents. Prints
   the whole time over the kernel's (target <= 1.5) and where the whole time goes.
4. The accounting kernel against vectorbt's ``Portfolio.from_orders`` replaying identical fills
   (``benchmarks/bench_engine.py``), vectorbt's time over the engine's (target >= 1.0).

Each time is the best of ``--repeats`` runs after a warm-up (Numba compilation excluded); the two
sides of ratios 1 and 3 run in turn, round after round. Torch runs on one thread (ratio 2: torch's
default, the machine's CPUs, on both sides). Ratios, not absolute figures, are the claim: other load
on the machine slows both sides of a ratio alike.

Run: ``python benchmarks/bench_cpu.py [--repeats 3 --sb3-scenarios 8]``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import best_of, kernel_vs_vectorbt  # noqa: E402

AAPL = dict(data="stocks", symbols=("AAPL",), start="2008-01-01", end="2013-03-01")
FEES = tuple(0.0005 * i for i in range(8))
SLIPPAGES = tuple(0.00025 * i for i in range(8))


def interleaved(repeats: int, **runs) -> dict[str, float]:
    """Best seconds of each of ``runs`` over ``repeats`` rounds that run each once, in turn, after one
    warm-up each: load from other processes falls on both sides of a ratio alike."""
    for fn in runs.values():
        fn()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(name: str, value: float, target: str, ok: bool, detail: str) -> None:
    print(f"{name}: {value:.2f} (target {target}: {'met' if ok else 'MISSED'}) - {detail}", flush=True)


def rollout_over_forward(repeats: int, n_scenarios: int = 32, n_symbols: int = 8) -> float:
    """Ratio 1: the compact agent's rollout decisions/s over its forward's."""
    import torch

    from engine.actions import BarContext, SymbolActions
    from engine.data.synthetic import SyntheticConfig, generate_synthetic
    from engine.observation import ObservationBuilder
    from engine.rollout import kernel_params, run_rollout
    from engine.scenarios import ScenarioParams, from_market
    from engine.state import initial_state
    from models.symbol_agent.export import SYMBOL_AGENT_GRAPH, DecidingSymbolAgent
    from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
    from strategies.neural import TorchPolicy

    torch.manual_seed(0)
    data = generate_synthetic(SyntheticConfig(n_symbols=n_symbols, frequency="1D", start="2020-01-01",
                                              end="2021-12-31", seed=2))
    batch = from_market(data, [ScenarioParams(fees=0.0005 * i) for i in range(n_scenarios)])
    builder = ObservationBuilder(batch, fit_period=("2020-01-01", "2021-12-31"), action_space=SymbolActions())
    agent = DecidingSymbolAgent(SymbolAgent(SymbolAgentConfig.preset("compact")).eval())
    policy = TorchPolicy(agent, outputs=SYMBOL_AGENT_GRAPH.outputs)
    params = kernel_params(batch)
    context = BarContext(300, initial_state(params, n_symbols), np.array(batch.close[:, 300, :]), params,
                         np.full((n_scenarios, n_symbols), np.nan))
    sample = builder.observe(300, context)

    def forward_alone():
        for _ in range(batch.n_bars - 1):
            policy.act(sample)

    times = interleaved(repeats, rollout=lambda: run_rollout(batch, policy, observer=builder), forward=forward_alone)
    rollout_s, forward_s = times["rollout"], times["forward"]
    decisions = (batch.n_bars - 1) * n_scenarios * n_symbols
    ratio = forward_s / rollout_s
    report("1. compact symbol agent, rollout / forward decisions/s", ratio, ">= 0.85", ratio >= 0.85,
           f"{n_scenarios} scenarios x {n_symbols} symbols x {batch.n_bars} bars (batch {n_scenarios * n_symbols}): "
           f"{decisions / rollout_s:,.0f} decisions/s in the rollout, {decisions / forward_s:,.0f} for the forward "
           f"alone ({(rollout_s - forward_s) / (batch.n_bars - 1) * 1e3:.2f} ms per bar around the forward)")
    return ratio


def sb3_user_loop(agent, config, normalizer, data, fees: float, slippage: float) -> np.ndarray:
    """What a user does without the workbench: one environment per scenario, one step at a time."""
    from sb3_contrib import MaskablePPO

    from engine.envs.episode import EpisodeConfig
    from engine.envs.trading_env import TradingEnvironment
    from engine.scenarios import ScenarioParams
    from models.symbol_agent.sb3_policy import copy_agent_into_policy, policy_kwargs

    env = TradingEnvironment(data, params=ScenarioParams(fees=fees, slippage=slippage), normalizer=normalizer,
                             episode=EpisodeConfig(episode_length=None, random_start=False, min_start=0))
    model = MaskablePPO("MultiInputPolicy", env, policy_kwargs=policy_kwargs(config), device="cpu", seed=0)
    copy_agent_into_policy(agent, model.policy)
    observation, _ = env.reset(options={"start": 0})
    actions = []
    while True:
        action, _ = model.predict(observation, action_masks=env.action_masks(), deterministic=True)
        actions.append(int(action))
        observation, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            return np.array(actions)


def against_sb3(repeats: int, sb3_scenarios: int) -> float:
    """Ratio 2: MaskablePPO stepping a gymnasium environment per scenario vs one batched backtest."""
    import torch

    from engine.data.registry import load_builtin
    from models.checkpoint import load_checkpoint
    from models.symbol_agent.network import build_symbol_agent
    from workbench.policies import resolve_policy
    from workbench.runs.backtest import run_backtest
    from workbench.runs.spec import RunSpec

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)  # torch's default, as a user's script has it
    spec = RunSpec(kind="backtest", policy="symbol-agent-compact-stocks", fees=FEES, slippage=SLIPPAGES, **AAPL)
    workbench_s = best_of(repeats, lambda: run_backtest(spec))
    result = run_backtest(spec)
    agent, card, normalizer = load_checkpoint(resolve_policy("symbol-agent-compact-stocks"), build_symbol_agent)
    data = load_builtin("stocks").select(["AAPL"]).slice(AAPL["start"], AAPL["end"])
    grid = [(f, s) for f in FEES for s in SLIPPAGES]  # the spec's order: fees outer, slippage inner
    chosen = np.unique(np.linspace(0, len(grid) - 1, sb3_scenarios).round().astype(int))
    sb3_user_loop(agent, agent.config, normalizer, data, *grid[0])  # warm-up (imports, kernels)
    started = time.perf_counter()
    same = []
    for s in chosen:
        actions = sb3_user_loop(agent, agent.config, normalizer, data, *grid[s])
        same.append(np.array_equal(actions, result.rollout.actions[:, s]))
    user_s = (time.perf_counter() - started) / len(chosen) * len(grid)
    torch.set_num_threads(threads)
    ratio = user_s / workbench_s
    decisions = result.rollout.actions.size
    report("2. MaskablePPO + gymnasium per scenario / workbench backtest", ratio, ">= 30", ratio >= 30 and all(same),
           f"64 scenarios x {len(result.rollout.index)} bars of AAPL: the user's loop {user_s:.1f} s "
           f"({'measured on all 64' if len(chosen) == len(grid) else f'{len(chosen)} scenarios measured, scaled to 64'}), "
           f"workbench backtest {workbench_s:.2f} s ({decisions / workbench_s:,.0f} decisions/s, its ONNX export on "
           f"{result.decider.policy.session.get_session_options().intra_op_num_threads} onnxruntime threads); torch on "
           f"{os.cpu_count()} threads for both; same actions on {sum(same)} of {len(same)} scenarios compared")
    return ratio


@contextlib.contextmanager
def temporary_home():
    """A throw-away WORKBENCH_HOME for the run store."""
    old = os.environ.get("WORKBENCH_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as home:
        os.environ["WORKBENCH_HOME"] = home
        try:
            yield Path(home)
        finally:
            if old is None:
                del os.environ["WORKBENCH_HOME"]
            else:
                os.environ["WORKBENCH_HOME"] = old


def baseline_grid(repeats: int) -> float:
    """Ratio 3: a baseline's whole stored backtest of a 100-scenario grid over the kernel alone."""
    from engine.rollout import kernel_params, trading_day_ids
    from engine.simulate import simulate_intents
    from engine.state import initial_state
    from workbench.runs.backtest import run_backtest
    from workbench.runs.spec import RunSpec
    from workbench.store import RunStore

    costs = tuple(0.0001 * i for i in range(10))
    spec = RunSpec(kind="backtest", data="stocks", strategy="sma_cross", symbols=("AAPL", "MSFT", "IBM"),
                   fees=costs, slippage=costs)
    parts: dict[str, float] = {}

    def whole():
        start = time.perf_counter()
        result = run_backtest(spec)
        ran = time.perf_counter()
        record = result.to_record()
        tabled = time.perf_counter()
        with temporary_home(), RunStore.open() as store:
            store.save_run(record)
        stored = time.perf_counter()
        for name, seconds in (("run_backtest", ran - start), ("to_record", tabled - ran), ("save_run", stored - tabled)):
            parts[name] = min(parts.get(name, np.inf), seconds)
        return result

    result = run_backtest(spec)
    batch, policy = result.batch, result.decider.policy
    kind, size = policy.action_space.path_intents(policy.act_market(batch.path(0)).actions)
    kind = np.repeat(kind[:, None, :], batch.n_scenarios, axis=1).astype(np.int8)
    size = np.repeat(size[:, None, :], batch.n_scenarios, axis=1)
    params, days = kernel_params(batch), trading_day_ids(batch)

    def kernel():
        return simulate_intents(batch.open, batch.close, days, kind, size, params,
                                initial_state(params, batch.n_symbols), batch.n_valid)

    times = interleaved(repeats, whole=whole, kernel=kernel)
    whole_s, kernel_s = times["whole"], times["kernel"]
    if not np.array_equal(kernel()[0], result.rollout.equity):
        raise AssertionError("the kernel alone and the backtest disagree on equity")
    ratio = whole_s / kernel_s
    cells = batch.n_scenarios * batch.n_bars
    breakdown = ", ".join(f"{k} {v:.2f} s" for k, v in parts.items())
    report("3. sma_cross 100-scenario grid, whole stored backtest / accounting kernel", ratio, "<= 1.5", ratio <= 1.5,
           f"{batch.n_scenarios} scenarios x {batch.n_symbols} symbols x {batch.n_bars} bars: whole {whole_s:.2f} s "
           f"({whole_s / cells * 1e6:.2f} us per scenario-bar; {breakdown}), kernel {kernel_s:.3f} s "
           f"({kernel_s / cells * 1e6:.2f} us per scenario-bar)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sb3-scenarios", type=int, default=8, help="scenarios of the user's loop timed (1-64)")
    parser.add_argument("--only", default="1,2,3,4", help="which ratios to measure, e.g. 1,3")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"torch {torch.__version__} on 1 thread, {os.cpu_count()} CPUs; best of {args.repeats} runs each", flush=True)
    only = {int(x) for x in args.only.split(",")}
    if 1 in only:
        rollout_over_forward(args.repeats)
    if 2 in only:
        against_sb3(args.repeats, max(1, min(64, args.sb3_scenarios)))
    if 3 in only:
        baseline_grid(args.repeats)
    if 4 in only:
        ratio = kernel_vs_vectorbt(1000, 5000, args.repeats)
        report("4. vectorbt from_orders / accounting kernel on identical fills", ratio, ">= 1.0", ratio >= 1.0,
               "1000 scenarios x 5000 bars, one symbol each (the line above)")


if __name__ == "__main__":
    main()
