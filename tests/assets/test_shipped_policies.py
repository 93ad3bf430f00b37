"""The shipped compact symbol agent: loads safely, matches its card, trades the unseen period."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.actions import SymbolActions
from engine.data.registry import load_builtin
from engine.observation import ObservationBuilder
from engine.records import OrderStatus
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models.checkpoint import load_checkpoint
from models.onnx_export import PositionalActor
from models.symbol_agent.network import build_symbol_agent
from strategies.neural import TorchPolicy

POLICY = Path(__file__).resolve().parents[2] / "assets" / "policies" / "symbol-agent-compact-stocks"


def test_shipped_agent_loads_with_a_verified_card() -> None:
    agent, card, normalizer = load_checkpoint(POLICY, build_symbol_agent)
    assert card.config["preset"] == "compact" and card.seed == 7
    assert card.train_period[1].startswith("2007-12-31") and card.validation_period[0].startswith("2008-01-02")
    assert set(card.validation_metrics) >= {"validation/sharpe", "validation/total_return"}
    assert sum(p.numel() for p in agent.parameters()) == card.parameter_counts["total"]


def test_shipped_agent_trades_the_unseen_period_within_its_masks() -> None:
    agent, _, normalizer = load_checkpoint(POLICY, build_symbol_agent)
    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2009-06-01", "2013-03-01")
    batch = from_market(data, ScenarioParams(fees=0.001, slippage=0.0005))
    observer = ObservationBuilder(batch, normalizer=normalizer, action_space=SymbolActions())
    result = run_rollout(batch, TorchPolicy(PositionalActor(agent.eval())), observer=observer)
    assert np.isfinite(result.equity).all() and len(result.records) > 0
    statuses = set(result.records["status"].tolist())
    assert statuses <= {OrderStatus.FILLED, OrderStatus.CLIPPED}  # masked actions never get rejected


def test_shipped_onnx_export_is_verified_and_decides_like_torch() -> None:
    from models.checkpoint import file_sha256
    from models.onnx_export import MAX_LOGIT_DIFF, MIN_ACTION_AGREEMENT, MIN_PARITY_ROWS
    from workbench.policies import load_policy

    _, card, _ = load_checkpoint(POLICY, build_symbol_agent)
    assert card.export["path"] == "model.onnx" and card.export["sha256"] == file_sha256(POLICY / "model.onnx")
    assert card.export["n_rows"] >= MIN_PARITY_ROWS
    assert card.export["max_abs_logit_diff"] <= MAX_LOGIT_DIFF
    assert card.export["action_agreement"] >= MIN_ACTION_AGREEMENT
    assert card.dataset == {"name": "stocks", "symbols": ["AAPL", "MSFT", "IBM"]}
    onnx, torch = load_policy(str(POLICY)), load_policy(str(POLICY), runtime="torch")
    assert (onnx.runtime, torch.runtime) == ("onnx", "torch")
    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2012-01-01", "2013-03-01")
    batch = from_market(data, ScenarioParams(fees=0.001))
    results = [run_rollout(batch, p.policy, observer=ObservationBuilder(batch, normalizer=p.normalizer,
                                                                       action_space=SymbolActions()))
               for p in (onnx, torch)]
    np.testing.assert_array_equal(results[0].actions, results[1].actions)
    np.testing.assert_array_equal(results[0].equity, results[1].equity)
