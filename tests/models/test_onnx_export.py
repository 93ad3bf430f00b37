"""ONNX export: named dynamic inputs, parity with torch on 10,000 rows, thresholds, atomic writes."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from engine.errors import InvalidParameterError, OnnxExportError
from models.checkpoint import file_sha256
from models.onnx_export import (
    MAX_LOGIT_DIFF,
    MIN_ACTION_AGREEMENT,
    ExportReport,
    PositionalActor,
    check_parity,
    export_onnx,
    onnx_session,
)
from models.spec import MASKED_LOGIT, OBSERVATION_NAMES
from tests.models.tiny_actor import random_observations, tiny_actor


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, ExportReport]:
    path = tmp_path_factory.mktemp("onnx") / "actor.onnx"
    return path, export_onnx(tiny_actor(), path, random_observations(10_000), latency_runs=50)


def test_export_meets_parity_and_reports_latency(exported) -> None:
    path, report = exported
    assert report.n_rows == 10_000
    assert report.max_abs_logit_diff <= MAX_LOGIT_DIFF
    assert report.action_agreement >= MIN_ACTION_AGREEMENT
    assert set(report.latency_ms) == {"1", "256"}
    for batch in report.latency_ms.values():
        assert 0 < batch["p50"] <= batch["p99"]
    assert report.sha256 == file_sha256(path)
    assert report.to_dict()["latency_ms"] == report.latency_ms
    assert sorted(p.name for p in path.parent.iterdir()) == ["actor.onnx"]  # no staging file left


def test_graph_has_six_named_inputs_with_a_free_batch_axis(exported) -> None:
    path, _ = exported
    onnx.checker.check_model(onnx.load(str(path)))
    inputs = onnx_session(path).get_inputs()
    assert [i.name for i in inputs] == list(OBSERVATION_NAMES)
    assert all(isinstance(i.shape[0], str) for i in inputs)  # symbolic "batch"
    session = onnx_session(path)
    for rows in (1, 3):
        feed = {k: v[:rows] for k, v in random_observations(rows, seed=5).items()}
        logits = session.run(["logits"], feed)[0]
        assert logits.shape == (rows, 7)
        # Masked actions read very negative but finite.
        assert np.all(logits[~feed["action_mask"]] == MASKED_LOGIT)


def test_threshold_check_refuses_divergent_reports() -> None:
    good = ExportReport(path="a.onnx", sha256="0" * 64, opset=17, n_rows=10_000, max_abs_logit_diff=1e-4,
                        action_agreement=0.999, latency_ms={})
    check_parity(good)  # exactly at both thresholds passes
    with pytest.raises(OnnxExportError, match="differ from torch by up to 0.0002"):
        check_parity(dataclasses.replace(good, max_abs_logit_diff=2e-4))
    with pytest.raises(OnnxExportError, match=r"only 99\.8900% of 10000"):
        check_parity(dataclasses.replace(good, action_agreement=0.9989))
    with pytest.raises(OnnxExportError, match="differ"):
        check_parity(dataclasses.replace(good, max_abs_logit_diff=float("nan")))


def test_a_failed_parity_check_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    import models.onnx_export as export

    monkeypatch.setattr(export, "onnx_outputs", lambda session, observations, graph: [np.zeros((100, 7), np.float32)])
    with pytest.raises(OnnxExportError, match="differ from torch"):
        export_onnx(tiny_actor(), tmp_path / "bad.onnx", random_observations(100), min_rows=100, latency_runs=2)
    assert list(tmp_path.iterdir()) == []


def test_too_few_or_malformed_observations_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="at least 10000"):
        export_onnx(tiny_actor(), tmp_path / "a.onnx", random_observations(50))
    bad = random_observations(50) | {"regime": np.zeros((50, 9), np.float32)}
    with pytest.raises(InvalidParameterError, match=r"'regime' is float32\[50, 9\]"):
        export_onnx(tiny_actor(), tmp_path / "a.onnx", bad, min_rows=10)
    with pytest.raises(InvalidParameterError, match="lack action_mask"):
        export_onnx(tiny_actor(), tmp_path / "a.onnx",
                    {k: v for k, v in random_observations(50).items() if k != "action_mask"}, min_rows=10)
    assert list(tmp_path.iterdir()) == []


class DictActorCritic(torch.nn.Module):
    """Takes the observation dict and returns (masked logits, values), like the workbench's agents."""

    def __init__(self) -> None:
        super().__init__()
        self.actor = tiny_actor()
        self.critic = torch.nn.Linear(10, 1)

    def forward(self, obs):
        logits = self.actor(*(obs[n] for n in OBSERVATION_NAMES))
        return logits, self.critic(obs["regime"]).squeeze(-1)


def test_a_dict_input_actor_critic_exports_through_the_adapter(tmp_path: Path) -> None:
    report = export_onnx(PositionalActor(DictActorCritic()), tmp_path / "dict.onnx", random_observations(100),
                         min_rows=100, latency_runs=2)
    assert report.max_abs_logit_diff <= MAX_LOGIT_DIFF and report.action_agreement == 1.0
    outputs = onnx_session(tmp_path / "dict.onnx").get_outputs()
    assert [(o.name, o.shape[1]) for o in outputs] == [("logits", 7)]  # the critic is not exported
