"""``workbench data list | check | import``: the datasets the workbench knows and user files."""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from engine.data.io import read_ohlcv
from engine.data.limits import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    MAX_BYTES_ENV,
    MAX_ROWS_ENV,
    ReadLimits,
    parse_count,
    parse_size,
)
from engine.data.store import NAME_RULE, check_dataset_name
from workbench.commands.output import abbreviate, print_json, print_table
from workbench.services.datasets import dataset_store, file_source, list_datasets


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data",
                                 description="List datasets, check and import OHLCV files.",
                                 epilog="Warnings (large gaps, extreme moves) are logged on stderr "
                                        "and do not fail a file.")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="list built-in and imported datasets")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    listing.set_defaults(handler=run_list)

    check = sub.add_parser("check", help="validate a CSV or Parquet OHLCV file without importing it",
                           description="Exit 0 with a summary when the file is valid; exit 2 with a "
                                       "one-line error naming file, row, column, rule and fix when not.")
    check.add_argument("path", type=Path, help="CSV (.csv, .csv.gz) or Parquet file")
    check.add_argument("--symbol", help="symbol for a file without a symbol column (default: file stem)")
    check.add_argument("--tz", help="IANA zone of naive timestamps, e.g. America/New_York")
    check.add_argument("--adjusted", action="store_true",
                        help="scale open/high/low/close by the file's 'Adj Close' / close")
    _add_limit_options(check)
    check.set_defaults(handler=run_check)

    imp = sub.add_parser("import", help="validate a file and store it as a named dataset",
                         description="Validate a CSV or Parquet OHLCV file and store it under "
                                     "WORKBENCH_HOME/datasets/NAME; nothing is stored if it fails.")
    imp.add_argument("path", type=Path, help="CSV (.csv, .csv.gz) or Parquet file")
    imp.add_argument("--name", required=True, help=f"dataset name ({NAME_RULE})")
    imp.add_argument("--symbol", help="symbol for a file without a symbol column (default: file stem)")
    imp.add_argument("--tz", help="IANA zone of naive timestamps, e.g. America/New_York")
    imp.add_argument("--adjusted", action="store_true",
                        help="scale open/high/low/close by the file's 'Adj Close' / close")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that name")
    _add_limit_options(imp)
    imp.set_defaults(handler=run_import)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    # Parsed in the handler (not by argparse's type=), so a bad value is a one-line error.
    parser.add_argument("--max-bytes", metavar="SIZE",
                        help=f"refuse a file holding more than SIZE bytes once decompressed, e.g. 2G "
                             f"(default: ${MAX_BYTES_ENV} or {DEFAULT_MAX_BYTES // 2**20}M)")
    parser.add_argument("--max-rows", metavar="N",
                        help=f"refuse a file with more than N data rows "
                             f"(default: ${MAX_ROWS_ENV} or {DEFAULT_MAX_ROWS:_})")


def _limits(args: argparse.Namespace) -> ReadLimits:
    return ReadLimits.resolve(
        parse_size(args.max_bytes, "--max-bytes") if args.max_bytes is not None else None,
        parse_count(args.max_rows, "--max-rows") if args.max_rows is not None else None)


def run_list(args: argparse.Namespace) -> int:
    entries = list_datasets()
    if args.json:
        print_json(entries)
        return 0
    rows = [
        (e["name"], e["kind"], abbreviate(e["symbols"]), e["frequency"], e["start"], e["end"], e["source"])
        for e in entries
    ]
    print_table(("NAME", "KIND", "SYMBOLS", "FREQ", "START", "END", "SOURCE"), rows)
    return 0


def run_check(args: argparse.Namespace) -> int:
    data, warnings = read_ohlcv(args.path, symbol=args.symbol, tz=args.tz, adjusted=args.adjusted,
                                limits=_limits(args))
    # The warnings themselves went to stderr (logging); the summary names their rules.
    rules = Counter(w.rule for w in warnings)
    listed = f" ({', '.join(f'{rule} x{count}' for rule, count in rules.items())})" if rules else ""
    print(
        f"{args.path}: valid, {data.n_symbols} symbol(s) ({abbreviate(data.symbols)}), "
        f"{int(np.isfinite(data.close).sum())} bars, frequency {data.frequency}, "
        f"{data.index[0].isoformat()} to {data.index[-1].isoformat()}, {len(warnings)} warning(s){listed}"
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    check_dataset_name(args.name)  # before the file is read, which can take a while
    data, _ = read_ohlcv(args.path, symbol=args.symbol, tz=args.tz, adjusted=args.adjusted,
                         limits=_limits(args))
    source = file_source(args.path)  # absolute, with the sha256 of the bytes imported
    target = dataset_store().save(args.name, data, source=source["path"], source_sha256=source["sha256"],
                                  overwrite=args.overwrite)
    print(f"imported {args.path} as dataset {args.name!r} ({data.n_symbols} symbol(s), "
          f"{data.n_bars} timestamps) into {target}")
    return 0

