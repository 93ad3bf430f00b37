"""``workbench sweep``: sensitivity grids over costs and risk limits, surfaces and break-even cost."""
from __future__ import annotations

import argparse

from workbench.commands.experiment_cli import (
    add_executor_arguments,
    add_run_arguments,
    executor_from_args,
    finish_run,
    key_value,
    print_regimes,
    progress_bar,
    spec_from_args,
)
from workbench.commands.options import parse_list
from workbench.commands.output import cell, print_table
from workbench.experiments.sweep import SWEEP_KEYS, run_sweep

_METRICS = (("total_return", "RETURN"), ("sharpe", "SHARPE"), ("max_drawdown", "MAX_DD"),
            ("excess_return", "EXCESS"), ("fees_paid", "FEES_PAID"))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep",
        description=(
            "Run the decider over every combination of --fees, --slippage, --position-limit and each "
            "--grid KEY=LIST, as one batch on one market path. Prints each grid point's metrics and "
            "the break-even cost (where the excess return over an equal-weight buy-and-hold reaches "
            "zero along the fee axis), then stores the run with its Sharpe, return and drawdown surfaces."),
        epilog=f"--grid keys: {', '.join(SWEEP_KEYS)}. See docs/experiments.md.",
    )
    add_run_arguments(parser)
    add_executor_arguments(parser)
    parser.add_argument("--fees", metavar="LIST", help="fee fractions, comma-separated (default 0)")
    parser.add_argument("--slippage", metavar="LIST", help="slippage fractions, comma-separated (default 0)")
    parser.add_argument("--position-limit", metavar="LIST",
                        help="position limits (max weight of one symbol), comma-separated")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=LIST",
                        help="another risk parameter's values (repeatable), e.g. --grid stop_loss=0,0.05,0.1")
    parser.add_argument("--worst", type=int, metavar="N", help="worst cases to list (default 5)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    grid = {}
    if args.position_limit is not None:
        grid["position_limit"] = list(parse_list("--position-limit", args.position_limit))
    for text in args.grid:
        key, values = key_value(text, "--grid")
        grid[key] = list(parse_list(f"--grid {key}", values)) if values else []
    options: dict = {"grid": grid} if grid else {}
    if args.worst is not None:
        options["worst"] = args.worst
    spec = spec_from_args(args, "sweep", options)
    executor, chunks = executor_from_args(args)
    with progress_bar(args, "sweep") as progress:
        result = run_sweep(spec, progress, executor, chunks)
    return finish_run(args, result, _print_summary, ("scenario_metrics", "equity"))


def _print_summary(summary: dict) -> None:
    data = summary["data"]
    axes = summary["axes"]
    print(f"run {summary['run_id']}: sweep of {summary['decider']} on {data['name']} "
          f"({', '.join(data['symbols'])}), {data['start'][:10]} to {data['end'][:10]}, "
          f"{len(summary['scenarios'])} grid points")
    headers = [name.upper() for name in axes] + [h for _, h in _METRICS]
    print_table(headers, [[cell(name, row[name]) for name in axes] + [cell(k, row[k]) for k, _ in _METRICS]
                          for row in summary["scenarios"]])
    print()
    even = summary["break_even"]
    if even["axis"] is None:
        print(f"break-even cost: none ({even['reason']})")
    for point in even["points"]:
        at = ", ".join(f"{k}={cell(k, v)}" for k, v in point["at"].items())
        value = cell(even["axis"], point["value"]) if point["value"] is not None else f"none ({point['reason']})"
        print(f"break-even {even['axis']} at {at}: {value}")
    print()
    print_regimes(summary["regimes"])
    for note in summary["notes"]:
        print(f"note: {note}")
