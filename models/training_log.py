"""Where training metrics go: the SB3 logger's outputs, shared by every trainer."""
from __future__ import annotations

import importlib.util


def logger_formats(verbose: bool) -> list[str]:
    """SB3 logger outputs: csv always, stdout when ``verbose``, tensorboard when it is installed."""
    formats = ["csv"] + (["stdout"] if verbose else [])
    if importlib.util.find_spec("tensorboard") is not None:
        formats.append("tensorboard")
    return formats
