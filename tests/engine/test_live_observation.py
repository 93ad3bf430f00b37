"""LiveObservation: the bar-by-bar observation equals the batch builder's at every bar, bit for bit."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from engine.actions import SymbolActions
from engine.errors import InvalidParameterError
from engine.features.normalize import FeatureNormalizer
from engine.live_observation import LiveObservation
from engine.observation import OBSERVATION_WARMUP, ObservationBuilder
from engine.policy import PolicyOutput
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from strategies.master import LiveMasterObservation, MasterObserver
from tests.engine.envs.helpers import synthetic
from tests.engine.test_live import step_live


@dataclass
class RecordingPolicy:
    """Portfolio scope: trades on the newest technical row and keeps every observation it was shown."""

    name: str = "recording"
    scope: str = "portfolio"
    action_space: SymbolActions = field(default_factory=SymbolActions)
    seen: list = field(default_factory=list)

    def act(self, observation: dict[str, np.ndarray]) -> PolicyOutput:
        self.seen.append({k: np.array(v, copy=True) for k, v in observation.items()})
        score = observation["technical"][:, -1, 0] + observation["regime"][:, 6] - observation["position"][:, 3]
        mask = observation["action_mask"]
        actions = np.where((score > 0.5) & mask[:, 1], 1, np.where((score < -0.5) & mask[:, 5], 5, 0))
        return PolicyOutput(actions, {})


@pytest.fixture(scope="module")
def two_years():
    return synthetic(n_symbols=2, end="2023-12-29", seed=11)


def test_every_observation_of_a_run_equals_the_batch_builders(two_years) -> None:
    data = two_years
    assert data.n_bars > OBSERVATION_WARMUP + 100  # past the regime block's warm-up
    normalizer = ObservationBuilder.from_market(data, fit_period=(None, data.index[200])).normalizer
    params = ScenarioParams(fees=0.001, stop_loss=0.02)
    batch_policy, live_policy = RecordingPolicy(), RecordingPolicy()
    batch = from_market(data, params)
    rollout = run_rollout(batch, batch_policy,
                          observer=ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions()))
    records, _ = step_live(data, live_policy, params, lambda: LiveObservation(
        data.n_symbols, data.frequency, normalizer, action_space=SymbolActions()))
    assert len(rollout.records) >= 10 and len(records) == len(rollout.records)
    assert len(live_policy.seen) == len(batch_policy.seen) == data.n_bars - 1
    for t, (live, batch_rows) in enumerate(zip(live_policy.seen, batch_policy.seen)):
        assert live.keys() == batch_rows.keys()
        for key in live:
            assert live[key].dtype == batch_rows[key].dtype, key
            assert np.array_equal(live[key], batch_rows[key]), f"bar {t}, {key}"


def test_the_master_rows_carry_the_same_grouping_live(two_years) -> None:
    normalizer = ObservationBuilder.from_market(two_years, fit_period=(None, None)).normalizer
    data = two_years.slice(None, two_years.index[40])
    batch = from_market(data, ScenarioParams())
    batch_policy, live_policy = RecordingPolicy(), RecordingPolicy()
    observer = MasterObserver(batch, normalizer)
    observer.builder.action_space = SymbolActions()  # RecordingPolicy reads a mask
    run_rollout(batch, batch_policy, observer=observer)

    step_live(data, live_policy, ScenarioParams(), lambda: LiveMasterObservation(
        data.n_symbols, data.frequency, normalizer, action_space=SymbolActions()))
    for live, batch_rows in zip(live_policy.seen, batch_policy.seen):
        assert live["symbol_index"].tolist() == batch_rows["symbol_index"].tolist() == [0, 1]
        assert np.array_equal(live["absent"], batch_rows["absent"])
        assert np.array_equal(live["technical"], batch_rows["technical"])


def test_bad_use_is_refused(two_years) -> None:
    normalizer = ObservationBuilder.from_market(two_years, fit_period=(None, None)).normalizer
    live = LiveObservation(2, "1D", normalizer)
    with pytest.raises(InvalidParameterError, match="append\\(\\) a bar"):
        live.build(None, live.new_tracker())
    with pytest.raises(InvalidParameterError, match="lacks field"):
        live.append({"open": np.ones(2)})
    other = FeatureNormalizer("zscore").fit(pd.DataFrame({"a": [1.0, 2.0]}, index=two_years.index[:2]))
    with pytest.raises(InvalidParameterError, match="fitted on columns"):
        LiveObservation(2, "1D", other)
