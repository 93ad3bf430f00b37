"""``workbench compare``: the candidate against every baseline and the benchmark, with statistics."""
from __future__ import annotations

import argparse
import sys

from engine.errors import InvalidParameterError
from workbench.commands.experiment_cli import add_run_arguments, finish_run, key_value, spec_from_args
from workbench.commands.output import cell, print_table
from workbench.experiments.compare import run_compare

_TABLE = (("name", "NAME"), ("role", "ROLE"), ("total_return", "RETURN"), ("sharpe", "SHARPE"),
          ("max_drawdown", "MAX_DD"), ("n_trades", "TRADES"))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        description=(
            "Run the candidate, its variants and every baseline strategy on the same data, fills, costs and "
            "cash; report each baseline's Sharpe difference with a paired block-bootstrap interval, the "
            "reality check (does the candidate beat every alternative; Hansen's SPA) and the model confidence "
            "set, the deflated Sharpe ratio over the configurations tried (at the raw and the effective number "
            "of trials) and, with variants, the probability of backtest overfitting (CSCV). Stores the run."),
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
    parser.add_argument("--pbo-blocks", type=int, metavar="S", help="CSCV blocks S, even (default 16)")
    parser.add_argument("--mcs-size", type=float, metavar="P",
                        help="size of the model confidence set (default 0.05)")
    parser.add_argument("--dsr-baselines", action="store_true", default=None,
                        help="count the baselines as trials of the deflated Sharpe ratio (default: the candidate "
                             "and its variants)")
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
                        ("pbo_blocks", args.pbo_blocks), ("mcs_size", args.mcs_size),
                        ("dsr_baselines", args.dsr_baselines)):
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
          f"fees {cell('fees', costs['fees'])}, slippage {cell('slippage', costs['slippage'])}")
    rows = []
    for row in [summary["candidate"], *summary["variants"], *summary["baselines"]]:
        diff = row.get("sharpe_diff")
        interval = cell("sharpe", None) if diff is None else \
            f"{cell('sharpe', diff['estimate'])} [{cell('sharpe', diff['low'])}, {cell('sharpe', diff['high'])}]"
        rows.append([cell(k, row[k]) for k, _ in _TABLE] + [interval])
    confidence = summary["bootstrap"]["confidence"]
    print_table([h for _, h in _TABLE] + [f"SHARPE_DIFF [{confidence:.0%}]"], rows)
    bench = summary["benchmark"]
    print(f"benchmark (equal-weight buy-and-hold): return {cell('total_return', bench['total_return'])}, "
          f"annualized {cell('annualized_return', bench['annualized_return'])}")
    check = summary["reality_check"]
    superior, beaten = ({k: cell("p_value", side[k]) for k in ("consistent", "lower", "upper")}
                        for side in (check["superior"], check["beaten"]))
    print(f"reality check over {check['n_alternatives']} alternatives (loss = {check['loss']}): does the candidate "
          f"beat every alternative? p = {superior['consistent']} (lower {superior['lower']}, upper/White "
          f"{superior['upper']}; closest: {check['superior']['closest']}); does some alternative beat it? "
          f"p = {beaten['consistent']} (lower {beaten['lower']}, upper/White {beaten['upper']})")
    mcs = summary["model_confidence_set"]
    print(f"model confidence set at {mcs['size']:g}: {', '.join(mcs['included'])}")
    dsr = summary["deflated_sharpe_detail"]
    counted = ", ".join(f"{v} {k}" for k, v in dsr["counted"].items() if v)
    print(f"deflated Sharpe ratio: {cell('deflated_sharpe', summary['deflated_sharpe'])} at N = {dsr['n_trials']} "
          f"({counted}), {cell('deflated_sharpe', summary['deflated_sharpe_effective'])} at effective N = "
          f"{cell('n_effective', dsr['n_effective'])} (mean correlation "
          f"{cell('mean_correlation', dsr['mean_correlation'])}); trials' Sharpe variance "
          f"{cell('trials_variance', dsr['trials_variance'])}")
    pbo = summary["pbo"]
    if pbo is None:
        print(f"probability of backtest overfitting: {cell('pbo', None)} ({summary['pbo_reason']})")
    else:
        detail = summary["pbo_detail"]
        print(f"probability of backtest overfitting: {cell('pbo', pbo)} (median ties "
              f"{cell('share', detail['tie_share'])} of {detail['n_splits']} splits, counted as one half; "
              f"{cell('pbo', detail['pbo_ties_not_overfit'])} to {cell('pbo', detail['pbo_ties_overfit'])} counting "
              "them as not overfit or overfit)")
        for warning in detail["warnings"]:
            print(f"warning: PBO: {warning}")
    for note in [*dsr["notes"], *summary["notes"]]:
        print(f"note: {note}")
