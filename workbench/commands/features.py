"""``workbench features``: write the causal feature matrix of a dataset or file to Parquet."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from engine.atomic_files import atomic_path, check_output_file
from engine.data.market import to_utc
from engine.data.timestamps import zone
from engine.errors import InvalidParameterError
from engine.features.build import build_feature_matrix
from engine.features.normalize import NORMALIZATION_METHODS, FeatureNormalizer
from workbench.commands.options import parse_period
from workbench.commands.output import abbreviate
from workbench.services.datasets import load_dataset

NORMALIZER_METADATA_KEY = b"workbench.normalizer"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "features",
        description=(
            "Build every feature family (docs/features.md) for DATASET_OR_PATH and write one Parquet "
            "file: a timestamp index, one column per feature and the regime label columns. Features "
            "are computed on all history up to --end, so --start does not shorten warm-up windows."
        ),
    )
    parser.add_argument("dataset", metavar="DATASET_OR_PATH",
                        help="built-in or imported dataset name, or a CSV/Parquet file")
    parser.add_argument("--symbol", help="a symbol or comma-separated symbols (default: every symbol; "
                                         "with more than one, rows carry a 'symbol' column)")
    parser.add_argument("--start", help="first date to write (YYYY-MM-DD)")
    parser.add_argument("--end", help="last date to use and write (YYYY-MM-DD)")
    parser.add_argument("--normalize", choices=NORMALIZATION_METHODS,
                        help="normalize the numeric features, statistics fitted on --train only")
    parser.add_argument("--train", metavar="START:END",
                        help="training period the normalizer is fitted on (required with --normalize)")
    parser.add_argument("--tz", help="IANA zone of naive timestamps in a file, e.g. America/New_York")
    parser.add_argument("--out", required=True, type=Path, help="output .parquet file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.normalize and not args.train:
        raise InvalidParameterError("--normalize needs --train START:END, the period the statistics are fitted on")
    if args.out.suffix != ".parquet":
        raise InvalidParameterError(f"--out {args.out} must end in .parquet")
    check_output_file(args.out, "--out", parents=True)  # before the features are built
    if args.tz is not None:
        zone(args.tz)  # an unknown zone is an error even when no timestamp needs it
    for option, value in (("--start", args.start), ("--end", args.end)):
        if value is not None:  # a bad date is an error before the data is read, not a traceback after
            try:
                to_utc(value)
            except InvalidParameterError as error:
                raise InvalidParameterError(f"{option}: {error}") from None
    symbols = [s.strip() for s in args.symbol.split(",")] if args.symbol is not None else None
    if symbols is not None and not all(symbols):
        raise InvalidParameterError(f"--symbol {args.symbol!r} names an empty symbol; leave --symbol out "
                                    "for every symbol")
    data = load_dataset(args.dataset, symbols=symbols, end=args.end, tz=args.tz)
    train = parse_period("--train", args.train) if args.normalize else None
    frames, statistics = [], {}
    for symbol in tqdm(data.symbols, desc="features", unit="symbol", disable=None):
        matrix = build_feature_matrix(data.symbol_frame(symbol), frequency=data.frequency)
        if train:
            # One normalizer per symbol, fitted on that symbol's training rows only.
            numeric = matrix.select_dtypes("number").columns
            try:
                fitted = FeatureNormalizer(args.normalize).fit(matrix[numeric], start=train[0], end=train[1])
            except InvalidParameterError as error:
                raise InvalidParameterError(
                    f"symbol {symbol}: {error} (or pick symbols with --symbol)") from None
            matrix[numeric] = fitted.transform(matrix[numeric])
            statistics[symbol] = fitted.to_dict()
        if len(data.symbols) > 1:
            matrix.insert(0, "symbol", symbol)
        frames.append(matrix)
    matrix = pd.concat(frames)
    metadata = {b"workbench.dataset": data.name.encode(), b"workbench.fingerprint": data.fingerprint().encode()}
    if statistics:
        metadata[NORMALIZER_METADATA_KEY] = json.dumps(statistics).encode()
    if args.start is not None:
        matrix = matrix[matrix.index >= to_utc(args.start)]
    if matrix.empty:
        raise InvalidParameterError(f"no bars left between --start {args.start} and --end {args.end}")
    try:
        _write_parquet_atomically(matrix, args.out, metadata)
    except OSError as error:
        raise InvalidParameterError(f"--out {args.out}: cannot write it ({error.strerror or error})") from None
    print(f"wrote {len(matrix)} rows x {matrix.shape[1]} columns for {abbreviate(data.symbols)} to {args.out}")
    return 0


def _write_parquet_atomically(frame: pd.DataFrame, path: Path, metadata: dict[bytes, bytes]) -> None:
    """Write through ``engine.atomic_files.atomic_path``, so no partial file is ever visible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
