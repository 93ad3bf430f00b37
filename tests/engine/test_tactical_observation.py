"""The tactical team's observation: the live window equals the batch window at every bar, bit for bit."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from engine.actions import TacticalActions
from engine.data.market import MarketData
from engine.errors import InvalidParameterError
from engine.feature_windows import compute_family, fit_normalizer
from engine.features.matrices import TACTICAL_LOOKBACK, tactical_features
from engine.policy import PolicyOutput
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from engine.tactical_observation import TACTICAL_TAIL, LiveTacticalObservation, TacticalObserver
from tests.engine.envs.helpers import synthetic
from tests.engine.test_live import step_live


@dataclass
class RecordingTeam:
    """Portfolio scope: long when the newest momentum is positive; keeps every window it was shown."""

    name: str = "recording"
    scope: str = "portfolio"
    action_space: TacticalActions = field(default_factory=lambda: TacticalActions(split_across_symbols=True))
    seen: list = field(default_factory=list)

    def act(self, observation: dict[str, np.ndarray]) -> PolicyOutput:
        self.seen.append(np.array(observation["window"], copy=True))
        momentum = observation["window"][:, -1, 5]
        return PolicyOutput(np.where(momentum > 0.5, 2, np.where(momentum < -0.5, 0, 1)))


def stairs(n_bars: int, seed: int) -> np.ndarray:
    """Closes that jump 2% up or down every 70 bars and drift sideways in between: the jumps leave
    fair value gaps that nothing fills, so they age out (the FVG rule with the longest memory)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.0004, n_bars)
    steps[35::70] = rng.choice([-0.02, 0.02], len(steps[35::70]))
    return 100.0 * np.exp(np.cumsum(steps))


@pytest.fixture(scope="module")
def five_minutes() -> MarketData:
    """Two symbols of 5-minute bars: a synthetic random walk and a staircase."""
    walk = synthetic(n_symbols=1, frequency="5min", end="2022-01-12", seed=4)
    close = np.column_stack([walk.close[:, 0], stairs(walk.n_bars, 5)])
    open_ = np.vstack([close[:1], close[:-1]])
    high, low = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998  # wicks wider than the drift
    return MarketData("tactical", walk.index, ("WALK", "STAIRS"), open_, high, low, close,
                      np.abs(np.random.default_rng(1).normal(1e4, 3e3, close.shape)), "5min")


def test_a_row_depends_on_its_lookback_only(five_minutes) -> None:
    bars = five_minutes.symbol_frame("STAIRS")
    full = tactical_features(bars).to_numpy()
    for start in (0, 37, 200):
        tail = tactical_features(bars.iloc[start:]).to_numpy()
        exact = start + TACTICAL_LOOKBACK
        np.testing.assert_array_equal(tail[exact - start:], full[exact:])
    # One bar less is not enough: cut the staircase one bar after a jump, and the gap that jump left
    # is missed on the 51st bar after it.
    start = 35
    tail = tactical_features(bars.iloc[start:]).to_numpy()
    assert not np.array_equal(tail[TACTICAL_LOOKBACK - 1], full[start + TACTICAL_LOOKBACK - 1])


def test_every_live_window_equals_the_batch_window(five_minutes) -> None:
    data = five_minutes
    assert data.n_bars > 3 * TACTICAL_TAIL
    values, columns = compute_family(from_market(data), tactical_features)
    assert 0 < np.nanmean(values[..., 0]) < 1 and np.nanmax(values[..., 3]) == 1.0  # gaps form and age out
    normalizer = fit_normalizer(from_market(data), values, columns, (None, data.index[300]))
    params = ScenarioParams(fees=0.0005)
    batch_policy, live_policy = RecordingTeam(), RecordingTeam()
    batch = from_market(data, params)
    rollout = run_rollout(batch, batch_policy, observer=TacticalObserver(batch, normalizer))
    records, equity = step_live(data, live_policy, params,
                                lambda: LiveTacticalObservation(data.n_symbols, normalizer))
    assert len(live_policy.seen) == len(batch_policy.seen) == data.n_bars - 1
    for t, (live, batch_window) in enumerate(zip(live_policy.seen, batch_policy.seen)):
        assert live.dtype == batch_window.dtype == np.float32
        np.testing.assert_array_equal(live, batch_window, err_msg=f"bar {t}")
    np.testing.assert_array_equal(equity, rollout.equity[:, 0])
    assert len(records) == len(rollout.records) > 10


def test_a_restarted_session_rebuilds_the_same_windows(five_minutes) -> None:
    data = five_minutes
    first, second = RecordingTeam(), RecordingTeam()
    step_live(data, first, ScenarioParams(), lambda: LiveTacticalObservation(data.n_symbols, None))
    step_live(data, second, ScenarioParams(), lambda: LiveTacticalObservation(data.n_symbols, None), restart_at=250)
    for a, b in zip(first.seen, second.seen):
        np.testing.assert_array_equal(a, b)


def test_the_live_observation_refuses_a_bar_without_prices() -> None:
    live = LiveTacticalObservation(1, None)
    with pytest.raises(InvalidParameterError, match="append"):
        live.build(None, None)
    with pytest.raises(InvalidParameterError, match="lacks field"):
        live.append({"close": np.ones(1)})
