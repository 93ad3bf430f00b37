"""SB3 import: a real tiny PPO / MaskablePPO zip read without unpickling, checked, and mapped to an actor."""
from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO

from engine.errors import CheckpointError
from models.spec import MASKED_LOGIT, OBSERVATION_SHAPES
from models.symbol_agent.sb3_import import Sb3MlpActor, import_sb3, load_sb3_weights, read_sb3_zip
from tests.models.test_checkpoint import CreatesFile
from tests.models.tiny_actor import random_observations


class ToyDictEnv(gym.Env):
    """The workbench observation's float entries (without the mask), random rewards; 7 actions."""

    def __init__(self, technical_rows: int = 24) -> None:
        shapes = OBSERVATION_SHAPES | {"technical": (technical_rows, 23)}
        self.observation_space = spaces.Dict({name: spaces.Box(-1.0, 1.0, shapes[name], np.float32)
                                              for name in ("technical", "sl_probs", "position", "portfolio",
                                                           "regime")})
        self.action_space = spaces.Discrete(7)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), float(action == 1), False, False, {}

    def action_masks(self) -> np.ndarray:
        return np.array([True, True, False, True, True, False, True])


def train(algorithm, path: Path, env: gym.Env | None = None, **policy_kwargs) -> Path:
    model = algorithm("MultiInputPolicy", env or ToyDictEnv(), n_steps=32, batch_size=32, n_epochs=1, seed=0,
                      policy_kwargs=policy_kwargs or None)
    model.learn(32)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def ppo_zip(tmp_path_factory) -> Path:
    return train(PPO, tmp_path_factory.mktemp("sb3") / "ppo.zip", net_arch=[16, 8], activation_fn=torch.nn.ReLU)


def sb3_logits(model, observations: dict[str, np.ndarray]) -> torch.Tensor:
    obs = {k: torch.from_numpy(v) for k, v in observations.items() if k != "action_mask"}
    with torch.no_grad():
        return model.policy.get_distribution(obs).distribution.logits


def actor_logits(actor, observations: dict[str, np.ndarray]) -> torch.Tensor:
    with torch.no_grad():
        return actor(*(torch.from_numpy(observations[k]) for k in
                       ("technical", "sl_probs", "position", "portfolio", "regime", "action_mask")))


def test_imported_ppo_actor_matches_sb3(ppo_zip: Path) -> None:
    archive = read_sb3_zip(ppo_zip)
    assert archive.observation_keys == ("portfolio", "position", "regime", "sl_probs", "technical")
    assert archive.policy_layers() == (16, 8) and archive.activation == "ReLU"
    actor = import_sb3(ppo_zip)
    observations = random_observations(64, seed=1)
    observations["action_mask"][:] = True
    ours = torch.log_softmax(actor_logits(actor, observations), dim=1)
    theirs = sb3_logits(PPO.load(ppo_zip, device="cpu"), observations)  # SB3 keeps normalized logits
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_imported_actor_masks_like_maskable_ppo(tmp_path: Path) -> None:
    path = train(MaskablePPO, tmp_path / "maskable.zip")
    actor = import_sb3(path)
    assert read_sb3_zip(path).activation == "Tanh"  # SB3's default: policy_kwargs did not set one
    model = MaskablePPO.load(path, device="cpu")
    observations = random_observations(32, seed=2)
    ours = actor_logits(actor, observations)
    assert torch.all(ours[~torch.from_numpy(observations["action_mask"])] == MASKED_LOGIT)
    obs = {k: v for k, v in observations.items() if k != "action_mask"}
    expected = model.predict(obs, deterministic=True, action_masks=observations["action_mask"])[0]
    assert np.array_equal(ours.argmax(dim=1).numpy(), expected)


def rewrite_entry(source: Path, target: Path, entry: str, payload: bytes) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, payload if name == entry else old.read(name))
    return target


def test_pickled_payloads_in_the_zip_are_never_run(ppo_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    # 1. A policy.pth whose unpickling would create a file: weights_only refuses it.
    buffer = io.BytesIO()
    torch.save({"weight": CreatesFile(str(marker))}, buffer)
    evil = rewrite_entry(ppo_zip, tmp_path / "evil_policy.zip", "policy.pth", buffer.getvalue())
    with pytest.raises(CheckpointError, match="policy.pth holds more than tensors"):
        read_sb3_zip(evil)
    assert not marker.exists()
    # 2. The base64 pickles inside `data` are never decoded.
    with zipfile.ZipFile(ppo_zip) as archive:
        data = json.loads(archive.read("data"))
    for value in data.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = base64.b64encode(pickle.dumps(CreatesFile(str(marker)))).decode()
    evil = rewrite_entry(ppo_zip, tmp_path / "evil_data.zip", "data", json.dumps(data).encode())
    assert read_sb3_zip(evil).observation_keys[0] == "portfolio"
    assert not marker.exists()


def test_another_observation_or_action_space_is_refused(tmp_path: Path) -> None:
    path = train(PPO, tmp_path / "short.zip", env=ToyDictEnv(technical_rows=12))
    with pytest.raises(CheckpointError, match=r"short.zip: observation entry 'technical' is float32\[12, 23\], "
                                              r"the workbench builds float32\[24, 23\]"):
        read_sb3_zip(path)

    class ThreeActions(ToyDictEnv):
        def __init__(self) -> None:
            super().__init__()
            self.action_space = spaces.Discrete(3)

    path = train(PPO, tmp_path / "three.zip", env=ThreeActions())
    with pytest.raises(CheckpointError, match=r"n=3; the workbench needs Discrete\(7\)"):
        read_sb3_zip(path)


def test_not_a_zip_and_missing_entries_are_refused(ppo_zip: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.zip"
    plain.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a zip archive"):
        read_sb3_zip(plain)
    with zipfile.ZipFile(ppo_zip) as old, zipfile.ZipFile(tmp_path / "partial.zip", "w") as new:
        new.writestr("data", old.read("data"))
    with pytest.raises(CheckpointError, match="'policy.pth' is missing"):
        read_sb3_zip(tmp_path / "partial.zip")


def test_weights_into_a_mismatched_module_are_refused(ppo_zip: Path) -> None:
    archive = read_sb3_zip(ppo_zip)
    with pytest.raises(CheckpointError, match=r"tensor 'policy_net.0.weight' has shape \(16, 578\), the network "
                                              r"expects \(32, 578\)"):
        load_sb3_weights(archive, Sb3MlpActor(archive.observation_keys, (32, 8), "ReLU"))
    with pytest.raises(CheckpointError, match="tensor 'policy_net.0.weight' is missing"):
        load_sb3_weights(archive, Sb3MlpActor(archive.observation_keys, (16, 8)),
                         key_map={"action_net.": "action_net."})
