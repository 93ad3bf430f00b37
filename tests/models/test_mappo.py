"""The MAPPO trainer: it learns where the right action is known, repeats itself from a seed, resumes
exactly, keeps the best validated weights and stops early on the KL."""
from __future__ import annotations

import copy
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import CheckpointError, InvalidParameterError
from engine.votes import LONG, SHORT, team_decision
from models.mappo import MappoArgs, TeamStep, collect_rollout, generalized_advantages, train_mappo, update_network
from models.tactical_team.config import team_config
from models.tactical_team.network import TacticalTeam


class SignEnv:
    """Each instance sees a window filled with a sign (plus noise); the team earns 1 when its
    plurality vote goes the sign's way (long for +, short for -), else 0. Episodes of 8 steps."""

    agents = ("fvg", "momentum", "entry")

    def __init__(self, n_envs: int = 32) -> None:
        self.n_envs = n_envs
        self.rng = np.random.default_rng(0)
        self.t = 0

    def _draw(self) -> tuple[np.ndarray, np.ndarray]:
        self.sign = self.rng.choice([-1.0, 1.0], self.n_envs)
        window = (self.sign[:, None, None] + 0.1 * self.rng.normal(size=(self.n_envs, 60, 7))).astype(np.float32)
        return window, window.reshape(self.n_envs, -1)

    def reset(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        self.rng, self.t = np.random.default_rng(seed), 0
        return self._draw()

    def step(self, actions: np.ndarray, probabilities: np.ndarray) -> TeamStep:
        right = np.where(self.sign > 0, LONG, SHORT)
        correct = team_decision("plurality", actions) == right
        rewards = np.repeat(correct.astype(np.float32)[:, None], 3, axis=1)
        self.t += 1
        truncated = np.full(self.n_envs, self.t % 8 == 0)
        final = self._draw()[1] if truncated.any() else None
        observation, state = self._draw()
        return TeamStep(observation, state, rewards, np.zeros(self.n_envs, bool), truncated, final,
                        {"team/accuracy": correct.astype(np.float64)})


def team(seed: int = 0) -> TacticalTeam:
    torch.manual_seed(seed)
    return TacticalTeam(team_config("compact"))


TINY = dict(n_steps=8, n_epochs=2, n_minibatches=2, total_timesteps=2 * 8 * 32)


def accuracy(network: TacticalTeam, env: SignEnv) -> float:
    window, _ = env.reset(123)
    votes = network.decide(window).logits.argmax(-1).numpy()
    return float(np.mean(team_decision("plurality", votes) == np.where(env.sign > 0, LONG, SHORT)))


def test_the_team_learns_an_action_it_can_see(tmp_path: Path) -> None:
    env, network = SignEnv(), team()
    before = accuracy(network, env)
    args = MappoArgs(seed=1, n_steps=16, n_epochs=4, n_minibatches=4, total_timesteps=30 * 16 * 32,
                     learning_rate=1e-3)
    result = train_mappo(env, network, args, tmp_path)
    assert result.updates == 30 and result.timesteps == 30 * 16 * 32
    assert accuracy(result.network, env) > 0.95 > before + 0.2
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert float(rows[-1]["team/accuracy"]) > float(rows[0]["team/accuracy"]) + 0.3
    assert list(tmp_path.glob("events.out.tfevents.*"))  # TensorBoard


def test_the_same_seed_gives_the_same_weights(tmp_path: Path) -> None:
    runs = [train_mappo(SignEnv(), team(), MappoArgs(seed=s, **TINY), tmp_path / f"{k}").network.state_dict()
            for k, s in enumerate((5, 5, 6))]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path: Path) -> None:
    args = MappoArgs(seed=3, checkpoint_every=1, **dict(TINY, total_timesteps=4 * 8 * 32))
    straight = train_mappo(SignEnv(), team(), args, tmp_path / "straight").network

    def interrupt(done: int, total: int) -> None:
        if done == total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_mappo(SignEnv(), team(), args, tmp_path / "resumed", progress=interrupt)
    resumed = train_mappo(SignEnv(), team(seed=99), args, tmp_path / "resumed", resume=True)
    assert resumed.updates == 4
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.network.state_dict()[key]), key


def test_a_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    train_mappo(SignEnv(), team(), MappoArgs(seed=3, **TINY), tmp_path)
    with pytest.raises(CheckpointError, match="other settings .*learning_rate"):
        train_mappo(SignEnv(), team(), MappoArgs(seed=3, learning_rate=1e-3, **TINY), tmp_path, resume=True)


def test_the_best_validated_weights_are_kept(tmp_path: Path) -> None:
    scores = iter([0.5, 2.0, float("nan"), 2.0, 1.0])
    snapshots = []

    def evaluate(network):
        snapshots.append({k: v.clone() for k, v in network.state_dict().items()})
        return {"validation/sharpe": next(scores)}

    args = MappoArgs(seed=2, eval_every=1, **dict(TINY, total_timesteps=5 * 8 * 32))
    result = train_mappo(SignEnv(), team(), args, tmp_path, evaluate=evaluate)
    assert [h["validation/sharpe"] for h in result.history][:2] == [0.5, 2.0] and len(result.history) == 5
    assert result.best_metrics["validation/update"] == 4.0  # the later of two equal scores
    assert all(torch.equal(v, snapshots[3][k]) for k, v in result.network.state_dict().items())
    from safetensors.torch import load_file
    best = load_file(str(tmp_path / "checkpoints" / "best" / "network.safetensors"))
    assert all(torch.equal(v, snapshots[3][k]) for k, v in best.items())


def test_the_kl_stop_ends_the_epochs(tmp_path: Path) -> None:
    result = train_mappo(SignEnv(), team(), MappoArgs(seed=0, target_kl=1e-12, **dict(TINY, n_epochs=5)), tmp_path)
    assert result.train_metrics["train/epochs"] == 1.0
    loose = train_mappo(SignEnv(), team(), MappoArgs(seed=0, target_kl=None, **dict(TINY, n_epochs=5)),
                        tmp_path / "loose")
    assert loose.train_metrics["train/epochs"] == 5.0


def test_the_entropy_coefficient_decays_from_the_specification_values() -> None:
    args = MappoArgs()
    assert (args.learning_rate, args.gamma, args.gae_lambda, args.clip_coef, args.ent_coef, args.vf_coef) == (
        1.85e-4, 0.9728, 0.9047, 0.2328, 0.0012, 0.7181)
    assert args.entropy_coefficient(1, 11) == 0.01 and args.entropy_coefficient(11, 11) == pytest.approx(0.001)
    assert args.entropy_coefficient(6, 11) == pytest.approx(0.0055)
    assert MappoArgs(entropy_schedule="constant").entropy_coefficient(3, 11) == 0.0012


def test_gae_by_hand() -> None:
    rewards = torch.tensor([[[1.0]], [[0.0]], [[2.0]]])
    values = torch.tensor([[[0.5]], [[0.25]], [[1.0]]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    advantages = generalized_advantages(rewards, dones, values, torch.tensor([[4.0]]), 0.5, 0.5)
    # t=2: 2 + 0.5*4 - 1 = 3; t=1 ends an episode: 0 - 0.25; t=0: 1 + 0.5*0.25 - 0.5 + 0.25*(-0.25)
    torch.testing.assert_close(advantages[:, 0, 0], torch.tensor([0.5625, -0.25, 3.0]))


@pytest.mark.parametrize("changes, message", [
    ({"gamma": 1.5}, "gamma"), ({"n_steps": 0}, "n_steps"), ({"entropy_schedule": "cosine"}, "entropy_schedule"),
    ({"target_kl": -1.0}, "target_kl"), ({"vf_coef": -0.1}, "vf_coef"),
])
def test_bad_arguments_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        MappoArgs(**changes)


# -- issue 19: the device it trains on -----------------------------------------------------------------


def test_the_device_is_checked_and_auto_is_the_default() -> None:
    assert MappoArgs().device == "auto" and MappoArgs(device="cpu").to_dict()["device"] == "cpu"
    with pytest.raises(InvalidParameterError, match="device 'tpu' is not one of auto, cpu, cuda"):
        MappoArgs(device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_device_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidParameterError, match="^device 'cuda' was asked for but torch sees no CUDA device; "
                                                    "use --device cpu$"):
        MappoArgs(device="cuda")


def test_a_run_resumes_on_another_device_setting(tmp_path: Path) -> None:
    """The device is not one of the settings a resume must repeat (the files hold CPU tensors); on this
    machine ``auto`` and ``cpu`` are the same device, so the weights are those of the uninterrupted run."""
    args = MappoArgs(seed=3, checkpoint_every=1, device="cpu", **dict(TINY, total_timesteps=4 * 8 * 32))
    straight = train_mappo(SignEnv(), team(), args, tmp_path / "straight").network

    def interrupt(done: int, total: int) -> None:
        if done == total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_mappo(SignEnv(), team(), args, tmp_path / "resumed", progress=interrupt)
    other = dataclasses.replace(args, device="auto")
    resumed = train_mappo(SignEnv(), team(seed=99), other, tmp_path / "resumed", resume=True)
    assert resumed.updates == 4 and resumed.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if resumed.device.type == "cpu":
        for key, value in straight.state_dict().items():
            assert torch.equal(value, resumed.network.state_dict()[key]), key


def _no_dropout_team(seed: int = 0) -> TacticalTeam:
    torch.manual_seed(seed)
    return TacticalTeam(dataclasses.replace(team_config("compact"), dropout=0.0))


@pytest.mark.cuda
def test_a_cuda_run_keeps_cpu_files_and_returns_the_network_on_the_cpu(tmp_path: Path) -> None:
    seen = []

    def evaluate(network):
        seen.append({p.device.type for p in network.parameters()})
        return {"validation/sharpe": 1.0}

    args = MappoArgs(seed=3, checkpoint_every=1, eval_every=1, device="cuda", **dict(TINY, total_timesteps=2 * 8 * 32))
    result = train_mappo(SignEnv(), team(), args, tmp_path / "gpu", evaluate=evaluate)
    assert result.device.type == "cuda" and seen == [{"cpu"}, {"cpu"}]  # validated on a CPU copy
    assert {p.device.type for p in result.network.parameters()} == {"cpu"}
    from safetensors.torch import load_file
    for name in ("last/network.safetensors", "last/optimizer.safetensors", "best/network.safetensors"):
        assert {t.device.type for t in load_file(str(tmp_path / "gpu" / "checkpoints" / name)).values()} == {"cpu"}
    # the run goes on on the CPU from the CUDA run's checkpoint
    longer = dataclasses.replace(args, device="cpu", total_timesteps=3 * 8 * 32)
    resumed = train_mappo(SignEnv(), team(seed=99), longer, tmp_path / "gpu", resume=True, evaluate=evaluate)
    assert resumed.updates == 3 and resumed.device.type == "cpu"


@pytest.mark.cuda
def test_a_cuda_update_is_close_to_the_cpu_update() -> None:
    """One rollout (collected on the CPU), one update on each device from the same weights, minibatch order
    and (no) dropout: the weights after it agree to float32 rounding."""
    env, args = SignEnv(), MappoArgs(seed=0, device="cpu", **TINY)
    cpu_net = _no_dropout_team()
    rollout, _ = collect_rollout(env, cpu_net, args, 7, torch.Generator().manual_seed(1))
    gpu_net = copy.deepcopy(cpu_net).to("cuda")
    gpu_rollout = type(rollout)(*(t.to("cuda") for t in rollout))
    updated = []
    for net, data in ((cpu_net, rollout), (gpu_net, gpu_rollout)):
        optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate, eps=1e-5)
        stats = update_network(net, optimizer, data, args, 0.01, np.random.default_rng(5))
        updated.append((stats, {k: v.cpu() for k, v in net.state_dict().items()}))
    (cpu_stats, cpu_state), (gpu_stats, gpu_state) = updated
    assert gpu_stats["train/epochs"] == cpu_stats["train/epochs"]
    assert gpu_stats["train/policy_loss"] == pytest.approx(cpu_stats["train/policy_loss"], abs=1e-4)
    for key, value in cpu_state.items():
        torch.testing.assert_close(gpu_state[key], value, atol=1e-4, rtol=1e-3, msg=key)
