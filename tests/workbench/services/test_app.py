"""The app's facade over the workbench: curves, drawdowns, baselines, regimes, gates, spec checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.market import bars_per_year
from engine.errors import InvalidParameterError, WorkbenchError
from engine.metrics import equity_returns, sharpe_ratio
from workbench.experiments.regimes import market_regimes
from workbench.runs.backtest import run_backtest
from workbench.runs.evaluate import spec_data
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services
from workbench.store import RunRecord, RunStore

INDEX = pd.date_range("2009-01-02", periods=6, freq="B", tz="UTC")
SPEC = RunSpec(kind="backtest", data="stocks", strategy="buy_and_hold", symbols=("AAPL",), start="2009-01-01",
               end="2009-03-31")


def stored(store: RunStore, run_id: str, kind: str, equity: pd.DataFrame, summary: dict | None = None):
    record = RunRecord(run_id=run_id, kind=kind, spec=SPEC.to_dict(), summary=summary or {}, dataset="stocks",
                       start=INDEX[0].isoformat(), end=INDEX[-1].isoformat(), decider="x", model_sha="",
                       data_fingerprint="f", code_version="t", tables={"equity": equity})
    store.save_run(record)
    return store.get_run(run_id)


@pytest.fixture
def store(workbench_home):
    with RunStore.open(workbench_home) as opened:
        yield opened


def test_equity_curves_reads_every_table_layout(store) -> None:
    values = [100.0, 110, 99, 120, 90, 130]
    backtest = stored(store, "b1", "backtest", pd.DataFrame({"timestamp": INDEX, "fees=0": values}))
    walkforward = stored(store, "w1", "walkforward",
                         pd.DataFrame({"equity": values, "fold": [0, 0, 0, 1, 1, 1]},
                                      index=pd.Index(INDEX, name="timestamp")))
    for run in (backtest, walkforward):
        curves = app_services.equity_curves(run)
        assert isinstance(curves.index, pd.DatetimeIndex) and curves.index.equals(INDEX.rename("timestamp"))
        assert curves.shape == (6, 1) and curves.iloc[:, 0].tolist() == values


def test_worst_drawdowns_hand_computed() -> None:
    curve = pd.Series([100.0, 110, 99, 120, 90, 130, np.nan], index=INDEX.append(INDEX[-1:] + pd.Timedelta("1D")))
    episodes = app_services.worst_drawdowns(curve, top=5)
    assert [round(e["depth"], 6) for e in episodes] == [0.25, 0.1]  # 120 -> 90, then 110 -> 99
    assert episodes[0]["peak_date"][:10] == "2009-01-07" and episodes[0]["recovery_date"][:10] == "2009-01-09"
    assert app_services.worst_drawdowns(curve.iloc[:1]) == []


def test_main_row_and_headline_per_kind(store) -> None:
    summaries = {
        "compare": {"candidate": {"sharpe": 1.2, "total_return": 0.3, "max_drawdown": 0.1, "excess_return": 0.02}},
        "walkforward": {"oos": {"sharpe": 0.7, "total_return": 0.1, "max_drawdown": 0.2, "excess_return": None},
                        "folds": [{}, {}, {}]},
        "stress": {"scenarios": [{"sharpe": float("nan"), "total_return": -0.1, "max_drawdown": 0.3}, {}]},
    }
    frame = app_services.runs_frame([
        stored(store, kind, kind, pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}), summary).info
        for kind, summary in summaries.items()]).set_index("run_id")
    assert frame.loc["compare", "sharpe"] == 1.2 and frame.loc["compare", "scenarios"] == 1
    assert frame.loc["walkforward", "scenarios"] == 3 and frame.loc["walkforward", "total_return"] == 0.1
    assert np.isnan(frame.loc["stress", "sharpe"]) and frame.loc["stress", "scenarios"] == 2


def test_gates_with_thresholds() -> None:
    gates = app_services.gates_with_thresholds({"sharpe": "1.5"})
    assert {g.name: g.threshold for g in gates}["sharpe"] == 1.5
    assert {g.name: g.threshold for g in gates}["max_drawdown"] == 0.30
    with pytest.raises(InvalidParameterError, match="'sharpie' is unknown"):
        app_services.gates_with_thresholds({"sharpie": 1.0})
    with pytest.raises(InvalidParameterError, match="not a number"):
        app_services.gates_with_thresholds({"sharpe": "high"})
    with pytest.raises(InvalidParameterError, match="finite"):
        app_services.gates_with_thresholds({"sharpe": float("inf")})


def test_check_spec_fails_fast_on_what_the_run_would_fail_on() -> None:
    app_services.check_spec(SPEC)
    with pytest.raises(WorkbenchError):
        app_services.check_spec(SPEC.replace(start="not a date"))
    with pytest.raises(WorkbenchError, match="ZZZZ"):
        app_services.check_spec(SPEC.replace(symbols=("ZZZZ",)))
    with pytest.raises(InvalidParameterError, match="n_bootstrapp"):
        app_services.check_spec(SPEC.replace(kind="stress", options=(("n_bootstrapp", 3),)))


def test_a_run_stored_without_baselines_gets_them_computed_once(store) -> None:
    run = stored(store, "nb1", "stress", pd.DataFrame({"timestamp": INDEX, "base": np.ones(6)}))
    assert not app_services.baselines_at_hand(run)
    found, reason = app_services.baselines(run)
    assert reason == "" and found.labels == ("fees=0 slippage=0",) and app_services.baselines_at_hand(run)
    assert list(found.curves[0].columns) == [*app_services.BASELINES, app_services.BENCHMARK]
    again, _ = app_services.baselines(run)
    assert again is found  # cached by spec


def test_issue17_a_backtest_reads_its_stored_baselines_without_running_them(store, monkeypatch) -> None:
    info = app_services.run_and_store(store, SPEC.replace(fees=(0.0, 0.001)))
    run = store.get_run(info.run_id)
    from workbench.runs import views

    computed = []
    try_baselines = views.try_baselines
    monkeypatch.setattr(views, "try_baselines", lambda spec, points: computed.append(points)
                        or try_baselines(spec, points=points))
    # The first cost point's baselines are stored: its summary reads them without running anything.
    assert app_services.baselines_at_hand(run)
    found, _ = app_services.baselines(run)
    assert found.labels == ("fees=0 slippage=0",)
    block = app_services.run_summary_block(run, "fees=0 slippage=0")
    assert block.value("sharpe", "benchmark") == found.metrics[0][app_services.BENCHMARK]["sharpe"]
    assert computed == []
    # Another point's are computed for that point alone, once.
    second = app_services.scenario_row(run, "fees=0.001 slippage=0")
    assert not app_services.baselines_at_hand(run, second)
    block = app_services.run_summary_block(run, "fees=0.001 slippage=0")
    assert computed == [(1,)] and app_services.baselines_at_hand(run, second)
    other, _ = app_services.baselines(run, second)
    assert other.labels == ("fees=0.001 slippage=0",) and computed == [(1,)]
    assert block.scenario == "fees=0.001 slippage=0" and block.best_baseline in app_services.BASELINES
    assert block.value("sharpe", "benchmark") == other.metrics[0][app_services.BENCHMARK]["sharpe"]


def test_runs_frame_says_which_scenario_its_figures_come_from(store) -> None:
    summaries = {"backtest": {"scenarios": [{"label": "fees=0", "sharpe": 1.0}]},
                 "walkforward": {"oos": {"sharpe": 0.7, "bars": 20}, "folds": []},
                 "compare": {"candidate": {"name": "sma_cross", "sharpe": 1.2}}}
    frame = app_services.runs_frame([
        stored(store, f"s-{kind}", kind, pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}), summary).info
        for kind, summary in summaries.items()]).set_index("run_id")
    assert frame.loc["s-backtest", "scenario"] == "fees=0"
    assert frame.loc["s-walkforward", "scenario"] == "out of sample"
    assert frame.loc["s-compare", "scenario"] == "sma_cross"


def test_covered_stress_periods_are_inside_the_data_and_the_dates() -> None:
    keys = [p["key"] for p in app_services.covered_stress_periods("stocks", "2008-01-01", "2010-12-31")]
    assert keys == ["lehman_weeks", "flash_crash_2010"]
    assert "q4_2018" not in [p["key"] for p in app_services.covered_stress_periods("stocks")]  # data end 2013
    with pytest.raises(WorkbenchError, match="unknown dataset"):
        app_services.covered_stress_periods("nope")


def test_form_defaults_follow_the_newest_run_but_not_a_paper_replay(store) -> None:
    older = stored(store, "old", "backtest", pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}))
    stored(store, "newer", "paper", pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}))
    assert app_services.form_defaults(store).run_id == older.run_id
    assert app_services.form_defaults(store, "newer").run_id == older.run_id  # same decider, usable kind
    assert app_services.form_defaults(store, "old").run_id == older.run_id


def test_latest_review_of_a_decider(store) -> None:
    a = stored(store, "ra", "backtest", pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}))
    b = stored(store, "rb", "stress", pd.DataFrame({"timestamp": INDEX, "x": np.ones(6)}))
    assert app_services.latest_review_of(store, "x") is None
    store.save_review([a.run_id], "ana", "GO", "GO", "", [])
    store.save_review([b.run_id], "bo", "NO-GO", "NO-GO", "", [])
    assert app_services.latest_review_of(store, "x").decision == "NO-GO"
    assert app_services.latest_review_of(store, "someone else") is None


def test_paper_session_command_is_the_cli_command(workbench_home) -> None:
    session = app_services.PaperSessionSpec(name="s1", data="stocks", policy="p", symbols=("AAPL",),
                                            start="2011-01-01", end="2011-02-01", fees=0.001, days_per_second=2)
    line = session.command("python")
    assert line[:5] == ["python", "-m", "workbench.cli", "paper", "start"]
    assert line[line.index("--feed") + 1] == "replay:stocks:AAPL" and line[line.index("--speed") + 1] == "172800.0"
    assert line[line.index("--state") + 1] == str(app_services.paper_root() / "s1")
    with pytest.raises(WorkbenchError, match="letters, digits"):
        app_services.PaperSessionSpec(name="../x", data="stocks", policy="p").command()
    with pytest.raises(WorkbenchError, match="exactly one"):
        app_services.PaperSessionSpec(name="s2", data="stocks").command()


def test_regime_table_of_a_run_without_stored_regimes(store) -> None:
    data = spec_data(SPEC)
    run = stored(store, "r1", "backtest", pd.DataFrame({"timestamp": data.index, "x": np.ones(data.n_bars)}))
    curve = pd.Series(np.linspace(100.0, 120.0, data.n_bars), index=data.index)
    frame = app_services.regime_table(run, curve)
    for _, group in frame.groupby("column"):
        assert group["bars"].sum() == data.n_bars and group["share"].sum() == pytest.approx(1.0)
    assert (frame["max_drawdown"].dropna() == 0.0).all()  # a rising curve never draws down


def test_an_hourly_runs_sharpe_is_annualized_at_its_bar_frequency(store) -> None:
    # Regression (issue 13): the regime table annualized hourly runs with sqrt(252).
    spec = RunSpec(kind="backtest", data="synthetic-hourly:n_symbols=1,seed=3,end=2023-11-30",
                   strategy="sma_cross", start="2023-10-02", end="2023-11-30")
    info = app_services.run_and_store(store, spec)
    run = store.get_run(info.run_id)
    curve = app_services.equity_curves(run).iloc[:, 0]
    hourly = bars_per_year("1h")
    returns = equity_returns(curve.to_numpy()[:, None], np.array([spec.cash]))[:, 0]
    assert app_services.headline(info)["sharpe"] == pytest.approx(sharpe_ratio(returns, hourly), rel=1e-12)

    frame = app_services.regime_table(run, curve)
    labels = market_regimes(spec_data(spec))["trend_regime"].astype(object).fillna("unlabelled").to_numpy()
    next_return = curve.to_numpy()[1:] / curve.to_numpy()[:-1] - 1.0
    checked = 0
    for row in frame[frame["column"] == "trend_regime"].itertuples():
        label_returns = next_return[labels[:-1] == row.label]
        if len(label_returns) > 1 and np.std(label_returns) > 0:
            assert row.sharpe == pytest.approx(sharpe_ratio(label_returns, hourly), rel=1e-12)
            checked += 1
    assert checked > 0


def test_report_file_only_for_existing_html(tmp_path) -> None:
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    (tmp_path / "r.txt").write_text("x")
    assert app_services.report_file(str(page)) == page
    assert app_services.report_file(str(tmp_path / "r.txt")) is None
    assert app_services.report_file(str(tmp_path / "gone.html")) is None
    assert app_services.report_file(None) is None


def test_run_and_store_keeps_tags(store) -> None:
    info = app_services.run_and_store(store, SPEC, tags=("ui",))
    assert info.tags == ("ui",) and info.kind == "backtest"
    assert info.run_id == run_backtest(SPEC).run_id
