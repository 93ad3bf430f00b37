"""RunSpec: validation, unknown keys, file loading, canonical form and experiment options."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import InvalidParameterError
from workbench.runs.spec import RunSpec, parse_options


def test_defaults_and_round_trip() -> None:
    spec = RunSpec(data="stocks", strategy="sma_cross", strategy_params=(("slow", 50), ("fast", "20")))
    assert spec.kind == "backtest" and spec.fees == (0.0,) and spec.cash == 100_000.0
    assert spec.strategy_params == (("fast", "20"), ("slow", "50"))  # sorted, as text
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert spec.canonical() == RunSpec.from_dict(spec.to_dict()).canonical()


def test_risk_limits_are_validated_by_the_engine_domains() -> None:
    spec = RunSpec(data="stocks", strategy="buy_and_hold", risk=(("stop_loss", 0.05), ("position_limit", 0.5)))
    assert spec.base_params().stop_loss == 0.05 and spec.risk[0][0] == "position_limit"
    with pytest.raises(InvalidParameterError, match="stop_loss = 1.5 is outside its domain"):
        RunSpec(data="stocks", strategy="buy_and_hold", risk=(("stop_loss", 1.5),))
    with pytest.raises(InvalidParameterError, match="'stop_los' is unknown; allowed: .*Did you mean 'stop_loss'\\?"):
        RunSpec(data="stocks", strategy="buy_and_hold", risk=(("stop_los", 0.1),))


@pytest.mark.parametrize("changes, message", [
    ({"strategy": None}, "give exactly one of a strategy"),
    ({"policy": "x"}, "give exactly one of a strategy"),
    ({"kind": "optimize"}, "kind 'optimize' is not one of backtest"),
    ({"fees": ()}, "fees is empty"),
    ({"fees": ("a",)}, "fees 'a' is not a finite number"),
    ({"seed": -1}, "seed -1 must be an integer >= 0"),
    ({"symbols": ()}, "symbols is empty"),
    ({"runtime": "tensorrt"}, "runtime 'tensorrt' is not one of auto, onnx, torch"),
])
def test_bad_fields_are_rejected(changes: dict, message: str) -> None:
    values = {"data": "stocks", "strategy": "buy_and_hold", **changes}
    with pytest.raises(InvalidParameterError, match=message):
        RunSpec(**values)


def test_yaml_file_with_unknown_key_names_file_and_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("kind: stress\ndata: stocks\nstrategy: sma_cross\nsymbol: [AAPL]\n")
    with pytest.raises(InvalidParameterError,
                       match=r"run.yaml: key 'symbol' is unknown; allowed: .*Did you mean 'symbols'\?"):
        RunSpec.from_file(path)
    path.write_text("kind: stress\ndata: stocks\nstrategy: sma_cross\nsymbols: AAPL,MSFT\nfees: [0, 0.001]\n"
                    "risk: {max_drawdown: 0.2}\noptions: {n_bootstrap: 5}\n")
    spec = RunSpec.from_file(path)
    assert spec.symbols == ("AAPL", "MSFT") and spec.fees == (0.0, 0.001) and spec.options == (("n_bootstrap", 5),)
    path.write_text("data: [unclosed\n")
    with pytest.raises(InvalidParameterError, match="not valid YAML"):
        RunSpec.from_file(path)
    with pytest.raises(InvalidParameterError, match="no such spec file"):
        RunSpec.from_file(tmp_path / "missing.yaml")


@dataclass(frozen=True)
class _Options:
    n_paths: int = 10
    periods: tuple = ()


def test_parse_options_fills_defaults_and_rejects_unknown_names() -> None:
    spec = RunSpec(data="stocks", strategy="buy_and_hold", kind="stress", options=(("n_paths", 3),))
    assert parse_options(spec, _Options) == _Options(n_paths=3)
    bad = spec.replace(options=(("n_path", 3),))
    with pytest.raises(InvalidParameterError,
                       match="stress option 'n_path' is unknown; allowed: .*Did you mean 'n_paths'"):
        parse_options(bad, _Options)


def test_nested_options_stay_hashable_and_round_trip() -> None:
    spec = RunSpec(data="stocks", strategy="buy_and_hold", kind="sweep",
                   options=(("grid", {"stop_loss": [0.05, 0.1]}),))
    hash(spec)
    assert spec.to_dict()["options"] == {"grid": {"stop_loss": [0.05, 0.1]}}
    assert RunSpec.from_dict(spec.to_dict()) == spec


def test_unquoted_yaml_dates_become_iso_text(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("kind: stress\ndata: stocks\nstrategy: sma_cross\nstart: 2005-01-01\nend: 2006-06-30\n"
                    "options: {shock_at: 2005-06-01}\n")
    spec = RunSpec.from_file(path)
    assert (spec.start, spec.end) == ("2005-01-01", "2006-06-30")
    assert spec.to_dict()["options"] == {"shock_at": "2005-06-01"}
    assert '"start": "2005-01-01"' in spec.canonical()
    with pytest.raises(InvalidParameterError, match="RunSpec.start 5 is not a date"):
        RunSpec(data="stocks", strategy="sma_cross", start=5)


def test_issue16_scalars_where_lists_are_expected(tmp_path: Path) -> None:
    one_fee = RunSpec.from_dict({"data": "stocks", "strategy": "sma_cross", "fees": 0.001, "slippage": 0})
    assert (one_fee.fees, one_fee.slippage) == ((0.001,), (0.0,))  # a single cost is a grid of one value
    with pytest.raises(InvalidParameterError, match="spec: symbols must be a list of symbol names .*got 5"):
        RunSpec.from_dict({"data": "stocks", "strategy": "sma_cross", "symbols": 5})
    path = tmp_path / "spec.yaml"
    path.write_text("data: stocks\nstrategy: sma_cross\nstart: 2012-02-30\n")
    with pytest.raises(InvalidParameterError, match=r"'2012-02-30' is not a date \(day is out of range for month\) "
                                                    r"at line 3, column 8"):
        RunSpec.from_file(path)
