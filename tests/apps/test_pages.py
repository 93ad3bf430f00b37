"""Each page's parameters and derived data, without a browser."""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import panel as pn
import pytest

from apps.jobs import DONE
from apps.pages.launch import parse_symbols
from apps.pages.paper import PaperPage
from apps.pages.review import ReviewPage, gates_frame
from apps.pages.rewards import RewardsPage, bucketed, component_totals, dominant, step_components
from apps.pages.run_detail import RunDetailPage, action_shares, filled_trades
from apps.pages.runs import ANY, RunsPage
from apps.pages.sensitivity import SensitivityPage, contour_points, surface
from apps.pages.stress_lab import StressLabPage
from engine.actions import SymbolActions
from tests.apps.conftest import INDEX, LABELS, record
from tests.workbench.review import fakes
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services

A, B, C, D = "a" * 16, "b" * 16, "c" * 16, "d" * 16


def wait(job, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.finished, f"job {job.title} did not finish"


# -- runs ------------------------------------------------------------------------------------------

def test_runs_page_filters(context) -> None:
    page = RunsPage(context)
    assert len(page.all_runs) == 4 and set(page.param.kind.objects) == {ANY, "backtest", "sweep", "stress"}
    page.kind = "backtest"
    assert set(page.filtered()["run_id"]) == {A, B}
    page.kind = ANY
    page.tag = "demo"
    assert set(page.filtered()["run_id"]) == {A, B}
    page.tag = ANY
    page.search = "SMA_CR"  # case-insensitive, matches the decider
    assert set(page.filtered()["run_id"]) == {B, C, D}
    page.search = ""
    page.period_start = "2009-02-27"  # after every run's end
    assert page.filtered().empty
    page.period_start, page.period_end = "", "2009-01-02"
    assert len(page.filtered()) == 4
    page.period_end = "2009-01-01"
    assert page.filtered().empty


def test_runs_page_verdict_filter_reads_latest_review(context) -> None:
    context.store.save_review([A], "ana", "GO", "GO", "", [])
    page = RunsPage(context)
    page.verdict = "GO"
    assert page.filtered()["run_id"].tolist() == [A]
    page.verdict = "none"
    assert set(page.filtered()["run_id"]) == {B, C, D}


def test_runs_page_selection_and_comparison(context) -> None:
    page = RunsPage(context)
    page.kind = "backtest"
    shown = page.filtered()["run_id"].tolist()
    page._on_selection(type("Event", (), {"new": [0, 1]})())
    assert page.selected == shown
    comparison = page.comparison().set_index("metric")
    assert comparison.loc["sharpe"].tolist() == [dict(zip((A, B), (1.5, -0.5)))[r] for r in shown]
    curves = page.comparison_curves()
    assert curves.shape == (40, 2)
    assert page.__panel__() is not None


def test_runs_frame_headline(store) -> None:
    frame = app_services.runs_frame(store.list_runs())
    row = frame.set_index("run_id").loc[A]
    assert (row["sharpe"], row["total_return"], row["max_drawdown"], row["scenarios"]) == (1.5, 0.21, 0.18, 2)
    assert row["tags"] == "demo" and row["start"] == "2009-01-02"


# -- run detail ------------------------------------------------------------------------------------

def test_run_detail_selects_by_prefix_and_reads_scenarios(context) -> None:
    page = RunDetailPage(context, run_id="aaaa", show_baselines=False)
    assert page.run_id == A
    assert page.param.scenario.objects == list(LABELS) and page.scenario == LABELS[0]
    assert page.param.symbol.objects == ["AAPL", "MSFT"]
    episodes = page.episodes()
    # 100 -> 110 -> 99: the first 10% fall; every later cycle repeats it from a higher peak.
    assert episodes[0]["depth"] == pytest.approx(0.1)
    assert len(episodes) == 5
    page.scenario = LABELS[1]
    assert page.scenario_index() == 1
    assert list(page.metrics_table()["label"]) == list(LABELS)


def test_run_detail_shows_a_comparisons_statistics_and_warnings(context) -> None:
    # Issue 18: the reality check, the confidence set, the DSR at raw and effective N, PBO's warnings.
    fake = fakes.compare()
    spec = RunSpec(kind="compare", data="stocks", strategy="sma_cross", symbols=("AAPL", "MSFT"))
    equity = pd.DataFrame({"timestamp": INDEX, "sma_cross": np.linspace(100.0, 110.0, 40),
                           "buy_and_hold": np.linspace(100.0, 105.0, 40)})
    context.store.save_run(record("e" * 16, "compare", spec, fake.summary, {"equity": equity}))
    page = RunDetailPage(context, run_id="eeee", show_baselines=False)
    found = {title: (rows, notes, warnings) for title, rows, notes, warnings in page.finding_tables()}
    assert list(found) == ["Reality check", "Deciders and the model confidence set", "Deflated Sharpe ratio",
                           "Probability of backtest overfitting"]
    reality = found["Reality check"][0].set_index("question")
    assert reality.loc["does the candidate beat every alternative?", "consistent"] == 0.03
    deciders = found["Deciders and the model confidence set"][0].set_index("name")
    assert deciders.loc["buy_and_hold", "MCS p-value"] == 0.03 and deciders.loc["sma_cross", "in the 95% MCS"] == "yes"
    assert found["Deflated Sharpe ratio"][0]["trials"].tolist() == [2.0, 1.2]
    warning = "only 2 variants (PBO needs 5 or more to carry information)"
    assert found["Probability of backtest overfitting"][2] == (warning,)
    shown = page._tables()
    alerts = [o for o in shown.objects if isinstance(o, pn.pane.Alert)]
    assert [a.alert_type for a in alerts] == ["warning"] and "only 2 variants" in alerts[0].object
    backtest = RunDetailPage(context, run_id="aaaa", show_baselines=False)
    assert backtest.finding_tables() == []


def test_run_detail_unknown_run_selects_nothing(context) -> None:
    page = RunDetailPage(context, run_id="zzzz")
    assert page.run_id == "" and page.param.scenario.objects == []


def test_filled_trades_drops_rejected_orders(store) -> None:
    orders = store.get_run(A).load_table("orders")
    aapl = filled_trades(orders, 0, "AAPL")
    assert aapl["side"].tolist() == ["buy", "sell"] and aapl["price"].tolist() == [90.0, 95.0]
    assert filled_trades(orders, 0, "MSFT").empty
    assert filled_trades(orders, 1, "AAPL")["units"].tolist() == [9.0]


def test_action_shares(store) -> None:
    actions = store.get_run(A).load_table("actions")
    names = SymbolActions().action_names
    per_bar = action_shares(actions, 0, names, buckets=39)
    # Both symbols take action bar % 7 at each bar: share 1 for that action.
    assert per_bar.shape == (39, 7)
    assert np.allclose(per_bar.to_numpy().sum(axis=1), 1.0)
    assert per_bar.iloc[9][names[9 % 7]] == 1.0
    coarse = action_shares(actions, 0, names, buckets=3)
    assert len(coarse) == 3 and np.allclose(coarse.sum(axis=1), 1.0)
    # First bucket: bars 0..12 -> actions 0..6, 0..5: hold appears at bars 0 and 7 (2 of 13).
    assert coarse.iloc[0]["hold"] == pytest.approx(2 / 13)


# -- rewards ---------------------------------------------------------------------------------------

def test_reward_components(store) -> None:
    steps = step_components(store.get_run(A).load_table("rewards"), 0)
    assert steps.shape == (39, 7) and steps["pnl"].iloc[0] == 2.0 and steps["cost"].iloc[0] == pytest.approx(-0.2)
    totals = component_totals(steps).set_index("component")
    # |78| / (78 + 7.8 + 15.6 + 7.8)
    assert totals.loc["pnl", "total"] == pytest.approx(78.0)
    assert totals.loc["pnl", "share"] == pytest.approx(78.0 / 109.2)
    assert totals["share"].sum() == pytest.approx(1.0)
    assert dominant(component_totals(steps), 0.5) == "pnl"
    assert dominant(component_totals(steps), 0.8) is None
    coarse = bucketed(steps, 10)
    assert len(coarse) == 10 and coarse["pnl"].sum() == pytest.approx(78.0)


def test_rewards_page_offers_runs_with_rewards_only(context) -> None:
    page = RewardsPage(context)
    assert list(page.param.run_id.objects.values()) == ["", A]
    page.run_id = A
    assert page.param.scenario.objects == list(LABELS)
    assert page.steps().shape == (39, 7)


# -- sensitivity -----------------------------------------------------------------------------------

def test_sensitivity_surface_and_contour(context) -> None:
    page = SensitivityPage(context)
    assert page.run_id == C and (page.x_axis, page.y_axis) == ("fees", "slippage")
    grid = surface(page.rows(), "fees", "slippage", "excess_return", {})
    assert np.allclose(grid, [[0.02, 0.0, -0.02], [0.01, -0.01, -0.03]])
    summary = page.run().summary
    assert contour_points(summary["break_even"], "fees", "slippage", {}) == [(0.001, 0.0), (0.0005, 0.001)]
    assert contour_points(summary["break_even"], "slippage", "fees", {}) == []
    one_row = surface(page.rows(), "fees", None, "sharpe", {"slippage": 0.001})
    assert np.allclose(one_row, [[1.0, 0.9, 0.8]])


# -- stress lab ------------------------------------------------------------------------------------

def test_stress_lab_spec_from_the_form(context) -> None:
    page = StressLabPage(context)
    page.form.param.update(decider_kind="strategy", strategy="sma_cross", symbols=" AAPL, MSFT ", seed=5,
                           start="2008-01-01", end="2008-12-31")
    page.param.update(n_bootstrap=4, n_garch=0, periods=["lehman_weeks"], shocks=["gap:-0.1"])
    spec = page.stress_spec()
    options = dict(spec.options)
    assert (spec.kind, spec.strategy, spec.symbols, spec.seed) == ("stress", "sma_cross", ("AAPL", "MSFT"), 5)
    assert options["n_bootstrap"] == 4 and options["periods"] == ("lehman_weeks",)
    assert options["shocks"] == ("gap:-0.1",)
    assert parse_symbols("  ") is None


def test_issue17_stress_lab_dates_and_sizes_a_shock_and_offers_only_covered_periods(context) -> None:
    page = StressLabPage(context)
    page.form.param.update(data="stocks", start="2008-01-01", end="2010-12-31")
    assert page.param.periods.objects == {"Lehman weeks (2008-09-12 to 2008-10-10)": "lehman_weeks",
                                          "2010 flash crash (2010-05-05 to 2010-05-07)": "flash_crash_2010"}
    page.param.update(periods=["lehman_weeks"])
    page.form.param.update(start="2009-01-01")  # the Lehman weeks are no longer covered: they are dropped
    assert page.periods == [] and list(page.param.periods.objects.values()) == ["flash_crash_2010"]
    page.param.update(shock_kind="gap", shock_size=-0.25, shock_at="2009-06-01", shock_bars=10)
    assert page.add_shock() == "gap:-0.25" and "gap:-0.25" in page.shocks
    options = dict(page.stress_spec().options)
    assert options["shock_at"] == "2009-06-01" and options["shock_bars"] == 10 and "gap:-0.25" in options["shocks"]


def test_stress_lab_reports_a_bad_form_instead_of_launching(context) -> None:
    page = StressLabPage(context)
    page.form.param.update(decider_kind="strategy", start="not a date")
    assert page.launch() is None
    assert "not a date" in page.launcher.error


def test_stress_lab_job_stores_and_selects_the_result(context, monkeypatch) -> None:
    def fake_run(store, spec, progress=None, tags=()):
        progress(5, 10)
        return store.get_run(D).info

    monkeypatch.setattr(app_services, "run_and_store", fake_run)
    page = StressLabPage(context)
    page.result_run = ""
    page.form.param.update(decider_kind="strategy", tags="x, y")
    job = page.launch()
    wait(job)
    page.launcher._poll()
    assert job.status == DONE and page.launcher.status == DONE and page.launcher.progress == 1.0
    assert page.result_run == D
    groups = page.outcome_groups("max_drawdown")
    assert list(groups) == ["base", "shock", "bootstrap"] and np.allclose(groups["bootstrap"], [0.3, 0.4])


# -- review ----------------------------------------------------------------------------------------

def test_review_assess_save_and_reload(context) -> None:
    page = ReviewPage(context, run_id=A)
    assert page.run_ids == [A]
    frame = page.gates_table.value.copy()
    frame.loc[frame["gate"] == "sharpe", "threshold"] = 2.0
    page.gates_table.value = frame
    page.canary = False
    job = page.assess()
    wait(job)
    page._poll()
    results = {r.gate.name: r for r in page.assessment.results}
    assert results["sharpe"].gate.threshold == 2.0 and results["sharpe"].status == "FAIL"
    shown = page._results().objects[1].value.set_index("gate")
    assert shown.loc["sharpe", "measured"] == "1.40" and shown.loc["max_drawdown", "criterion"] == "< 30.0%"
    assert results["sharpe"].value == pytest.approx(1.4)  # the worst of the two cost scenarios
    assert page.decision == page.assessment.verdict.decision == "NO-GO"
    # Issue 17: a save's error appears beside the Save button, not above the gates.
    assert page.save() is None and "reviewer" in page.save_message and page.assess_message == ""
    page.reviewer = "ana"
    page.decision = "GO"
    assert page.save() is None and "notes" in page.save_message  # an override needs notes
    page.notes = "accepted for a small paper allocation"
    review_id = page.save()
    assert review_id is not None
    reloaded = ReviewPage(context, run_id=A)
    history = reloaded.history()
    assert history.iloc[0][["reviewer", "decision", "verdict", "notes"]].tolist() == [
        "ana", "GO", "NO-GO", "accepted for a small paper allocation"]
    report = app_services.report_file(context.store.latest_review(A).report_path)
    assert report is not None and "ana" in report.read_text()


def test_review_bad_threshold_is_a_message(context) -> None:
    page = ReviewPage(context, run_id=A)
    frame = page.gates_table.value.copy()
    frame["threshold"] = frame["threshold"].astype(object)
    frame.loc[0, "threshold"] = "high"
    page.gates_table.value = frame
    assert page.assess() is None and "not a number" in page.assess_message
    assert list(gates_frame(app_services.default_gates()).columns)[:4] == ["gate", "metric", "op", "threshold"]


# -- paper -----------------------------------------------------------------------------------------

def test_paper_page_without_sessions(context, tmp_path) -> None:
    page = PaperPage(context)
    assert page.state() is None
    page.other = str(tmp_path)
    page.control("kill")
    assert page.message_kind == "danger" and "paper" in page.message.lower()
    assert page.__panel__() is not None


def test_paper_page_shows_a_session_and_writes_no_kill_to_a_finished_replay(context, workbench_home) -> None:
    from tests.workbench.paper.helpers import options
    from workbench.paper import paper_status, start_paper
    from workbench.paper.config import JOURNAL_FILE
    from workbench.paper.journal import reading

    state = workbench_home / "paper" / "q1"
    assert start_paper(options(state, strategy="equal_weight", strategy_params=(),
                               end="2010-01-31")).status == "finished"
    status = paper_status(state)
    page = PaperPage(context)
    assert page.param.session.objects == [str(state)] and page.state() == str(state)
    shot = page.snapshot()
    summary = shot["summary"].iloc[0]
    assert summary["state"] == "finished" and summary["halt"] == "none"
    assert summary["last bar"] == status["last_bar"]["timestamp"][:10]  # a daily bar reads as its date
    assert summary["equity"] == status["equity"] and summary["decision p99 ms"] == status["latency_ms"]["p99"]
    assert list(shot["positions"]["symbol"]) == ["AAPL", "MSFT"]  # equal weight holds both
    assert len(shot["equity"]) == status["last_bar"]["bar"] + 1
    risk = dict(zip(shot["risk"]["item"], shot["risk"]["value"]))
    assert risk["drawdown"] == f"{status['risk']['drawdown']:.2%}" and risk["breaker"] == "off"
    assert risk["daily loss halt"] == "off" and risk["cooldowns"] == "none"
    assert page._body.visible and not page._problem.visible

    # The replay has finished: a kill would never be applied, so none is written.
    page.control("kill")
    assert page.message_kind == "info" and page.message == (
        f"The session's replay finished at bar {status['last_bar']['bar']}; nothing to kill.")
    with reading(state / JOURNAL_FILE) as conn:
        assert conn.execute("SELECT COUNT(*) FROM controls").fetchone() == (0,)


def test_background_section_renders_or_alerts_without_a_server() -> None:
    from apps.pages.common import BackgroundSection

    section = BackgroundSection()
    section.load(lambda: 21, lambda value: f"answer {value * 2}", "adding", key="a")
    assert section.objects[0].object == "answer 42"
    section.load(lambda: 1 / 0, str, "dividing", key="a")  # the same key: ignored
    assert section.objects[0].object == "answer 42"
    section.load(lambda: 1 / 0, str, "dividing", key="b")
    assert "dividing failed: ZeroDivisionError" in section.objects[0].object


# -- attention -------------------------------------------------------------------------------------

def test_bar_at_and_episode_start() -> None:
    from apps.pages.attention import bar_at, episode_start

    index = pd.date_range("2009-01-02", periods=5, freq="B", tz="UTC")
    assert bar_at(index, pd.Timestamp("2009-01-06 12:00", tz="UTC")) == 2
    assert bar_at(index, pd.Timestamp("2008-12-01", tz="UTC")) == 0
    episodes = [{"peak_date": "2009-01-05T00:00:00+00:00", "recovery_date": "2009-01-07T00:00:00+00:00"},
                {"peak_date": "2009-01-08T00:00:00+00:00", "recovery_date": None}]
    assert episode_start(episodes, pd.Timestamp("2009-01-06", tz="UTC")) == episodes[0]["peak_date"]
    assert episode_start(episodes, pd.Timestamp("2009-01-20", tz="UTC")) == episodes[1]["peak_date"]
    assert episode_start(episodes, pd.Timestamp("2009-01-02", tz="UTC")) is None


def test_attention_page_explains_the_chosen_bar(context) -> None:
    from apps.pages.attention import AttentionPage

    page = AttentionPage(context, run_id=A)
    assert list(page.param.run_id.objects.values()) == ["", A]  # neural policies' runs only
    assert page.param.scenario.objects == list(LABELS) and page.symbol == "AAPL"
    first = page._explanation.objects[0]
    assert "Bar 0" in first.objects[0].object
    # The five worst drawdowns (10% each) start at bars 1, 5, 9, 13 and 17 and last four bars each.
    page.jump_to(page.index()[30])  # outside them: that bar
    assert page.bar == 30 and "Bar 30" in page._explanation.objects[0].objects[0].object
    page.jump_to(page.index()[3])  # inside the first: where it starts
    assert page.bar == 1


# -- uploads ---------------------------------------------------------------------------------------

def test_upload_panel_reports_in_the_page(context) -> None:
    from apps.pages.uploads import UploadPanel

    changed = []
    panel = UploadPanel(on_change=lambda: changed.append(True))
    panel.dataset_name = "uploaded"
    assert not panel.upload_data("prices.txt", b"x")
    assert panel.message_kind == "danger" and "upload a .csv" in panel.message and changed == []
    csv = b"date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2,1,1.8,12\n"
    assert panel.upload_data("acme.csv", csv)
    assert panel.message_kind == "success" and "ACME" not in panel.message and "2 bars" in panel.message
    assert changed == [True]
    assert not panel.upload_policy("agent.zip", b"not a zip") and "policy name" in panel.message
    panel.policy_name = "mine"
    assert not panel.upload_policy("agent.zip", b"not a zip") and "not a readable .zip" in panel.message


# -- a team's attention over time --------------------------------------------------------------------

TEAM_COLUMNS = ("fvg_bullish", "fvg_bearish", "fvg_level", "fvg_age", "fvg_mitigation", "momentum", "volume")


def team_backtest():
    """One scenario, symbol AAPL, 39 decisions: fvg and entry vote long, momentum short on even bars (agreement
    2/3) and long on odd bars (agreement 1); the FVG agent puts 0.8 on fvg_bullish and 0.2 on volume."""
    from tests.apps.conftest import INDEX, record
    from workbench.runs.spec import RunSpec

    spec = RunSpec(kind="backtest", data="stocks", policy="/nowhere/tactical-team", symbols=("AAPL",),
                   start="2009-01-02", end="2009-02-26")
    bars = np.arange(39)
    base = pd.DataFrame({"bar": bars, "timestamp": INDEX[bars], "scenario": 0, "symbol": "AAPL"})
    momentum = np.where(bars % 2 == 0, 0.0, 2.0)
    votes = base.assign(fvg=2.0, momentum=momentum, entry=2.0, team=2.0,
                        agreement=np.where(bars % 2 == 0, 2 / 3, 1.0))
    weights = {"fvg": [0.8, 0, 0, 0, 0, 0, 0.2], "momentum": [0, 0, 0, 0, 0, 0.8, 0.2], "entry": [1 / 7] * 7}
    attention = base.assign(**{f"{a}_{c}": w[i] for a, w in weights.items() for i, c in enumerate(TEAM_COLUMNS)})
    rewards = base.assign(pnl=0.5, cost=-0.1, time=0.0, sharpe=0.0, drawdown=0.0, sizing=0.0, hold=0.0, total=0.4)
    equity = pd.DataFrame({"timestamp": INDEX, "fees=0 slippage=0": np.linspace(100.0, 110.0, 40)})
    summary = {"kind": "backtest", "policy": spec.policy, "data": {"name": "stocks", "symbols": ["AAPL"]},
               "scenarios": [{"scenario": 0, "label": "fees=0 slippage=0", "total_return": 0.1, "sharpe": 1.0,
                              "max_drawdown": 0.0, "n_trades": 1}]}
    return record("e" * 16, "backtest", spec, summary, {"equity": equity, "team_votes": votes,
                                                         "team_attention": attention, "rewards": rewards})


def test_team_history_reads_the_stored_votes_and_attention(store) -> None:
    from workbench.services import app as app_services

    store.save_run(team_backtest())
    history = app_services.team_history(store.get_run("e" * 16), "AAPL")
    assert history.agents == ("fvg", "momentum", "entry")
    assert history.agreement.mean() == pytest.approx((20 * 2 / 3 + 19) / 39)
    assert list(history.attention["fvg"].columns) == list(TEAM_COLUMNS)
    assert history.attention["fvg"]["fvg_bullish"].iloc[0] == pytest.approx(0.8)
    assert history.rewards["pnl"].sum() == pytest.approx(0.5 * 39)
    assert app_services.team_history(store.get_run("a" * 16), "AAPL") is None  # a single network's run


def test_attention_page_draws_a_team_over_time(context) -> None:
    from apps.pages.attention import AttentionPage, distinct_features, map_title, stamp

    context.store.save_run(team_backtest())
    page = AttentionPage(context, run_id="e" * 16)
    page._draw_team()
    section = page._team.objects[0]
    assert "Team over time" in section.objects[0].object
    assert len(section.objects) == 2 + 1 + 3 + 1  # heading, note, agreement, three agents, rewards
    assert map_title(("fvg", "momentum"), 0, 1) == "agent momentum" and map_title((), 1, 2) == "layer 2, head 3"
    assert stamp(pd.Timestamp("2024-03-01 14:35", tz="UTC")) == "2024-03-01 14:35"
    assert stamp(pd.Timestamp("2009-01-02", tz="UTC")) == "2009-01-02"
    scores = pd.DataFrame({"block": ["fvg", "momentum"], "feature": ["volume", "volume"], "score": [0.4, 0.6]})
    assert list(distinct_features(scores)["feature"]) == ["fvg: volume", "momentum: volume"]
    assert list(distinct_features(scores.iloc[:1])["feature"]) == ["volume"]  # unique names stay as they are
    page.run_id = "a" * 16  # a symbol agent's run: no team section
    assert isinstance(page._team.objects[0], pn.Spacer)


# -- issue 17 ----------------------------------------------------------------------------------------

def inactive_policy(run_id: str = "e" * 16):
    """A policy's backtest that sits in cash: 3 trades, 3.5% mean exposure (hand-made, like the shipped
    symbol agent's in issue 17)."""
    spec = RunSpec(kind="backtest", data="stocks", policy="symbol-agent-compact-stocks", symbols=("AAPL",),
                   start="2009-01-02", end="2009-02-26", fees=(0.001,))
    equity = pd.DataFrame({"timestamp": INDEX, "fees=0.001 slippage=0": np.linspace(100.0, 100.5, 40)})
    row = {"scenario": 0, "label": "fees=0.001 slippage=0", "fees": 0.001, "slippage": 0.0, "sharpe": 0.8,
           "total_return": 0.005, "annualized_return": 0.03, "max_drawdown": 0.0, "n_trades": 3,
           "n_closed_trades": 0, "exposure": 0.035, "time_in_market": 0.1, "win_rate": None}
    return record(run_id, "backtest", spec, {"kind": "backtest", "scenarios": [row],
                                             "data": {"symbols": ["AAPL"]}}, {"equity": equity})


def test_issue17_run_detail_opens_with_the_summary_block_and_its_warnings(context) -> None:
    context.store.save_run(inactive_policy())
    page = RunDetailPage(context, run_id="eeee", show_baselines=False)
    block = page.summary_block()
    assert block.scenario == "fees=0.001 slippage=0"
    assert [w.split(":")[0] for w in block.warnings] == ["Too few trades for the statistics to mean anything",
                                                          "Mostly in cash"]
    shown = page._overview.objects[0]
    alerts = [o for o in shown.objects if isinstance(o, pn.pane.Alert)]
    assert [a.css_classes for a in alerts] == [["summary-warning"], ["summary-warning"]]
    assert shown.objects.index(alerts[0]) == 1  # right under the heading: first thing on the page
    assert 'class="summary-block"' in shown.objects[3].object and "<td>3.50%</td>" in shown.objects[3].object


def test_issue17_run_detail_links_its_charts_and_its_drawdowns_to_attention(context) -> None:
    import holoviews as hv
    from bokeh.models import RangeTool

    page = RunDetailPage(context, run_id="aaaa", show_baselines=False)
    shown = page._overview.objects[0]
    charts_pane = next(o for o in shown.objects if isinstance(o, pn.pane.HoloViews))
    plot = hv.render(charts_pane.object)
    tool = next(iter(plot.select({"type": RangeTool})))
    from bokeh.plotting import figure

    figures = {f.title.text.split(" ")[0]: f for f in plot.select({"type": figure})}
    assert sorted(figures) == ["AAPL:", "Equity:", "Mean", "Underwater"]  # Mean: target weights (no action names)
    # The range chosen on the equity curve is the x range of the underwater, price and action charts.
    assert figures["Equity:"].x_range is not tool.x_range
    assert all(figures[name].x_range is tool.x_range for name in ("AAPL:", "Mean", "Underwater"))
    table = next(o.object for o in shown.objects if isinstance(o, pn.pane.HTML) and "drawdown-table" in str(o.object))
    first = table.split("<tbody><tr>")[1].split("</tr>")[0]
    assert "<td>-10.0%</td>" in first  # shown negative, as a percentage
    bar = page.episodes()[0]["peak_bar"]
    assert f'href="./attention?run={A}&amp;scenario=fees%3D0+slippage%3D0&amp;bar={bar}"' in first


def test_issue17_pages_opened_without_a_run_list_the_recent_runs(context) -> None:
    from apps.pages.attention import AttentionPage

    for page, shown in ((RunDetailPage(context), lambda p: p._header()), (RewardsPage(context), lambda p: p._view()),
                        (AttentionPage(context), lambda p: p._equity())):
        text = " ".join(o.object for o in shown(page).objects[1].objects if isinstance(o, pn.pane.HTML))
        assert "recent-runs" in text and "./" in text
    html_text = RunDetailPage(context)._header().objects[1].objects[1].object
    assert html_text.count("<li>") == 4 and f"./run?run={A}" in html_text  # every run, newest first
    attention = AttentionPage(context)._equity().objects[1].objects[1].object
    assert attention.count("<li>") == 1 and f"./attention?run={A}" in attention  # neural policies only


def test_issue17_attention_opens_at_the_bar_and_scenario_of_the_link(context) -> None:
    from apps.pages.attention import AttentionPage

    page = AttentionPage(context, run_id="aaaa", scenario=LABELS[1], bar="12")
    assert (page.scenario, page.bar) == (LABELS[1], 12)
    assert page.url_parameters == {"run": "run_id", "scenario": "scenario", "bar": "bar"}


def test_issue17_runs_page_columns_scenario_and_one_metric_chart(context) -> None:
    page = RunsPage(context)
    assert "figures from" in page._table.value.columns and "Sharpe" in page._table.value.columns
    assert "turnover" in page._table.hidden_columns and "dataset" in page._table.hidden_columns
    page.columns = [*page.columns, "turnover"]
    assert "turnover" not in page._table.hidden_columns
    row = page._table.value.set_index("kind")
    assert row.loc["sweep", "figures from"] == "fees=0 slippage=0"
    page.kind = "backtest"
    page._on_selection(type("Event", (), {"new": [0, 1]})())
    page.chart_metric = "max_drawdown"
    assert sorted(page.chart_values().values()) == [0.1, 0.18]
    text = page.comparison_text()
    assert text[0]["metric"] == "scenario" and set(list(text[0].values())[1:]) == {LABELS[0]}
    drawdowns = next(r for r in text if r["metric"] == "max drawdown")
    assert sorted(list(drawdowns.values())[1:]) == ["-10.0%", "-18.0%"]
    assert next(r for r in text if r["metric"] == "trades")[f"{A[:10]} symbol-agent-compact-stocks"] == "2"


def test_issue17_a_comparison_is_launched_from_the_runs_page(context, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(app_services, "run_and_store",
                        lambda store, spec, progress=None, tags=(): launched.append(spec) or store.get_run(B).info)
    page = RunsPage(context)
    page.form.param.update(decider_kind="strategy", strategy="sma_cross", data="stocks", symbols="AAPL",
                           start="2009-01-01", end="2009-12-31")
    page.variants = "fast=10,20; slow=50"
    wait(page.launch_comparison())
    options = dict(launched[0].options)
    assert launched[0].kind == "compare" and dict(options["variants"]) == {"fast": ("10", "20"), "slow": ("50",)}
    page.variants = "fast"
    assert page.launch_comparison() is None and "KEY=V1,V2" in page.launcher.error


def test_issue17_sensitivity_launches_a_sweep_and_states_its_colour_range(context, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(app_services, "run_and_store",
                        lambda store, spec, progress=None, tags=(): launched.append(spec) or store.get_run(C).info)
    page = SensitivityPage(context)
    page.form.param.update(decider_kind="strategy", strategy="sma_cross", data="stocks", symbols="AAPL",
                           start="2009-01-01", end="2009-12-31", fees="0, 0.001, 0.002", slippage="0")
    page.param.update(grid_key="position_limit", grid_values="0.5, 1")
    job = page.launch()
    wait(job)
    page.launcher._poll()
    spec = launched[0]
    assert (spec.kind, spec.fees, spec.slippage) == ("sweep", (0.0, 0.001, 0.002), (0.0,))
    assert dict(dict(spec.options)["grid"]) == {"position_limit": (0.5, 1.0)} and page.run_id == C
    page.metric = "sharpe"  # 1.0 - 100 x fees: 0.8 .. 1.0, a range narrower than the scale's 0.5
    view = page._view()
    notes = " ".join(o.object for o in view.objects if isinstance(o, pn.pane.Markdown))
    assert "colour scale widened to 0.65 .. 1.15" in notes
    text = " ".join(o.object for o in view.objects if isinstance(o, pn.pane.Markdown))
    assert "**10 bp**" in text  # the break-even reads as a cost


def test_issue17_a_metric_rising_with_costs_is_explained() -> None:
    rows = [{"fees": f, "slippage": 0.0, "sharpe": s, "n_trades": n, "exposure": e, "annualized_volatility": v}
            for f, s, n, e, v in ((0.0, 0.80, 40, 0.3, 0.10), (0.001, 0.9, 12, 0.1, 0.05),
                                  (0.002, 1.01, 3, 0.04, 0.02))]
    text = app_services.against_intuition(rows, "fees", "sharpe")
    assert text.startswith("Sharpe rises with fees here, from 0.80 at fees 0 bp to 1.01 at 20 bp")
    assert "trades 40 -> 3" in text and "within the noise" in text
    assert app_services.against_intuition(rows, "fees", "max_drawdown") is None
    assert app_services.against_intuition([{**r, "sharpe": -r["fees"]} for r in rows], "fees", "sharpe") is None


def test_issue17_walkforward_page_shows_dated_folds_and_launches(context, monkeypatch) -> None:
    from apps.pages.walkforward import WalkForwardPage, fold_table

    folds = [{"fold": i, "train_start": f"200{i}-01-02T00:00:00+00:00", "train_end": f"200{i}-12-31T00:00:00+00:00",
              "test_start": f"200{i + 1}-01-02T00:00:00+00:00", "test_end": f"200{i + 1}-06-30T00:00:00+00:00",
              "train_bars": 250, "test_bars": 125, "sharpe": 0.5 * i, "params": {"fast": 10}} for i in range(2)]
    summary = {"kind": "walkforward", "folds": folds, "oos": {"sharpe": 0.4, "bars": 40, "start": INDEX[0].isoformat(),
                                                              "end": INDEX[-1].isoformat()},
               "stability": {"sharpe_mean": 0.25, "positive_fraction": 0.5}}
    spec = RunSpec(kind="walkforward", data="stocks", strategy="sma_cross", symbols=("AAPL",))
    equity = pd.DataFrame({"equity": np.linspace(100.0, 110.0, 40), "fold": [0] * 20 + [1] * 20},
                          index=pd.Index(INDEX, name="timestamp"))
    context.store.save_run(record("f" * 16, "walkforward", spec, summary, {"equity": equity}))
    table = fold_table(summary)
    assert table[["train_start", "train_end", "test_start", "test_end"]].iloc[1].tolist() == [
        "2001-01-02", "2001-12-31", "2002-01-02", "2002-06-30"]
    monkeypatch.setattr(app_services, "baselines", lambda run: (None, "no baselines in this test"))
    page = WalkForwardPage(context)
    assert page.run_id == "f" * 16
    shown = page._results()
    assert any(isinstance(o, pn.pane.HoloViews) and "fold-chart" in o.css_classes for o in shown.objects)
    launched = []
    monkeypatch.setattr(app_services, "run_and_store",
                        lambda store, spec, progress=None, tags=(): launched.append(spec)
                        or store.get_run("f" * 16).info)
    page.form.param.update(decider_kind="strategy", strategy="sma_cross", symbols="AAPL", start="2005-01-01",
                           end="2008-12-31", fees="0.001, 0.002")
    page.param.update(train="252", test="6M", scheme="expanding", retrain=True)
    wait(page.launch())
    options = dict(launched[0].options)
    assert options["train"] == 252 and options["test"] == "6M" and options["scheme"] == "expanding"
    assert options["retrain"] is True and launched[0].fees == (0.001,)


def test_issue17_paper_page_refuses_a_no_go_policy_until_confirmed(context, workbench_home, monkeypatch) -> None:
    started = []
    monkeypatch.setattr(app_services, "start_paper_session",
                        lambda session: started.append(session) or workbench_home / "paper" / session.name)
    context.store.save_review([A], "ana", "NO-GO", "NO-GO", "", [])
    page = PaperPage(context)
    page.form.param.update(decider_kind="policy", policy="symbol-agent-compact-stocks", data="stocks",
                           symbols="AAPL", fees="0.001")
    page.session_name = "trial"
    assert page.start_session() is None and started == []
    assert page.start_kind == "danger" and "Latest review of symbol-agent-compact-stocks: NO-GO" in page.start_message
    page.confirm = True
    assert page.start_session() == str(workbench_home / "paper" / "trial")
    assert started[0].policy == "symbol-agent-compact-stocks" and started[0].fees == 0.001
    assert "Started despite" in page.start_message and page.confirm is False  # asked again next time
    page.form.param.update(decider_kind="strategy", strategy="sma_cross")
    assert page.start_session() is None and "never been reviewed" in page.start_message


def test_issue17_review_takes_every_run_of_the_decider(context) -> None:
    from apps.pages.review import ReviewPage

    page = ReviewPage(context, run_id="bbbb")
    assert page.decider == "sma_cross|" and sorted(page.run_ids) == sorted([B, C, D])
    page.run_ids = [B]
    page.all_runs()
    assert sorted(page.run_ids) == sorted([B, C, D])
    page.decider = "symbol-agent-compact-stocks|"
    assert page.run_ids == [A]
    # A retrained policy keeps its name: its runs are another decider, named with its weights.
    context.store.save_run(replace(inactive_policy("9" * 16), model_sha="b" * 64))
    again = ReviewPage(context, run_id="9999")
    assert again.param.decider.objects["symbol-agent-compact-stocks (model bbbbbbbb)"] == \
        "symbol-agent-compact-stocks|" + "b" * 64
    assert again.run_ids == ["9" * 16]
    page.run_ids = []
    assert page.assess() is None and "at least one run" in page.assess_message and page.save_message == ""


def test_issue17_a_wide_table_sizes_text_wraps_long_text_and_titles_unmeasured_metrics() -> None:
    from apps.pages.common import TEXT_WIDTH, display_frame, table

    frame = pd.DataFrame({"scenario": ["base | correlation spike 0.9 2009-07-02 to 2009-07-31", "base"],
                          "peak": ["2009-07-02", "2009-07-03"], "win_rate": [None, None],
                          **{f"m{i}": [0.1, 0.2] for i in range(8)}})
    shown = table(frame)
    assert shown.layout == "fit_columns"
    assert shown.widths["scenario"] == TEXT_WIDTH and shown.formatters["scenario"] == {"type": "textarea"}
    assert shown.widths["peak"] == 96 and "peak" not in shown.formatters  # short text: its width, no wrap
    # A known metric never measured (all None) is still a number column, titled and shown as n/a.
    out, formatters = display_frame(frame[["win_rate"]])
    assert list(out.columns) == ["win rate"] and out["win rate"].isna().all() and "win rate" in formatters


def test_issue19_run_detail_shows_each_scenarios_own_baselines(context) -> None:
    """Stored at the first cost point; another scenario's are run for its costs when it is chosen."""
    from workbench.runs.baselines import run_baselines

    spec = RunSpec(kind="backtest", data="stocks", strategy="momentum", symbols=("AAPL",), start="2009-01-02",
                   end="2009-06-30", fees=(0.0, 0.004))
    info = app_services.run_and_store(context.store, spec)
    page = RunDetailPage(context, run_id=info.run_id)
    first, second = page.param.scenario.objects
    assert app_services.baselines_at_hand(page.run(), page.scenario_row())
    fresh = run_baselines(spec)
    pd.testing.assert_frame_equal(page.overview().baselines, fresh.curves[0], check_freq=False)
    page.scenario = second
    assert page.scenario_row()["label"] == second
    shown = page.overview()
    pd.testing.assert_frame_equal(shown.baselines, fresh.curves[1], check_freq=False)
    best = shown.block.best_baseline
    sharpe = shown.block.value("sharpe", "baseline")
    assert sharpe == fresh.metrics[1][best]["sharpe"] != fresh.metrics[0][best]["sharpe"]
    assert app_services.baselines_at_hand(page.run(), page.scenario_row())
