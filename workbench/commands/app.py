"""``workbench app`` and ``workbench demo``: serve the browser workbench, after filling the run store
with the demo runs for ``demo``.

The app is the ``apps`` package, the layer above this one, so it is started as its own program
(``python -m apps``) rather than imported: the workbench never imports the app.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import NoReturn

from engine.errors import InvalidParameterError
from workbench.services.demo import fill_demo
from workbench.store import RunStore

LOOPBACK_NAMES = ("localhost",)


def register(commands: argparse._SubParsersAction) -> None:
    app = commands.add_parser(
        "app",
        description="Serve the browser workbench (Panel) on ADDRESS:PORT. It binds to loopback "
                    "(127.0.0.1) unless another address is asked for; the app has no login, so an address "
                    "other than loopback exposes every stored run and the controls to anyone who can reach it.")
    _serve_arguments(app)
    app.set_defaults(handler=run_app)
    demo = commands.add_parser(
        "demo",
        description="Run the shipped compact policy on three stocks: two backtests of baselines and one of the "
                    "policy, a stress set, a sensitivity grid, a walk-forward and a GO/NO-GO review (a few "
                    "minutes on two cores; runs already stored are skipped), then serve the app.")
    _serve_arguments(demo)
    demo.add_argument("--no-serve", action="store_true", help="fill the run store and exit")
    demo.set_defaults(handler=run_demo)


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=5006, help="TCP port (default 5006)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1, loopback only); 0.0.0.0 exposes the app")


def is_loopback(address: str) -> bool:
    """Whether ``address`` only accepts connections from this machine."""
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_serve_arguments(port: int, address: str) -> None:
    """Raise ``InvalidParameterError`` for a port outside 1..65535 or an empty address."""
    if not 1 <= port <= 65535:
        raise InvalidParameterError(f"--port {port} must be between 1 and 65535")
    if not address.strip():
        raise InvalidParameterError("--address is empty; give 127.0.0.1 (default) or an interface address")


def serve(port: int, address: str) -> NoReturn:
    """Replace this process with the app's server (``python -m apps``), so signals reach it directly."""
    check_serve_arguments(port, address)
    if not is_loopback(address):
        print(f"warning: serving on {address} exposes the app (no login) to every machine that can reach "
              "this one; use --address 127.0.0.1 to keep it local", file=sys.stderr)
    print(f"serving the workbench at http://{'localhost' if is_loopback(address) else address}:{port}/runs "
          "(Ctrl+C stops it)", flush=True)
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "apps", "--port", str(port), "--address", address])


def run_app(args: argparse.Namespace) -> int:
    serve(args.port, args.address)


def run_demo(args: argparse.Namespace) -> int:
    check_serve_arguments(args.port, args.address)
    with RunStore.open() as store:
        fill_demo(store, say=lambda line: print(line, flush=True))
    if args.no_serve:
        return 0
    serve(args.port, args.address)
