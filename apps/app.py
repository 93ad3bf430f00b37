"""The browser workbench: one Panel application, one route per page, a sidebar to move between them.

Each page is a ``pn.viewable.Viewer`` (``apps/pages``) built fresh for every browser session on its
own route (``/runs``, ``/run?run=ID``, ...); the run a page shows travels in the ``run`` query
parameter, so links, reloads and the browser's back button keep it. ``/`` redirects to ``/runs``.
The pages share one run store and one job runner per server process.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Callable

import panel as pn
from tornado.web import RedirectHandler

from apps.pages.attention import AttentionPage
from apps.pages.common import PAGES, AppContext, guarded
from apps.pages.paper import PaperPage
from apps.pages.review import ReviewPage
from apps.pages.rewards import RewardsPage
from apps.pages.run_detail import RunDetailPage
from apps.pages.runs import RunsPage
from apps.pages.sensitivity import SensitivityPage
from apps.pages.stress_lab import StressLabPage

logger = logging.getLogger(__name__)

TITLE = "RL trading workbench"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest websocket message (uploads travel as one message): above every upload limit."""

PAGE_CLASSES: dict[str, Callable] = {
    "runs": lambda context, run_id="": RunsPage(context), "run": RunDetailPage, "attention": AttentionPage, "rewards": RewardsPage,
    "stress": StressLabPage, "sensitivity": SensitivityPage, "review": ReviewPage,
    "paper": lambda context, run_id="": PaperPage(context),
}


def navigation(active: str, run_id: str) -> pn.pane.HTML:
    """The sidebar: one link per page, the current one bold; the chosen run travels along."""
    query = f"?run={html.escape(run_id)}" if run_id else ""
    items = []
    for key, label in PAGES:
        style = "font-weight:bold;color:#0d6efd" if key == active else "color:#333"
        items.append(f'<li style="margin:6px 0"><a id="nav-{key}" href="./{key}{query}" '
                     f'style="text-decoration:none;{style}">{html.escape(label)}</a></li>')
    return pn.pane.HTML(f'<ul style="list-style:none;padding-left:4px;font-size:1.05em">{"".join(items)}</ul>',
                        sizing_mode="stretch_width")


def query_run() -> str:
    """The ``run`` query parameter of the current request ('' when absent or not an id)."""
    args = pn.state.session_args if pn.state.curdoc is not None else {}
    values = args.get("run") or [b""]
    text = values[0].decode("utf-8", "replace").strip()
    return text if text and all(c.isalnum() or c in "-_" for c in text) and len(text) <= 64 else ""


def build_page(name: str, context: AppContext) -> pn.template.BootstrapTemplate:
    """The template with page ``name`` for one browser session."""
    run_id = query_run()
    page = guarded(lambda: PAGE_CLASSES[name](context, run_id=run_id), f"opening the {dict(PAGES)[name]} page")
    template = pn.template.BootstrapTemplate(
        title=TITLE, sidebar=[navigation(name, run_id)], main=[page], sidebar_width=230,
        header_background="#1f4e79")
    return template


def make_routes(context: AppContext) -> dict[str, Callable[[], pn.template.BootstrapTemplate]]:
    """Route name -> page factory for ``pn.serve`` (plain functions: Panel calls those per session)."""
    def factory(key: str) -> Callable[[], pn.template.BootstrapTemplate]:
        def page() -> pn.template.BootstrapTemplate:
            return build_page(key, context)
        return page
    return {key: factory(key) for key, _ in PAGES}


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
    context = AppContext(home=home)
    origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        make_routes(context), port=port, address=address, show=show, title=TITLE, threaded=threaded,
        websocket_origin="*" if address not in LOOPBACK else origins,
        websocket_max_message_size=MAX_MESSAGE_BYTES,
        extra_patterns=[(r"/", RedirectHandler, {"url": "/runs"})], start=True)
