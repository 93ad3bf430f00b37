"""How long the Runs page takes to show 1,000 stored runs (a measurement, not a test).

Fills a temporary run store with 1,000 runs (70% backtests with 2 cost scenarios, 20% stress runs with
20 scenarios, 10% sweeps with 10 grid points; summaries shaped like the real ones), then measures

1. the server side: ``RunsPage`` built (store query, table frame, filters) and one filter change;
2. the browser: from navigation to ``/runs`` until the first page of the table is drawn and the count
   line reads "1000 of 1000 runs", with the app served by ``python -m apps`` and Debian's Chromium
   (skipped with a note when ``/usr/bin/chromium`` is missing);
3. with ``--big``, the Run detail page of one run with 100 scenarios x 5,000 bars (browser, until every
   section is drawn) and the bytes its equity figures send (downsampled);
4. on the demo store (``--demo HOME``, default ``WORKBENCH_HOME`` when it holds the demo's runs; skipped
   with a note otherwise), the first Run detail of the policy's backtest after the server starts, until
   every section is drawn (no spinner left): with the baselines stored with the run (this code), with
   them run on demand (the same store without its ``baselines`` tables: what every Run detail did
   before issue 17), and, with ``--today DIR``, today's code (a source tree of the integration branch)
   serving the same store. Each measurement starts a fresh server; a first, dropped round warms the
   Numba caches on disk.

Usage: ``python benchmarks/bench_app_runs.py [--runs 1000] [--repeat 3] [--demo HOME] [--today DIR]``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
METRICS = ("total_return", "annualized_return", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate",
           "profit_factor", "n_trades", "exposure", "turnover", "fees_paid", "benchmark_return", "excess_return")


def fake_record(i: int, rng: np.random.Generator):
    """Run ``i`` of the benchmark store: a kind, a decider, a period, scenarios with every metric."""
    from workbench.runs.spec import RunSpec
    from workbench.store import RunRecord

    kind, n = ("backtest", 2) if i % 10 < 7 else (("stress", 20) if i % 10 < 9 else ("sweep", 10))
    decider = ("sma_cross", "momentum", "equal_weight", "symbol-agent-compact-stocks")[i % 4]
    start = pd.Timestamp("2001-01-02") + pd.Timedelta(days=int(i % 300) * 7)
    index = pd.date_range(start, periods=250, freq="B", tz="UTC")
    who = {"policy": decider} if decider.startswith("symbol") else {"strategy": decider}
    spec = RunSpec(kind=kind, data="stocks", symbols=("AAPL", "MSFT"), start=str(index[0].date()),
                   end=str(index[-1].date()), seed=i, **who)
    scenarios = [{"scenario": s, "label": f"scenario {s}", **{m: float(rng.normal()) for m in METRICS}}
                 for s in range(n)]
    equity = pd.DataFrame({"timestamp": index, **{f"scenario {s}": 1e5 * np.cumprod(1 + rng.normal(0, 0.01, 250))
                                                  for s in range(min(n, 4))}})
    return RunRecord(run_id=f"bench{i:011d}", kind=kind, spec=spec.to_dict(),
                     summary={"run_id": f"bench{i:011d}", "kind": kind, "scenarios": scenarios},
                     dataset="stocks", start=index[0].isoformat(), end=index[-1].isoformat(), decider=decider,
                     model_sha="", data_fingerprint="bench", code_version="bench", tables={"equity": equity},
                     tags=(("bench", "weekly") if i % 3 == 0 else ("bench",)))


def fill(home: Path, runs: int) -> float:
    from workbench.store import RunStore

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    with RunStore.open(home) as store:
        for i in range(runs):
            store.save_run(fake_record(i, rng))
    return time.perf_counter() - started


def server_side(home: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds to build the Runs page, and to apply one filter."""
    from apps.pages.common import AppContext
    from apps.pages.runs import RunsPage

    builds, filters = [], []
    for _ in range(repeat):
        context = AppContext(home=home)
        started = time.perf_counter()
        page = RunsPage(context)
        page.__panel__()
        builds.append(time.perf_counter() - started)
        started = time.perf_counter()
        page.kind = "stress"
        filters.append(time.perf_counter() - started)
        context.store.close()
    return builds, filters


def browser_side(home: Path, runs: int, repeat: int) -> list[float] | None:
    """Seconds from navigation until the table's first page and the run count are shown."""
    if not CHROMIUM.is_file():
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "apps", "--port", str(port)],
                              env={**os.environ, "WORKBENCH_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/runs", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for attempt in range(repeat + 1):  # the first load warms the server's caches and is dropped
                page = browser.new_page(viewport={"width": 1500, "height": 1200})
                started = time.perf_counter()
                page.goto(f"{base}/runs")
                page.get_by_text(f"{runs} of {runs} runs shown").wait_for(state="visible", timeout=300_000)
                page.locator(".runs-table .tabulator-row").first.wait_for(state="visible", timeout=300_000)
                if attempt:
                    times.append(time.perf_counter() - started)
                page.close()
            browser.close()
        return times
    finally:
        server.terminate()
        server.wait(timeout=30)


def big_record():
    """One stress-like run with 100 scenarios x 5,000 bars on the stocks data's calendar (2000-2013 and on)."""
    from workbench.runs.spec import RunSpec
    from workbench.store import RunRecord

    rng = np.random.default_rng(1)
    index = pd.date_range("2000-03-01", periods=5000, freq="B", tz="UTC")
    paths = 1e5 * np.cumprod(1 + rng.normal(0.0003, 0.01, (5000, 100)), axis=0)
    equity = pd.DataFrame(paths, columns=[f"path {s}" for s in range(100)])
    equity.insert(0, "timestamp", index)
    spec = RunSpec(kind="stress", data="stocks", strategy="sma_cross", symbols=("AAPL", "MSFT"))
    scenarios = [{"scenario": s, "label": f"path {s}", "family": "bootstrap",
                  **{m: float(rng.normal()) for m in METRICS}} for s in range(100)]
    return RunRecord(run_id="bigrun0000000000", kind="stress", spec=spec.to_dict(),
                     summary={"run_id": "bigrun0000000000", "kind": "stress", "scenarios": scenarios},
                     dataset="stocks", start=index[0].isoformat(), end=index[-1].isoformat(), decider="sma_cross",
                     model_sha="", data_fingerprint="bench", code_version="bench", tables={"equity": equity})


def big_payload() -> int:
    """Points the Run detail page's equity figures hold for the big run (after downsampling)."""
    from apps import plots
    from workbench.services import app as app_services
    from workbench.store import RunStore

    with RunStore.open() as store:
        curves = app_services.equity_curves(store.get_run("bigrun0000000000"))
    figures = [plots.equity_figure(curves[["path 0"]], "one"), plots.fan_figure(curves, "fan"),
               plots.underwater_figure(curves["path 0"], [])]
    return sum(len(next(iter(r.data_source.data.values()))) for f in figures for r in f.renderers)


def browser_big(home: Path, repeat: int) -> list[float] | None:
    """Seconds from navigation to the big run's detail page until its last section is drawn."""
    if not CHROMIUM.is_file():
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "apps", "--port", str(port)],
                              env={**os.environ, "WORKBENCH_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/runs", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for attempt in range(repeat + 1):
                page = browser.new_page(viewport={"width": 1500, "height": 2400})
                started = time.perf_counter()
                page.goto(f"{base}/run?run=bigrun0000000000")
                # Figure titles are drawn on canvas; the last sections' headings are text.
                page.get_by_text("Per regime", exact=True).wait_for(state="visible", timeout=300_000)
                page.get_by_text("Metrics", exact=True).wait_for(state="visible", timeout=300_000)
                page.locator("canvas").nth(4).wait_for(state="visible", timeout=300_000)
                if attempt:
                    times.append(time.perf_counter() - started)
                page.close()
            browser.close()
        return times
    finally:
        server.terminate()
        server.wait(timeout=30)


DEMO_POLICY = "symbol-agent-compact-stocks"
SPINNING = """() => {
  const visit = (root) => [...root.querySelectorAll('*')].some(el =>
    (typeof el.className === 'string' && el.className.includes('loader') && el.className.includes('spin'))
    || (el.shadowRoot && visit(el.shadowRoot)));
  return visit(document);
}"""


def demo_policy_run(home: Path) -> str | None:
    """The run id of the demo's backtest of the shipped policy in ``home``, or None."""
    from workbench.store import RunStore

    if not (home / "runs").is_dir():
        return None
    with RunStore.open(home) as store:
        runs = [i.run_id for i in store.list_runs(kind="backtest") if i.decider == DEMO_POLICY]
    return runs[-1] if runs else None


def without_stored_baselines(home: Path, into: Path) -> Path:
    """A copy of the store in ``home`` whose runs keep no baselines table (they run on demand, as before):
    the files go, and so do their entries in each run's table digests (the store lists a run's tables
    from those, and would fail to load a listed table whose file is gone)."""
    import json
    import sqlite3

    from workbench.store.store import DATABASE_NAME

    shutil.copytree(home, into)
    for table in into.glob("runs/*/baselines.parquet"):
        table.unlink()
    with sqlite3.connect(into / "runs" / DATABASE_NAME) as db:
        rows = db.execute("SELECT run_id, table_digests FROM runs WHERE table_digests IS NOT NULL").fetchall()
        for run_id, digests in rows:
            kept = {name: sha for name, sha in json.loads(digests).items() if name != "baselines"}
            db.execute("UPDATE runs SET table_digests = ? WHERE run_id = ?", (json.dumps(kept, sort_keys=True), run_id))
    return into


def first_run_detail(home: Path, run_id: str, code: Path | None = None) -> float:
    """Seconds from navigation to the first Run detail of ``run_id`` served fresh (by ``code``, a source
    tree, or this one) until every section is drawn."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    server = subprocess.Popen([sys.executable, "-m", "apps", "--port", str(port)], env=env,
                              cwd=str(code or Path.cwd()), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(480):
            try:
                urllib.request.urlopen(f"{base}/runs", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 2400})
            started = time.perf_counter()
            page.goto(f"{base}/run?run={run_id}")
            page.get_by_text("Per regime", exact=True).wait_for(state="visible", timeout=300_000)
            page.wait_for_function(f"() => !({SPINNING})()", timeout=300_000, polling=100)
            page.locator("canvas").nth(3).wait_for(state="visible", timeout=300_000)
            elapsed = time.perf_counter() - started
            browser.close()
        return elapsed
    finally:
        server.terminate()
        server.wait(timeout=30)


def demo_side_by_side(home: Path, repeat: int, today: Path | None) -> None:
    """Print the first Run detail of the demo's policy backtest under each variant (see the docstring)."""
    run_id = demo_policy_run(home)
    if run_id is None or not CHROMIUM.is_file():
        print(f"demo store: skipped ({'no demo run in ' + str(home) if run_id is None else str(CHROMIUM) + ' missing'};"
              " fill one with `python -m workbench.cli demo --no-serve`)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-app-demo-") as folder:
        variants = [("baselines stored with the run (this code)", home, None),
                    ("baselines run on demand (this code, store without them)",
                     without_stored_baselines(home, Path(folder) / "home"), None)]
        if today is not None:
            variants.append((f"today's code ({today})", variants[1][1], today))
        results = {}
        for name, store, code in variants:
            first_run_detail(store, run_id, code)  # warms the Numba caches on disk; dropped
            results[name] = [first_run_detail(store, run_id, code) for _ in range(repeat)]
    print(f"demo store {home}: first Run detail of the policy's backtest {run_id}, fresh server each time, "
          f"until every section is drawn (median of {repeat}):")
    for name, times in results.items():
        print(f"  {name}: {statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)})")
    medians = [statistics.median(times) for times in results.values()]
    stored, others = medians[0], medians[1:]
    print(f"  ratio: stored / on demand = {stored / others[0]:.2f}"
          + (f", stored / today's code = {stored / others[1]:.2f}" if len(others) > 1 else "")
          + f"; first Run detail under 3 s with the stored baselines: {'yes' if stored < 3.0 else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also measure a run of 100 scenarios x 5,000 bars")
    parser.add_argument("--demo", type=Path, default=None,
                        help="the demo store (default: WORKBENCH_HOME), filled by `workbench.cli demo --no-serve`")
    parser.add_argument("--today", type=Path, default=None,
                        help="a source tree of today's code, measured on the same demo store")
    parser.add_argument("--demo-only", action="store_true", help="only the demo store's first Run detail")
    args = parser.parse_args()
    demo_home = args.demo or (Path(os.environ["WORKBENCH_HOME"]) if os.environ.get("WORKBENCH_HOME") else None)
    if demo_home is not None:
        demo_side_by_side(demo_home.resolve(), args.repeat, args.today.resolve() if args.today else None)
    if args.demo_only:
        return
    with tempfile.TemporaryDirectory(prefix="bench-app-runs-") as folder:
        home = Path(folder)
        os.environ["WORKBENCH_HOME"] = str(home)
        print(f"filling a run store with {args.runs} runs ... {fill(home, args.runs):.1f} s")
        builds, filters = server_side(home, args.repeat)
        print(f"server: Runs page built in median {statistics.median(builds):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in builds)}); a filter change {statistics.median(filters):.3f} s")
        shown = browser_side(home, args.runs, args.repeat)
        if shown is None:
            print(f"browser: skipped, {CHROMIUM} is missing")
        else:
            print(f"browser: navigation to first table page with {args.runs} runs in median "
                  f"{statistics.median(shown):.2f} s (runs {', '.join(f'{t:.2f}' for t in shown)})")
        if args.big:
            from workbench.store import RunStore

            with RunStore.open(home) as store:
                store.save_run(big_record())
            print(f"big run: its equity figures hold {big_payload()} points for 100 x 5,000 values")
            big = browser_big(home, args.repeat)
            if big is not None:
                print(f"browser: Run detail of 100 scenarios x 5,000 bars fully drawn in median "
                      f"{statistics.median(big):.2f} s (runs {', '.join(f'{t:.2f}' for t in big)})")


if __name__ == "__main__":
    main()
