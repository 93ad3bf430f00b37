"""ObservationBuilder: slots by hand, no look-ahead, shapes and dtypes, supervised probabilities."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.actions import BarContext, SymbolAction, SymbolActions
from engine.data.market import MarketData
from engine.envs.episode import EpisodeConfig
from engine.envs.trading_env import TradingEnvironment
from engine.errors import InvalidParameterError
from engine.observation import NEUTRAL_SL_PROBABILITY, PORTFOLIO_FIELDS, POSITION_FIELDS, ObservationBuilder
from engine.rollout import kernel_params
from engine.scenarios import ScenarioParams, from_market
from engine.state import initial_state
from tests.engine.envs.helpers import hand_market, identity_normalizer, synthetic


def test_position_and_portfolio_slots_by_hand() -> None:
    # Buy 9% at bar 1's open 100 with 0.1% fees: u = 9000 / 100.1 units, cash 91,000; close 102.
    data = hand_market([100.0, 100.0, 101.0], [100.0, 102.0, 99.0])
    env = TradingEnvironment(data, params=ScenarioParams(fees=0.001), normalizer=identity_normalizer(),
                             episode=EpisodeConfig(min_start=0, random_start=False))
    env.reset(seed=0)
    observation, *_ = env.step(SymbolAction.BUY_LARGE)
    u = 9000.0 / 100.1
    equity = 91_000.0 + 102.0 * u
    position = dict(zip(POSITION_FIELDS, observation["position"]))
    assert position["entry_vs_close"] == pytest.approx(100.0 / 102.0 - 1.0)
    assert position["weight"] == pytest.approx(102.0 * u / equity)
    assert position["unrealized_pnl"] == pytest.approx(2.0 * u / equity)
    assert position["hold_time"] == 0.0 and position["side"] == 1.0
    portfolio = dict(zip(PORTFOLIO_FIELDS, observation["portfolio"]))
    assert portfolio["equity_return"] == pytest.approx(equity / 100_000.0 - 1.0)
    assert portfolio["gross_exposure"] == pytest.approx(102.0 * u / equity)
    assert portfolio["cash_fraction"] == pytest.approx(91_000.0 / equity)
    assert portfolio["drawdown"] == 0.0
    # Realized = equity - initial cash - unrealized = (91,000 + 102u) - 100,000 - 2u = -fees.
    assert portfolio["realized_pnl"] == pytest.approx(-0.1 * u / 100_000.0)
    assert portfolio["sharpe"] == 0.0 and portfolio["sortino"] == 0.0  # one return only
    assert portfolio["open_positions"] == 1.0
    observation, *_ = env.step(SymbolAction.HOLD)
    assert observation["position"][3] == pytest.approx(1 / 100)  # held one bar, 100 bars = 1.0
    assert observation["portfolio"][3] == pytest.approx(3.0 * u / equity)  # 102 -> 99 below the peak


def altered_after(data: MarketData, cut: int, seed: int) -> MarketData:
    """``data`` with every bar after ``cut`` rescaled by a random factor (still valid OHLC)."""
    factor = np.ones((data.n_bars, 1))
    factor[cut + 1:] = np.random.default_rng(seed).uniform(0.5, 1.5, (data.n_bars - cut - 1, 1))
    prices = {f: getattr(data, f) * factor for f in ("open", "high", "low", "close")}
    return dataclasses.replace(data, volume=data.volume * factor ** 2, **prices)


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(10, 100), seed=st.integers(0, 1000))
def test_changing_bars_after_t_leaves_every_observation_up_to_t_unchanged(cut, seed) -> None:
    data = synthetic(1)
    runs = []
    for market in (data, altered_after(data, cut, seed)):
        env = TradingEnvironment(market, normalizer=identity_normalizer(),
                                 episode=EpisodeConfig(min_start=0, random_start=False))
        observations = [env.reset(seed=0)[0]]
        cycle = (SymbolAction.BUY_SMALL, SymbolAction.HOLD, SymbolAction.SELL_PARTIAL)
        for t in range(cut):
            observations.append(env.step(cycle[t % 3])[0])
        runs.append(observations)
    for t, (a, b) in enumerate(zip(*runs)):
        for key in a:
            assert np.array_equal(a[key], b[key]), (t, key)


def test_rollout_rows_shapes_dtypes_and_masks() -> None:
    batch = from_market(synthetic(2), [ScenarioParams(), ScenarioParams(fees=0.01)])
    builder = ObservationBuilder(batch, fit_period=(None, "2022-04-30"), action_space=SymbolActions())
    params = kernel_params(batch)
    context = BarContext(80, initial_state(params, 2), batch.close[:, 80], params, np.full((2, 2), np.nan))
    observation = builder.observe(80, context)
    assert {k: v.shape for k, v in observation.items()} == {
        "technical": (4, 24, 23), "sl_probs": (4, 3), "position": (4, 5), "portfolio": (4, 8),
        "regime": (4, 10), "action_mask": (4, 7)}
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for k, v in observation.items() if k != "action_mask")
    assert observation["action_mask"].dtype == bool
    assert np.all(observation["sl_probs"] == NEUTRAL_SL_PROBABILITY)
    without_mask = {k: v[0] for k, v in observation.items() if k != "action_mask"}
    assert builder.observation_space().contains(without_mask)
    # Rows 0, 1 are scenario 0's symbols on the shared path: the same technical block as rows 2, 3.
    assert np.array_equal(observation["technical"][0], observation["technical"][2])
    assert not np.array_equal(observation["technical"][0], observation["technical"][1])
    with pytest.raises(InvalidParameterError, match="in order"):
        builder.observe(82, context)


def test_supplied_supervised_probabilities_are_read_at_the_bar() -> None:
    batch = from_market(synthetic(1))
    probs = np.zeros((1, batch.n_bars, 1, 3), np.float32)
    probs[0, :, 0, 0] = np.linspace(0.0, 1.0, batch.n_bars)
    builder = ObservationBuilder(batch, normalizer=identity_normalizer(), sl_probs=probs)
    params = kernel_params(batch)
    context = BarContext(50, initial_state(params, 1), batch.close[:, 50], params, np.full((1, 1), np.nan))
    assert builder.observe(50, context)["sl_probs"][0, 0] == probs[0, 50, 0, 0]
    with pytest.raises(InvalidParameterError, match="sl_probs"):
        ObservationBuilder(batch, normalizer=identity_normalizer(), sl_probs=probs[:, :10])


def test_exactly_one_of_normalizer_and_fit_period() -> None:
    batch = from_market(synthetic(1))
    with pytest.raises(InvalidParameterError, match="exactly one"):
        ObservationBuilder(batch)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        ObservationBuilder(batch, normalizer=identity_normalizer(), fit_period=(None, None))
    fitted = ObservationBuilder(batch, fit_period=(None, "2022-03-31")).normalizer
    assert fitted.fit_end.startswith("2022-03-31") and len(fitted.columns) == 23
