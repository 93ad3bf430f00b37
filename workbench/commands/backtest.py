"""``workbench backtest``: run a strategy over a grid of costs and print or export its metrics."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.atomic_files import check_output_folder, output_errors
from engine.errors import InvalidParameterError
from strategies.family import RUNTIMES
from workbench.commands.options import add_placement_arguments, parse_list
from workbench.commands.output import cell, placement_line, print_json, print_table
from workbench.runs.backtest import export_backtest, run_backtest
from workbench.runs.spec import RunSpec
from workbench.store import RunStore

_TABLE = (("label", "SCENARIO"), ("final_equity", "FINAL"), ("total_return", "RETURN"),
          ("sharpe", "SHARPE"), ("max_drawdown", "MAX_DD"), ("n_trades", "TRADES"),
          ("fees_paid", "FEES"), ("benchmark_return", "BENCHMARK"))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backtest",
        description=(
            "Backtest a strategy. Decisions at bar t's close fill at bar t+1's open; each "
            "combination of --fees and --slippage is one scenario, all run as one batch."
        ),
        epilog="Strategies: buy_and_hold, equal_weight, sma_cross, momentum, random "
               "(see README for their parameters).",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--strategy", help="baseline strategy name")
    who.add_argument("--policy", metavar="NAME_OR_PATH",
                     help="shipped policy name (workbench models list) or checkpoint folder")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="how a --policy runs: its verified ONNX export (auto when there is one) or torch")
    add_placement_arguments(parser, default=True)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="strategy parameter (repeatable), e.g. --param fast=20")
    parser.add_argument("--data", required=True, metavar="DATASET_OR_PATH", help="dataset name or file")
    parser.add_argument("--symbols", help="comma-separated symbols (default: all)")
    parser.add_argument("--start", help="first date (YYYY-MM-DD)")
    parser.add_argument("--end", help="last date (YYYY-MM-DD)")
    parser.add_argument("--fees", default="0", metavar="LIST", help="fee fractions, comma-separated (default 0)")
    parser.add_argument("--slippage", default="0", metavar="LIST",
                        help="slippage fractions, comma-separated (default 0)")
    parser.add_argument("--cash", type=float, default=100_000.0, help="initial cash (default 100000)")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write equity.csv, orders.csv and metrics.json into DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-store", action="store_true",
                        help="do not save the run in the run store (WORKBENCH_HOME/runs; see `workbench runs`)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.symbols is not None and not args.symbols.strip(" ,"):
        raise InvalidParameterError("--symbols '' names no symbol; leave it out to trade every symbol")
    if args.export:
        check_output_folder(args.export, "--export")  # before the backtest runs
    spec = RunSpec(
        kind="backtest",
        strategy=args.strategy,
        policy=args.policy,
        runtime=args.runtime,
        device=args.device,
        precision=args.precision,
        data=args.data,
        strategy_params=tuple(_key_value(p) for p in args.param),
        symbols=tuple(s.strip() for s in args.symbols.split(",")) if args.symbols else None,
        start=args.start,
        end=args.end,
        fees=parse_list("--fees", args.fees),
        slippage=parse_list("--slippage", args.slippage),
        cash=args.cash,
    )
    result = run_backtest(spec, extras=not args.no_store)
    if args.export:
        with output_errors("--export", args.export):
            export_backtest(result, args.export)
    stored = None
    if not args.no_store:
        with RunStore.open() as store:
            stored = store.save_run(result.to_record()).run_id
    summary = result.summary()
    if args.json:
        print_json(summary)
        if stored:  # stdout holds the JSON object alone
            print(f"stored run {stored}", file=sys.stderr)
        return 0
    data = summary["data"]
    print(f"run {summary['run_id']}: {spec.decider} on {data['name']} ({', '.join(data['symbols'])}), "
          f"{data['start'][:10]} to {data['end'][:10]}")
    print_table([h for _, h in _TABLE], [[cell(k, row[k]) for k, _ in _TABLE] for row in summary["scenarios"]])
    placement = placement_line(summary.get("placement"))
    if placement:
        print(placement)
    if args.export:
        print(f"exported to {args.export}")
    if stored:
        print(f"stored run {stored}")
    return 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidParameterError(f"--param {text!r} is not KEY=VALUE, e.g. --param fast=20")
    return key.strip(), value.strip()
