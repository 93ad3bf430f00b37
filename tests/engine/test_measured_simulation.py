"""A market-scope rollout with rewards runs compiled end to end (``engine.measured_simulation``) and
gives, bit for bit, what the bar-by-bar loop with a ``RewardMeter`` gives: equity, every order record,
the final state and every reward component, over several policies, costs, risk rules and symbols."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.actions import TargetWeights
from engine.bar_loop import BarLoop
from engine.data.synthetic import SyntheticConfig, generate_synthetic
from engine.pairwise_nb import row_sum_nb
from engine.policy import MarketView, PolicyOutput
from engine.reward_meter import COMPONENT_CHUNK, RewardSettings
from engine.rewards import REWARD_COMPONENTS
from engine.rollout import _drive, _meter, kernel_params, path_view, run_rollout
from engine.scenarios import ScenarioParams, from_market
from engine.tracking import AccountTracker
from engine.tracking_nb import new_tracker_arrays, sharpe_nb, track_close_nb
from strategies.families.baseline import make_strategy
from tests.engine.envs.helpers import assert_same_records, synthetic

NAMES = [*REWARD_COMPONENTS, "total"]
RISKY = [ScenarioParams(fees=0.001, slippage=0.0005, stop_loss=0.03, cooldown_bars=3),
         ScenarioParams(spread=0.001, max_drawdown=0.05, flatten_on_breaker=True, cooldown_bars=5),
         ScenarioParams(fees=0.0005, daily_loss_limit=0.01, trailing_stop=0.04, take_profit=0.06),
         ScenarioParams(allow_short=True, gross_limit=1.5, position_limit=0.8, lot_size=1.0)]


@dataclass(frozen=True)
class RandomTargets:
    """Seeded target weights in [-w, w] per bar and symbol, NaN (keep the target) with probability ``keep``."""

    seed: int = 0
    weight: float = 0.7
    keep: float = 0.6
    name: str = "random_targets"
    scope: str = "market"
    action_space: TargetWeights = field(default_factory=TargetWeights)

    def act_market(self, view: MarketView) -> PolicyOutput:
        rng = np.random.default_rng(self.seed)
        weights = rng.uniform(-self.weight, self.weight, view.close.shape)
        return PolicyOutput(np.where(rng.random(view.close.shape) < self.keep, np.nan, weights))


def bar_loop_rollout(batch, policy, settings: RewardSettings):
    """What ``run_rollout(batch, policy, rewards=settings)`` gave before the compiled path: the Python bar loop."""
    kind, size = policy.action_space.path_intents(policy.act_market(path_view(batch, 0)).actions)
    kind = np.repeat(kind[:, None, :], batch.n_scenarios, axis=1).astype(np.int8)
    size = np.repeat(size[:, None, :], batch.n_scenarios, axis=1)
    loop, meter = BarLoop(kernel_params(batch), batch.n_symbols), _meter(batch, settings)
    equity = _drive(batch, loop, lambda t, context: (kind[t], size[t], None), meter)
    return equity, loop.all_records(), loop.state, meter.components


def assert_bits_equal(a: np.ndarray, b: np.ndarray, name: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, name
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), name


def assert_same_rollout(batch, policy, settings: RewardSettings = RewardSettings()) -> None:
    fast = run_rollout(batch, policy, rewards=settings)
    equity, records, state, rewards = bar_loop_rollout(batch, policy, settings)
    assert_bits_equal(fast.equity, equity, "equity")
    assert_same_records(fast.records, records)
    for name, value in state._asdict().items():
        assert_bits_equal(getattr(fast.state, name), value, name)
    assert sorted(fast.rewards) == sorted(NAMES)
    for name in NAMES:
        assert_bits_equal(fast.rewards[name], rewards[name], name)


@pytest.mark.parametrize("strategy", ["sma_cross", "momentum", "equal_weight", "buy_and_hold", "random"])
def test_baselines_measured_compiled_equal_the_bar_loop(strategy: str) -> None:
    data = synthetic(n_symbols=3, end="2023-03-31")  # more bars than one chunk of steps
    costs = [ScenarioParams(fees=f, slippage=s) for f in (0.0, 0.002) for s in (0.0, 0.001)]
    batch = from_market(data, [*RISKY, *costs])
    assert batch.n_bars - 1 > COMPONENT_CHUNK
    params = {"sma_cross": {"fast": 5, "slow": 15}, "momentum": {"lookback": 10, "rebalance": 5}}.get(strategy, {})
    assert_same_rollout(batch, make_strategy(strategy, params))


def test_shorts_rejections_and_intraday_days_equal_the_bar_loop() -> None:
    data = synthetic(n_symbols=2, frequency="1h", end="2022-02-28")
    tight = [ScenarioParams(stop_loss=0.004, cooldown_bars=4), ScenarioParams(take_profit=0.005, trailing_stop=0.004),
             ScenarioParams(daily_loss_limit=0.002, max_drawdown=0.01, cooldown_bars=7)]
    batch = from_market(data, [*RISKY, *tight])
    fast = run_rollout(batch, RandomTargets(seed=4), rewards=RewardSettings())
    assert (fast.records["status"] > 1).any() and (fast.records["reason"] > 0).any()  # rejections and exits
    assert (fast.state.units < 0).any() or (fast.records["side"] < 0).any()
    assert (fast.rewards["total"] != 0).any()
    assert_same_rollout(batch, RandomTargets(seed=4), RewardSettings(stats_window=7, ratio_clip=3.0))


def test_the_shortest_run_measures_its_one_decision() -> None:
    batch = from_market(synthetic(n_symbols=1).slice("2022-01-03", "2022-01-04"), [ScenarioParams()])
    assert batch.n_bars == 2
    fast = run_rollout(batch, make_strategy("buy_and_hold"), rewards=RewardSettings())
    assert fast.rewards["total"].shape == (1, 1, 1) and fast.rewards["hold"][0, 0, 0] == 0.0  # it bought
    assert_same_rollout(batch, make_strategy("buy_and_hold"))


@settings(max_examples=25)
@given(seed=st.integers(0, 2**16), n_symbols=st.integers(1, 3), days=st.integers(2, 70),
       frequency=st.sampled_from(["1D", "1h"]), window=st.integers(2, 90),
       costs=st.lists(st.tuples(st.sampled_from([0.0, 0.0005, 0.003]), st.sampled_from([0.0, 0.001])),
                      min_size=1, max_size=3),
       risk=st.sampled_from(RISKY), keep=st.floats(0.0, 0.95))
def test_property_measured_compiled_equals_the_bar_loop(seed, n_symbols, days, frequency, window, costs, risk,
                                                        keep) -> None:
    end = (pd.Timestamp("2022-01-03") + pd.Timedelta(days=days)).strftime("%Y-%m-%d")
    data = generate_synthetic(SyntheticConfig(n_symbols=n_symbols, frequency=frequency, start="2022-01-03", end=end,
                                              seed=seed))
    params = [risk.replace(fees=f, slippage=s) for f, s in costs] + [ScenarioParams(fees=costs[0][0])]
    assert_same_rollout(from_market(data, params), RandomTargets(seed=seed, keep=keep),
                        RewardSettings(stats_window=window))


@settings(max_examples=60)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e-300]), max_size=700))
def test_row_sum_is_numpys_pairwise_sum(values: list[float]) -> None:
    row = np.asarray(values, dtype=np.float64)
    assert_bits_equal(np.asarray(row_sum_nb(row)), row[None, :].sum(axis=1)[0], "sum")


@settings(max_examples=30)
@given(seed=st.integers(0, 2**16), window=st.integers(2, 200), bars=st.integers(1, 300))
def test_compiled_tracker_equals_the_account_tracker(seed: int, window: int, bars: int) -> None:
    rng = np.random.default_rng(seed)
    tracker = AccountTracker(4, 2, window, 252.0, 5.0)
    track = new_tracker_arrays(4, 2, window)
    sharpe = np.empty(4)
    for bar in range(bars):
        equity = np.where(rng.random(4) < 0.1, np.nan, rng.uniform(-10.0, 1000.0, 4))
        units = np.where(rng.random((4, 2)) < 0.5, 0.0, rng.normal(size=(4, 2)))
        state = SimpleNamespace(equity=equity, units=units)
        tracker.update(np.full(4, bar), state)
        track_close_nb(track, bar, equity, units)
        sharpe_nb(track, float(np.sqrt(252.0)), 5.0, sharpe)
        assert_bits_equal(sharpe, tracker.sharpe(), "sharpe")
        assert_bits_equal(track.entry_bar, tracker.entry_bar, "entry_bar")
        assert_bits_equal(track.peak, tracker.peak, "peak")
