"""The stress run's tables read right: drawdown quantiles say which end is the deepest."""
from __future__ import annotations

from workbench.runs.stress import QUANTILES, _quantile_table


def test_the_quantile_table_is_in_reading_order_and_explains_the_drawdown_end() -> None:
    distribution = {"n": 3, "max_drawdown": {"min": 0.0, "p5": 0.001, "p25": 0.01, "p50": 0.02, "p75": 0.03,
                                             "p95": 0.04, "max": 0.043},
                    "total_return": {"min": -0.05, "p5": -0.04, "p25": 0.0, "p50": 0.01, "p75": 0.02, "p95": 0.03,
                                     "max": 0.04}}
    table = _quantile_table(distribution)
    assert table.title == "Quantiles over all 3 scenarios"
    assert [row["quantile"] for row in table.rows] == [name for _, name in QUANTILES]
    assert table.rows[-1] == {"quantile": "highest", "max_drawdown": 0.043, "total_return": 0.04}
    assert "'highest' row is the deepest drawdown" in table.notes[0]
