"""``workbench models list``: the trained policies shipped with the workbench."""
from __future__ import annotations

import argparse

from workbench.commands.output import cell, print_json, print_table
from workbench.policies import list_policies


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models",
                                 description="List the trained policies shipped in assets/policies.")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="one line per shipped policy, from its model card")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    listing.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    rows = list_policies()
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ("NAME", "PRESET", "PARAMS", "RUNTIME", "TRAIN", "VALIDATION", "VAL_SHARPE"),
        [(r["name"], r["preset"], r["parameters"], "onnx" if r["onnx"] else "torch", _period(r["train_period"]),
          _period(r["validation_period"]), cell("sharpe", r["validation_metrics"].get("validation/sharpe")))
         for r in rows],
    )
    return 0


def _period(period: list | None) -> str:
    if not period or len(period) != 2:
        return "-"
    return "..".join(str(side)[:10] if side else "?" for side in period)
