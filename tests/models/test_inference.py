"""DeviceForward and its buffers: the CPU fp32 path is the plain forward, the staged (CUDA) path gives
the same numbers through reused buffers, reduced precision is autocast (issue 19)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import InvalidParameterError
from models.inference import DeviceForward, PinnedBuffers
from models.spec import OBSERVATION_NAMES
from models.symbol_agent.export import DecidingSymbolAgent
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig
from tests.models.tiny_actor import random_observations


def compact_agent(seed: int = 0) -> DecidingSymbolAgent:
    torch.manual_seed(seed)
    return DecidingSymbolAgent(SymbolAgent(SymbolAgentConfig.preset("compact")).eval())


def inputs(rows: int, seed: int = 0) -> list[np.ndarray]:
    observations = random_observations(rows, seed=seed)
    return [observations[n] for n in OBSERVATION_NAMES]


def plain_forward(module: torch.nn.Module, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """How a policy ran before issue 19: wrap, forward without gradients, read back."""
    with torch.no_grad():
        return [t.numpy() for t in module(*(torch.from_numpy(a) for a in arrays))]


def test_buffers_grow_to_the_next_power_of_two_and_are_reused() -> None:
    buffers = PinnedBuffers(torch.device("cpu"))
    first = buffers.view("x", (5, 3), torch.float32)
    assert first.shape == (5, 3) and buffers.allocations == 1
    for rows in (1, 8, 7):  # within the capacity of 8
        assert buffers.view("x", (rows, 3), torch.float32).shape == (rows, 3)
    assert buffers.allocations == 1
    assert buffers.view("x", (9, 3), torch.float32).shape == (9, 3) and buffers.allocations == 2  # capacity 16
    buffers.view("x", (4, 3), torch.float64)  # another dtype: a new buffer
    buffers.view("x", (4, 2), torch.float64)  # another trailing shape: a new buffer
    assert buffers.allocations == 4


def test_the_cpu_fp32_path_is_the_plain_forward_bit_for_bit() -> None:
    module, arrays = compact_agent(), inputs(64)
    forward = DeviceForward(module, "cpu", "fp32")
    assert forward.is_reference and not forward.staged and forward.module is module
    for got, expected in zip(forward(arrays), plain_forward(module, arrays)):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_the_staged_path_gives_the_same_numbers_through_reused_buffers() -> None:
    """The path a CUDA run takes (host buffers, device buffers, copies back), exercised on the CPU."""
    module = compact_agent()
    forward = DeviceForward(module, "cpu", "fp32", staged=True)
    first_inputs, second_inputs = inputs(32, seed=1), inputs(32, seed=2)
    first = forward(first_inputs)
    allocations = forward._host.allocations + forward._on_device.allocations
    second = forward(second_inputs)
    assert forward._host.allocations + forward._on_device.allocations == allocations  # same batch: no allocation
    for got, expected in zip(first, plain_forward(module, first_inputs)):
        np.testing.assert_array_equal(got, expected)  # the second call did not overwrite what the first returned
    for got, expected in zip(second, plain_forward(module, second_inputs)):
        np.testing.assert_array_equal(got, expected)
    smaller = forward(inputs(5, seed=3))
    assert smaller[0].shape == (5, 7)
    assert forward._host.allocations + forward._on_device.allocations == allocations  # fits the buffers


@pytest.mark.parametrize("staged", [False, True])
def test_only_the_outputs_asked_for_are_read_back(staged: bool) -> None:
    module, arrays = compact_agent(), inputs(8)
    logits, value, attention = DeviceForward(module, "cpu", "fp32", staged=staged)(arrays, keep=[0, 1])
    assert attention is None and value.shape == (8,)
    np.testing.assert_array_equal(logits, plain_forward(module, arrays)[0])


def test_bf16_on_the_cpu_is_autocast_with_float32_outputs() -> None:
    module, arrays = compact_agent(), inputs(256)
    reference = plain_forward(module, arrays)
    logits, values, attention = DeviceForward(module, "cpu", "bf16")(arrays)
    assert logits.dtype == values.dtype == attention.dtype == np.float32
    allowed = arrays[OBSERVATION_NAMES.index("action_mask")]
    np.testing.assert_array_equal(logits[~allowed], reference[0][~allowed])  # masked logits stay exact
    assert 0 < np.abs(logits - reference[0]).max() < 0.05


def test_fp16_on_the_cpu_and_unknown_names_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="precision 'fp16' runs on CUDA only"):
        DeviceForward(compact_agent(), "cpu", "fp16")
    with pytest.raises(InvalidParameterError, match="precision 'fp64' is not one of fp32, bf16, fp16"):
        DeviceForward(compact_agent(), "cpu", "fp64")
    with pytest.raises(InvalidParameterError, match="device 'tpu' is not one of auto, cpu, cuda"):
        DeviceForward(compact_agent(), "tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_device_is_one_line() -> None:
    with pytest.raises(InvalidParameterError, match="device 'cuda' was asked for but torch sees no CUDA device"):
        DeviceForward(compact_agent(), "cuda")
    assert DeviceForward(compact_agent(), "auto").device.type == "cpu"


def test_the_reference_of_a_bf16_forward_is_the_same_module_in_fp32() -> None:
    module, arrays = compact_agent(), inputs(16)
    reference = DeviceForward(module, "cpu", "bf16").reference()
    assert reference.is_reference and reference.module is module
    np.testing.assert_array_equal(reference(arrays)[0], plain_forward(module, arrays)[0])


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_forward_decides_like_the_cpu(precision: str) -> None:
    module, arrays = compact_agent(), inputs(4_096)
    expected = plain_forward(module, arrays)[0]
    forward = DeviceForward(compact_agent(), "cuda", precision)
    assert forward.staged and forward._host.pin
    logits = forward(arrays)[0]
    again = forward(arrays)[0]
    np.testing.assert_array_equal(logits, again)
    assert np.mean(logits.argmax(1) == expected.argmax(1)) >= 0.999
    assert np.abs(logits - expected).max() < (1e-4 if precision == "fp32" else 0.05)
    reference = forward.reference()
    assert reference.device.type == "cpu" and next(reference.module.parameters()).device.type == "cpu"
