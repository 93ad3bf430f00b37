"""The app's routing (issue 17): the chosen run and scenario travel in the sidebar's links and follow the
page's choices; a page receives the query values it takes."""
from __future__ import annotations

import param

from apps.app import navigation, page_arguments
from apps.pages.attention import AttentionPage
from apps.pages.run_detail import RunDetailPage
from apps.pages.runs import RunsPage


def test_navigation_carries_the_run_and_its_scenario_to_every_page() -> None:
    text = navigation("run", {"run": "abc123", "scenario": "fees=0.001 slippage=0"})
    assert 'id="nav-attention" href="./attention?run=abc123&amp;scenario=fees%3D0.001+slippage%3D0"' in text
    assert 'id="nav-walkforward"' in text and "font-weight:bold;color:#0d6efd\">Run detail" in text
    assert 'href="./runs"' in navigation("runs", {})


def test_page_arguments_are_the_query_values_the_page_takes() -> None:
    query = {"run": "abc", "scenario": "base", "bar": "12"}
    assert page_arguments(RunDetailPage, query) == {"run_id": "abc", "scenario": "base"}
    assert page_arguments(AttentionPage, query) == {"run_id": "abc", "scenario": "base", "bar": "12"}
    assert page_arguments(RunsPage, query) == {}


def test_the_sidebar_follows_the_pages_run_and_scenario() -> None:
    from apps.app import linked_state

    class Page(param.Parameterized):
        run_id = param.String(default="r1")
        scenario = param.String(default="s1")
        url_parameters = {"run": "run_id", "scenario": "scenario"}

    page = Page()
    sidebar = linked_state("run", page, {"run": "r1", "bar": "3"})
    assert "./attention?run=r1&amp;scenario=s1\"" in sidebar.object  # a decision bar does not travel
    page.param.update(run_id="r2", scenario="s2")
    assert "run=r2&amp;scenario=s2" in sidebar.object
