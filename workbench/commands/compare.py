"""``workbench compare``: the candidate against every baseline and the benchmark, with statistics."""
from __future__ import annotations

import argparse
import sys

from engine.errors import InvalidParameterError
from workbench.commands.experiment_cli import add_run_arguments, fmt, key_value, spec_from_args, finish_run
from workbench.commands.output import print_table
from workbench.experiments.compare import run_compare

_TABLE = (("name", "NAME"), ("role", "ROLE"), ("total_return", "RETURN"), ("sharpe", "SHARPE"),
          ("max_drawdown", "MAX_DD"), ("n_trades", "TRADES"))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        description=(
            "Run the candidate, its variants and every baseline strategy on the same data, fills, costs and "
            "cash; report each baseline's Sharpe difference with a paired block-bootstrap interval, the "
            "deflated Sharpe ratio over every configuration tried and, with variants, the probability of "
            "backtest overfitting (CSCV). Stores the run."),
        epilog="Example: workbench compare --strategy sma_cross --data stocks --variants fast=10,20,50. "
               "See docs/experiments.md.",
    )
    add_run_arguments(parser)
    parser.add_argument("--fees", metavar="X", help="fee fraction, one value (default 0)")
    parser.add_argument("--slippage", metavar="X", help="slippage fraction, one value (default 0)")
    parser.add_argument("--variants", action="append", default=[], metavar="KEY=LIST",
                        help="strategy parameter values to try (repeatable), e.g. --variants fast=10,20,50; "
                             "every combination is a variant. Several policies: --policy A,B")
    parser.add_argument("--n-boot", type=int, metavar="N", help="bootstrap resamples (default 1000)")
    parser.add_argument("--confidence", type=float, metavar="P", help="interval coverage (default 0.95)")
    parser.add_argument("--block", type=float, metavar="BARS",
                        help="mean bootstrap block length in bars (default round(T ** (1/3)))")
    parser.add_argument("--pbo-blocks", type=int, metavar="S", help="CSCV blocks, even (default 16)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_single_costs(args)
    options: dict[str, object] = {}
    if args.policy is not None and "," in args.policy:
        first, *rest = [p.strip() for p in args.policy.split(",") if p.strip()]
        args.policy = first
        options["policies"] = rest
    if args.variants:
        options["variants"] = dict(key_value(v, "--variants") for v in args.variants)
    for name, value in (("n_boot", args.n_boot), ("confidence", args.confidence), ("mean_block", args.block),
                        ("pbo_blocks", args.pbo_blocks)):
        if value is not None:
            options[name] = value
    spec = spec_from_args(args, "compare", options)
    result = run_compare(spec, progress_printer(args))
    return finish_run(args, result, _print_summary)


def check_single_costs(args: argparse.Namespace) -> None:
    """Compare and walk-forward run one cost point: ``--fees``/``--slippage`` take one value."""
    for name in ("fees", "slippage"):
        text = getattr(args, name)
        if text is not None and "," in text:
            raise InvalidParameterError(
                f"--{name} {text!r}: this command runs one cost point; give one value (a cost grid is "
                "`workbench sweep`'s job)")


def progress_printer(args: argparse.Namespace):
    """Progress lines on stderr, or None with ``--json`` or when stderr is no terminal."""
    if args.json or not sys.stderr.isatty():
        return None
    return lambda message: print(message, file=sys.stderr, flush=True)


def _print_summary(summary: dict) -> None:
    data = summary["data"]
    costs = summary["costs"]
    print(f"run {summary['run_id']}: compare {summary['candidate']['name']} on {data['name']} "
          f"({', '.join(data['symbols'])}), {data['start'][:10]} to {data['end'][:10]}, "
          f"fees {costs['fees']:g}, slippage {costs['slippage']:g}")
    rows = []
    for row in [summary["candidate"], *summary["variants"], *summary["baselines"]]:
        diff = row.get("sharpe_diff")
        interval = "-" if diff is None else f"{fmt(diff['estimate'])} [{fmt(diff['low'])}, {fmt(diff['high'])}]"
        rows.append([fmt(row[k]) for k, _ in _TABLE] + [interval])
    confidence = summary["bootstrap"]["confidence"]
    print_table([h for _, h in _TABLE] + [f"SHARPE_DIFF [{confidence:.0%}]"], rows)
    bench = summary["benchmark"]
    print(f"benchmark (equal-weight buy-and-hold): return {fmt(bench['total_return'])}, "
          f"annualized {fmt(bench['annualized_return'])}")
    print(f"deflated Sharpe ratio: {fmt(summary['deflated_sharpe'])} over {summary['n_trials']} trials")
    pbo = summary["pbo"]
    print(f"probability of backtest overfitting: {fmt(pbo)}" + (f" ({summary['pbo_reason']})" if pbo is None else ""))
    for note in summary["notes"]:
        print(f"note: {note}")
