"""Session configuration: risk files, round trips, the difference a restart is refused for."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidParameterError
from workbench.paper.config import PaperConfig, config_difference, load_risk_file, read_config, write_config

BASE = dict(feed="replay:stocks:AAPL", symbols=("AAPL",), frequency="1D", start=None, end="2010-12-31",
            data_fingerprint="f" * 64, strategy="sma_cross", strategy_params=(("slow", "20"), ("fast", "5")),
            policy=None, runtime=None, model_sha="", fees=0.001, slippage=0.0005, cash=50_000.0,
            risk=(("stop_loss", 0.05), ("allow_short", True), ("cooldown_bars", 3)))


def test_config_round_trips_through_its_file(tmp_path: Path) -> None:
    config = PaperConfig(**BASE)
    write_config(tmp_path, config)
    again = read_config(tmp_path)
    assert again == config and again.sha == config.sha
    assert config.strategy_params == (("fast", "5"), ("slow", "20"))
    assert config.params().stop_loss == 0.05 and config.params().allow_short is True
    assert len(config.state_id) == 12 and config.state_id == PaperConfig(**BASE).state_id
    assert read_config(tmp_path / "nowhere") is None


def test_the_first_differing_key_is_named() -> None:
    config = PaperConfig(**BASE)
    assert config_difference(config, PaperConfig(**BASE)) is None
    other = PaperConfig(**{**BASE, "risk": (("stop_loss", 0.04),)})
    assert config_difference(config, other) == (
        "risk: the state has {'allow_short': True, 'cooldown_bars': 3, 'stop_loss': 0.05}, this start gives "
        "{'stop_loss': 0.04}")


@pytest.mark.parametrize("text, message", [
    ("stop_los: 0.05\n", r"risk limit 'stop_los' is unknown; allowed: .*\. Did you mean 'stop_loss'\?"),
    ("fees: 0.001\n", "'fees' is a cost, not a risk limit; set it with --fees"),
    ("init_cash: 5\n", "set it with --cash"),
    ("stop_loss: 2\n", r"ScenarioParams.stop_loss = 2 is outside its domain; allowed: \[0, 1\)"),
    ("allow_short: 1\n", "is not a boolean"),
    ("- stop_loss\n", "a risk file is a mapping"),
    ("stop_loss: [\n", "not valid YAML"),
])
def test_bad_risk_files_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    with pytest.raises(InvalidParameterError, match=message) as info:
        load_risk_file(path)
    assert str(path) in str(info.value)


def test_a_good_risk_file_and_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text("max_drawdown: 0.2\nflatten_on_breaker: true\ndaily_loss_limit: 0.03\n")
    assert load_risk_file(path) == (("daily_loss_limit", 0.03), ("flatten_on_breaker", True), ("max_drawdown", 0.2))
    path.write_text("")
    assert load_risk_file(path) == ()
    with pytest.raises(InvalidParameterError, match="no such risk file"):
        load_risk_file(tmp_path / "missing.yaml")


def test_bad_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="exactly one of --strategy and --policy"):
        PaperConfig(**{**BASE, "policy": "x"})
    with pytest.raises(InvalidParameterError, match="outside its domain"):
        PaperConfig(**{**BASE, "fees": 1.5})
    (tmp_path / "config.json").write_text('{"feed": "x", "colour": 1}')
    with pytest.raises(InvalidParameterError, match="key 'colour' is unknown"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(InvalidParameterError, match="not valid JSON"):
        read_config(tmp_path)
