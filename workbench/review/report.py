"""The GO/NO-GO report: one self-contained HTML file that opens offline.

Sections (each an element with a fixed id): ``decision`` (verdict, rule, reviewer, notes), ``summary``
(the summary block of each candidate run: its figures beside the benchmark and the best baseline, with
its warnings), ``gates`` (the gate table, PASS/FAIL coloured), ``equity`` (candidate vs baselines and
the benchmark), ``underwater``,
``stress`` (distribution histograms), ``sensitivity`` (sweep heatmaps), ``comparison`` (reality check,
model confidence set, deflated Sharpe ratio, PBO), ``walkforward`` (folds),
``regimes`` (per-regime tables), ``canary`` and ``fingerprints`` (data fingerprint, model sha, code
version and spec of every run). A section without evidence says which run kind would fill it.
BokehJS is inlined and nothing else is loaded (no ``<script src>``, no CDN, no MathJax: the plots use
no math text), so the file opens offline with zero network requests.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from bokeh.embed import components
from bokeh.resources import Resources

from engine.atomic_files import write_text_atomically
from workbench.review.assess import Assessment
from workbench.review.evidence import StoredRunLike
from workbench.review.gates import FAIL, MISSING, NOT_APPLICABLE, PASS
from workbench.runs import report_plots
from workbench.runs.baselines import BASELINES
from workbench.runs.formats import format_gate_value
from workbench.runs.registry import RUN_KINDS, run_kind
from workbench.runs.report_html import note as _note
from workbench.runs.report_html import plot as _plot
from workbench.runs.report_html import scalars as _scalars
from workbench.runs.report_html import section as _section
from workbench.runs.report_html import subheading as _subheading
from workbench.runs.report_html import table as _table
from workbench.runs.views import baselines as run_baselines
from workbench.runs.views import run_summary_block

# Only the core BokehJS bundle: the report's plots use no widgets, tables or math rendering.
_RESOURCES = Resources(mode="inline", components=["bokeh"])


def _inline_bokeh_js() -> str:
    """The BokehJS core as inline ``<script>`` tags, nothing else, and nothing it could fetch.

    ``Resources.render_js()`` also emits ``js_files``, and a process that imported Panel (the app
    server, where the review page renders this report) has registered Panel's extension files there
    as relative ``src`` URLs that would not resolve in a downloaded file. The core bundle also names
    the URLs of the loaders it would run for features the report does not use (MathJax for TeX
    labels, the Tabler icon font, Google Maps): :func:`offline` blanks them, so the file holds no CDN
    reference at all.
    """
    return "\n".join(f"<script type=\"text/javascript\">\n{offline(code)}\n</script>" for code in _RESOURCES.js_raw)


_FETCHED = re.compile(r"https://(?:cdn\.jsdelivr\.net|maps\.googleapis\.com)[^\"'`\s]*")


def offline(code: str) -> str:
    """``code`` with every URL BokehJS would load a script, stylesheet or font from replaced by
    ``about:blank`` (which loads nothing)."""
    return _FETCHED.sub("about:blank", code)


_STATUS_CLASS = {PASS: "pass", FAIL: "fail", MISSING: "missing", NOT_APPLICABLE: "na"}
_REGIME_COLUMNS = ("column", "label", "bars", "share", "sharpe", "total_return", "max_drawdown", "exposure")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1.5em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em;max-width:100%}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:break-word}
td{max-width:38em} th{background:#f4f4f4}
.pass{background:#c8efc8} .fail{background:#f6c4c4} .missing{background:#fbe7b5} .na{background:#e6e6e6}
.decision{font-size:1.6em;font-weight:bold;padding:.3em .6em;display:inline-block}
.GO{background:#c8efc8} .CONDITIONAL{background:#fbe7b5} .NO-GO{background:#f6c4c4}
.note{color:#666;font-style:italic} .scroll{max-width:100%} .warning{color:#8a4b00;font-weight:bold}
.alert{background:#fff3cd;border:1px solid #ffe69c;padding:.5em .8em;margin:.4em 0;font-weight:bold}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:.85em}
"""


@dataclass(frozen=True)
class ReviewRecord:
    """The human part of a review, shown in the report's header."""

    reviewer: str
    decision: str
    notes: str
    created: str


def render_report(assessment: Assessment, record: ReviewRecord) -> str:
    """The report as one HTML document (see the module docstring for its sections)."""
    plots: dict[str, Any] = {}
    limits = {r.gate.metric: r.gate.threshold for r in assessment.results}
    kind_sections = [kind.report_section([r for r in assessment.runs if r.info.kind == name], plots, limits)
                     for name, kind in RUN_KINDS.items()]
    sections = [
        _decision_section(assessment, record),
        _summary_section(assessment.runs),
        _gates_section(assessment),
        *_curve_sections(assessment.runs, plots),
        *[text for text in kind_sections if text],
        _regimes_section(assessment.runs),
        _canary_section(assessment),
        _fingerprints_section(assessment.runs),
    ]
    body = "\n".join(sections)
    script, divs = components(plots) if plots else ("", {})
    for key, div in divs.items():
        body = body.replace(f"<!--plot:{key}-->", div)
    title = f"GO/NO-GO review: {html.escape(assessment.evidence.decider)}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n"
            f"<style>{_STYLE}</style>\n{_inline_bokeh_js() if plots else ''}\n{script}\n</head>\n"
            f"<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n")


def write_report(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` with ``engine.atomic_files``' one rule; its folder must exist."""
    return write_text_atomically(Path(path), text)


def _decision_section(assessment: Assessment, record: ReviewRecord) -> str:
    computed = assessment.verdict
    css = record.decision.split()[0]
    parts = [f'<p><span class="decision {css}">{html.escape(record.decision)}</span></p>',
             _table([{"computed verdict": computed.decision, "rule": computed.rule, "reviewer": record.reviewer,
                      "decided": record.created, "runs": ", ".join(assessment.evidence.run_ids),
                      "decider": assessment.evidence.decider}])]
    if record.decision != computed.decision:
        parts.append(_note(f"The reviewer's decision overrides the computed verdict ({computed.decision})."))
    parts.append(f"<p><b>Notes:</b> {html.escape(record.notes) or '-'}</p>")
    return _section("decision", "Decision", *parts)


def _summary_section(runs: Sequence[StoredRunLike]) -> str:
    """The summary block of every candidate run on the real market (its main scenario and, for a cost
    grid, the costliest one), warnings first."""
    parts = []
    for run in runs:
        if run_kind(run.info.kind).report_curves(run) is None:
            continue
        for scenario in _summary_scenarios(run):
            block = run_summary_block(run, scenario)
            parts.append(_subheading(f"{run.info.kind} {run.info.run_id} of {run.info.decider}: {block.scenario}"))
            parts += [f'<p class="alert">Warning: {html.escape(text)}</p>' for text in block.warnings]
            parts.append(_table(block.text_rows()))
            parts += [_note(text) for text in block.notes]
    if not parts:
        parts = [_note("No reviewed run has the candidate on the real market (a backtest or a comparison).")]
    return _section("summary", "Summary", *parts)


def _summary_scenarios(run: StoredRunLike) -> list[str | None]:
    """The main scenario and, when the run has several cost points, the costliest one."""
    rows = run_kind(run.info.kind).rows(run.summary)
    costed = [r for r in rows if "fees" in r and "slippage" in r and "label" in r]
    if len(costed) < 2:
        return [None]
    costliest = max(costed, key=lambda r: (float(r["fees"]) + float(r["slippage"]), r.get("scenario", 0)))
    main = run_kind(run.info.kind).main_row(run.summary).get("label")
    return [main, costliest["label"]] if costliest["label"] != main else [main]


def _gates_section(assessment: Assessment) -> str:
    rows = [{"gate": r.gate.name, "critical": "yes" if r.gate.critical else "no",
             "criterion": f"{r.gate.metric} {r.gate.op} {format_gate_value(r.gate.metric, r.gate.threshold)}",
             "value": format_gate_value(r.gate.metric, r.value),
             "status": r.status, "evidence": ", ".join(r.run_ids) or f"(from {r.gate.evidence})",
             "explanation": r.explanation} for r in assessment.results]
    return _section("gates", "Gates", _table(rows, row_class=[_STATUS_CLASS[r.status] for r in assessment.results]),
                    _note("Each gate tests the worst observation of its metric across the reviewed runs."))


def _curve_sections(runs: Sequence[StoredRunLike], plots: dict[str, Any]) -> list[str]:
    """Equity vs baselines and the underwater curves of the candidate(s), from every run whose kind
    draws curves (``RunKind.report_curves``)."""
    drawn = [(run, curves) for run in runs if (curves := run_kind(run.info.kind).report_curves(run)) is not None]
    if not drawn:
        missing = _note("No reviewed run has equity curves of the candidate on the real market "
                        "(a backtest or a comparison).")
        return [_section("equity", "Equity vs baselines", missing), _section("underwater", "Underwater", missing)]
    frames, candidates = [], []
    for run, (frame, own) in drawn:
        # Several runs' curves share one plot: their names get the run id in front.
        prefix = f"{run.info.run_id[:8]} " if len(drawn) > 1 else ""
        names = {c: f"{prefix}{c}" for c in frame.columns}
        candidates += [names[c] for c in own]
        frames.append(frame.rename(columns=names))
    joined = pd.concat(frames, axis=1).sort_index()
    dashed = []
    for run, _ in drawn:
        if not run_kind(run.info.kind).view().baselines:
            continue
        found, _reason = run_baselines(run)
        if found is not None:
            point = found.point(run_kind(run.info.kind).main_row(run.summary))
            base = found.curves[point].copy()
            base.index = pd.DatetimeIndex(base.index).tz_convert(None)
            base.columns = [f"{name} ({found.labels[point]})" if name in BASELINES else name for name in base.columns]
            new = [c for c in base.columns if c not in joined.columns]
            joined = pd.concat([joined, base[new]], axis=1).sort_index()
            dashed += new
    equity = _plot("equity", plots, report_plots.equity_figure(joined, "Equity (candidate, baselines dashed)", dashed))
    if dashed:
        equity += _note("Dashed: the baselines with default parameters under the run's first costs, and the "
                        "benchmark (equal-weight buy and hold without costs).")
    elif all(len(frame.columns) == len(own) for _, (frame, own) in drawn):
        equity += _note("No baselines could run beside the candidate; see the runs' notes.")
    own = joined[[c for c in joined.columns if c in candidates]]
    underwater = (_plot("underwater", plots, report_plots.underwater_figure(own, "Drawdown of the candidate"))
                  if len(own.columns) else _note("No candidate curve."))
    return [_section("equity", "Equity vs baselines", equity), _section("underwater", "Underwater", underwater)]


def _regimes_section(runs: Sequence[StoredRunLike]) -> str:
    parts = []
    for run in runs:
        regimes = run.summary.get("regimes")
        if regimes:
            parts.append(f"<h3>{html.escape(run.info.kind)} {html.escape(run.info.run_id)}</h3>")
            rows = _scalars(regimes)
            keys = list(dict.fromkeys(k for row in rows for k in row))
            # The store keeps JSON with sorted keys: put the regime's name and size first again.
            parts.append(_table(rows, columns=[k for k in _REGIME_COLUMNS if k in keys]
                                + [k for k in keys if k not in _REGIME_COLUMNS]))
    return _section("regimes", "Per-regime results",
                    *(parts or [_note("None of the reviewed runs reports per-regime results.")]))


def _canary_section(assessment: Assessment) -> str:
    canary = assessment.evidence.canary
    if canary is None:
        return _section("canary", "Look-ahead canary", _note("The canary was not run for this review."))
    css = "pass" if canary.passed else "fail"
    return _section("canary", "Look-ahead canary", _table([canary.to_dict()], row_class=[css]))


def _fingerprints_section(runs: Sequence[StoredRunLike]) -> str:
    fields = ("run_id", "kind", "dataset", "decider", "model_sha", "data_fingerprint", "code_version")
    rows = [{f: getattr(run.info, f, None) for f in fields} for run in runs]
    specs = [f"<details><summary>spec of {html.escape(run.info.run_id)}</summary><pre>"
             f"{html.escape(json.dumps(run.spec, indent=2, sort_keys=True, default=str))}</pre></details>"
             for run in runs]
    return _section("fingerprints", "Fingerprints", _table(rows, columns=fields), *specs)
