"""Engine speed, measured side by side in one run (ratios, not absolute claims).

1. Accounting kernel vs vectorbt: S scenarios x T bars (one symbol each) of target-percent orders
   with fees and slippage. The engine turns the decisions into fills and equity; vectorbt's
   ``Portfolio.from_orders`` replays exactly those fills (``engine.portfolio.to_vectorbt``) and
   values them. The two equity curves are checked to agree, then both are timed.
   Prints vectorbt / engine (> 1: the engine is faster).
2. Rollout overhead: portfolio-scope policies run through ``engine.rollout``; prints the policy's
   own time over the rollout's time for the same decisions (1.0: no overhead). Once with a nearly
   free linear policy (the rollout's own per-bar cost) and once with the compact symbol agent on
   the engine's Dict observations (the issue's target: >= 0.85).

Run: ``python benchmarks/bench_engine.py [--scenarios 1000 --bars 5000]``. Each measurement is the
best of ``--repeats`` runs after one warm-up run (JIT compilation excluded).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def best_of(repeats: int, fn) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def kernel_vs_vectorbt(n_scenarios: int, n_bars: int, repeats: int) -> float:
    """Time the engine producing fills and vectorbt replaying exactly those fills; returns vectorbt / engine."""
    import vectorbt as vbt

    from engine.portfolio import cash_credit, from_orders_arguments
    from engine.records import OrderKind
    from engine.simulate import simulate_intents
    from engine.state import KernelParams, initial_state

    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_scenarios, n_bars, 1)), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.002, close.shape))
    change = rng.random((n_bars, n_scenarios, 1)) < 0.05
    targets = rng.choice([0.0, 0.5, 1.0], (n_bars, n_scenarios, 1))
    kind = np.where(change, int(OrderKind.TARGET_PERCENT), 0).astype(np.int8)
    size = np.where(change, targets, 0.0)
    values = dict(init_cash=100_000.0, fees=0.001, slippage=0.0005, spread=0.0, position_limit=1.0,
                  gross_limit=1.0, allow_short=0.0, lot_size=0.0, stop_loss=0.0, trailing_stop=0.0,
                  take_profit=0.0, max_drawdown=0.0, flatten_on_breaker=0.0, daily_loss_limit=0.0,
                  cooldown_bars=0.0)
    params = KernelParams(**{k: np.full(n_scenarios, v) for k, v in values.items()})
    day = np.arange(n_bars)
    index = pd.date_range("2000-01-03", periods=n_bars, freq="B", tz="UTC")

    def engine_run():
        return simulate_intents(open_, close, day, kind, size, params, initial_state(params, 1))

    equity, records = engine_run()

    arguments = from_orders_arguments(records, close, index, ["X"], params.init_cash, freq="1D")

    def vectorbt_run():
        return vbt.Portfolio.from_orders(**arguments).value()

    value = vectorbt_run().to_numpy() - cash_credit(records, params.init_cash)
    gap = np.max(np.abs(value / equity - 1.0))
    print(f"same {len(records):,} fills: max relative equity gap engine vs vectorbt = {gap:.1e}")
    engine_s = best_of(repeats, engine_run)
    vbt_s = best_of(repeats, vectorbt_run)
    print(f"accounting, {n_scenarios} scenarios x {n_bars} bars: engine (decisions to fills to equity) "
          f"{engine_s:.3f} s, vectorbt from_orders replaying the fills {vbt_s:.3f} s, "
          f"vectorbt/engine = {vbt_s / engine_s:.2f}")
    return vbt_s / engine_s


@dataclass
class LinearPolicy:
    """Portfolio-scope policy: argmax of a fixed linear map of the flattened observation."""

    weights: np.ndarray
    name: str = "linear"
    scope: str = "portfolio"
    action_space: object = field(default=None)

    def act(self, observation):
        from engine.policy import PolicyOutput

        x = observation["features"]
        return PolicyOutput(np.argmax(x @ self.weights, axis=1) % 3)


class WindowObserver:
    """Observation: the last 24 log returns of each (scenario, symbol), batch [S*N, 24]."""

    def __init__(self, close: np.ndarray):
        self.returns = np.diff(np.log(close), axis=1, prepend=np.log(close[:, :1]))

    def observe(self, bar, context):
        lo = max(0, bar - 23)
        window = self.returns[:, lo:bar + 1, :]
        window = np.pad(window, ((0, 0), (24 - window.shape[1], 0), (0, 0)))
        return {"features": window.transpose(0, 2, 1).reshape(-1, 24)}


def rollout_overhead(n_scenarios: int, n_symbols: int, n_bars: int, repeats: int) -> None:
    from engine.actions import TacticalActions
    from engine.data.synthetic import SyntheticConfig, generate_synthetic
    from engine.rollout import run_rollout
    from engine.scenarios import ScenarioParams, from_market

    data = generate_synthetic(SyntheticConfig(n_symbols=n_symbols, frequency="1h", start="2024-01-02",
                                              end=str((pd.Timestamp("2024-01-02") + pd.offsets.BDay(n_bars // 7)).date()),
                                              seed=1))
    batch = from_market(data, [ScenarioParams(fees=0.0005 * i) for i in range(n_scenarios)])
    rng = np.random.default_rng(0)
    policy = LinearPolicy(rng.normal(size=(24, 3)), action_space=TacticalActions(exposure=1.0 / n_symbols))
    observer = WindowObserver(batch.close)
    decisions = (batch.n_bars - 1) * n_scenarios * n_symbols
    rollout_s = best_of(repeats, lambda: run_rollout(batch, policy, observer=observer))
    sample = observer.observe(100, None)

    def policy_only():
        for _ in range(batch.n_bars - 1):
            policy.act(sample)

    policy_s = best_of(repeats, policy_only)
    print(f"rollout, {n_scenarios} scenarios x {n_symbols} symbols x {batch.n_bars} bars: "
          f"{decisions / rollout_s:,.0f} decisions/s in the rollout, {decisions / policy_s:,.0f} decisions/s "
          f"for the policy alone, ratio = {policy_s / rollout_s:.2f} (a linear policy: the rollout's own "
          "overhead dominates; the target 0.85 is for the compact neural policy)")


def neural_rollout_overhead(n_scenarios: int, n_symbols: int, repeats: int) -> None:
    """The same ratio with the compact symbol agent (torch) on the engine's Dict observations."""
    import torch

    from engine.actions import BarContext, SymbolActions
    from engine.data.synthetic import SyntheticConfig, generate_synthetic
    from engine.observation import ObservationBuilder
    from engine.rollout import kernel_params, run_rollout
    from engine.scenarios import ScenarioParams, from_market
    from engine.state import initial_state
    from models.onnx_export import PositionalActor
    from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
    from strategies.neural import TorchPolicy

    torch.manual_seed(0)
    data = generate_synthetic(SyntheticConfig(n_symbols=n_symbols, frequency="1D", start="2020-01-01",
                                              end="2021-12-31", seed=2))
    batch = from_market(data, [ScenarioParams(fees=0.0005 * i) for i in range(n_scenarios)])
    builder = ObservationBuilder(batch, fit_period=("2020-01-01", "2021-12-31"), action_space=SymbolActions())
    policy = TorchPolicy(PositionalActor(SymbolAgent(SymbolAgentConfig.preset("compact")).eval()))
    decisions = (batch.n_bars - 1) * n_scenarios * n_symbols
    rollout_s = best_of(repeats, lambda: run_rollout(batch, policy, observer=builder))
    params = kernel_params(batch)
    context = BarContext(300, initial_state(params, n_symbols), np.array(batch.close[:, 300, :]), params,
                         np.full((n_scenarios, n_symbols), np.nan))
    sample = builder.observe(300, context)

    def policy_only():
        for _ in range(batch.n_bars - 1):
            policy.act(sample)

    policy_s = best_of(repeats, policy_only)
    print(f"rollout with the compact symbol agent, {n_scenarios} scenarios x {n_symbols} symbols x "
          f"{batch.n_bars} bars (batch {n_scenarios * n_symbols}): {decisions / rollout_s:,.0f} decisions/s "
          f"in the rollout, {decisions / policy_s:,.0f} decisions/s for the policy alone, "
          f"ratio = {policy_s / rollout_s:.2f} (target >= 0.85)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kernel_vs_vectorbt(args.scenarios, args.bars, args.repeats)
    rollout_overhead(n_scenarios=16, n_symbols=8, n_bars=2000, repeats=args.repeats)
    neural_rollout_overhead(n_scenarios=32, n_symbols=8, repeats=args.repeats)


if __name__ == "__main__":
    main()
