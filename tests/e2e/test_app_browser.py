"""The app in a real browser: every page loads cleanly, a stress run launched from the Stress lab
completes and shows its results, a review decision survives a reload, a comparison shows both runs,
the Attention page shows a tactical team agent by agent, and the Paper trading page's kill switch
flattens and halts a session running in another process."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.paper.config import JOURNAL_FILE
from workbench.services.app import paper_state
from workbench.store import RunStore

pytestmark = pytest.mark.slow

# Page -> (role of the run it opens, text that shows the page has rendered its content).
PAGES = {
    "runs": (None, "runs shown"),
    "run": ("backtest", "Per regime"),
    "attention": ("policy", "Feature attribution"),
    "rewards": ("backtest", "Totals and shares"),
    "stress": ("stress", "Worst cases"),
    "sensitivity": ("sweep", "Break-even per grid point"),
    "review": ("backtest", "Reviews of this decider"),
    "paper": (None, "No paper-trading session"),
}


def settle(page, text: str) -> None:
    """Wait until ``text`` is shown and the page has no pending requests."""
    page.get_by_text(text, exact=False).first.wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_without_console_errors(page, server, run_ids, name) -> None:
    role, ready = PAGES[name]
    query = f"?run={run_ids[role]}" if role else ""
    page.page.goto(f"{server}/{name}{query}")
    settle(page.page, ready)
    page.screenshot(f"page-{name}")
    assert not page.page.get_by_text("Traceback").count()
    assert not page.page.get_by_text("This is a bug").count()
    assert page.errors == []


def test_stress_run_launched_from_the_stress_lab_completes(page, server, e2e_home) -> None:
    with RunStore.open(e2e_home) as store:
        before = {info.run_id for info in store.list_runs(kind="stress")}
    page.page.goto(f"{server}/stress")
    settle(page.page, "Launch stress run")
    page.page.locator(".bk-btn", has_text="strategy").first.click()
    page.page.get_by_role("button", name="Launch stress run").click()
    # The page first shows the server's previous stress job, if any: wait for the store, then the page.
    deadline = time.monotonic() + 300
    new: set[str] = set()
    while time.monotonic() < deadline and not new:
        time.sleep(1.0)
        with RunStore.open(e2e_home) as store:
            new = {info.run_id for info in store.list_runs(kind="stress")} - before
    assert len(new) == 1
    (run_id,) = new
    page.page.get_by_text(f"Stored as run {run_id}", exact=False).wait_for(state="visible", timeout=300_000)
    # The results below switch to the new run: its id heads them, with its distribution and worst cases.
    settle(page.page, f"Run {run_id[:10]}:")
    assert page.page.get_by_text("Worst cases: shock", exact=True).count() == 1  # one table per family
    page.screenshot("stress-lab-after-run")
    assert page.errors == []


def test_review_decision_is_stored_and_shown_after_reload(page, server, run_ids, e2e_home) -> None:
    run_id = run_ids["backtest"]
    page.page.goto(f"{server}/review?run={run_id}")
    settle(page.page, "Reviews of this decider")
    page.page.get_by_role("button", name="Assess runs").click()
    page.page.locator("#verdict").wait_for(state="visible", timeout=300_000)
    page.page.get_by_placeholder("your name").fill("Ada Reviewer")
    page.page.get_by_placeholder("your name").press("Enter")
    page.page.get_by_placeholder("what you based the decision on").fill("browser test decision")
    page.page.get_by_placeholder("what you based the decision on").blur()
    page.page.wait_for_timeout(500)
    page.page.get_by_role("button", name="Save review").click()
    page.page.get_by_text("Saved review", exact=False).wait_for(state="visible")
    page.page.reload()
    settle(page.page, "Ada Reviewer")
    page.screenshot("review-after-reload")
    assert page.page.get_by_text("browser test decision", exact=False).count() >= 1
    with RunStore.open(e2e_home) as store:
        review = store.latest_review(run_id)
    assert review is not None and review.reviewer == "Ada Reviewer" and review.notes == "browser test decision"
    assert page.errors == []


def test_comparison_of_two_runs_shows_both(page, server, e2e_home) -> None:
    page.page.goto(f"{server}/runs")
    settle(page.page, "runs shown")
    page.page.locator(".runs-table .tabulator-row").first.wait_for(state="visible")
    checkboxes = page.page.locator(".runs-table .tabulator-row input[type='checkbox']")
    checkboxes.nth(0).click()
    checkboxes.nth(1).click()
    settle(page.page, "Comparison of 2 runs")
    page.screenshot("runs-comparison")
    headers = page.page.locator(".comparison-table .tabulator-col-title").all_inner_texts()
    compared = [h for h in headers if h.strip() and h != "metric"]
    with RunStore.open(e2e_home) as store:
        newest = [info.run_id for info in store.list_runs()][:2]  # the table's first rows, newest first
    assert len(compared) == 2
    assert [h.split()[0] for h in compared] == [r[:10] for r in newest]
    assert page.errors == []


def test_the_attention_page_shows_a_teams_agents(page, server, run_ids) -> None:
    page.page.goto(f"{server}/attention?run={run_ids['team']}")
    settle(page.page, "Team over time")
    settle(page.page, "The agents' votes")
    assert page.page.get_by_text("the black line is the chosen bar", exact=False).count() == 1
    members = page.page.locator(".members-table .tabulator-row")
    assert members.count() == 3  # one row per agent: its vote and probabilities
    assert {"fvg", "momentum", "entry"} <= set(" ".join(members.all_inner_texts()).split())
    # Choose a later bar: the maps, the votes and the marker follow it.
    bar_input = page.page.get_by_role("textbox").first  # the Bar input (the page's one text box)
    bar_input.fill("300")
    bar_input.press("Enter")
    settle(page.page, "Bar 300 (")
    page.screenshot("attention-team")
    assert not page.page.get_by_text("Traceback").count()
    assert page.errors == []


def wait_for_state(state: Path, condition, what: str, seconds: float = 120.0) -> dict:
    """The session's status once ``condition(status)`` holds (polled through the journal)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (state / JOURNAL_FILE).is_file():
            status = paper_state(state)
            if condition(status):
                return status
        time.sleep(0.2)
    pytest.fail(f"the paper session never reached: {what}")


def test_kill_switch_on_the_paper_page_flattens_and_halts_a_running_session(page, server, e2e_home,
                                                                           tmp_path) -> None:
    state = tmp_path / "live"
    # Equal weight holds both symbols from the second bar; one trading day every 0.25 s.
    command = [sys.executable, "-m", "workbench.cli", "paper", "start", "--strategy", "equal_weight",
               "--feed", "replay:stocks:AAPL,MSFT", "--start", "2009-01-01", "--end", "2010-12-31",
               "--speed", str(4 * 86_400), "--state", str(state)]
    log = open(tmp_path / "paper.log", "w")
    process = subprocess.Popen(command, env={**os.environ, "WORKBENCH_HOME": str(e2e_home)},
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_state(state, lambda s: s["running"] and len(s["positions"]) == 2, "holding both symbols")
        page.page.goto(f"{server}/paper")
        settle(page.page, "No paper-trading session")
        page.page.get_by_label("Or another state folder").fill(str(state))
        page.page.get_by_label("Or another state folder").press("Enter")
        settle(page.page, "Recent events")
        assert page.page.locator(".paper-positions .tabulator-row").count() == 2
        page.page.wait_for_timeout(2500)  # one refresh: the equity figure, laid out while hidden, draws
        page.screenshot("paper-running")

        page.page.get_by_role("button", name="Kill switch: flatten and halt").click()
        page.page.get_by_text("kill requested", exact=False).wait_for(state="visible")
        # The page refreshes itself: the halt shows without a reload, then the flattened book.
        page.page.get_by_text("Trading is halted: kill", exact=False).wait_for(state="visible", timeout=60_000)
        status = wait_for_state(state, lambda s: s["halt"] == "kill" and not s["positions"], "flat after the kill")
        assert status["running"]
        page.page.wait_for_timeout(2500)  # one refresh after the flattening bar
        assert page.page.locator(".paper-positions .tabulator-row").count() == 0
        page.screenshot("paper-killed")

        page.page.get_by_role("button", name="Stop session").click()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    final = paper_state(state)
    assert not final["running"] and final["halt"] == "kill" and not final["positions"]
    assert page.errors == [], (tmp_path / "paper.log").read_text()[-2000:]
