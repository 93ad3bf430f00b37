"""``workbench export onnx``: export a checkpoint's actor to ONNX with a parity and latency report."""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands.output import print_json, print_table
from workbench.policy_export import export_policy


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="export a trained policy (ONNX)",
                                 description="Export trained policies to other runtimes.")
    sub = parser.add_subparsers(dest="export_command", metavar="FORMAT", required=True)
    onnx = sub.add_parser(
        "onnx", help="export a symbol agent's actor (masking included) to ONNX",
        description=(
            "Export the actor with a free batch axis, validate the graph with onnx.checker and compare it with "
            "torch on observations recorded from a backtest of the policy: max |logit difference| <= 1e-4 and "
            "action agreement >= 99.9%% on at least 10,000 observations, then time onnxruntime at batch 1 "
            "and 256. The file is written only when parity holds; the report also goes into the model card. "
            "An export to CHECKPOINT/model.onnx becomes the policy's default runtime."),
    )
    onnx.add_argument("checkpoint", metavar="CHECKPOINT", help="shipped policy name or checkpoint folder")
    onnx.add_argument("--out", type=Path, required=True, metavar="FILE.onnx", help="the ONNX file to write")
    onnx.add_argument("--data", metavar="DATASET_OR_PATH",
                      help="data to record observations on (default: the model card's training dataset)")
    onnx.add_argument("--symbols", help="comma-separated symbols (default: the model card's)")
    onnx.add_argument("--json", action="store_true", help="print the report as one JSON object")
    onnx.set_defaults(handler=run_onnx)


def run_onnx(args: argparse.Namespace) -> int:
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    result = export_policy(args.checkpoint, args.out, data=args.data, symbols=symbols)
    report = result.report
    if args.json:
        print_json({**report.to_dict(), "checkpoint": str(result.checkpoint), "dataset": result.dataset,
                    "symbols": list(result.symbols)})
        return 0
    print(f"exported {result.checkpoint.name} to {args.out} (opset {report.opset}, sha256 {report.sha256[:16]}...)")
    print(f"parity on {report.n_rows} observations recorded on {result.dataset} ({','.join(result.symbols)}, "
          f"{result.n_scenarios} cost scenarios):")
    print_table(("CHECK", "MEASURED", "REQUIRED"), [
        ("max |logit diff|", f"{report.max_abs_logit_diff:.3g}", f"<= {report.max_logit_diff_allowed:g}"),
        ("action agreement", f"{report.action_agreement:.4%}", f">= {report.min_action_agreement:.1%}"),
    ])
    print("onnxruntime latency (ms, 2 threads):")
    print_table(("BATCH", "P50", "P99"), [(batch, f"{t['p50']:.3f}", f"{t['p99']:.3f}")
                                         for batch, t in report.latency_ms.items()])
    print(f"report written to {result.checkpoint / 'model_card.json'}")
    return 0
