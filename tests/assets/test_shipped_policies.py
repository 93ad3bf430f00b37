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
    # The 70/15/15 split of AAPL, MSFT and IBM; the test period was traded once, at the end.
    assert card.train_period[1].startswith("2009-04-07") and card.validation_period[0].startswith("2009-04-08")
    assert card.test_period[0].startswith("2011-03-21") and card.test_period[1].startswith("2013-03-01")
    assert set(card.validation_metrics) >= {"validation/sharpe", "validation/total_return"}
    assert sum(p.numel() for p in agent.parameters()) == card.parameter_counts["total"]
    training = card.config["training"]
    assert (training["n_steps"], training["batch_size"], training["n_epochs"]) == (2048, 64, 10)
    assert training["learning_rate"] == {"kind": "cosine", "start": 3e-4, "end": 1e-5}


def test_issue15_the_shipped_agent_takes_positions_and_trades() -> None:
    """Issue 15: the card shows validation and test figures with time in market and trades, and they
    are not the all-HOLD policy's (3 trades in 3 years)."""
    _, card, _ = load_checkpoint(POLICY, build_symbol_agent)
    for split, metrics in (("validation", card.validation_metrics), ("test", card.test_metrics)):
        assert metrics[f"{split}/episodes"] == 10.0
        assert metrics[f"{split}/time_in_market"] >= 0.3 and metrics[f"{split}/trades_per_year"] > 10
        assert metrics[f"{split}/hold_share"] < 0.98
    assert not [w for w in card.warnings if w["sign"] == "all_hold"]
    rows = {row["name"]: row for row in card.baselines["rows"]}
    assert set(rows) == {"symbol-agent-compact-stocks", "buy_and_hold", "equal_weight", "sma_cross", "momentum",
                         "random"}
    assert rows["symbol-agent-compact-stocks"]["n_trades"] > 20


def test_issue15_a_backtest_of_aapl_from_2011_shows_it_trading() -> None:
    from workbench.runs.backtest import run_backtest
    from workbench.runs.spec import RunSpec

    result = run_backtest(RunSpec(data="stocks", policy=str(POLICY), symbols=("AAPL",), start="2011-01-01"),
                          extras=False)
    assert result.metrics[0]["n_trades"] > 10 and result.metrics[0]["time_in_market"] > 0.3


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
