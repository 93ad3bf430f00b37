"""``workbench stress``: historical stress windows, synthetic shocks, bootstrap and GARCH paths."""
from __future__ import annotations

import argparse

from workbench.commands.experiment_cli import (
    add_executor_arguments,
    add_run_arguments,
    executor_from_args,
    finish_run,
    print_distribution,
    print_regimes,
    progress_bar,
    spec_from_args,
)
from workbench.commands.output import cell, print_table
from workbench.experiments.stress import DEFAULT_SHOCKS, run_stress

_TABLE = (("label", "SCENARIO"), ("family", "FAMILY"), ("total_return", "RETURN"), ("sharpe", "SHARPE"),
          ("max_drawdown", "MAX_DD"), ("n_trades", "TRADES"), ("fees_paid", "FEES"))
# Families summarized by their distribution instead of one line per path.
_PATH_FAMILIES = ("bootstrap", "garch")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "stress",
        description=(
            "Run the decider over the period as it happened (base), every named stress period the period "
            "covers (historical), synthetic shocks of the base path (shock), stationary block bootstrap "
            "paths and GARCH(1,1) paths, all as one batch under one fee and slippage value. Prints "
            "per-scenario metrics, the distribution of max drawdown and return, the worst cases with "
            "their dates and the base run per market regime, then stores the run."),
        epilog=f"Default shocks: {','.join(DEFAULT_SHOCKS)}. See docs/experiments.md.",
    )
    add_run_arguments(parser)
    add_executor_arguments(parser)
    parser.add_argument("--fees", metavar="X", help="fee fraction (default 0)")
    parser.add_argument("--slippage", metavar="X", help="slippage fraction (default 0)")
    parser.add_argument("--shocks", metavar="LIST",
                        help="comma-separated KIND:MAGNITUDE: gap:PCT, volatility:K, correlation:S, "
                             "liquidity:K, reversal ('' for none)")
    parser.add_argument("--shock-at", metavar="DATE", help="date of the shocks (default: the middle bar)")
    parser.add_argument("--shock-bars", type=int, metavar="N",
                        help="bars a volatility or correlation shock lasts (default 21)")
    parser.add_argument("--bootstrap", type=int, metavar="N", help="bootstrap paths (default 20)")
    parser.add_argument("--block", type=float, metavar="BARS", help="mean bootstrap block length (default 20)")
    parser.add_argument("--garch", type=int, metavar="N",
                        help="GARCH paths (default 20 when the period has >= 100 returns, else 0)")
    parser.add_argument("--periods", metavar="LIST",
                        help="comma-separated stress-period keys or NAME=START:END (default: all covered)")
    parser.add_argument("--worst", type=int, metavar="N", help="worst cases to list (default 5)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = {}
    for name, value in (("shock_at", args.shock_at), ("shock_bars", args.shock_bars),
                        ("n_bootstrap", args.bootstrap), ("block", args.block), ("n_garch", args.garch),
                        ("worst", args.worst)):
        if value is not None:
            options[name] = value
    if args.shocks is not None:
        options["shocks"] = [s.strip() for s in args.shocks.split(",") if s.strip()]
    if args.periods is not None:
        options["periods"] = [p.strip() for p in args.periods.split(",") if p.strip()]
    spec = spec_from_args(args, "stress", options)
    executor, chunks = executor_from_args(args)
    with progress_bar(args, "stress") as progress:
        result = run_stress(spec, progress, executor, chunks)
    return finish_run(args, result, _print_summary, ("scenario_metrics", "equity"))


def _print_summary(summary: dict) -> None:
    data = summary["data"]
    print(f"run {summary['run_id']}: stress of {summary['decider']} on {data['name']} "
          f"({', '.join(data['symbols'])}), {data['start'][:10]} to {data['end'][:10]}, "
          f"{len(summary['scenarios'])} scenarios")
    rows = [r for r in summary["scenarios"] if r["family"] not in _PATH_FAMILIES]
    print_table([h for _, h in _TABLE], [[cell(k, row[k]) for k, _ in _TABLE] for row in rows])
    if summary["periods"]:
        print()
        print("historical windows inside the base run:")
        print_table(["PERIOD", "START", "END", "RETURN", "MAX_DD"],
                    [[p["name"], cell("start", p["start"]), cell("end", p["end"]),
                      cell("total_return", p["in_base_run"]["total_return"]),
                      cell("max_drawdown", p["in_base_run"]["max_drawdown"])] for p in summary["periods"]])
    print()
    print_distribution(summary["distribution"])
    print()
    print("worst by max drawdown:")
    print_table(["SCENARIO", "MAX_DD", "RETURN", "PEAK", "TROUGH"],
                [[w["label"], cell("max_drawdown", w["max_drawdown"]), cell("total_return", w["total_return"]),
                  cell("peak_date", w["peak_date"])[:10], cell("trough_date", w["trough_date"])[:10]]
                 for w in summary["worst"]])
    print()
    print_regimes(summary["regimes"])
    for note in summary["notes"]:
        print(f"note: {note}")
