"""The CLI starts fast: help, version and the listings import no heavy package (issue 16 item 10)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import COMMANDS, build_parser

HEAVY = ("torch", "vectorbt", "numba", "onnxruntime", "scipy")
PROBE = """
import json, sys
from workbench.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps([name for name in {heavy} if name in sys.modules]), file=sys.stderr)
"""


# data list reads datasets through engine.data, which imports pandas (about 0.3 s); the others do not.
@pytest.mark.parametrize("argv, heavy", [(["--help"], HEAVY + ("pandas",)), (["--version"], HEAVY + ("pandas",)),
                                         (["data", "list"], HEAVY), (["models", "list"], HEAVY + ("pandas",)),
                                         (["runs", "list"], HEAVY + ("pandas", "pyarrow"))])
def test_issue16_help_version_and_listings_import_no_heavy_package(argv: list[str], heavy: tuple[str, ...],
                                                                   tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=heavy), *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_issue16_a_command_builds_only_its_own_parser() -> None:
    parser = build_parser(["-v", "runs", "list"])
    chosen = parser._subparsers._group_actions[0].choices
    assert list(chosen) == ["runs"]
    listing = build_parser(["--help"])._subparsers._group_actions[0].choices
    assert list(listing) == list(COMMANDS)
