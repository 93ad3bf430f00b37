"""What every page shares: the run store and jobs it works with, alerts, links and tables."""
from __future__ import annotations

import html
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter

from apps.jobs import JOBS, JobRunner
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError
from workbench.store import RunStore

logger = logging.getLogger(__name__)

PAGES: tuple[tuple[str, str], ...] = (
    ("runs", "Runs"), ("run", "Run detail"), ("attention", "Attention"), ("rewards", "Reward components"),
    ("stress", "Stress lab"), ("sensitivity", "Sensitivity"), ("review", "GO/NO-GO review"),
    ("paper", "Paper trading"),
)
NONE = ""
"""Value of a run selector with no run chosen."""


@dataclass
class AppContext:
    """The run store and job runner the pages share.

    Attributes:
        home: ``WORKBENCH_HOME`` of the store (None: the environment's).
        jobs: Background jobs of this server process.
    """

    home: Path | None = None
    jobs: JobRunner = field(default_factory=lambda: JOBS)
    _store: RunStore | None = field(default=None, repr=False)

    @property
    def store(self) -> RunStore:
        if self._store is None:
            self._store = app_services.open_store(self.home)
        return self._store


def alert(message: str, kind: str = "danger") -> pn.pane.Alert:
    """A Bootstrap alert with ``message`` (plain text, escaped)."""
    return pn.pane.Alert(html.escape(str(message)), alert_type=kind, sizing_mode="stretch_width")


def guarded(view: Callable[[], Any], what: str) -> Any:
    """``view()``, or an alert saying what failed: user errors in their own words, bugs in one line."""
    try:
        return view()
    except WorkbenchError as error:
        return alert(f"{what}: {error}", "warning")
    except Exception as error:  # a bug must not become a traceback in the page
        logger.exception("%s failed", what)
        return alert(f"{what} failed: {type(error).__name__}: {error}. This is a bug; the server log has details.")


def page_link(page: str, run_id: str | None = None, text: str | None = None) -> str:
    """An HTML link to ``page`` (a key of :data:`PAGES`), for one run when ``run_id`` is given."""
    query = f"?run={html.escape(run_id)}" if run_id else ""
    return f'<a href="./{page}{query}">{html.escape(text or dict(PAGES)[page])}</a>'


def run_label(info) -> str:
    """How a run appears in selectors: id prefix, kind, decider, dataset, period."""
    return f"{info.run_id[:10]} {info.kind} {info.decider} {info.dataset} {info.start[:10]}..{info.end[:10]}"


def run_options(store: RunStore, kinds: Sequence[str] | None = None,
                where: Callable[[Any], bool] | None = None) -> dict[str, str]:
    """Label -> run id of the stored runs (newest first), optionally of some kinds or matching ``where``."""
    options = {}
    for info in store.list_runs():
        if kinds is not None and info.kind not in kinds:
            continue
        if where is not None and not where(info):
            continue
        options[run_label(info)] = info.run_id
    return options


def choose_run(page: Any, options: dict[str, str], run_id: str = NONE, name: str = "run_id") -> None:
    """Offer ``options`` (label -> run id) in ``page``'s run selector and select ``run_id`` (a full id
    or an unambiguous prefix, e.g. from the page's URL) when it is among them."""
    page.param[name].objects = {"(choose a run)": NONE, **options}
    matches = [r for r in options.values() if run_id and r.startswith(run_id)]
    if len(matches) == 1:
        setattr(page, name, matches[0])


TABLE_CSS = (".tabulator, .tabulator-row, .tabulator-cell, .tabulator-col-title, .tabulator-footer "
             "{font-size: 12.5px;}")
"""Tables a little smaller than the page text, so wide ones fit."""


def number_formats(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, NumberFormatter]:
    """Tabulator formatters showing floats with 4 decimals and thousands separators."""
    names = columns if columns is not None else [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    return {c: NumberFormatter(format="0,0.0000") for c in names}


def table(frame: pd.DataFrame, **kwargs: Any) -> pn.widgets.Tabulator:
    """A read-only Tabulator with sensible defaults (no index, numbers to 4 significant digits)."""
    options = dict(show_index=False, disabled=True, sizing_mode="stretch_width", layout="fit_data_table",
                   formatters=number_formats(frame), stylesheets=[TABLE_CSS])
    options.update(kwargs)
    return pn.widgets.Tabulator(frame, **options)


HEADING_SIZES = {2: "1.35em", 3: "1.1em"}


def heading(text: str, level: int = 3) -> pn.pane.HTML:
    """A page (level 2) or section (level 3) title; sized explicitly so it looks the same in every pane."""
    return pn.pane.HTML(f'<div style="font-size:{HEADING_SIZES[level]};font-weight:600">{html.escape(text)}</div>',
                        margin=(12, 5, 2, 5), sizing_mode="stretch_width")


def note(text: str) -> pn.pane.Markdown:
    """A small grey explanatory line (Markdown)."""
    return pn.pane.Markdown(text, styles={"color": "#555", "font-size": "0.9em"}, margin=(0, 5))


def start_polling(callback: Callable[[], None], period_ms: int = 500):
    """A periodic callback on the server's loop (None outside a server, e.g. in unit tests)."""
    if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
        return None
    return pn.state.add_periodic_callback(callback, period=period_ms)


class JobPolling:
    """A page's refresh while its background job runs: :meth:`watch` calls ``poll`` now and then every
    ``period_ms`` on the server's loop; ``poll`` calls :meth:`finished` once the job has ended.

    Args:
        poll: Copies the job's state into the page's parameters.
        period_ms: Milliseconds between two polls.
    """

    def __init__(self, poll: Callable[[], None], period_ms: int = 500) -> None:
        self._poll = poll
        self._period_ms = period_ms
        self._callback = None

    def watch(self) -> None:
        """Poll now, then periodically until :meth:`finished` (no periodic callback outside a server)."""
        self._poll()
        if self._callback is None:
            self._callback = start_polling(self._poll, self._period_ms)

    def finished(self) -> None:
        """Stop polling."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None


_SECTIONS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="workbench-section")


class BackgroundSection(pn.viewable.Viewer):
    """A part of a page whose content takes seconds to compute (baselines, an attention replay).

    :meth:`load` computes in a worker thread (started once the session is served) and hands the result
    to the session's event loop (``Document.add_next_tick_callback``, the thread-safe way into a Bokeh
    document), where it is rendered; a newer :meth:`load` supersedes an older one that has not
    finished. Outside a server (unit tests) it computes and renders at once.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._column = pn.Column(sizing_mode="stretch_width")
        self._generation = 0
        self._key: object = None

    @property
    def objects(self) -> list:
        return list(self._column.objects)

    def load(self, compute: Callable[[], Any], render: Callable[[Any], Any], what: str, key: object = None) -> None:
        """Show a spinner, compute ``compute()`` off the server's thread, then show ``render(result)``.

        ``key`` names what is asked for: a request for the key already shown or on its way is ignored
        (several parameters changing together ask once).
        """
        if key is not None and key == self._key:
            return
        self._key = key
        self._generation += 1
        generation = self._generation
        document = pn.state.curdoc
        if document is None or document.session_context is None:
            self._show(generation, *_attempt(compute), render, what)
            return
        self._column.objects = [pn.Row(pn.indicators.LoadingSpinner(value=True, size=24), note(f"{what} ..."))]

        def work() -> None:
            outcome = _attempt(compute)
            try:
                document.add_next_tick_callback(lambda: self._show(generation, *outcome, render, what))
            except Exception:  # the session closed meanwhile: nothing to show it in
                logger.info("%s finished after its page was closed", what, exc_info=True)

        # Start once the session is served: a result handed to a document still being built is lost.
        pn.state.onload(lambda: _SECTIONS.submit(work))

    def clear(self) -> None:
        self._generation += 1
        self._key = None
        self._column.objects = []

    def _show(self, generation: int, result: Any, error: BaseException | None, render, what: str) -> None:
        if generation != self._generation:
            return  # a newer request replaced this one
        if error is not None:
            self._key = None  # asking again may succeed (e.g. after a file was fixed)
        if error is None:
            content = guarded(lambda: render(result), what)
        elif isinstance(error, WorkbenchError):
            content = alert(f"{what}: {error}", "warning")
        else:
            logger.error("%s failed", what, exc_info=error)
            content = alert(f"{what} failed: {type(error).__name__}: {error}. This is a bug; the server log has details.")
        self._column.objects = [content]

    def __panel__(self):
        return self._column


def _attempt(compute: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return compute(), None
    except Exception as error:  # handed to _show, which turns it into an alert
        return None, error
