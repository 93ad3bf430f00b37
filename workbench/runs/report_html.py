"""The pieces the review report's sections are written with: sections, notes, tables, plot slots.

A plot is a marker ``<!--plot:KEY-->`` with its Bokeh figure kept under ``KEY`` in ``plots``;
the report embeds every figure at once (``workbench.review.report``).
"""
from __future__ import annotations

import html
import json
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from workbench.runs.formats import format_number, format_value, metric_kind, metric_title


def section(key: str, heading: str, *parts: str) -> str:
    """A ``<section id=KEY>`` with its heading and parts."""
    return f'<section id="{key}">\n<h2>{html.escape(heading)}</h2>\n' + "\n".join(parts) + "\n</section>"


def note(text: str) -> str:
    """A paragraph in the note style (escaped)."""
    return f'<p class="note">{html.escape(text)}</p>'


def warning(text: str) -> str:
    """A paragraph in the warning style (escaped)."""
    return f'<p class="warning">Warning: {html.escape(text)}</p>'


def subheading(text: str) -> str:
    """An ``<h3>`` (escaped)."""
    return f"<h3>{html.escape(text)}</h3>"


def plot(key: str, plots: dict[str, Any], figure: Any) -> str:
    """Keep ``figure`` under ``key`` and return its marker."""
    plots[key] = figure
    return f"<!--plot:{key}-->"


def cell(value: Any, column: str = "") -> str:
    """A value as table text: a known metric by its kind (``workbench.runs.formats``), dates of daily
    bars as dates, other numbers to four significant digits (tiny ones in scientific notation)."""
    if isinstance(value, str) and value.endswith("T00:00:00+00:00"):
        return value[:10]  # a daily bar's timestamp reads as its date
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_value(column, value) if metric_kind(column) else format_number(value)
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
          row_class: Sequence[str] | None = None) -> str:
    """An HTML table of ``rows`` (dicts); columns default to every key, in first-seen order. A column
    of a known metric is headed by its title and its values formatted by its kind."""
    if not rows:
        return note("(empty)")
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(metric_title(str(c)) if metric_kind(str(c)) else str(c))}</th>"
                   for c in columns)
    lines = []
    for i, row in enumerate(rows):
        css = f' class="{row_class[i]}"' if row_class else ""
        cells = "".join(f"<td>{html.escape(cell(row.get(c), str(c)))}</td>" for c in columns)
        lines.append(f"<tr{css}>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'


def scalars(rows: Iterable[Any]) -> list[dict[str, Any]]:
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


def stored_table(run: Any, name: str) -> pd.DataFrame | None:
    """The run's stored table ``name``, or None when it keeps none."""
    return run.load_table(name) if name in run.tables else None


def as_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Equity columns on a DatetimeIndex (the stored tables keep the timestamps as a column)."""
    frame = frame.set_index("timestamp") if "timestamp" in frame.columns else frame.copy()
    # Plotted as naive UTC: bokeh has no time zone representation (and warns on aware values).
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True)).tz_convert(None)
    return frame.select_dtypes("number")
