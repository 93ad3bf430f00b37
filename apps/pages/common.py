"""What every page shares: the run store and jobs it works with, alerts, links and tables."""
from __future__ import annotations

import html
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import NumberFormatter, ScientificFormatter

from apps.jobs import JOBS, JobRunner
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError
from workbench.store import RunStore

logger = logging.getLogger(__name__)

PAGES: tuple[tuple[str, str], ...] = (
    ("runs", "Runs"), ("run", "Run detail"), ("attention", "Attention"), ("rewards", "Reward components"),
    ("stress", "Stress lab"), ("sensitivity", "Sensitivity"), ("walkforward", "Walk-forward"),
    ("review", "GO/NO-GO review"),
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


def page_url(page: str, run_id: str | None = None, **query: Any) -> str:
    """The relative URL of ``page`` (a key of :data:`PAGES`) for one run and further query values
    (``scenario``, ``bar`` ...; empty ones are left out)."""
    values = {"run": run_id, **query}
    text = urlencode({k: v for k, v in values.items() if v not in (None, "")})
    return f"./{page}" + (f"?{text}" if text else "")


def page_link(page: str, run_id: str | None = None, text: str | None = None, **query: Any) -> str:
    """An HTML link to ``page`` (a key of :data:`PAGES`), for one run when ``run_id`` is given."""
    return f'<a href="{html.escape(page_url(page, run_id, **query))}">{html.escape(text or dict(PAGES)[page])}</a>'


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


TABLE_CSS = (":host {max-width: 100%;} .tabulator, .tabulator-row, .tabulator-cell, .tabulator-col-title, "
             ".tabulator-footer {font-size: 12.5px;} .tabulator-col-title {white-space: normal !important; "
             "hyphens: auto; overflow-wrap: anywhere; text-overflow: clip !important;} "
             ".tabulator .tabulator-header .tabulator-col.tabulator-sortable .tabulator-col-title "
             "{padding-right: 12px;}")
"""Tables a little smaller than the page text, headers wrapping (a word wider than its column breaks rather
than ending in an ellipsis; the sort arrow keeps less room), never wider than the page (a table wider
than its data fits scrolls inside its own box instead of pushing the page past the window)."""
ISO_DAY = "T00:00:00+00:00"


def display_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``frame`` as a table shows it, with its cell formatters.

    A numeric column of a known metric shows by its kind (``workbench.runs.formats``: percentages,
    money, counts, ratios, costs in basis points, drawdowns negative) and still sorts as a number; other
    floats keep three significant digits (``2.98e-07`` stays readable); daily timestamps read as dates.
    """
    out = frame.copy()
    formatters: dict[str, Any] = {}
    renames = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            continue
        if values.dtype == object and len(values) and values.map(_number_or_missing).all() \
                and (values.map(lambda v: isinstance(v, (int, float))).any()
                     or app_services.column_format(str(column)) is not None):
            values = values.astype(float)  # numbers with gaps (None), or a known metric never measured: n/a
        if pd.api.types.is_numeric_dtype(values):
            shown = app_services.column_format(str(column))
            if shown is not None:
                out[column] = values.astype(float) * shown.factor
                renames[column] = shown.title
                formatters[shown.title] = NumberFormatter(format=shown.pattern)
            elif pd.api.types.is_float_dtype(values):
                formatters[column] = ScientificFormatter(precision=3, power_limit_low=-3, power_limit_high=6,
                                                         nan_format="n/a")
        elif _textual(values):
            out[column] = values.map(lambda v: v[:10] if isinstance(v, str) and v.endswith(ISO_DAY) else v)
    return out.rename(columns=renames), formatters


def stamp(timestamp: pd.Timestamp) -> str:
    """A bar's date, with its time of day when it has one (intraday bars)."""
    return f"{timestamp:%Y-%m-%d %H:%M}" if timestamp.hour or timestamp.minute else f"{timestamp:%Y-%m-%d}"


def _textual(values: pd.Series) -> bool:
    """Whether a column holds text (pandas' ``str`` dtype, or objects)."""
    return pd.api.types.is_string_dtype(values) or values.dtype == object


def _number_or_missing(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def number_formats(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Tabulator formatters of ``frame``'s numeric columns (``columns``: only those), by metric kind."""
    _, formatters = display_frame(frame[list(columns)] if columns is not None else frame)
    return formatters


WIDE_TABLE = 9
"""Tables with more columns than this share the page's width between them (headers wrap) instead of
growing past it."""
TEXT_WIDTH = 320
"""The widest a text column of a wide table gets, in pixels; longer text wraps."""


def table(frame: pd.DataFrame, **kwargs: Any) -> pn.widgets.Tabulator:
    """A read-only Tabulator with numbers shown by their kind (:func:`display_frame`), no index; a wide
    one fits its columns to the page."""
    shown, formatters = display_frame(frame)
    layout = "fit_columns" if len(shown.columns) > WIDE_TABLE else "fit_data_table"
    widths = {}
    if layout == "fit_columns":  # text columns get the room their text needs; numbers share the rest
        for column in shown.columns:
            if _textual(shown[column]) and len(shown):
                longest = max(len(str(column)), *(len(str(v)) for v in shown[column]))
                widths[column] = int(min(TEXT_WIDTH, max(90, 7.2 * longest + 24)))
                if 7.2 * longest + 24 > TEXT_WIDTH:  # longer text wraps inside its cell rather than being cut
                    formatters.setdefault(column, {"type": "textarea"})
    options = dict(show_index=False, disabled=True, sizing_mode="stretch_width", layout=layout,
                   formatters={**formatters, **kwargs.pop("formatters", {})}, stylesheets=[TABLE_CSS],
                   widths={**widths, **kwargs.pop("widths", {})})
    options.update(kwargs)
    return pn.widgets.Tabulator(shown, **options)


STATIC_ROWS = 30
"""Tables of at most this many rows are drawn as plain HTML (:func:`static_table`): nothing to page or
sort, and a fraction of a Tabulator's cost to build and lay out in the browser."""
STATIC_CSS = """
<style>
div.static-table {overflow-x: auto; max-width: 100%}
div.static-table table {border-collapse: collapse; font-size: 12.5px; width: 100%}
div.static-table th, div.static-table td {padding: 3px 8px; border-bottom: 1px solid #e5e5e5; text-align: right;
  vertical-align: top}
div.static-table thead th {border-bottom: 2px solid #bbb; font-weight: 600; overflow-wrap: normal}
div.static-table th.text, div.static-table td.text {text-align: left}
div.static-table tbody tr:nth-child(even) {background: #f8f8f8}
</style>"""


def static_table(frame: pd.DataFrame, css_class: str, html_columns: Sequence[str] = ()) -> pn.pane.HTML:
    """A read-only table of a few rows as one HTML pane: numbers of a known metric by their kind
    (``workbench.runs.formats``, as :func:`display_frame` shows them in a Tabulator), other numbers to
    four significant digits, daily timestamps as dates, ``html_columns`` (links) as they are, the rest
    escaped; headers wrap between words, and a table wider than the page scrolls inside its box."""
    columns = list(frame.columns)
    textual = {c: _textual(frame[c]) and not frame[c].map(_number_or_missing).all() for c in columns}

    def cell(column: str, value: Any) -> str:
        if column in html_columns:
            return str(value)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return html.escape(app_services.format_value(str(column), value))  # of no known kind: format_number
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return "n/a"
        text = str(value)
        return html.escape(text[:10] if text.endswith(ISO_DAY) else text)

    def kind(column: str) -> str:
        return ' class="text"' if textual[column] else ""

    head = "".join(f"<th{kind(c)}>{html.escape(app_services.metric_title(str(c)))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td{kind(c)}>{cell(c, v)}</td>" for c, v in zip(columns, row)) + "</tr>"
                   for row in frame.itertuples(index=False, name=None))
    return pn.pane.HTML(f'{STATIC_CSS}<div class="static-table {css_class}"><table><thead><tr>{head}</tr></thead>'
                        f"<tbody>{body}</tbody></table></div>", sizing_mode="stretch_width")


def small_or_paged_table(frame: pd.DataFrame, css_class: str, **kwargs: Any) -> pn.viewable.Viewable:
    """:func:`static_table` for a frame of up to :data:`STATIC_ROWS` rows, else a sortable :func:`table`."""
    if len(frame) <= STATIC_ROWS:
        return static_table(frame, css_class)
    return table(frame, css_classes=[css_class], **kwargs)


def text_table(rows: Sequence[dict[str, str]], **kwargs: Any) -> pn.widgets.Tabulator:
    """A table of values already formatted as text (a metric per row: the summary block, comparisons)."""
    options = dict(show_index=False, disabled=True, sizing_mode="stretch_width", layout="fit_data_table",
                   stylesheets=[TABLE_CSS])
    options.update(kwargs)
    return pn.widgets.Tabulator(pd.DataFrame(list(rows)), **options)


SUMMARY_CSS = """
<style>
table.summary-block {border-collapse: collapse; font-size: 13px; margin: 4px 0 6px 0}
table.summary-block th, table.summary-block td {padding: 3px 14px 3px 6px; border-bottom: 1px solid #e5e5e5;
  text-align: right}
table.summary-block th:first-child, table.summary-block td:first-child {text-align: left; color: #333}
table.summary-block thead th {border-bottom: 2px solid #bbb; font-weight: 600}
table.summary-block td:nth-child(2) {font-weight: 600}
</style>"""


def html_table(rows: Sequence[dict[str, str]], css_class: str) -> pn.pane.HTML:
    """A compact read-only HTML table of text rows (the summary block: a few metrics, nothing to sort)."""
    rows = list(rows)
    columns = list(rows[0]) if rows else []
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return pn.pane.HTML(f'{SUMMARY_CSS}<table class="{css_class}"><thead><tr>{head}</tr></thead>'
                        f"<tbody>{body}</tbody></table>", sizing_mode="stretch_width")


def controls(*widgets: Any) -> pn.FlexBox:
    """A row of form widgets that wraps onto the next line when the page is narrower than they are."""
    return pn.FlexBox(*widgets, flex_wrap="wrap", align_items="flex-end", sizing_mode="stretch_width")


def recent_runs(store: RunStore, page: str, where: Callable[[Any], bool] | None = None, limit: int = 10) -> pn.Column:
    """The newest stored runs (of those ``where`` accepts) as links to ``page``, for a page opened without one."""
    rows = []
    for info in store.list_runs():
        if where is not None and not where(info):
            continue
        rows.append(f"<li>{page_link(page, info.run_id, info.run_id[:10])} {html.escape(info.kind)} of "
                    f"<b>{html.escape(info.decider)}</b> on {html.escape(info.dataset)} "
                    f"{info.start[:10]} to {info.end[:10]} <span style='color:#777'>"
                    f"({html.escape(info.created_at[:16].replace('T', ' '))})</span></li>")
        if len(rows) >= limit:
            break
    if not rows:
        return pn.Column(note("No run of this kind is stored yet."), sizing_mode="stretch_width")
    return pn.Column(heading("Recent runs"), pn.pane.HTML(f'<ul class="recent-runs">{"".join(rows)}</ul>',
                                                          sizing_mode="stretch_width"),
                     sizing_mode="stretch_width")


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

    def load(self, compute: Callable[[], Any], render: Callable[[Any], Any], what: str, key: object = None,
             quick: bool = False) -> None:
        """Show a spinner, compute ``compute()`` off the server's thread, then show ``render(result)``.

        ``key`` names what is asked for: a request for the key already shown or on its way is ignored
        (several parameters changing together ask once). ``quick`` says the result is at hand (read from
        the store, nothing to run): it is computed and shown at once, so the page's first message
        already holds it.
        """
        if key is not None and key == self._key:
            return
        self._key = key
        self._generation += 1
        generation = self._generation
        document = pn.state.curdoc
        if quick or document is None or document.session_context is None:
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
