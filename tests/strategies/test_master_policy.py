"""MasterPolicy in the batched rollout: target weights within limits, long-only, extras, grouping errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.actions import BarContext
from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from engine.records import OrderStatus
from engine.rollout import kernel_params, run_rollout
from engine.scenarios import ScenarioParams, from_market
from engine.state import initial_state
from models.master_agent.policy_network import MasterPolicyNetwork, master_config
from models.symbol_agent.encoder import EncoderConfig
from strategies.families.master_agent import MASTER_AGENT
from strategies.family import Decider
from strategies.master import MasterObserver, MasterPolicy
from tests.engine.envs.helpers import identity_normalizer

# The untrained master asks for about 1/4 per symbol: the second and third scenarios' limits bind.
PARAMS = [ScenarioParams(fees=0.001, slippage=0.0005), ScenarioParams(position_limit=0.1),
          ScenarioParams(fees=0.002, position_limit=0.5, gross_limit=0.4)]


def master_policy(seed: int = 0) -> MasterPolicy:
    torch.manual_seed(seed)
    config = EncoderConfig.preset("compact")
    return MasterPolicy(MasterPolicyNetwork(config, master_config("compact", config.output_dim)), name="tiny-master")


@pytest.fixture(scope="module")
def run():
    torch.set_num_threads(1)
    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2007-01-01", "2007-12-31")
    batch = from_market(data, PARAMS)
    policy = master_policy()
    return batch, policy, run_rollout(batch, policy, observer=MasterObserver(batch, identity_normalizer()))


def holdings(batch, rollout) -> tuple[np.ndarray, np.ndarray]:
    """Units ``[T, S, N]`` and cash ``[T, S]`` after each bar's fills, rebuilt from the order records."""
    filled = rollout.records[(rollout.records["status"] <= OrderStatus.CLIPPED) & (rollout.records["side"] != 0)]
    units = np.zeros((batch.n_bars,) + batch.close.shape[::2])
    cash = np.zeros((batch.n_bars, batch.n_scenarios))
    for r in filled:
        units[r["bar"], r["scenario"], r["symbol"]] += r["side"] * r["units"]
        cash[r["bar"], r["scenario"]] -= r["side"] * r["units"] * r["price"] + r["fees"]
    return np.cumsum(units, axis=0), batch.param_array("init_cash") + np.cumsum(cash, axis=0)


def test_every_position_stays_within_its_limits_and_long(run) -> None:
    batch, _, rollout = run
    units, cash = holdings(batch, rollout)
    assert units.min() >= -1e-9  # long-only: never short
    assert cash.min() >= -1e-6  # no leverage: buys never overdraw cash
    assert np.abs(units).sum() > 0  # it did invest
    clipped = rollout.records[rollout.records["status"] == OrderStatus.CLIPPED]
    assert 2 in clipped["scenario"]  # scenario 2's gross limit clipped buys
    open_ = batch.open.transpose(1, 0, 2)  # [T, S, N]
    equity_at_open = cash + (units * open_).sum(axis=2)
    weight = units * open_ / equity_at_open[..., None]
    limits = batch.param_array("position_limit")
    gross = batch.param_array("gross_limit")
    bought = np.diff(units, axis=0, prepend=0.0) > 0
    # The kernel's rule: after a fill that adds exposure, weights at the open are within the limits.
    assert np.all(weight[bought] <= np.broadcast_to(limits[None, :, None], weight.shape)[bought] + 1e-7)
    assert weight[:, 1].max() > 0.0999  # scenario 1's targets were capped at its position limit, 0.1
    gross_weight = np.broadcast_to(weight.sum(axis=2, keepdims=True), weight.shape)
    assert np.all(gross_weight[bought] <= np.broadcast_to(gross[None, :, None], weight.shape)[bought] + 1e-7)


def test_actions_are_the_weights_and_extras_line_up_with_rows(run) -> None:
    batch, policy, rollout = run
    n_rows = batch.n_scenarios * batch.n_symbols
    weights = rollout.extras["weights"]
    assert rollout.actions.shape == (batch.n_bars - 1, n_rows)
    assert weights.shape == (batch.n_bars - 1, n_rows, batch.n_symbols + 1)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    by_scenario = weights.reshape(batch.n_bars - 1, batch.n_scenarios, batch.n_symbols, -1)[:, :, 0, :-1]
    np.testing.assert_allclose(rollout.actions.reshape(batch.n_bars - 1, batch.n_scenarios, -1), by_scenario,
                               atol=1e-6)
    assert rollout.extras["values"].shape == (batch.n_bars - 1, n_rows)
    attention = rollout.extras["attention"].reshape(batch.n_bars - 1, batch.n_scenarios, batch.n_symbols, -1)
    np.testing.assert_allclose(attention.sum(axis=2), 1.0, atol=1e-5)  # each head's attention over symbols


def first_observation(symbols: list[str]) -> dict[str, np.ndarray]:
    """The master observer's rows at bar 0 of one flat account."""
    batch = from_market(load_builtin("stocks").select(symbols).slice("2007-01-01", "2007-03-31"))
    params = kernel_params(batch)
    context = BarContext(0, initial_state(params, batch.n_symbols), np.array(batch.close[:, 0, :]), params,
                         np.full((1, batch.n_symbols), np.nan))
    return MasterObserver(batch, identity_normalizer()).observe(0, context)


def test_the_observer_adds_grouping_and_no_action_mask() -> None:
    observation = first_observation(["AAPL", "MSFT"])
    np.testing.assert_array_equal(observation["symbol_index"], [0, 1])
    np.testing.assert_array_equal(observation["absent"], [False, False])
    assert "action_mask" not in observation


def test_absent_symbols_get_no_weight() -> None:
    observation = first_observation(["AAPL", "MSFT"])
    observation["absent"] = np.array([False, True])
    output = master_policy().act(observation)
    assert output.actions[1] == 0.0 and output.actions[0] > 0.0


def test_the_workbench_picks_the_master_observer() -> None:
    batch = from_market(load_builtin("stocks").select(["AAPL"]).slice("2007-01-01", "2007-03-31"))
    decider = Decider("tiny-master", MASTER_AGENT, master_policy(), identity_normalizer(), "sha", "torch")
    assert isinstance(decider.observer(batch), MasterObserver)


def test_missing_or_garbled_grouping_is_an_error() -> None:
    observation = first_observation(["AAPL", "MSFT"])
    policy = master_policy()
    with pytest.raises(InvalidParameterError, match="symbol_index, absent"):
        policy.act({k: v for k, v in observation.items() if k not in ("symbol_index", "absent")})
    observation["symbol_index"] = np.array([1, 0])
    with pytest.raises(InvalidParameterError, match="repeated per scenario"):
        policy.act(observation)
