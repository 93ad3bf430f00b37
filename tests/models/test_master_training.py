"""PPO training of the master agent: action distribution math, environment reward, reproducibility, checkpoints."""
from __future__ import annotations

import csv
import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.registry import load_builtin
from engine.errors import CheckpointError, InvalidParameterError
from engine.rewards import REWARD_COMPONENTS
from models.checkpoint import load_checkpoint, save_checkpoint
from models.master_agent.policy_network import (
    MasterPolicyNetwork,
    build_master_network,
    entropy,
    log_prob,
    logits_to_weights,
    master_action_space,
    master_config,
    sample_logits,
)
from models.master_agent.ppo import generalized_advantages
from models.master_agent.training import (
    MasterTrainingConfig,
    make_training_env,
    train_master_agent,
)
from models.splits import split_data
from models.symbol_agent.encoder import EncoderConfig, FeatureEncoder
from models.symbol_agent.network import build_symbol_agent
from tests.engine.envs.helpers import identity_normalizer

TINY = MasterTrainingConfig(timesteps=128, seed=3, device="cpu", accounts=4, n_steps=16, n_minibatches=2,
                            n_epochs=2, episode_length=32, eval_every=64)
SYMBOL_AGENT = {"name": "tiny-symbol-agent", "weights_sha256": "0" * 64}


def network(seed: int = 0, log_std: float = -1.0) -> MasterPolicyNetwork:
    torch.manual_seed(seed)
    config = EncoderConfig.preset("compact")
    return MasterPolicyNetwork(config, master_config("compact", config.output_dim), log_std)


def random_encoder(seed: int = 11) -> FeatureEncoder:
    torch.manual_seed(seed)
    return FeatureEncoder(EncoderConfig.preset("compact"))


@pytest.fixture(scope="module")
def periods():
    data = load_builtin("stocks").select(["AAPL", "MSFT"])
    # 504 training bars: warm-up 271 leaves room for 32-bar episodes.
    return split_data(data, ("2005-01-01", "2006-12-31"), ("2007-01-01", "2007-03-31"), False)


def train(periods, config: MasterTrainingConfig, tmp_path):
    return train_master_agent(periods, random_encoder(), identity_normalizer(), SYMBOL_AGENT, config, log_dir=tmp_path,
                              code_version="test")


@pytest.fixture(scope="module")
def runs(periods, tmp_path_factory: pytest.TempPathFactory):
    first = train(periods, TINY, tmp_path_factory.mktemp("first"))
    again = train(periods, TINY, tmp_path_factory.mktemp("again"))
    return first, again, tmp_path_factory


# -- the logistic-normal action distribution ----------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), log_std=st.floats(-3.0, 1.0), n_absent=st.integers(0, 3))
def test_log_prob_and_entropy_match_torch_normal_on_present_dimensions(seed: int, log_std: float,
                                                                       n_absent: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    log_weights = torch.log_softmax(torch.randn(5, 5, generator=generator), dim=-1)  # 4 symbols + cash
    absent = torch.zeros(5, 4, dtype=torch.bool)
    absent[:, :n_absent] = True
    std = torch.tensor(log_std)
    logits = sample_logits(log_weights, std, absent, generator)
    normal = torch.distributions.Normal(log_weights[:, n_absent:], std.exp())
    torch.testing.assert_close(log_prob(logits, log_weights, std, absent),
                               normal.log_prob(logits[:, n_absent:]).sum(-1))
    torch.testing.assert_close(entropy(std, absent), normal.entropy().sum(-1))
    assert bool((logits[:, :n_absent] == 0).all())  # absent dimensions are never sampled


def test_log_prob_by_hand() -> None:
    # One symbol + cash, std e^0 = 1: log N(z; mu, 1) = -(z - mu)^2 / 2 - log(2 pi) / 2 per dimension.
    logits, mean, absent = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 0.0]]), torch.zeros(1, 1, dtype=torch.bool)
    expected = -0.5 * 1.0 - 0.5 * 1.0 - math.log(2 * math.pi)
    assert log_prob(logits, mean, torch.tensor(0.0), absent).item() == pytest.approx(expected)
    # Entropy of a 2-d unit Gaussian: 2 * (1/2 + log(2 pi) / 2) = 1 + log(2 pi).
    assert entropy(torch.tensor(0.0), absent).item() == pytest.approx(1 + math.log(2 * math.pi))


def test_samples_are_weights_summing_to_one_with_absent_symbols_at_zero() -> None:
    net = network()
    generator = torch.Generator().manual_seed(0)
    embeddings, portfolio = torch.randn(64, 3, 64, generator=generator), torch.randn(64, 8, generator=generator)
    absent = torch.zeros(64, 3, dtype=torch.bool)
    absent[::2, 1] = True
    absent[5] = True  # nothing tradable: all cash
    out = net.master(embeddings, portfolio, absent)
    weights = logits_to_weights(sample_logits(out.log_weights, net.log_std, absent, generator), absent)
    torch.testing.assert_close(weights.sum(-1), torch.ones(64))
    assert bool((weights >= 0).all()) and bool((weights[::2, 1] == 0).all())
    torch.testing.assert_close(weights[5], torch.tensor([0.0, 0.0, 0.0, 1.0]))
    # Without noise the weights are the agent's own (the deterministic policy).
    torch.testing.assert_close(logits_to_weights(out.log_weights, absent), out.weights)


def test_noise_has_the_learned_std() -> None:
    generator = torch.Generator().manual_seed(1)
    log_weights = torch.log_softmax(torch.zeros(20_000, 3), dim=-1)
    draws = sample_logits(log_weights, torch.tensor(-0.5), torch.zeros(20_000, 2, dtype=torch.bool), generator)
    assert float((draws - log_weights).std()) == pytest.approx(math.exp(-0.5), rel=0.02)


def test_gradients_stay_finite_with_absent_symbols() -> None:
    net = network()
    embeddings, portfolio = torch.randn(4, 3, 64), torch.randn(4, 8)
    absent = torch.tensor([[True, False, False], [True, True, True], [False, False, False], [False, True, False]])
    out = net.master(embeddings, portfolio, absent)
    logits = sample_logits(out.log_weights.detach(), net.log_std.detach(), absent, torch.Generator().manual_seed(0))
    (log_prob(logits, out.log_weights, net.log_std, absent).sum() + entropy(net.log_std, absent).sum()).backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads)
    assert all(p.grad is None for p in net.encoder.parameters())  # the encoder is frozen


def test_the_encoder_stays_in_eval_mode() -> None:
    net = network().train()
    assert net.master.training and not net.encoder.training


def test_generalized_advantages_by_hand() -> None:
    # gamma = lambda = 0.5, values 0.5, value after the last step 1:
    # t=1: delta = 2 + 0.5 * 1 - 0.5 = 2; A1 = 2.   t=0: delta = 1 + 0.5 * 0.5 - 0.5 = 0.75; A0 = 0.75 + 0.25 * 2.
    # When step 0 ends its episode nothing flows back: A0 = 1 - 0.5 = 0.5.
    rewards, values, following = torch.tensor([[1.0, 1.0], [2.0, 2.0]]), torch.full((2, 2), 0.5), torch.ones(2)
    dones = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    advantages = generalized_advantages(rewards, dones, values, following, 0.5, 0.5)
    torch.testing.assert_close(advantages, torch.tensor([[1.25, 0.5], [2.0, 2.0]]))


# -- the environment -------------------------------------------------------------------------------


def test_all_cash_earns_nothing_and_a_first_buy_pays_costs(periods) -> None:
    net = network()
    env = make_training_env(periods.part(periods.train), net, identity_normalizer(), TINY, torch.device("cpu"))
    observation = env.reset()
    assert observation.embeddings.shape == (4, 2, 64) and observation.portfolio.shape == (4, 8)
    cash = env.step(np.zeros((4, 2)))
    assert np.all(cash.reward == 0.0) and np.all(cash.equity == 100_000.0)
    invested = env.step(np.array([[0.5, 0.5]] * 2 + [[0.0, 0.0]] * 2))
    assert np.all(invested.components["cost"][:2] < 0.0) and np.all(invested.components["cost"][2:] == 0.0)
    assert set(invested.components) == set(REWARD_COMPONENTS)


# -- training ----------------------------------------------------------------------------------------


def test_training_is_reproducible_per_seed_and_changes_the_weights(runs, periods) -> None:
    first, again, tmp = runs
    state, state_again = first.network.state_dict(), again.network.state_dict()
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    assert first.history == again.history
    initial = network(seed=TINY.seed)  # the same seeded initialization, before training
    trained = first.network.master.state_dict()
    assert [k for k, v in initial.master.state_dict().items() if not torch.equal(v, trained[k])]
    other = train(periods, dataclasses.replace(TINY, seed=4), tmp.mktemp("other"))
    assert not torch.equal(other.network.master.query, first.network.master.query)


def test_the_frozen_encoder_is_the_symbol_agents(runs) -> None:
    first = runs[0]
    reference = random_encoder().state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in first.network.encoder.state_dict().items())


def test_validation_keeps_the_best_and_the_card_says_what_it_is(runs) -> None:
    card = runs[0].card
    history = runs[0].history
    assert [h["timesteps"] for h in history] == [64.0, 128.0]
    best = max(history, key=lambda h: (h["validation/sharpe"], h["validation/mean_reward"]))
    assert card.validation_metrics["validation/timesteps"] == best["timesteps"]
    assert card.validation_metrics["validation/bars"] > 50
    assert 0.0 <= card.validation_metrics["validation/mean_cash"] <= 1.0
    assert card.architecture == "master_agent" and card.action_spec["type"] == "target_weights"
    assert "action_mask" not in card.observation_spec
    assert card.config["symbol_agent"] == SYMBOL_AGENT and card.config["action_space"]["threshold"] == TINY.threshold
    assert card.config["trained_on"] == {"device": "cpu"}  # issue 19: the card names where it trained
    assert card.config["training"]["reward_weights"]["sizing"] == 0.0
    assert card.training_metrics["train/timesteps"] == 128.0


def test_the_logger_writes_reward_components_and_losses(periods, tmp_path) -> None:
    config = dataclasses.replace(TINY, timesteps=64, eval_every=0)
    train(periods, config, tmp_path)
    with open(tmp_path / "progress.csv") as handle:
        columns = set(next(csv.reader(handle)))
    assert {f"reward/{c}" for c in REWARD_COMPONENTS} <= columns
    assert {"train/policy_loss", "train/value_loss", "train/entropy", "train/approx_kl", "validation/sharpe"} <= columns


def test_checkpoint_round_trip(runs) -> None:
    first, _, tmp = runs
    folder = tmp.mktemp("ckpt") / "master"
    card = save_checkpoint(folder, first.network, first.card, first.normalizer)
    assert card.parameter_counts["trainable"] < card.parameter_counts["total"]  # the encoder is frozen
    loaded, loaded_card, normalizer = load_checkpoint(folder, build_master_network)
    assert loaded_card == card and normalizer == first.normalizer
    assert all(torch.equal(v, first.network.state_dict()[k]) for k, v in loaded.state_dict().items())
    assert master_action_space(card.config).threshold == TINY.threshold
    with pytest.raises(CheckpointError):  # not a symbol agent's tensors
        load_checkpoint(folder, lambda config: build_symbol_agent({"agent": {
            "encoder": config["encoder"], "actor_hidden": [64, 64], "critic_hidden": [64, 64], "n_actions": 7}}))


@pytest.mark.parametrize("change", [{"preset": "huge"}, {"timesteps": 0}, {"device": "tpu"}, {"gamma": 1.5},
                                    {"threshold": -0.1}, {"accounts": 1, "n_steps": 1, "n_minibatches": 2},
                                    {"reward_weights": {"pnl": 1.0}}])
def test_bad_configs_raise(change: dict) -> None:
    with pytest.raises(InvalidParameterError):
        MasterTrainingConfig(**change)
