"""What every page that starts an experiment shares: the form of who runs on what (:class:`RunForm`)
and the background job that runs the spec, reports its progress and stores the result (:class:`Launcher`).

A stress run, a sweep, a walk-forward and a comparison each add their own options to a
:class:`RunForm`; the :class:`Launcher` validates the spec as the CLI does
(``app_services.check_spec``), runs it with ``app_services.run_and_store`` in the server's job pool
and shows its progress and outcome beside the button that started it.
"""
from __future__ import annotations

import html
from typing import Any, Callable, Mapping, Sequence

import panel as pn
import param

from apps.jobs import DONE, FAILED, Job
from apps.pages.common import AppContext, JobPolling, alert, controls, note, page_link
from workbench.runs.spec import RunSpec
from workbench.services import app as app_services
from workbench.services.app import WorkbenchError


def parse_symbols(text: str) -> tuple[str, ...] | None:
    """``"AAPL, MSFT"`` -> ``("AAPL", "MSFT")``; blank -> None (every symbol)."""
    symbols = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    return symbols or None


def parse_numbers(text: str, what: str) -> tuple[float, ...]:
    """``"0, 0.001"`` -> ``(0.0, 0.001)``.

    Raises:
        WorkbenchError: a value is not a number, or none is given.
    """
    values = []
    for part in str(text or "").split(","):
        if not part.strip():
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise app_services.InvalidParameterError(
                f"{what}: {part.strip()!r} is not a number; write numbers separated by commas, e.g. 0, 0.001") from None
    if not values:
        raise app_services.InvalidParameterError(f"{what}: give at least one number, e.g. 0.001")
    return tuple(values)


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags, blanks dropped."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


class RunForm(param.Parameterized):
    """Who runs, on which data, period and costs: the part every experiment's form shares.

    Its defaults follow a stored run (:meth:`follow`): the page's run, else the most recent one, so a
    form opened from a policy's run is about that policy.
    """

    decider_kind = param.Selector(default="policy", objects=["policy", "strategy"], label="Decider")
    policy = param.Selector(default=None, objects=[])
    strategy = param.Selector(default=None, objects=[])
    data = param.Selector(default=None, objects=[], label="Data")
    symbols = param.String(default="AAPL,MSFT,IBM", doc="Comma-separated; blank = every symbol.")
    start = param.String(default="2008-01-01", doc="First date (YYYY-MM-DD).")
    end = param.String(default="2010-12-31", doc="Last date (YYYY-MM-DD).")
    fees = param.String(default="0.001",
                        doc="Fee as a fraction of the traded value (0.001 = 10 bp); a list for sweeps.")
    slippage = param.String(default="0.0005", doc="Slippage as a fraction of the price; a list for sweeps.")
    seed = param.Integer(default=0, bounds=(0, None))
    tags = param.String(default="", doc="Comma-separated tags of the stored run.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.refresh_choices()
        self.param.update(policy=(self.param.policy.objects or [None])[0], strategy="sma_cross",
                          data="stocks" if "stocks" in self.param.data.objects else self.param.data.objects[0])

    def refresh_choices(self) -> None:
        """Offer the shipped and uploaded policies, the baselines and every dataset."""
        self.param.policy.objects = app_services.policy_choices()
        self.param.strategy.objects = app_services.strategy_choices()
        self.param.data.objects = [d["name"] for d in app_services.dataset_choices()]

    def follow(self, info: Any) -> None:
        """Take decider, data, symbols, period and costs from a stored run (its ``RunInfo``)."""
        if info is None:
            return
        spec = info.spec
        changes: dict[str, Any] = {}
        policy, strategy = spec.get("policy"), spec.get("strategy")
        if policy:
            if policy not in self.param.policy.objects:
                self.param.policy.objects = [*self.param.policy.objects, policy]
            changes.update(decider_kind="policy", policy=policy)
        elif strategy in self.param.strategy.objects:
            changes.update(decider_kind="strategy", strategy=strategy)
        if spec.get("data") in self.param.data.objects:
            changes["data"] = spec["data"]
        if spec.get("symbols"):
            changes["symbols"] = ",".join(spec["symbols"])
        changes.update(start=(spec.get("start") or info.start or "")[:10], end=(spec.get("end") or info.end or "")[:10])
        if spec.get("fees"):
            changes["fees"] = str(spec["fees"][-1])
        if spec.get("slippage"):
            changes["slippage"] = str(spec["slippage"][-1])
        self.param.update(**changes)

    def decider(self) -> str:
        """The chosen policy or strategy name."""
        return str(self.policy if self.decider_kind == "policy" else self.strategy)

    def spec(self, kind: str, options: Mapping[str, Any] | None = None, fees: Sequence[float] | None = None,
             slippage: Sequence[float] | None = None) -> RunSpec:
        """The spec of a run of ``kind`` with ``options`` (validated; raises ``WorkbenchError``)."""
        who = {"policy": self.policy} if self.decider_kind == "policy" else {"strategy": self.strategy}
        return RunSpec(kind=kind, data=str(self.data), symbols=parse_symbols(self.symbols),
                       start=self.start.strip() or None, end=self.end.strip() or None,
                       fees=tuple(fees) if fees is not None else parse_numbers(self.fees, "fees"),
                       slippage=tuple(slippage) if slippage is not None else parse_numbers(self.slippage, "slippage"),
                       seed=self.seed, options=tuple((options or {}).items()), **who)

    def widgets(self, costs: bool = True) -> pn.Column:
        """The form's widgets."""
        decider = pn.bind(lambda kind: pn.widgets.Select.from_param(self.param[kind], width=300),
                          self.param.decider_kind)
        rows = [controls(pn.widgets.RadioButtonGroup.from_param(self.param.decider_kind, width=200), decider,
                       pn.widgets.Select.from_param(self.param.data, width=200),
                       pn.widgets.TextInput.from_param(self.param.symbols, width=200)),
                controls(pn.widgets.TextInput.from_param(self.param.start, width=130),
                       pn.widgets.TextInput.from_param(self.param.end, width=130),
                       *((pn.widgets.TextInput.from_param(self.param.fees, width=170),
                          pn.widgets.TextInput.from_param(self.param.slippage, width=170)) if costs else ()),
                       pn.widgets.IntInput.from_param(self.param.seed, width=100),
                       pn.widgets.TextInput.from_param(self.param.tags, width=160))]
        return pn.Column(*rows, sizing_mode="stretch_width")


class Launcher(pn.viewable.Viewer):
    """A background run of one kind: its button's outcome, progress bar and result link.

    Args:
        context: The pages' run store and job runner.
        kind: The run kind it launches (also the job kind, so a reload finds the job again).
        label: The button's label.
        on_done: Called with the stored run's id once a job finishes (on the server's loop).
    """

    status = param.String(default="", precedence=-1)
    progress = param.Number(default=0.0, bounds=(0.0, 1.0), precedence=-1)
    message = param.String(default="", precedence=-1)
    error = param.String(default="", precedence=-1, doc="Why the last launch was refused.")

    def __init__(self, context: AppContext, kind: str, label: str,
                 on_done: Callable[[str], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.kind = kind
        self.on_done = on_done
        self.job: Job | None = context.jobs.latest(kind)
        self._polling = JobPolling(self._poll)
        self.button = pn.widgets.Button(label=label, button_type="primary", width=220)
        self._poll()

    def launch(self, spec_of: Callable[[], RunSpec], tags: Sequence[str] = ()) -> Job | None:
        """Validate ``spec_of()`` and queue its run; None (and :attr:`error` set) when it is refused."""
        self.error = ""
        try:
            spec = spec_of()
            app_services.check_spec(spec)
        except WorkbenchError as error:
            self.error = str(error)
            return None
        store, tags = self.context.store, list(tags)
        title = f"{spec.kind} of {spec.decider} on {spec.data} {spec.start or ''}..{spec.end or ''}"
        self.job = self.context.jobs.submit(self.kind, title,
                                            lambda report: app_services.run_and_store(store, spec, report, tags))
        self.status = ""
        self._polling.watch()
        return self.job

    def _poll(self) -> None:
        """Copy the job's state into the parameters (on the server's loop)."""
        job = self.job
        if job is None:
            return
        finished_now = job.finished and self.status not in (DONE, FAILED)
        self.param.update(status=job.status, progress=job.progress, message=job.message)
        if finished_now and job.status == DONE and self.on_done is not None:
            self.on_done(job.result.run_id)
        if job.finished:
            self._polling.finished()

    @param.depends("status", "progress", "message", "error")
    def _view(self):
        if self.error:
            return alert(f"Not launched: {self.error}", "warning")
        job = self.job
        if job is None:
            return note(f"No {self.kind} run launched from this server yet.")
        parts = [pn.pane.Markdown(f"**{html.escape(job.title)}** (job {job.id}, {job.started} UTC): {job.status}")]
        if job.status == FAILED:
            parts.append(alert(job.message))
        else:
            parts.append(pn.indicators.Progress(value=int(round(job.progress * 100)), max=100, bar_color="info",
                                                sizing_mode="stretch_width", css_classes=["job-progress"]))
            parts.append(note(html.escape(job.message)))
        if job.status == DONE:
            parts.append(pn.pane.Markdown(f"Stored as run `{job.result.run_id}`: "
                                          f"{page_link('run', job.result.run_id, 'open its detail page')}."))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.button, self._view, sizing_mode="stretch_width")
