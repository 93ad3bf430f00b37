"""``workbench paper``: start, watch, stop, kill, resume and export a paper-trading session."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.atomic_files import check_output_folder, output_errors
from engine.errors import InvalidParameterError
from strategies.family import RUNTIMES
from workbench.commands.options import add_placement_arguments
from workbench.commands.output import print_json, print_table
from workbench.paper import (
    StartOptions,
    export_ledger,
    nothing_requested,
    paper_status,
    request_kill,
    request_resume,
    request_stop,
    start_paper,
)
from workbench.paper.feeds import parse_speed
from workbench.paper.session import DEFAULT_STALE_AFTER


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "paper",
        description="Paper trading: the backtest's kernels, one bar at a time, journaled so that a "
                    "killed session resumes exactly. See docs/paper.md.")
    sub = parser.add_subparsers(dest="paper_command", metavar="SUBCOMMAND", required=True)

    start = sub.add_parser("start", help="start or resume a session",
                           description="Start a session in --state, or resume the one there from its journal.")
    who = start.add_mutually_exclusive_group(required=True)
    who.add_argument("--strategy", help="baseline strategy name")
    who.add_argument("--policy", metavar="NAME_OR_PATH", help="shipped policy name or checkpoint folder")
    start.add_argument("--runtime", choices=RUNTIMES, default="auto",
                       help="how a --policy runs: auto (its verified ONNX export when it has one, else torch; "
                            "default), onnx or torch")
    add_placement_arguments(start, default=True)
    start.add_argument("--no-store", action="store_true",
                       help="do not store the session in the run store when it stops (it is by default)")
    start.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="strategy parameter (repeatable), e.g. --param fast=20")
    start.add_argument("--feed", required=True,
                       help="replay:DATASET[:SYMBOLS] (e.g. replay:stocks:AAPL,MSFT) or synthetic[:KEY=VALUE,...]")
    start.add_argument("--symbols", help="comma-separated symbols (default: all of the feed)")
    start.add_argument("--start", help="first date of a replay (YYYY-MM-DD)")
    start.add_argument("--end", help="last date of a replay (YYYY-MM-DD)")
    start.add_argument("--fees", type=float, default=0.0, metavar="F", help="fee fraction (default 0)")
    start.add_argument("--slippage", type=float, default=0.0, metavar="S", help="slippage fraction (default 0)")
    start.add_argument("--cash", type=float, default=100_000.0, help="initial cash (default 100000)")
    start.add_argument("--risk", type=Path, metavar="FILE",
                       help="YAML of risk limits (stop_loss, max_drawdown, daily_loss_limit, ...)")
    start.add_argument("--speed", default="max", metavar="N|max",
                       help="replay pace: N times real time, or max (default)")
    start.add_argument("--stale-after", type=float, default=DEFAULT_STALE_AFTER, metavar="SECONDS",
                       help=f"halt trading when a bar is this overdue (default {DEFAULT_STALE_AFTER:g})")
    start.add_argument("--state", required=True, type=Path, metavar="DIR", help="the session's state folder")
    start.set_defaults(handler=_start)

    status = sub.add_parser("status", help="equity, positions, orders, risk state, latency")
    status.add_argument("--state", required=True, type=Path, metavar="DIR")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=_status)

    for name, text in (("stop", "stop the running loop after the bar in progress"),
                       ("kill", "kill switch: flatten at the next open and halt until resume"),
                       ("resume", "clear a halt (kill switch, stale or faulty feed)")):
        control = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        control.add_argument("--state", required=True, type=Path, metavar="DIR")
        control.set_defaults(handler=_control, request=name)

    export = sub.add_parser("export", help="write orders.csv, fills.csv and equity.csv")
    export.add_argument("--state", required=True, type=Path, metavar="DIR")
    export.add_argument("--out", required=True, type=Path, metavar="DIR")
    export.set_defaults(handler=_export)


def _start(args: argparse.Namespace) -> int:
    if args.symbols is not None and not args.symbols.strip(" ,"):
        raise InvalidParameterError("--symbols '' names no symbol; leave it out to trade every symbol of the feed")
    options = StartOptions(
        state=args.state, feed=args.feed, strategy=args.strategy,
        strategy_params=tuple(_key_value(p) for p in args.param), policy=args.policy, runtime=args.runtime,
        device=args.device, precision=args.precision,
        symbols=tuple(s.strip() for s in args.symbols.split(",") if s.strip()) if args.symbols else None,
        start=args.start, end=args.end, fees=args.fees, slippage=args.slippage, cash=args.cash,
        risk_file=args.risk, speed=parse_speed(args.speed), stale_after=args.stale_after)
    result = start_paper(options)
    where = f"bar {result.last_bar} ({result.timestamp})" if result.last_bar >= 0 else "no bar"
    equity = "" if result.equity is None else f", equity {result.equity:.2f}"
    if result.status == "already finished":
        print(f"paper {result.state}: the replay already finished at {where}{equity}; nothing to do")
        return 0
    print(f"paper {result.state}: {result.status} after {result.bars} new bar(s); last {where}{equity}")
    if not args.no_store and result.last_bar >= 1:
        from workbench.runs.paper import paper_record
        from workbench.store import RunStore

        with RunStore.open() as store:
            print(f"stored run {store.save_run(paper_record(result.state)).run_id} (kind paper)")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = paper_status(args.state)
    if args.json:
        print_json(status)
        return 0
    last = status["last_bar"]
    state = "running" if status["running"] else ("finished" if status["finished"] else "not running")
    print(f"paper {status['state']}: {state}; {status['decider']} on {status['feed']}")
    where = "-" if last is None else f"{last['bar']} ({last['timestamp']})"
    print(f"last bar: {where}; halt: {status['halt'] or 'none'}")
    if status["equity"] is not None:
        risk = status["risk"]
        print(f"equity {status['equity']:.2f}, cash {status['cash']:.2f}, drawdown {risk['drawdown']:.2%}, "
              f"breaker {risk['breaker'] or 'off'}, daily loss halt {'on' if risk['daily_loss_halt'] else 'off'}")
    if status["positions"]:
        print_table(["SYMBOL", "UNITS", "ENTRY", "CLOSE", "WEIGHT"],
                    [[p["symbol"], f"{p['units']:.4f}", f"{p['entry_price']:.4f}", f"{p['close']:.4f}",
                      f"{p['weight']:.2%}"] for p in status["positions"]])
    for order in status["open_orders"]:
        print(f"open order {order['client_order_id']}: {order['kind']} {order['size']:g} {order['symbol']} "
              f"at bar {order['fill_bar']}'s open ({order['reason']})")
    for request in status["pending_requests"]:
        print(f"pending request: {request['request']} ({request['requested_at']})")
    for event in status["recent_events"]:
        print(f"event at bar {event['bar']}: {event['kind']}, {event['detail']} ({event['at']})")
    latency = status["latency_ms"]
    if latency["n"]:
        print(f"decision latency: p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms over {latency['n']} bars")
    return 0


def _control(args: argparse.Namespace) -> int:
    actions = {"stop": request_stop, "kill": request_kill, "resume": request_resume}
    reply = actions[args.request](args.state)
    if reply["id"] is None:
        print(f"paper {args.state}: {nothing_requested(reply)}")
    elif reply["running"]:
        print(f"paper {args.state}: {args.request} requested; the running loop applies it at the next bar")
    else:
        print(f"paper {args.state}: {args.request} requested; applied at the next bar after `workbench paper start`")
    return 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidParameterError(f"--param {text!r} is not KEY=VALUE, e.g. --param fast=20")
    return key.strip(), value.strip()


def _export(args: argparse.Namespace) -> int:
    check_output_folder(args.out, "--out")
    with output_errors("--out", args.out):
        paths = export_ledger(args.state, args.out)
    for path in paths:
        print(path)
    return 0
