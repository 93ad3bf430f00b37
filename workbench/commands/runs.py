"""``workbench runs``: list, show, tag, export and delete the runs in the run store."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.atomic_files import check_output_folder, output_errors
from engine.errors import InvalidParameterError
from workbench.commands.output import cell, print_json, print_table
from workbench.store import RunStore, StoredRun

_METRICS = (("total_return", "RETURN"), ("sharpe", "SHARPE"), ("max_drawdown", "MAX_DD"), ("n_trades", "TRADES"))
UNCHECKED = "not checked: the run was saved before the store recorded table digests"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "runs",
        description="The run store under WORKBENCH_HOME/runs. RUN_ID may be any unambiguous prefix of an id.",
    )
    actions = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="stored runs, newest first")
    listing.add_argument("--tag", help="only runs with this tag")
    listing.add_argument("--kind", help="only runs of this kind (backtest, stress, sweep, compare, walkforward)")
    listing.add_argument("--search", metavar="TEXT",
                         help="only runs whose id, decider, dataset, tags or spec contain TEXT")
    listing.add_argument("--limit", type=int, metavar="N", help="at most N runs")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one run: metadata, spec, key metrics, tables, tags, notes, reviews")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=run_show)

    delete = actions.add_parser("delete", help="delete a run and its files")
    delete.add_argument("run_id", metavar="RUN_ID")
    delete.set_defaults(handler=run_delete)

    tag = actions.add_parser("tag", help="add tags to a run (or remove them with --remove)")
    tag.add_argument("run_id", metavar="RUN_ID")
    tag.add_argument("tags", nargs="+", metavar="TAG")
    tag.add_argument("--remove", action="store_true", help="remove the tags instead")
    tag.set_defaults(handler=run_tag)

    export = actions.add_parser("export", help="write spec.json, summary.json, run.json and one CSV per table")
    export.add_argument("run_id", metavar="RUN_ID")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="new (or empty) folder to write")
    export.set_defaults(handler=run_export)


def run_list(args: argparse.Namespace) -> int:
    for option, value in (("--tag", args.tag), ("--kind", args.kind), ("--search", args.search)):
        if value is not None and not value.strip():
            raise InvalidParameterError(f"{option} '' is empty; give a value or leave {option} out")
    with RunStore.open() as store:
        runs = store.list_runs(kind=args.kind, tag=args.tag, search=args.search, limit=args.limit)
    if args.json:
        print_json([info.to_dict() for info in runs])
        return 0
    if not runs:
        print("no stored runs" + (" match" if args.tag or args.kind or args.search else ""))
        return 0
    print_table(["RUN_ID", "CREATED", "KIND", "DECIDER", "DATASET", "PERIOD", "TAGS", "VERDICT"], [
        [info.run_id, info.created_at[:19].replace("T", " "), info.kind, info.decider, info.dataset,
         f"{info.start[:10]}..{info.end[:10]}", ",".join(info.tags) or "-", info.verdict or "-"]
        for info in runs])
    return 0


def run_show(args: argparse.Namespace) -> int:
    with RunStore.open() as store:
        run = store.get_run(args.run_id)
    rows = run.table_rows()
    if args.json:
        print_json({**run.info.to_dict(), "spec": run.spec, "summary": run.summary, "tables": rows,
                    "notes": [n.to_dict() for n in run.notes], "reviews": [r.to_dict() for r in run.reviews]})
        return 0
    info = run.info
    print(f"run {info.run_id} ({info.kind}), stored {info.created_at}")
    for label, value in (("decider", info.decider), ("dataset", info.dataset),
                         ("period", f"{info.start} .. {info.end}"), ("model sha256", info.model_sha or "-"),
                         ("data fingerprint", info.data_fingerprint), ("code version", info.code_version),
                         ("folder", info.folder), ("tags", ", ".join(info.tags) or "-"),
                         ("verdict", info.verdict or "-")):
        print(f"  {label + ':':<18}{value}")
    print("spec:")
    print("  " + json.dumps(run.spec, sort_keys=True))
    _print_metrics(run)
    print("tables:" if run.checked else f"tables ({UNCHECKED}):")
    print_table(["  NAME", "ROWS"], [[f"  {name}", rows[name]] for name in run.tables])
    if run.notes:
        print("notes:")
        for note in run.notes:
            print(f"  {note.created_at[:19].replace('T', ' ')} {note.author}: {note.text}")
    if run.reviews:
        print("reviews:")
        for review in run.reviews:
            print(f"  #{review.id} {review.created_at[:19].replace('T', ' ')} {review.reviewer}: "
                  f"{review.decision} (verdict {review.verdict}, {len(review.gates)} gates)"
                  + (f", report {review.report_path}" if review.report_path else ""))
    return 0


def _print_metrics(run: StoredRun) -> None:
    scenarios = run.summary.get("scenarios")
    if isinstance(scenarios, list) and scenarios and all(isinstance(s, dict) for s in scenarios):
        print("metrics:")
        print_table(["  SCENARIO", *(h for _, h in _METRICS)],
                    [[f"  {s.get('label', s.get('scenario', i))}", *(cell(k, s.get(k)) for k, _ in _METRICS)]
                     for i, s in enumerate(scenarios)])
        return
    scalars = {k: v for k, v in run.summary.items() if isinstance(v, (int, float, str, bool)) and k != "run_id"}
    if scalars:
        print("summary:")
        for key, value in scalars.items():
            print(f"  {key + ':':<18}{cell(key, value)}")


def run_delete(args: argparse.Namespace) -> int:
    with RunStore.open() as store:
        full = store.delete_run(args.run_id)
    print(f"deleted run {full}")
    return 0


def run_tag(args: argparse.Namespace) -> int:
    with RunStore.open() as store:
        if args.remove:
            info = store.run_info(args.run_id)
            missing = [t for t in args.tags if t not in info.tags]
            if missing:  # check all first, so a typo removes nothing
                raise InvalidParameterError(f"run {info.run_id} has no tag {missing[0]!r}; its tags: "
                                            f"{', '.join(info.tags) or 'none'}")
            for tag in args.tags:
                info = store.remove_tag(info.run_id, tag)
        else:
            info = store.add_tags(args.run_id, args.tags)
    print(f"run {info.run_id} tags: {', '.join(info.tags) or '-'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    check_output_folder(args.out, "--out", empty=True)
    with RunStore.open() as store, output_errors("--out", args.out):
        out = store.export_run(args.run_id, args.out)
        run = store.get_run(args.run_id)
    print(f"exported run {run.run_id} to {out}" + ("" if run.checked else f" ({UNCHECKED})"))
    return 0
