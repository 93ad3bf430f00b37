"""Checkpoints: round trip, SHA-256, no unpickling, strict shapes and keys, atomic save."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from engine.errors import CheckpointError, InvalidParameterError
from models.checkpoint import (
    CARD_FILE,
    NORMALIZER_FILE,
    WEIGHTS_FILE,
    ModelCard,
    load_checkpoint,
    save_checkpoint,
)
from models.spec import observation_spec
from tests.engine.envs.helpers import identity_normalizer
from tests.models.tiny_actor import TinyActor, tiny_actor


def card(**changes) -> ModelCard:
    base = dict(architecture="tiny", config={"hidden": 8}, train_period=("2020-01-01", "2021-12-31"),
                validation_period=("2022-01-01", "2022-06-30"), data_fingerprint="ab" * 32, seed=7,
                code_version="0.1.0", training_metrics={"train/loss": 0.5},
                validation_metrics={"validation/sharpe": 1.25})
    return ModelCard(**(base | changes))


def build(config: dict) -> TinyActor:
    return TinyActor(**config)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, TinyActor, ModelCard]:
    module = tiny_actor(8, seed=1)
    written = save_checkpoint(tmp_path / "ckpt", module, card(), identity_normalizer())
    return tmp_path / "ckpt", module, written


def test_round_trip_restores_weights_card_and_normalizer(saved) -> None:
    folder, module, written = saved
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS_FILE, CARD_FILE, NORMALIZER_FILE])
    loaded, loaded_card, normalizer = load_checkpoint(folder, build)
    for key, tensor in module.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    assert loaded_card == written
    # 578 inputs * 8 + 8 biases, then 8 * 7 + 7: 4,624 + 8 + 56 + 7 = 4,695 parameters.
    assert written.parameter_counts == {"total": 4695, "trainable": 4695}
    assert len(written.weights_sha256) == 64
    assert written.observation_spec == observation_spec()
    assert normalizer == identity_normalizer()
    assert not loaded.training


def test_card_dict_round_trip_and_unknown_keys_refused() -> None:
    data = card().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert ModelCard.from_dict(data) == card()
    with pytest.raises(InvalidParameterError, match="unknown model card key.*learning_rate"):
        ModelCard.from_dict(data | {"learning_rate": 0.1})
    with pytest.raises(InvalidParameterError, match="lacks key.*seed"):
        ModelCard.from_dict({k: v for k, v in data.items() if k != "seed"})


def test_existing_folder_is_not_overwritten_unless_asked(saved) -> None:
    folder, _, first = saved
    with pytest.raises(CheckpointError, match="already exists"):
        save_checkpoint(folder, tiny_actor(8, seed=2), card(), identity_normalizer())
    assert load_checkpoint(folder, build)[1].weights_sha256 == first.weights_sha256
    second = save_checkpoint(folder, tiny_actor(8, seed=2), card(), identity_normalizer(), overwrite=True)
    assert second.weights_sha256 != first.weights_sha256
    assert load_checkpoint(folder, build)[1].weights_sha256 == second.weights_sha256
    assert sorted(p.name for p in folder.parent.iterdir()) == ["ckpt"]  # no staging left behind


def test_one_flipped_byte_is_refused_by_the_sha(saved) -> None:
    folder, _, _ = saved
    weights = folder / WEIGHTS_FILE
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0x01  # last byte: inside the last tensor's data, the header stays valid
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"weights.safetensors: sha256 .* differs from the model card"):
        load_checkpoint(folder, build)


class CreatesFile:
    """Unpickling this object opens (creates) a file: proof that a loader ran code from the payload."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("container", ["pickle", "torch_zip"])
def test_a_pickle_renamed_to_safetensors_is_refused_without_running_it(saved, tmp_path: Path, container) -> None:
    folder, _, _ = saved
    marker = tmp_path / "pwned.txt"
    weights = folder / WEIGHTS_FILE
    if container == "pickle":
        weights.write_bytes(pickle.dumps(CreatesFile(str(marker))))
    else:
        torch.save({"payload": CreatesFile(str(marker))}, weights)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="not safetensors; it was not opened"):
        load_checkpoint(folder, build)
    assert not marker.exists()


def test_shape_mismatch_names_folder_file_tensor_and_fix(saved) -> None:
    folder, _, _ = saved
    with pytest.raises(CheckpointError, match=r"ckpt: weights.safetensors: tensor 'body.0.weight' has shape "
                                              r"\(8, 578\), the network expects \(16, 578\). Fix: build"):
        load_checkpoint(folder, lambda config: TinyActor(hidden=16))


def test_missing_and_unexpected_tensors_are_refused(saved) -> None:
    folder, _, _ = saved

    class Wider(TinyActor):
        def __init__(self, hidden: int) -> None:
            super().__init__(hidden)
            self.extra = torch.nn.Linear(2, 2)

    with pytest.raises(CheckpointError, match="tensor 'extra.weight' is missing"):
        load_checkpoint(folder, lambda config: Wider(**config))

    class Headless(torch.nn.Module):
        def __init__(self, hidden: int) -> None:
            super().__init__()
            self.body = TinyActor(hidden).body

    with pytest.raises(CheckpointError, match=r"unexpected tensor 'head\.(weight|bias)' \(2 unexpected in all\)"):
        load_checkpoint(folder, lambda config: Headless(**config))


def test_a_card_for_another_observation_is_refused(saved) -> None:
    folder, _, _ = saved
    data = json.loads((folder / CARD_FILE).read_text())
    data["observation_spec"]["technical"]["shape"] = [48, 23]
    (folder / CARD_FILE).write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="another observation or action spec"):
        load_checkpoint(folder, build)


def test_missing_file_is_named(saved) -> None:
    folder, _, _ = saved
    (folder / NORMALIZER_FILE).unlink()
    with pytest.raises(CheckpointError, match="normalizer.json is missing"):
        load_checkpoint(folder, build)


def test_a_failed_save_leaves_nothing(tmp_path: Path) -> None:
    class Unserializable:
        def to_dict(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path / "ckpt", tiny_actor(), card(), Unserializable())
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_checkpoint(saved) -> None:
    folder, _, first = saved

    class Unserializable:
        def to_dict(self):
            return {"not json": object()}

    with pytest.raises(TypeError):
        save_checkpoint(folder, tiny_actor(8, seed=3), card(), Unserializable(), overwrite=True)
    assert load_checkpoint(folder, build)[1].weights_sha256 == first.weights_sha256
    assert sorted(p.name for p in folder.parent.iterdir()) == ["ckpt"]
