"""``workbench export onnx``: export a trained policy to ONNX with a parity and latency report."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.atomic_files import check_output_file, output_errors
from engine.errors import InvalidParameterError
from workbench.commands.output import print_json, print_table
from workbench.policies.export import export_policy


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export",
                                 description="Export trained policies to other runtimes.")
    sub = parser.add_subparsers(dest="export_command", metavar="FORMAT", required=True)
    onnx = sub.add_parser(
        "onnx", help="export a trained policy's network (its decision and extras) to ONNX",
        description=(
            "Export the policy's network with a free batch axis, validate the graph with onnx.checker and "
            "compare it with torch on observations recorded from a backtest of the policy: max |difference| of "
            "the deciding output <= 1e-4 and decision agreement >= 99.9%% on at least 10,000 decisions, then "
            "time onnxruntime at batch 1 and 256. The file is written only when parity holds. An export to "
            "CHECKPOINT/model.onnx becomes the policy's default runtime and its report goes into the model "
            "card; an export elsewhere leaves the checkpoint untouched and writes FILE.onnx.report.json."),
    )
    onnx.add_argument("checkpoint", metavar="CHECKPOINT", help="shipped policy name or checkpoint folder")
    onnx.add_argument("--out", type=Path, required=True, metavar="FILE.onnx", help="the ONNX file to write")
    onnx.add_argument("--data", metavar="DATASET_OR_PATH",
                      help="data to record observations on (default: the model card's training dataset)")
    onnx.add_argument("--symbols", help="comma-separated symbols (default: the model card's)")
    onnx.add_argument("--json", action="store_true", help="print the report as one JSON object")
    onnx.set_defaults(handler=run_onnx)


def run_onnx(args: argparse.Namespace) -> int:
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols is not None else None
    if symbols == []:
        raise InvalidParameterError("--symbols '' names no symbol; leave it out for the model card's symbols")
    check_output_file(args.out, "--out", parents=True)  # before observations are recorded
    with output_errors("--out", args.out):
        result = export_policy(args.checkpoint, args.out, data=args.data, symbols=symbols)
    report = result.report
    if args.json:
        print_json({**report, "checkpoint": str(result.checkpoint), "dataset": result.dataset,
                    "symbols": list(result.symbols), "report_path": str(result.report_path)})
        return 0
    print(f"exported {result.checkpoint.name} to {args.out} (opset {report['opset']}, "
          f"sha256 {report['sha256'][:16]}...)")
    print(f"parity on {report['n_rows']} decisions recorded on {result.dataset} ({','.join(result.symbols)}, "
          f"{result.n_scenarios} cost scenarios):")
    rows = [(f"max |{report['outputs'][0]} diff|", f"{report['max_abs_logit_diff']:.3g}",
             f"<= {report['max_logit_diff_allowed']:g}"),
            ("decision agreement", f"{report['action_agreement']:.4%}", f">= {report['min_action_agreement']:.1%}")]
    rows += [(f"max |{name} diff|", f"{diff:.3g}", "reported")
             for name, diff in report["output_max_abs_diff"].items() if name != report["outputs"][0]]
    print_table(("CHECK", "MEASURED", "REQUIRED"), rows)
    print("onnxruntime latency (ms, 2 threads):")
    print_table(("BATCH", "P50", "P99"), [(batch, f"{t['p50']:.3f}", f"{t['p99']:.3f}")
                                         for batch, t in report["latency_ms"].items()])
    where = "the model card" if result.report_path == result.checkpoint else result.report_path
    print(f"report written to {where}")
    return 0
