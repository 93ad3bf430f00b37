"""Paper trading: start a session (a replay of a dataset, in its own process), watch a session's equity and
decision latency by date against the latency gate, its positions, open orders and risk state, refreshed
every few seconds, with the kill switch (flatten and halt), resume and stop. The decider's latest
GO/NO-GO verdict is shown, and starting a session of a decider whose latest review is not GO needs an
explicit confirmation."""
from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from apps import plots
from apps.pages.common import AppContext, alert, heading, note, page_link, stamp, start_polling, table
from apps.pages.launch import RunForm, parse_numbers, parse_symbols
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError

REFRESH_MS = 2000
TABLES = ("summary", "positions", "orders", "risk", "events")
# Column formats per table (money to cents, fractions as percentages); the risk and events tables are text.
FORMATS = {
    "summary": {"equity": "0,0.00", "cash": "0,0.00", "return": "0.00%", "decision p99 ms": "0.00"},
    "positions": {"units": "0,0.0000", "entry_price": "0,0.00", "close": "0,0.00", "value": "0,0.00",
                  "weight": "0.00%"},
    "orders": {"size": "0.0000"},
}
GO = "GO"


def risk_rows(risk: dict[str, Any]) -> pd.DataFrame:
    """The risk state as (item, value) rows of readable text."""
    def text(key: str, value: Any) -> str:
        if key in ("drawdown", "daily_loss"):
            return f"{value:.2%}"
        if key in ("equity_high_water_mark", "day_start_equity"):
            return f"{value:,.2f}"
        if key == "breaker":
            return value or "off"
        if key == "daily_loss_halt":
            return "on" if value else "off"
        if key == "cooldowns":
            return ", ".join(f"{symbol} until bar {bar}" for symbol, bar in value.items()) or "none"
        return str(value)

    return pd.DataFrame([{"item": key.replace("_", " "), "value": text(key, value)} for key, value in risk.items()])


def verdict_text(review, decider: str) -> str:
    """One line on the decider's latest review (or its absence)."""
    if review is None:
        return f"{decider} has never been reviewed: no GO/NO-GO decision stands behind trading it."
    return (f"Latest review of {decider}: {review.decision} (review {review.id}, {review.created_at[:10]}, by "
            f"{review.reviewer}; computed verdict {review.verdict}).")


class PaperPage(pn.viewable.Viewer):
    """Start, watch and control paper-trading sessions (state folders written by ``workbench paper start``)."""

    session = param.Selector(default=None, objects=[], label="Session (under WORKBENCH_HOME/paper)")
    other = param.String(default="", label="Or another state folder")
    session_name = param.String(default="", label="New session's name")
    days_per_second = param.Number(default=0.0, bounds=(0.0, None), label="Replay pace (days per second; 0 = max)")
    confirm = param.Boolean(default=False, label="The latest review is not GO: start it anyway")
    tick = param.Integer(default=0, precedence=-1, doc="Refresh counter.")
    message = param.String(default="", precedence=-1)
    message_kind = param.String(default="info", precedence=-1)
    start_message = param.String(default="", precedence=-1, doc="The outcome of Start, shown beside it.")
    start_kind = param.String(default="info", precedence=-1)

    def __init__(self, context: AppContext, **params) -> None:
        self.context = context
        super().__init__(**params)
        self.form = RunForm(start="2011-01-01", end="2011-06-30")
        self.form.follow(app_services.form_defaults(context.store))
        self.form.param.update(start="2011-01-01", end="2011-06-30")
        self.param.update(session_name=f"session-{len(app_services.paper_sessions()) + 1}")
        sessions = [str(p) for p in app_services.paper_sessions()]
        self.param.session.objects = sessions
        self._poller = None
        self._build()
        if sessions:
            self.session = sessions[0]
        self._refresh()

    def state(self) -> str | None:
        """The state folder shown: the typed one, else the chosen session."""
        return self.other.strip() or self.session

    # -- starting ---------------------------------------------------------------------------------

    def latest_review(self, decider: str):
        """The newest review of any stored run of ``decider``."""
        return app_services.latest_review_of(self.context.store, decider)

    def start_session(self) -> str | None:
        """Start the session the form describes in its own process; returns its state folder.

        A decider whose latest review is not GO (or that was never reviewed) starts only with
        :attr:`confirm` ticked; the refusal says why, beside the button.
        """
        decider = self.form.decider()
        review = self.latest_review(decider)
        if (review is None or review.decision != GO) and not self.confirm:
            self.param.update(start_message=f"Not started: {verdict_text(review, decider)} Tick the box to start "
                                            "it anyway, for testing only.", start_kind="danger")
            return None
        try:
            session = app_services.PaperSessionSpec(
                name=self.session_name.strip(), data=str(self.form.data),
                policy=self.form.policy if self.form.decider_kind == "policy" else None,
                strategy=self.form.strategy if self.form.decider_kind == "strategy" else None,
                symbols=parse_symbols(self.form.symbols), start=self.form.start.strip() or None,
                end=self.form.end.strip() or None, fees=parse_numbers(self.form.fees, "fees")[0],
                slippage=parse_numbers(self.form.slippage, "slippage")[0], days_per_second=self.days_per_second)
            state = app_services.start_paper_session(session)
        except WorkbenchError as error:
            self.param.update(start_message=f"Not started: {error}", start_kind="warning")
            return None
        approved = review is not None and review.decision == GO
        warning = "" if approved else f" Started despite: {verdict_text(review, decider)}"
        self.param.update(start_message=f"Started {state.name} in its own process; it appears below as it trades."
                                        + warning, start_kind="success" if not warning else "warning", confirm=False)
        sessions = [str(p) for p in app_services.paper_sessions()]
        if str(state) not in sessions:
            sessions.append(str(state))
        self.param.session.objects = sessions
        self.param.update(other="", session=str(state))
        return str(state)

    # -- watching ---------------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """What the page shows of the session: summary, positions, orders, risk, events, series, halt."""
        status = app_services.paper_state(self.state())
        state = "running" if status["running"] else ("finished" if status["finished"] else "not running")
        last = status.get("last_bar") or {}
        summary = pd.DataFrame([{
            "decider": status["decider"], "feed": status["feed"], "state": state, "halt": status.get("halt") or "none",
            "last bar": stamp(pd.Timestamp(last["timestamp"])) if last.get("timestamp") else "",
            "equity": status.get("equity"), "cash": status.get("cash"),
            "return": status.get("return"), "decision p99 ms": (status.get("latency_ms") or {}).get("p99")}])
        risk = status.get("risk") or {}
        return {"summary": summary, "positions": pd.DataFrame(status.get("positions") or []),
                "orders": pd.DataFrame(status.get("open_orders") or []),
                "risk": risk_rows(risk),
                "events": pd.DataFrame(status.get("recent_events") or []),
                "equity": pd.Series(status["equity_curve"], dtype=float), "series": status["series"],
                "halt": status.get("halt") or "", "running": status["running"], "finished": status["finished"],
                "decider": status["decider"], "latency": status.get("latency_ms") or {}}

    def control(self, command: str) -> None:
        """Send ``kill``, ``resume`` or ``stop`` to the session."""
        if not self.state():
            self.param.update(message="There is no session to control.", message_kind="warning")
            return
        try:
            answer = app_services.paper_control(self.state(), command)
        except WorkbenchError as error:
            self.param.update(message=str(error), message_kind="danger")
            return
        if answer.get("id") is None:
            reason = app_services.nothing_requested(answer)
            self.param.update(message=f"{reason[0].upper()}{reason[1:]}.", message_kind="info")
            return
        when = "at the next bar" if answer.get("running") else "when the session next runs"
        self.param.update(message=f"{command} requested (request {answer.get('id')}); it takes effect {when}.",
                          message_kind="success")
        self.tick += 1

    def _build(self) -> None:
        """The components :meth:`_refresh` updates in place (a live page must not rebuild its figures)."""
        self._tables = {name: table(pd.DataFrame(), css_classes=[f"paper-{name}"], formatters={
            column: NumberFormatter(format=spec) for column, spec in FORMATS.get(name, {}).items()}) for name in TABLES}
        self._problem = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._halt = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self._verdict = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width",
                                      css_classes=["paper-verdict"])
        self._latency = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.gate_ms = app_services.latency_gate()
        equity, self._equity_source, latency, self._latency_source = plots.session_figures(self.gate_ms)
        self.kill = pn.widgets.Button(label="Kill switch: flatten and halt", button_type="danger", width=260)
        self.kill.on_click(lambda event: self.control("kill"))
        self.resume = pn.widgets.Button(label="Resume", button_type="success", width=120)
        self.resume.on_click(lambda event: self.control("resume"))
        self.stop = pn.widgets.Button(label="Stop session", button_type="warning", width=140)
        self.stop.on_click(lambda event: self.control("stop"))
        self._body = pn.Column(
            self._verdict, self._tables["summary"], self._halt, pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
            pn.pane.Bokeh(latency, sizing_mode="stretch_width"), self._latency,
            heading("Positions"), self._tables["positions"], heading("Open orders"), self._tables["orders"],
            heading("Risk state"), self._tables["risk"], heading("Recent events"), self._tables["events"],
            sizing_mode="stretch_width")

    @param.depends("session", "other", "tick", watch=True)
    def _refresh(self) -> None:
        if not self.state():
            self._show_problem("No paper-trading session found under WORKBENCH_HOME/paper. Start one with the form "
                               "above (or `workbench paper start --state $WORKBENCH_HOME/paper/NAME --feed ...`), "
                               "or type its state folder.", "info")
            return
        try:
            shot = self.snapshot()
        except WorkbenchError as error:
            self._show_problem(f"paper session: {error}", "warning")
            return
        self._problem.visible, self._body.visible = False, True
        for name in TABLES:
            self._tables[name].value = shot[name]
        self._halt.object = f"Trading is halted: {shot['halt']}. New entries are blocked until resumed."
        self._halt.visible = bool(shot["halt"])
        review = self.latest_review(shot["decider"])
        self._verdict.object = html.escape(verdict_text(review, shot["decider"]))
        self._verdict.alert_type = "success" if review is not None and review.decision == GO else "danger"
        self._verdict.visible = True
        self._equity_source.data, self._latency_source.data = plots.session_data(shot["series"])
        p99 = shot["latency"].get("p99")
        if p99 is not None and self.gate_ms is not None:
            outcome = "within" if p99 < self.gate_ms else "OVER"
            self._latency.object = (f"Live decision latency: p50 {shot['latency'].get('p50', 0):.2f} ms, p99 "
                                    f"{p99:.2f} ms over {shot['latency'].get('n', 0)} bars: {outcome} the latency "
                                    f"gate (p99 under {self.gate_ms:g} ms).")
        finished, running = shot["finished"], shot["running"]
        self.kill.disabled = self.resume.disabled = finished
        self.stop.disabled = not running

    def _show_problem(self, text: str, kind: str) -> None:
        self._problem.object, self._problem.alert_type = text, kind
        self._problem.visible, self._body.visible = True, False
        self.kill.disabled = self.resume.disabled = self.stop.disabled = True

    def _tick(self) -> None:
        self.tick += 1

    @param.depends("message", "message_kind")
    def _message(self):
        return alert(self.message, self.message_kind) if self.message else pn.Spacer(height=0)

    @param.depends("start_message", "start_kind")
    def _start_feedback(self):
        return alert(self.start_message, self.start_kind) if self.start_message else pn.Spacer(height=0)

    def _form_verdict(self, *_values):
        decider = self.form.decider()
        review = self.latest_review(decider)
        kind = "success" if review is not None and review.decision == GO else "danger"
        return pn.pane.Alert(html.escape(verdict_text(review, decider)), alert_type=kind, sizing_mode="stretch_width",
                             css_classes=["start-verdict"])

    def __panel__(self):
        start = pn.widgets.Button(label="Start paper session", button_type="primary", width=220)
        start.on_click(lambda event: self.start_session())
        if self._poller is None:
            self._poller = start_polling(self._tick, REFRESH_MS)
        starting = pn.Column(
            self.form.widgets(),
            pn.Row(pn.widgets.TextInput.from_param(self.param.session_name, width=220),
                   pn.widgets.FloatInput.from_param(self.param.days_per_second, width=260)),
            pn.bind(self._form_verdict, self.form.param.decider_kind, self.form.param.policy,
                    self.form.param.strategy),
            pn.widgets.Checkbox.from_param(self.param.confirm),
            start, self._start_feedback,
            note("The session replays the dataset bar by bar through the backtest's kernels in its own process, "
                 f"and is stored as a run of kind paper when it ends ({page_link('runs', None, 'Runs')})."),
            sizing_mode="stretch_width")
        return pn.Column(
            heading("Paper trading", 2),
            pn.Accordion(("Start a session", starting), active=[] if self.session else [0],
                         sizing_mode="stretch_width"),
            pn.Row(pn.widgets.Select.from_param(self.param.session, width=420),
                   pn.widgets.TextInput.from_param(self.param.other, width=420)),
            pn.Row(self.kill, self.resume, self.stop),
            note("The kill switch closes every position at the next open and blocks new entries until you "
                 "resume; requests go through the session's journal, so they reach a loop in another process. "
                 f"The page refreshes every {REFRESH_MS // 1000} s; the controls of a finished session are off."),
            self._message, self._problem, self._body, sizing_mode="stretch_width")
