"""``python -m apps --port P --address A``: serve the browser workbench (``workbench app`` runs this)."""
from __future__ import annotations

import argparse
import logging

from apps.app import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps", description="Serve the browser workbench.")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    serve(port=args.port, address=args.address, show=args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
