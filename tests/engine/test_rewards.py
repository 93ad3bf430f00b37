"""Reward components: each formula by hand, the clipping, the weighted total and bad weights."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.errors import InvalidParameterError
from engine.rewards import REWARD_COMPONENTS, RewardScales, RewardWeights, StepOutcome, reward_components


def outcome(**overrides) -> StepOutcome:
    base = dict(pnl=0.0, equity_before=100_000.0, costs=0.0, position_return=0.0, hold_bars=0.0,
                in_position=False, sharpe=0.0, drawdown=0.0, weight=0.0, idle=False, failed=False)
    base.update(overrides)
    return StepOutcome(**{k: np.asarray(v) for k, v in base.items()})


def test_two_steps_by_hand() -> None:
    # Step 1: +500 on 100,000 (0.5%), 30 paid in costs, a position up 0.4% held 0 bars at weight 0.09,
    # Sharpe 0.5, 0 drawdown. Step 2: -2,000 (-2%), a position down 1.5% held 10 bars at weight 0.03,
    # Sharpe -3, 4% below the peak.
    steps = outcome(pnl=[500.0, -2_000.0], equity_before=[100_000.0, 100_000.0], costs=[30.0, 0.0],
                    position_return=[0.004, -0.015], hold_bars=[0.0, 10.0], in_position=[True, True],
                    sharpe=[0.5, -3.0], drawdown=[0.0, 0.04], weight=[0.09, 0.03])
    r = reward_components(steps)
    assert r["pnl"] == pytest.approx([0.5, -1.0])         # 0.005 / 0.01; -0.02 / 0.01 = -2 -> -1
    assert r["cost"] == pytest.approx([-0.3, 0.0])        # 0.0003 / 0.001
    # time: 0.004 / 0.01 * (1 + 0/20)^-1 = 0.4; -0.015 / 0.01 * (1 + 10/20)^+1 = -2.25 -> -1
    assert r["time"] == pytest.approx([0.4, -1.0])
    assert r["sharpe"] == pytest.approx([0.5, -1.0])      # 0.5 / 1; -3 -> -1
    assert r["drawdown"] == pytest.approx([0.0, -0.4])    # 0.04 / 0.10
    assert r["sizing"] == pytest.approx([0.5, 0.5])       # 1 - 0.03/0.06 both ways
    assert r["hold"] == pytest.approx([0.0, 0.0])
    # total = 0.40 pnl + 0.15 cost + 0.15 time + 0.05 sharpe + 0.10 drawdown + 0.05 sizing
    assert r["total"] == pytest.approx([0.2 - 0.045 + 0.06 + 0.025 + 0.0 + 0.025,
                                        -0.4 + 0.0 - 0.15 - 0.05 - 0.04 + 0.025])


def test_flat_idle_and_failed_steps() -> None:
    r = reward_components(outcome(idle=True, failed=True, weight=0.5, position_return=0.3),
                          RewardWeights(hold=0.2))
    # Flat: time and sizing are 0 whatever the inputs say; idle costs -1 at weight 0.2; failed -0.05.
    assert r["time"] == 0.0 and r["sizing"] == 0.0 and r["hold"] == -1.0
    assert r["total"] == pytest.approx(-0.2 - 0.05)


def test_oversized_positions_are_penalized_and_scales_apply() -> None:
    r = reward_components(outcome(in_position=True, weight=0.3, pnl=100.0), scales=RewardScales(target_weight=0.1,
                                                                                                pnl_scale=0.002))
    assert r["sizing"] == pytest.approx(-1.0)  # 1 - 0.2 / 0.1 = -1
    assert r["pnl"] == pytest.approx(0.5)      # 0.001 / 0.002


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(pnl=arrays(np.float64, 5, elements=finite), costs=arrays(np.float64, 5, elements=st.floats(0, 1e6)),
       ret=arrays(np.float64, 5, elements=st.floats(-1, 10)), hold=arrays(np.float64, 5, elements=st.floats(0, 1e4)),
       held=arrays(bool, 5), sharpe=arrays(np.float64, 5, elements=st.floats(-50, 50)),
       drawdown=arrays(np.float64, 5, elements=st.floats(0, 1)), weight=arrays(np.float64, 5, elements=st.floats(0, 5)),
       failed=arrays(bool, 5))
def test_every_component_and_the_total_lie_in_minus_one_one(pnl, costs, ret, hold, held, sharpe, drawdown,
                                                            weight, failed) -> None:
    r = reward_components(outcome(pnl=pnl, costs=costs, position_return=ret, hold_bars=hold, in_position=held,
                                  sharpe=sharpe, drawdown=drawdown, weight=weight, idle=~held, failed=failed))
    weights = RewardWeights()
    for name in (*REWARD_COMPONENTS, "total"):
        assert r[name].shape == (5,) and np.all(np.abs(r[name]) <= 1.0), name
    expected = sum(getattr(weights, k) * r[k] for k in REWARD_COMPONENTS) - 0.05 * failed
    assert np.allclose(r["total"], np.clip(expected, -1, 1))


def test_per_account_values_broadcast_over_symbols() -> None:
    r = reward_components(outcome(pnl=np.array([[100.0, -100.0]]), equity_before=np.array([[100_000.0]]),
                                  drawdown=np.array([[0.05]])))
    assert r["pnl"].shape == (1, 2) and r["drawdown"].tolist() == [[-0.5, -0.5]]


def test_seed_defaults_and_bad_weights() -> None:
    w = RewardWeights()
    assert (w.pnl, w.cost, w.time, w.sharpe, w.drawdown, w.sizing, w.hold) == (0.40, 0.15, 0.15, 0.05, 0.10, 0.05, 0.0)
    assert w.failed_action_penalty == -0.05 and RewardScales().target_sharpe == 1.0
    with pytest.raises(InvalidParameterError, match="negative"):
        RewardWeights(cost=-0.1)
    with pytest.raises(InvalidParameterError, match="<= 0"):
        RewardWeights(failed_action_penalty=0.1)
    with pytest.raises(InvalidParameterError, match="positive"):
        RewardScales(target_sharpe=0.0)
