"""Where a trained policy decides (issue 19): every neural family takes a placement from
checkpoint_decider, runs its network there, and reports its parity with CPU fp32 off it."""
from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest

from engine.actions import SymbolActions
from engine.data.registry import load_builtin
from engine.errors import InvalidParameterError
from engine.observation import ObservationBuilder
from engine.rollout import run_rollout
from engine.scenarios import ScenarioParams, from_market
from models import devices, onnx_export
from strategies.family import REFERENCE, Placement
from strategies.master import MasterObserver
from workbench.policies import load_policy

SYMBOL_AGENT = "symbol-agent-compact-stocks"
MASTER_AGENT = "master-agent-compact-stocks"


@pytest.fixture(scope="module")
def batch():
    data = load_builtin("stocks").select(["AAPL", "MSFT", "IBM"]).slice("2012-01-01", "2012-12-31")
    return from_market(data, [ScenarioParams(fees=0.001), ScenarioParams(fees=0.002)])


def test_the_default_placement_is_the_reference_and_reports_nothing() -> None:
    decider = load_policy(SYMBOL_AGENT)
    assert decider.placement == REFERENCE and decider.placement_key == "" and decider.runtime == "onnx"
    assert decider.parity_report() is None
    assert decider.placement_summary() == {"device": "cpu", "precision": "fp32", "parity": None}


def test_bf16_takes_torch_and_reports_its_agreement_with_fp32(batch) -> None:
    decider = load_policy(SYMBOL_AGENT, placement=Placement("cpu", "bf16"))
    assert decider.runtime == "torch"  # auto: an ONNX export is a float32 graph
    assert decider.placement == Placement("cpu", "bf16") and decider.placement_key == "cpu/bf16"
    observer = ObservationBuilder(batch, normalizer=decider.normalizer, action_space=SymbolActions())
    run_rollout(batch, decider.policy, observer=observer)
    report = decider.parity_report()
    assert report["rows"] == (batch.n_bars - 1) * 6 and report["output"] == "logits"  # 6 rows a bar, all kept
    # bf16 keeps 8 bits of mantissa: a few near-ties flip (measured 99.8% here); the report says so
    assert report["action_agreement"] >= 0.99 and report["passed"] == (report["action_agreement"] >= 0.999)
    assert 0 < report["max_abs_diff"] < 0.05


def test_the_master_agent_reports_the_agreement_of_its_weights(batch) -> None:
    decider = load_policy(MASTER_AGENT, runtime="torch", placement=Placement("cpu", "bf16"))
    assert decider.placement == Placement("cpu", "bf16")
    run_rollout(batch, decider.policy, observer=MasterObserver(batch, decider.normalizer))
    report = decider.parity_report()
    assert report["output"] == "weights" and report["rows"] == (batch.n_bars - 1) * 2  # one row per scenario
    assert report["max_abs_diff"] < 0.01 and report["action_agreement"] >= 0.99


def test_what_cannot_run_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidParameterError, match="--precision bf16 runs on torch; an ONNX export is a float32"):
        load_policy(SYMBOL_AGENT, runtime="onnx", placement=Placement("cpu", "bf16"))
    with pytest.raises(InvalidParameterError, match="precision 'fp16' runs on CUDA only"):
        load_policy(MASTER_AGENT, runtime="torch", placement=Placement("cpu", "fp16"))
    with pytest.raises(InvalidParameterError, match="device 'gpu' is not one of auto, cpu, cuda"):
        Placement("gpu")


@pytest.mark.skipif(devices.cuda_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_one_line_and_auto_is_the_cpu() -> None:
    with pytest.raises(InvalidParameterError, match="^device 'cuda' was asked for but torch sees no CUDA device; "
                                                    "use --device cpu$"):
        load_policy(SYMBOL_AGENT, placement=Placement("cuda"))
    decider = load_policy(SYMBOL_AGENT, placement=Placement("auto"))
    assert decider.placement == REFERENCE and decider.placement_key == ""


def test_onnx_takes_the_cuda_provider_when_onnxruntime_has_one(monkeypatch, caplog) -> None:
    """A fake CUDA machine: torch sees a device; onnxruntime with and without its CUDA provider."""
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_export.onnx_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_export.onnx_providers("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="models.onnx_export"):
        assert onnx_export.onnx_providers("auto") == ["CPUExecutionProvider"]
    assert [r.getMessage() for r in caplog.records] == [
        "onnxruntime has no CUDA provider (install onnxruntime-gpu: pip install -e '.[gpu]'); the ONNX export "
        "runs on the CPU"]
    decider = load_policy(SYMBOL_AGENT, placement=Placement("cuda"))  # falls back: the run says where it ran
    assert decider.runtime == "onnx" and decider.placement == REFERENCE


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_cuda_backtest_decides_like_the_cpu(batch, precision: str) -> None:
    cpu = load_policy(SYMBOL_AGENT, runtime="torch")
    gpu = load_policy(SYMBOL_AGENT, runtime="torch", placement=Placement("cuda", precision))
    assert gpu.placement == Placement("cuda", precision)
    results = [run_rollout(batch, d.policy, observer=ObservationBuilder(batch, normalizer=d.normalizer,
                                                                         action_space=SymbolActions()))
               for d in (cpu, gpu)]
    assert np.mean(results[0].actions == results[1].actions) >= 0.999
    assert gpu.parity_report()["passed"]
