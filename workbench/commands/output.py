"""Plain-text tables and JSON for command output (the only module that formats for the terminal)."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

# A table cell: a metric by its kind, as the app shows it (43.0%, -15.6% for a drawdown, 143,012, 0.83, 10 bp;
# n/a for a missing one; a string as it is).
from workbench.runs.formats import format_value as cell  # noqa: F401


def print_json(payload: object) -> None:
    """Print ``payload`` as one JSON document."""
    print(json.dumps(payload, indent=2, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print rows as left-aligned columns under ``headers``."""
    text_rows = [[str(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(text)) for w, text in zip(widths, row)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in text_rows:
        print("  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip())


def abbreviate(names: Sequence[str], limit: int = 5) -> str:
    """``A,B,C`` for short lists, ``A,B,C,D,E,... (143)`` for long ones."""
    shown = ",".join(names[:limit])
    return shown if len(names) <= limit else f"{shown},... ({len(names)})"


def placement_line(placement: Mapping[str, Any] | None) -> str | None:
    """One line saying where a run's network decided and, off CPU fp32, how its decisions agree with
    CPU fp32's; None for a run without a network."""
    if not placement:
        return None
    where = f"decided on {placement['device']} in {placement['precision']}"
    parity = placement.get("parity")
    if not parity:
        return where
    verdict = "" if parity["passed"] else f" (below the required {parity['min_action_agreement']:.1%})"
    return (f"{where}: {parity['action_agreement']:.2%} of {parity['rows']:,} sampled decisions agree with "
            f"{parity['reference']}{verdict}, max {parity['output']} difference {parity['max_abs_diff']:.3g}")
