"""The browser workbench: one Panel application, one route per page, a sidebar to move between them.

Each page is a ``pn.viewable.Viewer`` (``apps/pages``) built fresh for every browser session on its
own route (``/runs``, ``/run?run=ID&scenario=LABEL``, ...); the run a page shows and its scenario
travel in the query (``run``, ``scenario``, ``bar``) and in the sidebar's links, and the URL follows the
page's choices, so links, reloads and the browser's back button keep them. ``/`` redirects to ``/runs``.
The pages share one run store and one job runner per server process.
"""
from __future__ import annotations

import gc
import html
import inspect
import logging
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import panel as pn
from bokeh.document import Document
from tornado.web import RedirectHandler

from apps import charts
from apps.pages.attention import AttentionPage
from apps.pages.common import PAGES, AppContext, guarded, page_url
from apps.pages.paper import PaperPage
from apps.pages.review import ReviewPage
from apps.pages.rewards import RewardsPage
from apps.pages.run_detail import RunDetailPage
from apps.pages.runs import RunsPage
from apps.pages.sensitivity import SensitivityPage
from apps.pages.stress_lab import StressLabPage
from apps.pages.walkforward import WalkForwardPage
from workbench.services import app as app_services

logger = logging.getLogger(__name__)

TITLE = "RL trading workbench"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest websocket message (uploads travel as one message): above every upload limit."""

PAGE_CLASSES: dict[str, Callable] = {
    "runs": RunsPage, "run": RunDetailPage, "attention": AttentionPage, "rewards": RewardsPage,
    "stress": StressLabPage, "sensitivity": SensitivityPage, "walkforward": WalkForwardPage, "review": ReviewPage,
    "paper": PaperPage,
}
QUERY_KEYS = ("run", "scenario", "bar")
"""Query parameters a page may read: the run (an id or a prefix), its scenario, a decision bar."""


def navigation(active: str, query: dict[str, str]) -> str:
    """The sidebar's HTML: one link per page, the current one bold; the chosen run and scenario travel along."""
    items = []
    for key, label in PAGES:
        style = "font-weight:bold;color:#0d6efd" if key == active else "color:#333"
        url = page_url(key, query.get("run"), scenario=query.get("scenario"))
        items.append(f'<li style="margin:6px 0"><a id="nav-{key}" href="{html.escape(url)}" '
                     f'style="text-decoration:none;{style}">{html.escape(label)}</a></li>')
    return f'<ul style="list-style:none;padding-left:4px;font-size:1.05em">{"".join(items)}</ul>'


def query_values() -> dict[str, str]:
    """The query parameters of the current request that a page reads ('' when absent or malformed)."""
    args = pn.state.session_args if pn.state.curdoc is not None else {}
    out = {}
    for key in QUERY_KEYS:
        text = (args.get(key) or [b""])[0].decode("utf-8", "replace").strip()
        if text and len(text) <= 200 and all(c.isprintable() for c in text):
            out[key] = text
    if out.get("run") and not all(c.isalnum() or c in "-_" for c in out["run"]):
        out.pop("run")
    return out


def page_arguments(page_class: Callable, query: dict[str, str]) -> dict[str, object]:
    """The page constructor's keyword arguments that the query gives (``run_id``, ``scenario``, ``bar``)."""
    names = inspect.signature(page_class).parameters
    values = {"run_id": query.get("run"), "scenario": query.get("scenario"), "bar": query.get("bar")}
    return {name: value for name, value in values.items() if name in names and value}


def linked_state(name: str, page, query: dict[str, str]) -> pn.pane.HTML:
    """The sidebar of ``page``: its links carry the page's run and scenario, and the URL follows them
    (``url_parameters`` of the page: query name -> its parameter), so reloads and links keep them. A
    page without such parameters passes on the run it was opened with."""
    mapping: dict[str, str] = dict(getattr(page, "url_parameters", {}))

    def current() -> dict[str, str]:
        values = {k: v for k, v in query.items() if k not in mapping}
        values.update({k: str(getattr(page, attribute) or "") for k, attribute in mapping.items()})
        return values

    sidebar = pn.pane.HTML(navigation(name, current()), sizing_mode="stretch_width")

    def changed(*_events) -> None:
        values = current()
        sidebar.object = navigation(name, values)
        if pn.state.location is not None:
            kept = {k: v for k, v in pn.state.location.query_params.items() if k not in mapping}
            kept.update({k: v for k, v in values.items() if k in mapping and v})
            pn.state.location.search = "?" + urlencode(kept) if kept else ""

    if mapping:
        page.param.watch(changed, list(mapping.values()))
    return sidebar


def build_page(name: str, context: AppContext) -> pn.template.BootstrapTemplate:
    """The template with page ``name`` for one browser session."""
    query = query_values()
    page_class = PAGE_CLASSES[name]
    page = guarded(lambda: page_class(context, **page_arguments(page_class, query)),
                   f"opening the {dict(PAGES)[name]} page")
    sidebar = linked_state(name, page, query) if isinstance(page, pn.viewable.Viewer) else \
        pn.pane.HTML(navigation(name, query), sizing_mode="stretch_width")
    return pn.template.BootstrapTemplate(title=TITLE, sidebar=[sidebar], main=[page], sidebar_width=230,
                                         header_background="#1f4e79")


def make_routes(context: AppContext) -> dict[str, Callable[[], pn.template.BootstrapTemplate]]:
    """Route name -> page factory for ``pn.serve`` (plain functions: Panel calls those per session)."""
    def factory(key: str) -> Callable[[], pn.template.BootstrapTemplate]:
        def page() -> pn.template.BootstrapTemplate:
            return build_page(key, context)
        return page
    return {key: factory(key) for key, _ in PAGES}


def warm_up() -> float:
    """Draw a tiny Run detail (its linked HoloViews charts) into a throwaway document and find the drawdown
    episodes of a short curve, once, before the server takes requests: the first page a user opens then
    does not pay for the process's first use of HoloViews' Bokeh plotting and of the compiled drawdown
    kernels (together about 1.5 s of a first Run detail on two cores). Returns the seconds it took; a
    failure is logged and never stops the server."""
    started = time.perf_counter()
    try:
        index = pd.date_range("2020-01-01", periods=30, freq="B", tz="UTC")
        curve = pd.Series(100_000 * (1 + 0.01 * np.sin(np.arange(30.0))), index=index)
        trades = pd.DataFrame({"timestamp": index[:2], "side": ["buy", "sell"], "price": [1.0, 1.1]})
        layout = charts.linked(
            charts.equity_overview(curve.to_frame("run"), "run"),
            [charts.underwater(curve, app_services.worst_drawdowns(curve)),
             charts.price_trades(curve / 1000, trades, "X"),
             charts.action_shares(pd.DataFrame({"hold": np.ones(30)}, index=index))])
        pn.pane.HoloViews(layout).get_root(Document())
    except Exception:  # noqa: BLE001 - a warm-up only saves time
        logger.exception("warming up the charts failed (the pages still work, the first one is slower)")
    return time.perf_counter() - started


def serve(port: int = 5006, address: str = "127.0.0.1", home: Path | None = None, show: bool = False,
          threaded: bool = False):
    """Serve the app on ``address:port`` until interrupted (or in a thread with ``threaded``).

    Args:
        port: TCP port.
        address: Interface to bind; loopback unless another is asked for explicitly.
        home: ``WORKBENCH_HOME`` of the run store (None: the environment's).
        show: Open a browser tab.
        threaded: Return a started server thread instead of blocking (tests).
    """
    pn.extension("tabulator", sizing_mode="stretch_width")
    logger.info("charts warmed up in %.1f s", warm_up())
    # The imports and the warm-up leave about 660,000 long-lived objects; out of the collector's reach,
    # a page's allocations no longer trigger a full collection over them (0.3-0.4 s of a first page).
    gc.collect()
    gc.freeze()
    context = AppContext(home=home)
    origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        make_routes(context), port=port, address=address, show=show, title=TITLE, threaded=threaded,
        websocket_origin="*" if address not in LOOPBACK else origins,
        websocket_max_message_size=MAX_MESSAGE_BYTES,
        extra_patterns=[(r"/", RedirectHandler, {"url": "/runs"})], start=True)
