"""What the experiment commands share (stress, sweep, compare, walk-forward): the options for the
decider, data, period, costs, seed, a spec file under them and tags; progress; storing the finished
run; and printing the summary parts of stress and sweep (distribution, regimes).

Only the options given on the command line override the spec file (``--spec FILE.yaml``); every
option the file leaves out has the ``RunSpec`` default.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from engine.atomic_files import check_output_folder, output_errors
from engine.errors import InvalidParameterError
from engine.rollout import ProgressCallback
from workbench.commands.options import add_placement_arguments, parse_list
from workbench.commands.output import cell, placement_line, print_json, print_table
from workbench.experiments.executors import check_chunks, make_executor
from workbench.runs.spec import DEFAULT_KIND, RunSpec


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The shared options; every default is None so a given option can be told from a default."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--strategy", help="baseline strategy name (or 'strategy' in --spec)")
    who.add_argument("--policy", metavar="NAME_OR_PATH",
                     help="shipped policy name (workbench models list) or checkpoint folder")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="strategy parameter (repeatable), e.g. --param fast=20")
    add_placement_arguments(parser, default=False)
    parser.add_argument("--data", metavar="DATASET_OR_PATH", help="dataset name or file (or 'data' in --spec)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: those priced on every bar)")
    parser.add_argument("--start", help="first date (YYYY-MM-DD; default the data's first bar)")
    parser.add_argument("--end", help="last date (YYYY-MM-DD; default the data's last bar)")
    parser.add_argument("--cash", type=float, help="initial cash (default 100000)")
    parser.add_argument("--seed", type=int, help="seed of everything random (default 0)")
    parser.add_argument("--spec", type=Path, metavar="FILE.yaml",
                        help="run spec file (YAML/JSON); options given here override its keys")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="tag of the stored run (repeatable)")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write summary.json and the run's tables as CSV into DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object (includes run_id)")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor`` and ``--chunks``: where a batch's scenarios run (not part of the spec or run id)."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: this process (default); ray: a Ray cluster at RAY_ADDRESS, or a "
                             "local Ray instance when unset (needs rl-trading-workbench[ray])")
    parser.add_argument("--chunks", type=int, metavar="N",
                        help="split the scenarios into N chunks (default: one per Ray CPU; local: one)")


def executor_from_args(args: argparse.Namespace) -> tuple[Any, int | None]:
    """``(executor, chunks)`` for ``run_stress``/``run_sweep``: ``(None, None)`` runs the batch in one
    piece here, with a progress bar."""
    if args.chunks is not None:
        check_chunks(args.chunks)  # before anything runs
    if args.executor == "local" and args.chunks is None:
        return None, None
    return make_executor(args.executor), args.chunks


def spec_from_args(args: argparse.Namespace, kind: str, options: Mapping[str, Any]) -> RunSpec:
    """The run spec: ``--spec`` (if given) with the explicitly given options over it; an unusable
    ``--export`` folder is refused here, before anything runs.

    ``options`` holds the experiment options given on the command line; a mapping-valued option
    (a sweep's ``grid``) is merged key by key into the file's.
    """
    if args.export is not None:
        check_output_folder(args.export, "--export")  # before the run, which can take minutes
    if args.symbols is not None and not args.symbols.strip(" ,"):
        raise InvalidParameterError("--symbols '' names no symbol; leave it out for the default symbols")
    fields: dict[str, Any] = {}
    if args.strategy is not None:
        fields.update(strategy=args.strategy, policy=None)
    if args.policy is not None:
        fields.update(policy=args.policy, strategy=None)
    for name in ("data", "start", "end", "cash", "seed", "device", "precision"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.symbols is not None:
        fields["symbols"] = tuple(s.strip() for s in args.symbols.split(","))
    for name in ("fees", "slippage"):
        text = getattr(args, name, None)
        if text is not None:
            fields[name] = parse_list(f"--{name}", text)
    given_params = dict(key_value(p) for p in args.param)

    if args.spec is None:
        if "data" not in fields:
            raise InvalidParameterError("give --data DATASET_OR_PATH (or --spec FILE.yaml with a 'data' key)")
        spec = RunSpec(kind=kind, strategy_params=tuple(given_params.items()),
                       options=tuple(options.items()), **fields)
    else:
        spec = _over_file(args.spec, kind, fields, given_params, options)
    if spec.policy is not None and spec.strategy_params:
        raise InvalidParameterError("--param (spec key 'strategy_params') sets a strategy's parameters; "
                                    "a policy takes none")
    return spec


def _over_file(path: Path, kind: str, fields: dict[str, Any], given_params: dict[str, str],
               options: Mapping[str, Any]) -> RunSpec:
    base = RunSpec.from_file(path)
    if base.kind not in (kind, DEFAULT_KIND):  # the default is also what a file without 'kind' reads as
        raise InvalidParameterError(
            f"{path}: kind {base.kind!r} is not {kind!r}; run it with `workbench {base.kind}` or fix 'kind'")
    same_decider = fields.get("strategy", base.strategy) == base.strategy and "policy" not in fields
    params = {**(dict(base.strategy_params) if same_decider else {}), **given_params}
    merged = base.to_dict()["options"]
    for key, value in options.items():
        old = merged.get(key)
        merged[key] = {**old, **value} if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    try:
        return base.replace(kind=kind, strategy_params=tuple(params.items()),
                            options=tuple(merged.items()), **fields)
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{path} with the command-line options: {error}") from None


@contextmanager
def progress_bar(args: argparse.Namespace, description: str) -> Iterator[ProgressCallback | None]:
    """A tqdm bar on stderr for the rollout's bars; None with ``--json`` or when stderr is no terminal."""
    if args.json or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm  # only a terminal needs it

    with tqdm(desc=description, unit="bar", file=sys.stderr, leave=False) as bar:
        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update


def store_run(record) -> str:
    """Save the run in the run store (``WORKBENCH_HOME/runs``); returns its id."""
    from workbench.store import RunStore  # opens SQLite; only needed once a run is finished

    with RunStore.open() as store:
        return store.save_run(record).run_id


def finish_run(args: argparse.Namespace, result: Any, print_summary: Callable[[dict], None],
               export_tables: tuple[str, ...] | None = None) -> int:
    """What every experiment command does with its result: store the run, export it with ``--export``
    (``export_tables``: the tables to write, all when None), then print ``--json`` or the summary."""
    from workbench.experiments.files import export_summary

    summary = result.summary()
    record = result.to_record(args.tag)
    stored = store_run(record)
    if args.export:
        tables = record.tables if export_tables is None else {k: record.tables[k] for k in export_tables}
        with output_errors("--export", args.export):
            export_summary(args.export, summary, tables)
    if args.json:
        print_json(summary)
        return 0
    print_summary(summary)
    placement = placement_line(summary.get("placement"))
    if placement:
        print(placement)
    if args.export:
        print(f"exported to {args.export}")
    print(f"stored run {stored}")
    return 0


def key_value(text: str, option: str = "--param") -> tuple[str, str]:
    """``"fast=20"`` -> ``("fast", "20")``, with an error naming the option."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidParameterError(f"{option} {text!r} is not KEY=VALUE, e.g. {option} fast=20")
    return key.strip(), value.strip()


def print_distribution(distribution: dict) -> None:
    """Quantiles of max drawdown and return, over all scenarios and per family."""
    keys = ("p5", "p50", "p95", "min", "max")
    rows = []
    for family, part in [("all", distribution), *distribution["by_family"].items()]:
        for metric in ("max_drawdown", "total_return"):
            rows.append([family, metric, cell("n", part["n"]), *[cell(metric, part[metric][k]) for k in keys]])
    print_table(["FAMILY", "METRIC", "N", *[k.upper() for k in keys]], rows)


def print_regimes(regimes: list[dict]) -> None:
    """The base run per regime label."""
    rows = []
    for r in regimes:
        positions = r["positions"] or {}
        rows.append([r["column"], r["label"], cell("bars", r["bars"]),
                     *(cell(k, r[k]) for k in ("total_return", "sharpe", "max_drawdown", "exposure")),
                     cell("share", positions.get("long"))])  # the share of the label's bars held long
    print("base run by regime:")
    print_table(["COLUMN", "LABEL", "BARS", "RETURN", "SHARPE", "MAX_DD", "EXPOSURE", "LONG"], rows)
