"""The ``workbench`` command line.

Every user error is a :class:`engine.errors.WorkbenchError`: it is printed as one line on stderr and
the command exits with status 2. Anything else is a bug and keeps its traceback.

Each command lives in a module of ``workbench.commands`` that builds its parser (``register``), and
only the module of the command given is imported: ``--help``, ``--version`` and the listing commands
start without torch, vectorbt or Numba, which take seconds to import.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NamedTuple, NoReturn, Sequence

from engine.errors import WorkbenchError
from workbench import __version__

EXIT_USER_ERROR = 2


class Command(NamedTuple):
    """A command's module (under ``workbench.commands``) and its line in ``workbench --help``."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "data": Command("data", "list datasets, check and import OHLCV files"),
    "backtest": Command("backtest", "run a strategy over a grid of costs"),
    "models": Command("models", "list shipped trained policies"),
    "features": Command("features", "build the feature matrix of a dataset and write it to Parquet"),
    "train": Command("train", "train neural policies"),
    "export": Command("export", "export a trained policy (ONNX)"),
    "review": Command("review", "GO/NO-GO review of stored runs"),
    "stress": Command("stress", "stress a strategy or policy: crises, shocks, bootstrap and GARCH paths"),
    "sweep": Command("sweep", "sensitivity of a strategy or policy to costs and risk limits"),
    "compare": Command("compare", "compare a strategy or policy with every baseline and the benchmark"),
    "walkforward": Command("walkforward",
                           "walk-forward test: folds, frozen or retrained, stitched out-of-sample curve"),
    "paper": Command("paper", "paper-trade a policy on a replayed or synthetic feed"),
    "runs": Command("runs", "list, show, tag, export and delete stored runs"),
    "app": Command("app", "serve the browser workbench"),
    "demo": Command("app", "fill the run store with demo runs of the shipped policy, then serve the app"),
}


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors on one line like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``argv``: the full parser of the command it names (its module imported), a
    one-line entry for every other command."""
    parser = _Parser(
        prog="workbench",
        description="Backtest, stress and paper-trade reinforcement-learning trading policies.",
        epilog="Files are written under WORKBENCH_HOME (default ~/.workbench).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    given = _command_named(sys.argv[1:] if argv is None else argv)
    if given is not None:
        importlib.import_module(f"workbench.commands.{given.module}").register(commands)
        return parser
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.help)
    return parser


def _command_named(argv: Sequence[str]) -> Command | None:
    """The command of ``argv``: its first word that is not an option, unless help is asked before it."""
    for word in argv:
        if word in ("-h", "--help"):
            return None
        if not word.startswith("-"):
            return COMMANDS.get(word)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
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
