"""issue 19: a paper session records where its policy decides, and its parity with CPU fp32."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidParameterError
from tests.workbench.paper.helpers import options
from workbench.paper import ledger_arrays, start_paper
from workbench.paper.config import read_config
from workbench.runs.backtest import run_backtest
from workbench.runs.paper import PaperResult
from workbench.runs.spec import RunSpec

MASTER = {"strategy": None, "strategy_params": (), "policy": "master-agent-compact-stocks", "runtime": "torch"}


def test_a_bf16_session_records_its_placement_and_trades_as_its_bf16_backtest(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = start_paper(options(state, start="2012-01-01", end="2012-03-31", precision="bf16", **MASTER))
    assert result.status == "finished"
    assert read_config(state).precision == "bf16" and read_config(state).to_dict()["precision"] == "bf16"
    summary = PaperResult(state).summary()
    placement = summary["placement"]
    assert (placement["device"], placement["precision"]) == ("cpu", "bf16")
    assert placement["parity"]["rows"] == result.last_bar and placement["parity"]["output"] == "weights"
    spec = RunSpec(data="stocks", symbols=("AAPL", "MSFT"), start="2012-01-01", end="2012-03-31", fees=(0.001,),
                   slippage=(0.0005,), policy=MASTER["policy"], runtime="torch", precision="bf16")
    np.testing.assert_array_equal(ledger_arrays(state)[1], run_backtest(spec).rollout.equity[:, 0])
    with pytest.raises(InvalidParameterError, match="precision: the state has 'bf16', this start gives 'fp32'"):
        start_paper(options(state, start="2012-01-01", end="2012-03-31", **MASTER))


def test_a_session_at_the_defaults_writes_the_config_it_wrote_before(tmp_path: Path) -> None:
    start_paper(options(tmp_path / "state"))
    written = read_config(tmp_path / "state").to_dict()
    assert "device" not in written and "precision" not in written  # its state id is the one it had
