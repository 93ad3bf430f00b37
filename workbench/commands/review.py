"""``workbench review``: GO/NO-GO gates over stored runs, a self-contained HTML report, the decision stored."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.atomic_files import check_output_file, output_errors
from engine.errors import InvalidParameterError
from workbench.commands.output import print_json, print_table
from workbench.review.assess import CANARY_BARS
from workbench.review.decide import review_runs
from workbench.review.gates import DECISIONS, DEFAULT_GATES_FILE, load_gates
from workbench.store import RunStore

MAX_CANARY_BARS = 100_000
"""The canary replays its window bar by bar; longer windows add nothing but minutes."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "review",
        description=(
            "Test the GO/NO-GO gates on stored runs of one decider (backtest, compare, stress, sweep, "
            "walkforward), run the look-ahead canary, write a self-contained HTML report and store the "
            "decision with the runs. The verdict is NO-GO when a critical gate fails or lacks evidence, "
            "CONDITIONAL GO when only non-critical gates do, GO when every applicable gate passes."
        ),
        epilog=f"Default gates and their format: {DEFAULT_GATES_FILE} (see docs/review.md).",
    )
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids or unambiguous prefixes")
    parser.add_argument("--gates", type=Path, metavar="FILE", help="YAML file changing the default gates")
    parser.add_argument("--out", type=Path, required=True, metavar="REPORT.html", help="where the report goes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--reviewer", help="who decides (default $USER)")
    parser.add_argument("--decision", choices=DECISIONS,
                        help="the reviewer's decision (default: the computed verdict; overriding it needs --notes)")
    parser.add_argument("--notes", default="", help="notes stored with the review")
    parser.add_argument("--no-canary", action="store_true",
                        help="skip the look-ahead canary (its gate, critical by default, is then MISSING)")
    parser.add_argument("--canary-bars", type=int, default=CANARY_BARS, metavar="N",
                        help=f"bars of the canary's window, the last N of the first run's data (default {CANARY_BARS})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not 3 <= args.canary_bars <= MAX_CANARY_BARS:
        raise InvalidParameterError(
            f"--canary-bars {args.canary_bars} must be at least 3 (and at most {MAX_CANARY_BARS:_})")
    if args.reviewer is not None and not args.reviewer.strip():
        raise InvalidParameterError("--reviewer '' is empty; give a name, or leave it out for $USER")
    check_output_file(args.out, "--out")  # its folder must exist: a typo must not create folders
    gates = load_gates(args.gates)  # a bad gates file fails before any run is loaded
    with RunStore.open() as store, output_errors("--out", args.out):
        outcome = review_runs(store, args.run_ids, args.out, gates, reviewer=args.reviewer,
                              decision=args.decision, notes=args.notes, canary=not args.no_canary,
                              canary_bars=args.canary_bars)
    if args.json:
        print_json(outcome.to_dict())
        return 0
    print_table(("GATE", "CRITICAL", "CRITERION", "VALUE", "STATUS"),
                [(r.gate.name, "yes" if r.gate.critical else "no", f"{r.gate.metric} {r.gate.op} {r.gate.threshold:g}",
                  "-" if r.value is None else f"{r.value:.4g}", r.status) for r in outcome.assessment.results])
    verdict = outcome.assessment.verdict
    print(f"verdict: {verdict.rule}")
    print(f"decision: {outcome.record.decision} by {outcome.record.reviewer} (review {outcome.review_id})")
    print(f"report: {outcome.report}")
    return 0
