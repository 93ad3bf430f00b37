"""Technical and regime blocks: the batch path over whole paths vs the streamed path bar by bar.

Both paths run the same per-bar steps (``technical_step_nb``, ``regime_step_nb``), so a streamed bar
should cost about what one bar costs inside the batch loop, plus one call from Python. Prints, for a
dataset:

* batch: ``technical_features`` + ``regime_features`` over every symbol, best of ``--repeats``, and
  its cost per symbol-bar;
* streamed: ``StreamingFeatures.append`` per bar for one symbol and for all symbols (p50, p99), and
  the ratio streamed / batch per symbol-bar (1.0: no overhead; above 1 on one symbol, where the call
  from Python dominates).

Run: ``python benchmarks/bench_features.py [--dataset stocks --bars 2000 --repeats 5]``. Compilation is
excluded (one warm-up call first).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from engine.data.market import FIELDS, bars_per_year
from engine.features.regime_block import regime_features
from engine.features.streaming import StreamingFeatures
from engine.features.technical import technical_features
from workbench.services.datasets import load_dataset


def batch_seconds(frames, per_year: float, repeats: int) -> float:
    """Best time of the batch blocks over every frame."""
    technical_features(frames[0])
    regime_features(frames[0], bars_per_year=per_year)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for frame in frames:
            technical_features(frame)
            regime_features(frame, bars_per_year=per_year)
        times.append(time.perf_counter() - start)
    return min(times)


def streamed_microseconds(fields: dict[str, np.ndarray], per_year: float) -> np.ndarray:
    """Time of every ``append`` after the first (microseconds) for the ``[T, N]`` fields."""
    features = StreamingFeatures(fields["close"].shape[1], per_year)
    times = []
    for t in range(fields["close"].shape[0]):
        row = [fields[f][t] for f in FIELDS]
        start = time.perf_counter_ns()
        features.append(*row)
        times.append(time.perf_counter_ns() - start)
    return np.array(times[1:]) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="stocks")
    parser.add_argument("--bars", type=int, default=2000, help="bars streamed (symbols with fewer are left out)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    per_year = bars_per_year(data.frequency)
    frames = [data.symbol_frame(s) for s in data.symbols]
    n_bars = sum(len(frame) for frame in frames)
    seconds = batch_seconds(frames, per_year, args.repeats)
    batch_us = seconds / n_bars * 1e6
    print(f"{args.dataset}: {len(frames)} symbols, {n_bars} symbol-bars; batch technical+regime "
          f"{seconds:.3f} s ({batch_us:.2f} us per symbol-bar)")
    streamed = [frame for frame in frames if len(frame) >= args.bars]
    fields = {f: np.stack([frame[f].to_numpy()[:args.bars] for frame in streamed], axis=1) for f in FIELDS}
    for n_symbols in sorted({1, len(streamed)}):
        times = streamed_microseconds({f: values[:, :n_symbols] for f, values in fields.items()}, per_year)
        p50 = np.median(times)
        print(f"  streamed, {n_symbols} symbol(s), {len(times)} bars: p50 {p50:.1f} us, "
              f"p99 {np.percentile(times, 99):.1f} us per bar; streamed / batch per symbol-bar "
              f"{p50 / n_symbols / batch_us:.2f}")


if __name__ == "__main__":
    main()
