"""Paper trading: a session's live equity, positions, open orders and risk state, refreshed every few
seconds, with the kill switch (flatten and halt), resume and stop."""
from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from apps import plots
from apps.pages.common import AppContext, alert, heading, note, start_polling, table
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


class PaperPage(pn.viewable.Viewer):
    """Watch and control one paper-trading session (a state folder written by ``workbench paper start``)."""

    session = param.Selector(default=None, objects=[], label="Session (under WORKBENCH_HOME/paper)")
    other = param.String(default="", label="Or another state folder")
    tick = param.Integer(default=0, precedence=-1, doc="Refresh counter.")
    message = param.String(default="", precedence=-1)
    message_kind = param.String(default="info", precedence=-1)

    def __init__(self, context: AppContext, **params) -> None:
        self.context = context
        super().__init__(**params)
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

    def snapshot(self) -> dict:
        """What the page shows of the session: summary, positions, orders, risk, events, equity, halt."""
        status = app_services.paper_state(self.state())
        state = "running" if status["running"] else ("finished" if status["finished"] else "not running")
        last = status.get("last_bar") or {}
        summary = pd.DataFrame([{
            "decider": status["decider"], "feed": status["feed"], "state": state, "halt": status.get("halt") or "none",
            "last bar": (last.get("timestamp") or "")[:19], "equity": status.get("equity"), "cash": status.get("cash"),
            "return": status.get("return"), "decision p99 ms": (status.get("latency_ms") or {}).get("p99")}])
        risk = status.get("risk") or {}
        return {"summary": summary, "positions": pd.DataFrame(status.get("positions") or []),
                "orders": pd.DataFrame(status.get("open_orders") or []),
                "risk": risk_rows(risk),
                "events": pd.DataFrame(status.get("recent_events") or []),
                "equity": pd.Series(status["equity_curve"], dtype=float), "halt": status.get("halt") or ""}

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
        figure, self._source = plots.bar_equity_figure("Paper equity by bar")
        self._body = pn.Column(
            self._tables["summary"], self._halt, pn.pane.Bokeh(figure, sizing_mode="stretch_width"),
            heading("Positions"), self._tables["positions"], heading("Open orders"), self._tables["orders"],
            heading("Risk state"), self._tables["risk"], heading("Recent events"), self._tables["events"],
            sizing_mode="stretch_width")

    @param.depends("session", "other", "tick", watch=True)
    def _refresh(self) -> None:
        if not self.state():
            self._show_problem("No paper-trading session found under WORKBENCH_HOME/paper. Start one with "
                               "`workbench paper start --state $WORKBENCH_HOME/paper/NAME --feed ...` (`workbench "
                               "demo` starts one), or type its state folder above.", "info")
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
        self._source.data = plots.bar_equity_data(shot["equity"])

    def _show_problem(self, text: str, kind: str) -> None:
        self._problem.object, self._problem.alert_type = text, kind
        self._problem.visible, self._body.visible = True, False

    def _tick(self) -> None:
        self.tick += 1

    @param.depends("message", "message_kind")
    def _message(self):
        return alert(self.message, self.message_kind) if self.message else pn.Spacer(height=0)

    def __panel__(self):
        kill = pn.widgets.Button(label="Kill switch: flatten and halt", color="danger", width=260)
        kill.on_click(lambda event: self.control("kill"))
        resume = pn.widgets.Button(label="Resume", color="success", width=120)
        resume.on_click(lambda event: self.control("resume"))
        stop = pn.widgets.Button(label="Stop session", color="warning", width=140)
        stop.on_click(lambda event: self.control("stop"))
        if self._poller is None:
            self._poller = start_polling(self._tick, REFRESH_MS)
        return pn.Column(
            heading("Paper trading", 2),
            pn.Row(pn.widgets.Select.from_param(self.param.session, width=420),
                   pn.widgets.TextInput.from_param(self.param.other, width=420)),
            pn.Row(kill, resume, stop),
            note("The kill switch closes every position at the next open and blocks new entries until you "
                 "resume; requests go through the session's journal, so they reach a loop in another process. "
                 f"The page refreshes every {REFRESH_MS // 1000} s."),
            self._message, self._problem, self._body, sizing_mode="stretch_width")
