"""`workbench app` / `workbench demo`: loopback by default, a warning for any other address, argument checks."""
from __future__ import annotations

import sys

import pytest

from workbench import cli
from workbench.commands import app as app_command


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("example.org", False)])
def test_is_loopback(address: str, loopback: bool) -> None:
    assert app_command.is_loopback(address) is loopback


@pytest.mark.parametrize("argv", [["app", "--port", "0"], ["app", "--port", "70000"], ["demo", "--address", " "]])
def test_bad_arguments_exit_2(argv, capsys) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def exec_recorder(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(app_command.os, "execv", lambda path, argv: calls.append((path, argv)))
    return calls


def test_app_binds_loopback_by_default(monkeypatch, capsys) -> None:
    calls = exec_recorder(monkeypatch)
    cli.main(["app"])
    assert calls == [(sys.executable, [sys.executable, "-m", "apps", "--port", "5006", "--address", "127.0.0.1"])]
    assert "warning" not in capsys.readouterr().err


def test_non_loopback_address_warns(monkeypatch, capsys) -> None:
    calls = exec_recorder(monkeypatch)
    cli.main(["app", "--address", "0.0.0.0", "--port", "8080"])
    assert calls[0][1][-4:] == ["--port", "8080", "--address", "0.0.0.0"]
    assert "exposes the app" in capsys.readouterr().err


def test_demo_fills_then_serves_or_stops(monkeypatch, capsys) -> None:
    filled = []
    monkeypatch.setattr(app_command, "fill_demo", lambda store, say: (filled.append(store.root), say("made")))
    calls = exec_recorder(monkeypatch)
    assert cli.main(["demo", "--no-serve"]) == 0
    assert len(filled) == 1 and calls == [] and "made" in capsys.readouterr().out
    cli.main(["demo", "--port", "5123"])
    assert len(filled) == 2 and calls[0][1][-4:] == ["--port", "5123", "--address", "127.0.0.1"]
