"""Attention and attribution of one decision, rebuilt by replaying a stored run."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidParameterError
from strategies.families.symbol_agent import token_names
from workbench.policies.explain import explain_bar, scenario_params, stored_attention
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec

SPEC = RunSpec(kind="backtest", data="stocks", policy="symbol-agent-compact-stocks", runtime="torch",
               symbols=("AAPL", "MSFT"), start="2009-06-01", end="2009-08-31", fees=(0.0, 0.001))


@pytest.mark.slow
def test_replayed_attention_equals_the_stored_samples() -> None:
    record = run_backtest(SPEC).to_record()
    table = record.tables["attention"]
    sampled = sorted(int(b) for b in table["bar"].unique())
    bar = sampled[1]
    stored, tokens = stored_attention(table, bar, ("AAPL", "MSFT"))
    replayed = explain_bar(SPEC.to_dict(), bar)
    explained = replayed.explanation
    assert explained.tokens == explained.queries == tokens == token_names(24)
    assert replayed.scenario == "fees=0 slippage=0" and replayed.symbols == ("AAPL", "MSFT")
    # The replay rebuilds the very observation the run decided on, so the maps agree.
    np.testing.assert_allclose(explained.attention, stored, atol=1e-5)
    np.testing.assert_allclose(explained.attention.sum(axis=-1), 1.0, atol=1e-5)
    probabilities = record.tables["probabilities"]
    row = probabilities[(probabilities["bar"] == bar) & (probabilities["scenario"] == 0)]
    np.testing.assert_allclose(explained.probabilities, row.iloc[:, 4:].to_numpy(), atol=1e-5)
    shares = explained.attribution.groupby("symbol")["score"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    assert set(explained.attribution["block"]) == {"technical", "sl_probs", "position", "portfolio", "regime"}


def test_bad_requests_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="trained policies"):
        explain_bar(SPEC.replace(policy=None, strategy="sma_cross").to_dict(), 3)
    with pytest.raises(InvalidParameterError, match="not a decision bar"):
        explain_bar(SPEC.to_dict(), 10_000)
    with pytest.raises(InvalidParameterError, match="not one of the run's scenarios"):
        scenario_params(SPEC, "fees=0.5")
    assert scenario_params(SPEC.replace(kind="stress"), None)[0] == "base"
    with pytest.raises(InvalidParameterError, match="not one of the run's scenarios on the real market: base"):
        scenario_params(SPEC.replace(kind="stress"), "base | gap -10%")
