"""Stress runs: shocks with hand-computed effects, windows measured on their own bars, seeded
reproducibility, the summary and record shapes, and bad options."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidParameterError
from workbench.experiments.common import quantile_summary
from workbench.experiments.stress import Shock, StressOptions, run_stress
from workbench.runs.backtest import run_backtest
from workbench.runs.spec import RunSpec
from workbench.runs.tables import ORDER_COLUMNS
from workbench.services.datasets import load_dataset

CASH = 100_000.0


def stress_spec(**changes) -> RunSpec:
    values = dict(kind="stress", data="stocks", strategy="buy_and_hold", symbols=("AAPL",),
                  start="2005-01-01", end="2005-06-30",
                  options={"shocks": ["gap:-0.1"], "n_bootstrap": 0, "n_garch": 0})
    values.update(changes)
    return RunSpec(**values)


def test_gap_shock_cuts_buy_and_hold_by_the_gap() -> None:
    summary = run_stress(stress_spec()).summary()
    base, gap = summary["scenarios"][0], summary["scenarios"][1]
    assert (base["family"], gap["family"]) == ("base", "shock") and "gap -10%" in gap["label"]
    # Bought at bar 1's open, before the gap at the middle bar: every later price is x 0.9.
    assert gap["final_equity"] == pytest.approx(0.9 * base["final_equity"], rel=1e-12)
    assert 1 + gap["total_return"] == pytest.approx(0.9 * (1 + base["total_return"]), rel=1e-12)


def test_liquidity_shock_multiplies_the_fee_rate() -> None:
    f = 0.001
    summary = run_stress(stress_spec(fees=(f,), options={"shocks": ["liquidity:3"], "n_bootstrap": 0,
                                                         "n_garch": 0})).summary()
    base, shocked = summary["scenarios"][0], summary["scenarios"][1]
    # One all-in buy from cash C at fee rate r pays C r / (1 + r) (README, execution conventions).
    assert base["fees_paid"] == pytest.approx(CASH * f / (1 + f), rel=1e-12)
    assert shocked["fees_paid"] == pytest.approx(CASH * 3 * f / (1 + 3 * f), rel=1e-12)
    assert shocked["label"] == "base | liquidity x3"


def test_historical_window_is_measured_on_its_own_bars() -> None:
    spec = stress_spec(start="2008-01-01", end="2008-12-31", options={
        "shocks": [], "n_bootstrap": 0, "n_garch": 0, "periods": ["lehman_weeks"]})
    result = run_stress(spec)
    summary = result.summary()
    window = summary["scenarios"][1]
    assert window["family"] == "historical" and window["start"].startswith("2008-09-12")
    alone = run_backtest(RunSpec(data="stocks", strategy="buy_and_hold", symbols=("AAPL",),
                                 start="2008-09-12", end="2008-10-10")).summary()["scenarios"][0]
    for key in ("total_return", "sharpe", "annualized_return", "max_drawdown", "exposure", "final_equity"):
        assert window[key] == pytest.approx(alone[key], rel=1e-9), key
    equity = result.to_record().tables["equity"]
    column = equity[window["label"]]
    inside = (equity["timestamp"] >= "2008-09-12") & (equity["timestamp"] <= "2008-10-10")
    assert column[inside].notna().all() and column[~inside].isna().all()
    period = summary["periods"][0]
    assert {k: period[k] for k in ("key", "name", "start", "end")} == {
        "key": "lehman_weeks", "name": "Lehman weeks", "start": "2008-09-12", "end": "2008-10-10"}
    # Inside the base run buy-and-hold is all in AAPL: equity moves with the close.
    close = load_dataset("stocks", symbols=["AAPL"], start="2008-09-11", end="2008-10-10").close[:, 0]
    assert period["in_base_run"]["total_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)
    drawdown = np.max(1 - close / np.maximum.accumulate(close))
    assert period["in_base_run"]["max_drawdown"] == pytest.approx(drawdown, rel=1e-12)


def test_same_spec_same_summary_and_the_seed_matters() -> None:
    spec = stress_spec(symbols=("AAPL", "MSFT"), start="2005-01-01", end="2005-12-31",
                       options={"shocks": ["correlation:0.9"], "n_bootstrap": 3, "n_garch": 2})
    first, second = run_stress(spec).summary(), run_stress(spec).summary()
    assert first == second
    other = run_stress(spec.replace(seed=1)).summary()
    assert other["run_id"] != first["run_id"]
    paths = [r["total_return"] for r in first["scenarios"] if r["family"] in ("bootstrap", "garch")]
    assert paths != [r["total_return"] for r in other["scenarios"] if r["family"] in ("bootstrap", "garch")]


def test_summary_and_record_shapes() -> None:
    spec = stress_spec(symbols=("AAPL", "MSFT"), start="2005-01-01", end="2005-12-31",
                       options={"n_bootstrap": 2, "n_garch": 2, "worst": 3})
    result = run_stress(spec)
    summary = result.summary()
    families = [r["family"] for r in summary["scenarios"]]
    assert families[0] == "base" and families.count("bootstrap") == 2 and families.count("garch") == 2
    assert families.count("shock") == 7  # the default shocks
    assert set(summary["distribution"]["max_drawdown"]) == {"p5", "p25", "p50", "p75", "p95", "min", "max"}
    assert summary["distribution"]["max_drawdown"]["max"] == max(r["max_drawdown"] for r in summary["scenarios"])
    worst = summary["worst"]
    assert len(worst) == 3 and worst[0]["max_drawdown"] >= worst[1]["max_drawdown"] >= worst[2]["max_drawdown"]
    assert worst[0]["peak_date"] < worst[0]["trough_date"]
    assert any("no historical windows" in note for note in summary["notes"])
    assert summary["spec"]["kind"] == "stress" and summary["regimes"]
    record = result.to_record(tags=("nightly",))
    assert record.run_id == summary["run_id"] and record.tags == ("nightly",) and record.summary == summary
    metrics, equity, orders = (record.tables[k] for k in ("scenario_metrics", "equity", "orders"))
    assert len(metrics) == len(summary["scenarios"]) and list(metrics["label"]) == [
        r["label"] for r in summary["scenarios"]]
    assert list(equity.columns) == ["timestamp"] + list(metrics["label"])
    assert tuple(orders.columns) == ORDER_COLUMNS  # the schema every kind stores


def test_default_garch_is_skipped_on_a_short_period_with_a_note() -> None:
    spec = stress_spec(options={"shocks": [], "n_bootstrap": 0})
    summary = run_stress(spec.replace(start="2005-01-01", end="2005-03-31")).summary()
    assert [r["family"] for r in summary["scenarios"]] == ["base"]
    assert any("no GARCH paths" in note for note in summary["notes"])
    with pytest.raises(InvalidParameterError, match="at least 100 returns"):
        run_stress(spec.replace(start="2005-01-01", end="2005-03-31", options={"n_garch": 2, "shocks": []}))


@pytest.mark.parametrize(("options", "changes", "message"), [
    ({"shocks": ["gap:-1.5"]}, {}, "out of range"),
    ({"shocks": ["gapp:-0.1"]}, {}, "Did you mean 'gap'"),
    ({"shocks": ["reversal:2"]}, {}, "no magnitude"),
    ({"shocks": ["volatility:x"]}, {}, "volatility:NUMBER"),
    ({"shocks": ["correlation:0.5"]}, {}, "at least two symbols"),
    ({"periods": ["lehman_weeks"]}, {}, "not inside the data"),
    ({"periods": ["lehman_week"]}, {}, "Did you mean 'lehman_weeks'"),
    ({"periods": ["crash=2005-03-01"]}, {}, "NAME=START:END"),
    ({"periods": []}, {}, "periods is empty"),
    ({"n_bootstrapp": 3}, {}, "Did you mean 'n_bootstrap'"),
    ({"n_bootstrap": -1}, {}, "n_bootstrap"),
    ({"block": 0.5}, {}, "block"),
    ({"shock_at": "2004-01-01", "shocks": ["reversal"]}, {}, "shock_at"),
    ({"shock_at": "someday"}, {}, "as a date"),
    ({}, {"fees": (0.0, 0.001)}, "workbench sweep"),
])
def test_bad_options_are_typed_errors(options, changes, message) -> None:
    spec = stress_spec(options={"n_bootstrap": 0, "n_garch": 0, "shocks": [], **options}, **changes)
    with pytest.raises(InvalidParameterError, match=message):
        run_stress(spec)


def test_shock_parsing() -> None:
    assert Shock.parse("gap:-0.25") == Shock("gap", -0.25)
    assert Shock.parse(" reversal ") == Shock("reversal", None)
    assert StressOptions(shocks="gap:-0.1,liquidity:2").parsed_shocks() == [Shock("gap", -0.1),
                                                                           Shock("liquidity", 2.0)]


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_quantiles_are_ordered_and_bounded(values) -> None:
    q = quantile_summary(values + [None])
    ordered = [q["min"], q["p5"], q["p25"], q["p50"], q["p75"], q["p95"], q["max"]]
    assert all(a <= b + 1e-9 * max(1.0, abs(b)) for a, b in zip(ordered, ordered[1:]))
    assert (q["min"], q["max"]) == (min(values), max(values))
    assert np.isclose(q["p50"], np.median(values))


def test_issue17_a_dated_shock_appears_among_its_familys_worst_cases_with_its_change_and_exposure() -> None:
    spec = stress_spec(start="2008-01-01", end="2008-12-31", options={
        "shocks": ["gap:-0.2", "volatility:2"], "shock_at": "2008-06-02", "shock_bars": 5, "n_bootstrap": 2,
        "n_garch": 0, "periods": ["lehman_weeks"]})
    summary = run_stress(spec).summary()
    assert summary["shock"] == {"at": "2008-06-02T00:00:00+00:00", "bar": summary["shock"]["bar"], "bars": 5}
    base = summary["scenarios"][0]
    by_family = {group["family"]: group["cases"] for group in summary["worst_by_family"]}
    assert list(by_family) == ["shock", "bootstrap", "historical"]  # the batch's order
    shocks = by_family["shock"]
    assert len(shocks) == 2  # every shock is listed, not only the worst few
    gap = next(s for s in shocks if "gap -20% at 2008-06-02" in s["label"])
    # Buy and hold is all in AAPL when the gap strikes: the loss is 20% of the position.
    assert gap["exposure_at_shock"] == pytest.approx(1.0, abs=0.01)
    assert gap["change_return"] == pytest.approx(gap["total_return"] - base["total_return"], rel=1e-12)
    assert gap["change_drawdown"] == pytest.approx(gap["max_drawdown"] - base["max_drawdown"], rel=1e-12)
    assert gap["peak_date"] is not None and not gap["never_traded"]
    # Synthetic paths have no dates of their own: their episodes are given in bars.
    for path in by_family["bootstrap"]:
        assert path["peak_date"] is None and path["trough_date"] is None and path["trough_bar"] >= path["peak_bar"]
    # The historical window: measured inside the base run first, its replay from cash second.
    period = summary["periods"][0]
    inside, replay = period["in_base_run"], period["replay"]
    assert inside["exposure_at_start"] == pytest.approx(1.0, abs=0.01) and inside["fills"] == 0
    assert inside["total_return"] == pytest.approx(inside["benchmark_return"], abs=1e-9)  # one symbol, all in
    window = by_family["historical"][0]
    assert window["change_return"] == pytest.approx(replay["total_return"] - inside["total_return"], rel=1e-12)
    assert summary["never_traded"] == []


def test_issue17_scenarios_that_never_trade_are_listed() -> None:
    spec = stress_spec(strategy="sma_cross", start="2008-01-01", end="2008-12-31",
                       options={"shocks": [], "n_bootstrap": 0, "n_garch": 0, "periods": ["lehman_weeks"]})
    summary = run_stress(spec).summary()
    replay = summary["periods"][0]["replay"]
    assert replay["n_trades"] == 0  # an SMA of 50 bars cannot trade in a 20-bar window from cash
    assert replay["label"] in summary["never_traded"]
    assert summary["worst_by_family"][0]["cases"][0]["never_traded"]
