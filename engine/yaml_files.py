"""Read the YAML files users write (run specs, gates, paper risk limits) safely.

``yaml.safe_load`` constructs no arbitrary objects, but it still expands aliases: a 605-byte file of
nested aliases (a "billion laughs") describes billions of list items, and walking them ran for
minutes. No workbench file needs aliases, so they are refused, and a file is read only up to
:data:`MAX_YAML_BYTES`. Every error is one line that names the file, the line and the column.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.errors import InvalidParameterError

MAX_YAML_BYTES = 1024 * 1024  # specs, gates and risk files are a few hundred bytes


class _NoAliasLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at the first alias (``*name``, also in ``<<: *name``) and reads an
    impossible date (``2012-02-30``) as a YAML error, not a ``ValueError``."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases such as *{event.anchor} are not allowed; write the value out in full",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date ({error})", node.start_mark) from None


_NoAliasLoader.add_constructor("tag:yaml.org,2002:timestamp", _NoAliasLoader.construct_yaml_timestamp)


def read_text(path: Path, error: type[InvalidParameterError] = InvalidParameterError) -> str:
    """The UTF-8 text of a small user file, at most :data:`MAX_YAML_BYTES`.

    Raises:
        error: The file cannot be read, is larger than the bound, or is not UTF-8.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_YAML_BYTES:
        raise error(f"{path}: larger than {MAX_YAML_BYTES // 1024} KiB; a workbench YAML file is a few "
                    "lines, so this is not one")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save it as UTF-8") from None


def read_yaml(path: Path, error: type[InvalidParameterError] = InvalidParameterError) -> Any:
    """The document of a user's YAML file (None when it is empty), aliases refused.

    Raises:
        error: The file cannot be read, is too large, or is not valid YAML; one line naming the file.
    """
    text = read_text(path, error)
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # safe: a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({describe_yaml_error(exc)}); fix the syntax") from None


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """A YAML error on one line: ``PROBLEM at line L, column C (CONTEXT at line L, column C)``."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem is None:
        return " ".join(str(error).split())
    text = f"{error.problem}{_at(error.problem_mark)}"
    if error.context:
        text += f" ({error.context}{_at(error.context_mark)})"
    return text


def _at(mark: yaml.Mark | None) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
