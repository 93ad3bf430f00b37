"""The ``workbench`` command line.

Every user error is a :class:`engine.errors.WorkbenchError`: it is printed as one line on stderr and
the command exits with status 2. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from engine.errors import WorkbenchError
from workbench import __version__
from workbench.commands import (
    app,
    backtest,
    compare,
    data,
    export,
    features,
    models,
    paper,
    review,
    runs,
    stress,
    sweep,
    train,
    walkforward,
)

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors on one line like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description="Backtest, stress and paper-trade reinforcement-learning trading policies.",
        epilog="Files are written under WORKBENCH_HOME (default ~/.workbench).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(commands)
    backtest.register(commands)
    models.register(commands)
    features.register(commands)
    train.register(commands)
    export.register(commands)
    review.register(commands)
    stress.register(commands)
    sweep.register(commands)
    compare.register(commands)
    walkforward.register(commands)
    paper.register(commands)
    runs.register(commands)
    app.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.handler(args) or 0)
    except WorkbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
