"""``workbench walkforward``: rolling or expanding folds, frozen or retrained, one stitched OOS curve."""
from __future__ import annotations

import argparse

from workbench.commands.compare import check_single_costs, progress_printer
from workbench.commands.experiment_cli import add_run_arguments, finish_run, key_value, spec_from_args
from workbench.commands.output import cell, print_table
from workbench.experiments.walkforward import run_walkforward

_TABLE = (("fold", "FOLD"), ("test_start", "TEST_START"), ("test_end", "TEST_END"), ("total_return", "RETURN"),
          ("sharpe", "SHARPE"), ("max_drawdown", "MAX_DD"), ("n_orders", "ORDERS"))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "walkforward",
        description=(
            "Cut the period into folds (a training window, a purge gap, a test block; rolling or expanding), "
            "run the decider frozen or retrained per fold (--retrain: a strategy's parameters chosen on the "
            "training bars from a grid by Sharpe; a policy trained anew), chain the test blocks into one "
            "out-of-sample equity curve and report per-fold metrics and their stability. Lengths are bars "
            "(126) or durations (2Y, 6M, 4W, 10D). Stores the run."),
        epilog="Example: workbench walkforward --strategy sma_cross --data stocks --retrain. "
               "See docs/experiments.md.",
    )
    add_run_arguments(parser)
    parser.add_argument("--fees", metavar="X", help="fee fraction, one value (default 0)")
    parser.add_argument("--slippage", metavar="X", help="slippage fraction, one value (default 0)")
    parser.add_argument("--train", metavar="LEN", help="training window, bars or duration (default 3Y)")
    parser.add_argument("--test", metavar="LEN", help="test block, bars or duration (default 6M)")
    parser.add_argument("--step", metavar="LEN", help="bars between test starts (default: the test length)")
    parser.add_argument("--scheme", choices=("rolling", "expanding"), help="training windows (default rolling)")
    parser.add_argument("--purge", type=int, metavar="N", help="bars between training and test (default 0)")
    parser.add_argument("--embargo", type=int, metavar="N",
                        help="bars after each test block kept out of later training (default 0)")
    parser.add_argument("--retrain", action="store_true", default=None,
                        help="choose parameters / retrain the policy on each fold (default: frozen)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=LIST",
                        help="parameter values searched with --retrain (repeatable), e.g. --grid fast=10,20 "
                             "(default: a small grid per strategy, see docs/experiments.md)")
    parser.add_argument("--timesteps", type=int, metavar="N",
                        help="training steps per fold when retraining a policy (default 2048)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_single_costs(args)
    options: dict[str, object] = {}
    for name in ("train", "test", "step"):
        value = getattr(args, name)
        if value is not None:
            options[name] = int(value) if value.strip().isdigit() else value.strip()
    for name in ("scheme", "purge", "embargo", "retrain", "timesteps"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.grid:
        options["grid"] = dict(key_value(g, "--grid") for g in args.grid)
    spec = spec_from_args(args, "walkforward", options)
    result = run_walkforward(spec, progress_printer(args))
    return finish_run(args, result, _print_summary)


def _print_summary(summary: dict) -> None:
    data, layout = summary["data"], summary["layout"]
    print(f"run {summary['run_id']}: walk-forward of {summary['decider']} on {data['name']} "
          f"({', '.join(data['symbols'])}), {data['start'][:10]} to {data['end'][:10]}")
    print(f"{layout['n_folds']} {layout['scheme']} folds: train {layout['train_bars']}, purge {layout['purge']}, "
          f"test {layout['test_bars']}, step {layout['step_bars']}, embargo {layout['embargo']} bars; "
          f"{'retrained' if layout['retrain'] else 'frozen'}")
    headers = [h for _, h in _TABLE] + ["PARAMS"]
    rows = []
    for fold in summary["folds"]:
        cells = [cell(k, fold[k])[:10] if k.startswith("test_") else cell(k, fold[k]) for k, _ in _TABLE]
        params = fold.get("params")
        rows.append(cells + [",".join(f"{k}={v}" for k, v in params.items()) if params else "-"])
    print_table(headers, rows)
    oos, stable = summary["oos"], summary["stability"]
    print(f"out of sample {oos['start'][:10]} to {oos['end'][:10]}: return "
          f"{cell('total_return', oos['total_return'])}, Sharpe {cell('sharpe', oos['sharpe'])}, max drawdown "
          f"{cell('max_drawdown', oos['max_drawdown'])}")
    print(f"fold Sharpe mean {cell('sharpe_mean', stable['sharpe_mean'])}, std "
          f"{cell('sharpe_std', stable['sharpe_std'])}, positive "
          f"{cell('positive_fraction', stable['positive_fraction'])}, worst fold {stable['worst_fold']['fold']} "
          f"({cell('sharpe', stable['worst_fold']['sharpe'])})")
    for note in summary["notes"]:
        print(f"note: {note}")
