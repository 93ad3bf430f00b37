"""`workbench export onnx` and choosing a policy's runtime: recorded observations, card report, verification."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import CheckpointError
from models.checkpoint import load_checkpoint
from models.symbol_agent.network import build_symbol_agent
from workbench.cli import main
from workbench.policies import SHIPPED_DIR, load_policy
from workbench.policies.export import export_policy

SHIPPED = SHIPPED_DIR / "symbol-agent-compact-stocks"


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A copy of the shipped checkpoint without its ONNX export."""
    folder = tmp_path / "agent"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("model.onnx"))
    card = json.loads((folder / "model_card.json").read_text())
    card["export"] = {}
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


def test_without_an_export_auto_runs_torch_and_onnx_is_refused(checkpoint: Path) -> None:
    assert load_policy(str(checkpoint)).runtime == "torch"
    with pytest.raises(CheckpointError, match="has no model.onnx; export it with `workbench export onnx"):
        load_policy(str(checkpoint), runtime="onnx")


def test_export_records_observations_writes_the_card_and_becomes_the_default(checkpoint: Path) -> None:
    result = export_policy(str(checkpoint), checkpoint / "model.onnx", symbols=["AAPL"], min_rows=4000,
                           latency_runs=5)
    # One symbol of stocks has 3,270 bars: two cost scenarios are needed for 4,000 rows.
    assert result.n_scenarios == 2 and result.report["n_rows"] == 2 * 3269
    assert result.dataset == "stocks" and result.symbols == ("AAPL",)
    _, card, _ = load_checkpoint(checkpoint, build_symbol_agent)
    assert card.export["path"] == "model.onnx" and card.export["n_rows"] == result.report["n_rows"]
    assert card.export["max_abs_logit_diff"] <= 1e-4 and set(card.export["latency_ms"]) == {"1", "256"}
    loaded = load_policy(str(checkpoint))
    assert loaded.runtime == "onnx" and loaded.model_sha == card.export["sha256"] != card.weights_sha256


def test_a_changed_onnx_file_is_refused(checkpoint: Path) -> None:
    export_policy(str(checkpoint), checkpoint / "model.onnx", symbols=["IBM"], min_rows=1000, latency_runs=2)
    with open(checkpoint / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(CheckpointError, match="differs from the model card's export report"):
        load_policy(str(checkpoint))
    assert load_policy(str(checkpoint), runtime="torch").runtime == "torch"


@pytest.mark.slow
def test_cli_export_prints_the_parity_report(checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    out = checkpoint / "model.onnx"
    assert main(["export", "onnx", str(checkpoint), "--out", str(out), "--symbols", "AAPL", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_rows"] >= 10_000 and report["action_agreement"] >= 0.999 and out.is_file()
    assert report["symbols"] == ["AAPL"] and report["latency_ms"]["1"]["p99"] > 0


def test_cli_export_without_a_known_dataset_says_to_pass_data(checkpoint: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    card = json.loads((checkpoint / "model_card.json").read_text())
    card["dataset"] = {}
    (checkpoint / "model_card.json").write_text(json.dumps(card))
    assert main(["export", "onnx", str(checkpoint), "--out", str(tmp_path / "a.onnx")]) == 2
    assert "does not name its training dataset; pass --data" in capsys.readouterr().err
    assert not (tmp_path / "a.onnx").exists()
