"""issue 19: runs take a device and a precision, record what they used, and a CPU fp32 run of a spec
that existed before is unchanged: same spec part of the run id, same run id, same equity bit for bit."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from engine.actions import SymbolActions
from engine.observation import ObservationBuilder
from engine.rollout import run_rollout
from models.spec import OBSERVATION_NAMES
from strategies.neural import _NeuralPolicy
from workbench.runs.backtest import run_backtest
from workbench.runs.evaluate import code_version, spec_decider
from workbench.runs.spec import RunSpec

BASELINE = RunSpec(kind="backtest", data="stocks", strategy="sma_cross", symbols=("AAPL", "MSFT", "IBM"),
                   start="2008-01-01", end="2010-12-31", fees=(0.0, 0.001), slippage=(0.0005,))
# Recorded from the code before issue 19 (commit 6e92744): the spec part of the run id and the equity.
BASELINE_CANONICAL = (
    '{"cash": 100000.0, "data": "stocks", "end": "2010-12-31", "fees": [0.0, 0.001], "kind": "backtest", '
    '"options": {}, "policy": null, "risk": {}, "runtime": "auto", "seed": 0, "slippage": [0.0005], '
    '"start": "2008-01-01", "strategy": "sma_cross", "strategy_params": {}, "symbols": ["AAPL", "MSFT", "IBM"]}')
BASELINE_EQUITY_SHA256 = "bcad1560a21d79961b6431ad92ee01b16d0e30b3f5b0612b71698d2a8f3697e7"
AGENT = RunSpec(kind="backtest", data="stocks", policy="symbol-agent-compact-stocks", runtime="torch",
                symbols=("AAPL", "MSFT", "IBM"), start="2012-01-01", end="2013-03-01", fees=(0.001,))


def former_run_id(canonical: str, fingerprint: str, model_sha: str) -> str:
    """The run id as issue 18's code computed it."""
    return hashlib.sha256("\n".join([canonical, fingerprint, model_sha, code_version()]).encode()).hexdigest()[:16]


def test_issue19_a_baseline_keeps_its_run_id_and_equity() -> None:
    assert BASELINE.canonical() == BASELINE_CANONICAL
    assert BASELINE.replace(device="auto").canonical() == BASELINE_CANONICAL  # where, not what
    result = run_backtest(BASELINE)
    assert result.run_id == former_run_id(BASELINE_CANONICAL, result.data.fingerprint(), "")
    assert hashlib.sha256(np.ascontiguousarray(result.rollout.equity).tobytes()).hexdigest() == BASELINE_EQUITY_SHA256
    assert result.summary()["placement"] is None  # a rule has no network
    assert run_backtest(BASELINE.replace(device="cuda", precision="bf16")).run_id == result.run_id


def former_forward(module: torch.nn.Module, outputs: tuple[str, ...]):
    """TorchPolicy's forward before issue 19: wrap the arrays, no gradients, read the tensors back."""
    def forward(inputs, wanted):
        with torch.no_grad():
            out = module(*(torch.from_numpy(inputs[n]) for n in OBSERVATION_NAMES))
        return {name: tensor.numpy() for name, tensor in zip(outputs, out) if name in wanted}
    return forward


def test_issue19_the_symbol_agent_keeps_its_run_id_and_decides_bit_for_bit_as_before() -> None:
    result = run_backtest(AGENT)
    decider = result.decider
    assert (decider.placement_key, decider.parity_report()) == ("", None)
    assert result.run_id == former_run_id(AGENT.canonical(), result.data.fingerprint(), decider.model_sha)
    assert result.summary()["placement"] == {"device": "cpu", "precision": "fp32", "parity": None}
    policy = decider.policy
    former = _NeuralPolicy("former", SymbolActions(), True, None, policy.outputs,
                           former_forward(policy.actor, policy.outputs))
    observer = ObservationBuilder(result.batch, normalizer=decider.normalizer, action_space=SymbolActions())
    before = run_rollout(result.batch, former, observer=observer)
    np.testing.assert_array_equal(result.rollout.actions, before.actions)
    np.testing.assert_array_equal(result.rollout.equity, before.equity)


def test_issue19_a_reduced_precision_run_records_it_and_has_its_own_id() -> None:
    reference = run_backtest(AGENT, extras=False)
    bf16 = run_backtest(AGENT.replace(precision="bf16"), extras=False)
    assert bf16.spec.to_dict()["precision"] == "bf16" and bf16.spec.canonical() == AGENT.canonical()
    assert bf16.run_id != reference.run_id  # the decider's placement is part of the id
    placement = bf16.summary()["placement"]
    assert (placement["device"], placement["precision"]) == ("cpu", "bf16")
    parity = placement["parity"]
    assert parity["rows"] == (bf16.batch.n_bars - 1) * 3 and parity["reference"] == "cpu/fp32"
    agreement = np.mean(bf16.rollout.actions == reference.rollout.actions)
    assert agreement >= 0.99 and parity["action_agreement"] >= 0.99


def test_issue19_device_and_precision_are_validated_and_round_trip() -> None:
    spec = AGENT.replace(device="auto", precision="bf16")
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert spec_decider(spec).placement_key == ("cuda/bf16" if torch.cuda.is_available() else "cpu/bf16")
    with pytest.raises(Exception, match="RunSpec.device 'gpu' is not one of auto, cpu, cuda"):
        AGENT.replace(device="gpu")
    with pytest.raises(Exception, match="RunSpec.precision 'fp8' is not one of fp32, bf16, fp16"):
        AGENT.replace(precision="fp8")
