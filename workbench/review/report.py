"""The GO/NO-GO report: one self-contained HTML file that opens offline.

Sections (each an element with a fixed id): ``decision`` (verdict, rule, reviewer, notes), ``gates``
(the gate table, PASS/FAIL coloured), ``equity`` (candidate vs baselines), ``underwater``,
``stress`` (distribution histograms), ``sensitivity`` (sweep heatmaps), ``walkforward`` (folds),
``regimes`` (per-regime tables), ``canary`` and ``fingerprints`` (data fingerprint, model sha, code
version and spec of every run). A section without evidence says which run kind would fill it.
BokehJS is inlined (no ``<script src>``, no CDN), so the file works without a network.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from bokeh.embed import components
from bokeh.resources import Resources

from engine.atomic_files import write_text_atomically
from workbench.review import report_plots
from workbench.review.assess import Assessment
from workbench.review.evidence import StoredRunLike
from workbench.review.gates import FAIL, MISSING, NOT_APPLICABLE, PASS

# Only the core BokehJS bundle: the report's plots use no widgets, tables or math rendering.
_RESOURCES = Resources(mode="inline", components=["bokeh"])


def _inline_bokeh_js() -> str:
    """The BokehJS core as inline ``<script>`` tags, nothing else.

    ``Resources.render_js()`` also emits ``js_files``, and a process that imported Panel (the app
    server, where the review page renders this report) has registered Panel's extension files there
    as relative ``src`` URLs that would not resolve in a downloaded file.
    """
    return "\n".join(f"<script type=\"text/javascript\">\n{code}\n</script>" for code in _RESOURCES.js_raw)


_STATUS_CLASS = {PASS: "pass", FAIL: "fail", MISSING: "missing", NOT_APPLICABLE: "na"}
_SURFACES = ("sharpe", "total_return", "max_drawdown")
_REGIME_COLUMNS = ("column", "label", "bars", "share", "sharpe", "total_return", "max_drawdown", "exposure")
_OOS_COLUMNS = ("start", "end", "bars", "sharpe", "total_return", "max_drawdown", "excess_return")
_STABILITY_COLUMNS = ("n_folds", "sharpe_mean", "sharpe_std", "positive_fraction")
_FOLD_COLUMNS = ("fold", "train_start", "train_end", "test_start", "test_end", "params", "train_sharpe",
                 "sharpe", "total_return", "max_drawdown", "excess_return", "n_trades")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} th,td{border:1px solid #ddd;padding:.25em .5em;
text-align:left;vertical-align:top} th{background:#f4f4f4}
.pass{background:#c8efc8} .fail{background:#f6c4c4} .missing{background:#fbe7b5} .na{background:#e6e6e6}
.decision{font-size:1.6em;font-weight:bold;padding:.3em .6em;display:inline-block}
.GO{background:#c8efc8} .CONDITIONAL{background:#fbe7b5} .NO-GO{background:#f6c4c4}
.note{color:#666;font-style:italic} .scroll{overflow-x:auto}
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
    sections = [
        _decision_section(assessment, record),
        _gates_section(assessment),
        *_curve_sections(assessment.runs, plots),
        _stress_section(assessment, plots),
        _sensitivity_section(assessment.runs, plots),
        _walkforward_section(assessment.runs, plots),
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
    """Write ``text`` to ``path`` (its folder created) with ``engine.atomic_files``' one rule."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomically(path, text)


def _section(key: str, heading: str, *parts: str) -> str:
    return f'<section id="{key}">\n<h2>{html.escape(heading)}</h2>\n' + "\n".join(parts) + "\n</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _plot(key: str, plots: dict[str, Any], figure: Any) -> str:
    plots[key] = figure
    return f"<!--plot:{key}-->"


def _fmt(value: Any) -> str:
    if isinstance(value, str) and value.endswith("T00:00:00+00:00"):
        return value[:10]  # a daily bar's timestamp reads as its date
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return "-" if value is None else str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
           row_class: Sequence[str] | None = None) -> str:
    """An HTML table of ``rows`` (dicts); columns default to every key, in first-seen order."""
    if not rows:
        return _note("(empty)")
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    lines = []
    for i, row in enumerate(rows):
        css = f' class="{row_class[i]}"' if row_class else ""
        cells = "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns)
        lines.append(f"<tr{css}>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'


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


def _gates_section(assessment: Assessment) -> str:
    rows = [{"gate": r.gate.name, "critical": "yes" if r.gate.critical else "no",
             "criterion": f"{r.gate.metric} {r.gate.op} {r.gate.threshold:g}", "value": r.value,
             "status": r.status, "evidence": ", ".join(r.run_ids) or f"(from {r.gate.evidence})",
             "explanation": r.explanation} for r in assessment.results]
    return _section("gates", "Gates", _table(rows, row_class=[_STATUS_CLASS[r.status] for r in assessment.results]),
                    _note("Each gate tests the worst observation of its metric across the reviewed runs."))


def _load_table(run: StoredRunLike, name: str) -> pd.DataFrame | None:
    return run.load_table(name) if name in run.tables else None


def _as_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Equity columns on a DatetimeIndex (the stored tables keep the timestamps as a column)."""
    frame = table.set_index("timestamp") if "timestamp" in table.columns else table.copy()
    # Plotted as naive UTC: bokeh has no time zone representation (and warns on aware values).
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True)).tz_convert(None)
    return frame.select_dtypes("number")


def _curve_sections(runs: Sequence[StoredRunLike], plots: dict[str, Any]) -> list[str]:
    """Equity vs baselines and the underwater curves of the candidate(s)."""
    curves, candidates = [], []
    for run in runs:
        if run.info.kind not in ("compare", "backtest"):
            continue
        table = _load_table(run, "equity")
        if table is None:
            continue
        frame = _as_curves(table)
        # Several runs' curves share one plot: their names get the run id in front.
        prefix = f"{run.info.run_id[:8]} " if sum(r.info.kind in ("compare", "backtest") for r in runs) > 1 else ""
        names = {c: f"{prefix}{c}" for c in frame.columns}
        # A compare run's candidate is one column among variants and baselines; a backtest's
        # columns are all the candidate's (one per cost scenario).
        candidate = str((run.summary.get("candidate") or {}).get("name", ""))
        own = [c for c in frame.columns if str(c) == candidate] if run.info.kind == "compare" else list(frame.columns)
        candidates += [names[c] for c in own]
        curves.append(frame.rename(columns=names))
    if not curves:
        missing = _note("No compare or backtest run with an equity table among the reviewed runs.")
        return [_section("equity", "Equity vs baselines", missing), _section("underwater", "Underwater", missing)]
    joined = pd.concat(curves, axis=1).sort_index()
    equity = _plot("equity", plots, report_plots.equity_figure(joined, "Equity (candidate and baselines)"))
    if not any(r.info.kind == "compare" for r in runs):
        equity += _note("Baseline curves come from a compare run; none is among the reviewed runs.")
    own = joined[[c for c in joined.columns if c in candidates]]
    underwater = (_plot("underwater", plots, report_plots.underwater_figure(own, "Drawdown of the candidate"))
                  if len(own.columns) else _note("No candidate curve."))
    return [_section("equity", "Equity vs baselines", equity), _section("underwater", "Underwater", underwater)]


def _stress_section(assessment: Assessment, plots: dict[str, Any]) -> str:
    stress = [r for r in assessment.runs if r.info.kind == "stress"]
    if not stress:
        return _section("stress", "Stress distributions", _note("No stress run among the reviewed runs."))
    gate = next((r.gate for r in assessment.results if r.gate.metric == "stress_max_drawdown"), None)
    parts = []
    for metric, label in (("max_drawdown", "max drawdown"), ("total_return", "total return")):
        values = {r.info.run_id: [s.get(metric) for s in r.summary.get("scenarios") or []] for r in stress}
        if any(v is not None for vs in values.values() for v in vs):
            threshold = gate.threshold if gate is not None and metric == "max_drawdown" else None
            parts.append(_plot(f"stress_{metric}", plots, report_plots.histogram_figure(
                values, f"Stress scenarios: {label}", label, threshold)))
    for run in stress:
        distribution = run.summary.get("distribution") or {}
        rows = [{"metric": k, **v} for k, v in distribution.items() if k != "by_family" and isinstance(v, Mapping)]
        for family, block in (distribution.get("by_family") or {}).items():
            rows += [{"metric": f"{k} ({family})", **v} for k, v in block.items() if isinstance(v, Mapping)]
        parts.append(f"<h3>{html.escape(run.info.run_id)}: quantiles over scenarios</h3>" + _table(rows))
        worst = run.summary.get("worst")
        if worst:
            parts.append("<h3>Worst scenarios</h3>" + _table(worst if isinstance(worst, list) else [worst]))
    return _section("stress", "Stress distributions", *parts)


def _axes(summary: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """Sweep axes as ``(name, values)``: from a list of ``{name, values}`` or a name -> values mapping."""
    axes = summary.get("axes") or []
    if isinstance(axes, Mapping):
        return [(str(k), list(v)) for k, v in axes.items()]
    return [(str(a.get("name")), list(a.get("values") or [])) for a in axes if isinstance(a, Mapping)]


def _sensitivity_section(runs: Sequence[StoredRunLike], plots: dict[str, Any]) -> str:
    sweeps = [r for r in runs if r.info.kind == "sweep"]
    if not sweeps:
        return _section("sensitivity", "Sensitivity", _note("No sweep run among the reviewed runs."))
    parts = []
    for run in sweeps:
        axes = _axes(run.summary)
        for metric in _SURFACES:
            surface = (run.summary.get("surfaces") or {}).get(metric)
            if surface is None:
                continue
            key = f"sweep_{run.info.run_id}_{metric}"
            parts.append(_surface_plot(key, plots, np.asarray(surface, dtype=float), axes,
                                       f"{run.info.run_id}: {metric}"))
        break_even = run.summary.get("break_even") or {}
        points = break_even.get("points") if isinstance(break_even, Mapping) else None
        if points:
            parts.append(f"<h3>Break-even {html.escape(str(break_even.get('axis')))} (excess return crosses 0)</h3>"
                         + _table(_scalars(points)))
        elif isinstance(break_even, Mapping) and break_even.get("reason"):
            parts.append(_note(f"Break-even cost: {break_even['reason']}"))
    return _section("sensitivity", "Sensitivity", *parts)


def _surface_plot(key: str, plots: dict[str, Any], surface: np.ndarray, axes: list[tuple[str, list[Any]]],
                  title: str) -> str:
    """A heatmap over the first two axes with more than one value (a line when only one has),
    the other axes held at their first value."""
    if surface.ndim != len(axes):
        return _note(f"{title}: {surface.ndim}-axis surface for {len(axes)} axes, not plotted")
    varying = [i for i in range(surface.ndim) if surface.shape[i] > 1][:2]
    fixed = [f"{axes[i][0]}={axes[i][1][0]}" for i in range(surface.ndim) if i not in varying and surface.shape[i] > 1]
    title += f" (at {', '.join(fixed)})" if fixed else ""
    sub = surface[tuple(slice(None) if i in varying else 0 for i in range(surface.ndim))]
    if len(varying) == 2:
        (y_name, ys), (x_name, xs) = axes[varying[0]], axes[varying[1]]
        return _plot(key, plots, report_plots.heatmap_figure(sub, xs, ys, x_name, y_name, title))
    if len(varying) == 1:
        name, values = axes[varying[0]]
        return _plot(key, plots, report_plots.line_figure(values, sub, name, title))
    return _note(f"{title}: a single grid point ({float(sub):.4g})")


def _walkforward_section(runs: Sequence[StoredRunLike], plots: dict[str, Any]) -> str:
    walks = [r for r in runs if r.info.kind == "walkforward"]
    if not walks:
        return _section("walkforward", "Walk-forward", _note("No walk-forward run among the reviewed runs."))
    parts = []
    for run in walks:
        parts.append(f"<h3>{html.escape(run.info.run_id)}</h3>")
        table = _load_table(run, "equity")
        if table is not None and "equity" in table.columns:
            curve = _as_curves(table)[["equity"]].rename(columns={"equity": "out-of-sample"})
            parts.append(_plot(f"walkforward_{run.info.run_id}", plots, report_plots.equity_figure(
                curve, "Stitched out-of-sample equity")))
        oos, stability = run.summary.get("oos") or {}, run.summary.get("stability") or {}
        parts.append(_table([{**{f"oos {k}": oos.get(k) for k in _OOS_COLUMNS},
                              **{k: stability.get(k) for k in _STABILITY_COLUMNS}}]))
        folds = _scalars(run.summary.get("folds") or [])
        keys = list(dict.fromkeys(k for row in folds for k in row))
        # A fold's chosen parameters arrive flattened (params.fast, params.slow, ...).
        columns = [k for c in _FOLD_COLUMNS for k in keys if k == c or (c == "params" and k.startswith("params."))]
        parts.append(_table(folds, columns=columns))
    return _section("walkforward", "Walk-forward", *parts)


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


def _scalars(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows as dicts of their scalar fields, nested metric mappings flattened one level."""
    out = []
    for row in rows:
        if not isinstance(row, Mapping):
            out.append({"value": row})
            continue
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, Mapping):
                flat.update({f"{key}.{k}": v for k, v in value.items() if not isinstance(v, (Mapping, list))})
            elif not isinstance(value, list):
                flat[key] = value
        out.append(flat)
    return out


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
